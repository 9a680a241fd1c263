r"""Customer metrics: pure functions over the aggregates that `queries.py` reads.

Nothing here touches the database. `queries.py` builds the inputs with one GROUP BY query per
family (per customer, per day, per cohort and month, per loyalty program) and these functions
turn them into the numbers an owner reads. The probabilistic models (BG/NBD, Gamma-Gamma) live
in `clv/`; the forecast here combines their predictions.

Definitions used throughout
---------------------------
- **Day**: a calendar day in the business's time zone, as an integer (days since 1970-01-01).
  A month is an integer too (months since January 1970).
- **Purchase**: a sale at its net value, total − refunded. Sales refunded in full (or of zero
  value) are not purchases. A **guest** purchase has no customer record.
- **Purchase day** (occasion): a day on which a customer bought; two receipts of one customer on
  one day are one occasion (as in the CLV models).
- **Period** (start, end]: the days after ``start`` up to and including ``end``; "the last 30
  days" ending on day e is (e − 30, e].
- **Customer at a date** (active): a customer who bought within the ``window`` days up to and
  including that date, i.e. on a day in (date − window, date]. The default window is
  `ACTIVE_WINDOW_DAYS` = 90 days (setting ``ANALYTICS_ACTIVE_DAYS``).
- **New** purchase: one made on the customer's first purchase day; **returning**: on a later
  day (the customer had bought before).

References
----------
Farris, P. W., Bendle, N. T., Pfeifer, P. E. & Reibstein, D. J. (2010). Marketing Metrics:
The Definitive Guide to Measuring Marketing Performance, 2nd ed., ch. 5 (retention, churn,
customer lifetime value). Pearson.
Gupta, S., Lehmann, D. R. & Stuart, J. A. (2004). Valuing Customers. Journal of Marketing
Research 41(1), 7-18.
Hughes, A. M. (1994). Strategic Database Marketing. Probus (RFM quintile scoring).
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way.
Marketing Science 24(2), 275-284 (expected purchases, eq. 9 and 10).
Leenheer, J., van Heerde, H. J., Bijmolt, T. H. A. & Smidts, A. (2007). Do loyalty programs
really enhance behavioral loyalty? An empirical analysis accounting for self-selecting members.
International Journal of Research in Marketing 24(1), 31-47.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import models
from django.utils.translation import gettext_lazy as _
from numpy.typing import ArrayLike, NDArray

ACTIVE_WINDOW_DAYS = 90
DAYS_PER_YEAR = 365.25
# The simple CLV's lifespan is 1 / annual churn; with almost no churn that is "forever".
MAX_LIFESPAN_YEARS = 10.0
NO_DAY = -(10**9)  # "no purchase on or before this boundary"


# --- inputs: what queries.py reads ---------------------------------------------------------


@dataclass(frozen=True)
class CustomerFacts:
    """One row per customer with at least one purchase up to ``as_of`` (a GROUP BY customer).

    ``last_before[b]`` is the customer's last purchase day on or before boundary day b (NO_DAY if
    none) and ``days_before[b]`` the number of distinct purchase days on or before it; together
    they answer "was this customer active at b?" and "what was their history at b?" for any
    period whose ends are boundaries. ``recent_*`` cover the days after ``recent_start``.
    ``active_in_month[i, k]`` says whether customer i bought in the month of days
    [month_starts[k], month_starts[k + 1]).
    """

    customer_id: NDArray[np.int64]
    first_day: NDArray[np.int64]
    last_day: NDArray[np.int64]
    days: NDArray[np.int64]
    orders: NDArray[np.int64]
    revenue: NDArray[np.float64]
    first_day_orders: NDArray[np.int64]
    first_day_revenue: NDArray[np.float64]
    recent_orders: NDArray[np.int64]
    recent_revenue: NDArray[np.float64]
    recent_start: int
    last_before: dict[int, NDArray[np.int64]]
    days_before: dict[int, NDArray[np.int64]]
    month_starts: list[int]
    active_in_month: NDArray[np.bool_]
    is_member: NDArray[np.bool_]
    as_of: int

    def __len__(self) -> int:
        return len(self.customer_id)

    def _boundary(self, table: dict[int, NDArray], day: int, name: str) -> NDArray:
        try:
            return table[day]
        except KeyError:
            raise KeyError(f"{name} was not read for day {day}; add it to the boundaries") from None

    def last_purchase_on_or_before(self, day: int) -> NDArray[np.int64]:
        return self._boundary(self.last_before, day, "last_before")

    def purchase_days_on_or_before(self, day: int) -> NDArray[np.int64]:
        return self._boundary(self.days_before, day, "days_before")

    def active_at(self, day: int, window: int = ACTIVE_WINDOW_DAYS) -> NDArray[np.bool_]:
        """Customers with a purchase day in (day − window, day]."""
        return self.last_purchase_on_or_before(day) > day - window

    def bought_in(self, start: int, end: int) -> NDArray[np.bool_]:
        """Customers with a purchase day in (start, end]: their last purchase by end is after start."""
        return self.last_purchase_on_or_before(end) > start


@dataclass(frozen=True)
class DailySales:
    """One row per day with sales (a GROUP BY day): all purchases, split guest / new / returning.

    ``revenue_sq`` is the sum of squared purchase values (for the spread of order values).
    """

    day: NDArray[np.int64]
    orders: NDArray[np.int64]
    revenue: NDArray[np.float64]
    revenue_sq: NDArray[np.float64]
    guest_orders: NDArray[np.int64]
    guest_revenue: NDArray[np.float64]
    new_orders: NDArray[np.int64]
    new_revenue: NDArray[np.float64]
    new_customers: NDArray[np.int64]

    @property
    def returning_orders(self) -> NDArray[np.int64]:
        return self.orders - self.guest_orders - self.new_orders

    @property
    def returning_revenue(self) -> NDArray[np.float64]:
        return self.revenue - self.guest_revenue - self.new_revenue

    def between(self, start: int, end: int) -> NDArray[np.bool_]:
        return (self.day > start) & (self.day <= end)

    def total(self, column: str, start: int, end: int) -> float:
        return float(np.sum(getattr(self, column)[self.between(start, end)]))


@dataclass(frozen=True)
class ProgramFacts:
    """One loyalty program's unit (points, stamps or credit) as the ledger reports it.

    ``redeemed`` is what was spent on rewards in the period net of cancelled redemptions and
    ``outstanding`` the sum of positive balances, both in the unit's integer step (a point, a
    stamp, a cent). ``unit_value`` is the money one step is worth (None: not known).
    """

    name: str
    unit: str
    accounts: int
    redeemed: int
    outstanding: int
    unit_value: float | None
    value_source: str  # "exact" (store credit), "rewards" (catalog), "default", "unknown"


@dataclass(frozen=True)
class LoyaltyFacts:
    programs: list[ProgramFacts] = field(default_factory=list)

    @property
    def has_accounts(self) -> bool:
        return any(p.accounts for p in self.programs)


# --- small helpers -------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator) / float(denominator) if denominator else None


def _percent(numerator: float, denominator: float) -> float | None:
    ratio = _ratio(numerator, denominator)
    return None if ratio is None else 100.0 * ratio


def day_of(value: Any) -> int:
    """A date (or ISO string) as a day number."""
    return int(np.datetime64(value, "D").astype(np.int64))


def date_of(day: int) -> str:
    """A day number as an ISO date."""
    return str(np.datetime64(int(day), "D"))


def month_of_day(days: ArrayLike) -> NDArray[np.int64]:
    """Day numbers as month numbers (months since January 1970)."""
    return np.asarray(days, dtype="datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_label(month: int) -> str:
    """A month number as YYYY-MM."""
    return str(np.datetime64(int(month), "M"))


# --- order value, frequency, time between purchases ----------------------------------------


def average_order_value(revenue: float, orders: float) -> float | None:
    r"""Average order value: AOV = revenue / number of purchases.

    Every purchase counts, guests' too, at its net value. None when there was no purchase.

    References: Farris et al. (2010), ch. 5 ("average order size").
    """
    return _ratio(revenue, orders)


def purchase_frequency(orders: float, customers: float) -> float | None:
    r"""Purchase frequency: F = purchases by known customers / distinct known customers who bought.

    Both over the same period; guest purchases are left out (nobody knows whose they are).
    None when no known customer bought.

    References: Farris et al. (2010), ch. 5.
    """
    return _ratio(orders, customers)


@dataclass(frozen=True)
class PurchaseGaps:
    median_days: float | None
    mean_days: float | None
    customers: int


def time_between_purchases(
    first_day: ArrayLike, last_day: ArrayLike, purchase_days: ArrayLike
) -> PurchaseGaps:
    r"""Time between purchases of customers who came back.

    Each customer with n ≥ 2 purchase days has an average gap g = (last − first) / (n − 1) days.
    ``median_days`` is the median of g over those customers (what a typical regular does);
    ``mean_days`` pools everyone's gaps: Σ(last − first) / Σ(n − 1). One-time buyers have no
    gap and are left out.

    References: Farris et al. (2010), ch. 5 ("purchase frequency" and its reciprocal).
    """
    first = np.asarray(first_day, dtype=float)
    last = np.asarray(last_day, dtype=float)
    n = np.asarray(purchase_days, dtype=float)
    repeat = n >= 2
    if not repeat.any():
        return PurchaseGaps(None, None, 0)
    span, gaps = last[repeat] - first[repeat], n[repeat] - 1
    return PurchaseGaps(
        median_days=float(np.median(span / gaps)),
        mean_days=float(span.sum() / gaps.sum()),
        customers=int(repeat.sum()),
    )


# --- retention and churn -------------------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    start_customers: int  # S
    end_customers: int  # E
    new_customers: int  # N
    retained: int  # in S and in E
    lost: int  # in S, not in E
    returned: int  # in E, neither in S nor new: came back after a lapse
    crr: float | None
    churn: float | None


def retention(
    customers: CustomerFacts, *, start: int, end: int, window: int = ACTIVE_WINDOW_DAYS
) -> Retention:
    r"""Customer retention rate and churn rate over the period (start, end].

    .. math::

        \mathrm{CRR} = \frac{E - N}{S} \times 100 \qquad
        \mathrm{churn} = \frac{\text{lost}}{S} \times 100

    - S: customers at the start (bought in the ``window`` days up to ``start``);
    - E: customers at the end (bought in the ``window`` days up to ``end``);
    - N: new customers, whose first purchase falls in the period and who are customers at the
      end. A new customer who has already lapsed again (possible when the period is longer than
      the window) is in neither E nor N, so E − N is the customers from before the period;
    - lost: customers at the start who are not customers at the end.

    E − N counts the retained customers plus those who came back after a lapse (``returned``),
    so CRR + churn = 100 + 100·returned / S; both are None when S = 0.

    References: Farris et al. (2010), ch. 5.3 (retention rate, churn).
    """
    at_start = customers.active_at(start, window)
    at_end = customers.active_at(end, window)
    new = (customers.first_day > start) & (customers.first_day <= end) & at_end
    s, e, n = int(at_start.sum()), int(at_end.sum()), int(new.sum())
    retained = int((at_start & at_end).sum())
    return Retention(
        start_customers=s,
        end_customers=e,
        new_customers=n,
        retained=retained,
        lost=s - retained,
        returned=e - n - retained,
        crr=_percent(e - n, s),
        churn=_percent(s - retained, s),
    )


def repeat_revenue_share(new_revenue: float, returning_revenue: float) -> float | None:
    r"""Share of revenue from repeat customers: returning / (new + returning) × 100.

    A purchase is *returning* when the customer had bought on an earlier day, *new* when it is
    on the customer's first purchase day. Guest purchases are left out: nobody knows whether a
    guest came back.

    References: Farris et al. (2010), ch. 5; Reichheld, F. F. & Sasser, W. E. (1990). Zero
    Defections: Quality Comes to Services. Harvard Business Review 68(5), 105-111.
    """
    return _percent(returning_revenue, new_revenue + returning_revenue)


# --- simple CLV ----------------------------------------------------------------------------


def lifespan_years(
    churn_percent: float | None, period_days: float, *, cap: float = MAX_LIFESPAN_YEARS
) -> float | None:
    r"""Average customer lifespan in years from the churn rate of a period.

    The period's retention (1 − churn) is compounded to a year,
    :math:`c_{year} = 1 - (1 - c)^{365.25/\text{days}}`, and a customer who leaves with
    probability :math:`c_{year}` each year stays :math:`1 / c_{year}` years on average (the mean
    of a geometric lifetime), capped at ``cap`` years (10): with almost no churn the formula
    says "forever", which no owner should plan on.

    References: Gupta, Lehmann & Stuart (2004), eq. 2 (lifetime from a constant retention rate).
    """
    if churn_percent is None:
        return None
    churn = min(max(churn_percent / 100.0, 0.0), 1.0)
    annual = 1.0 - (1.0 - churn) ** (DAYS_PER_YEAR / period_days)
    if annual <= 1.0 / cap:
        return cap
    return 1.0 / annual


def simple_clv(
    aov: float | None, purchases_per_year: float | None, lifespan: float | None
) -> float | None:
    r"""Simple customer lifetime value: CLV = AOV × purchases per year × lifespan in years.

    Undiscounted revenue (not profit) of an average customer; it ignores how differently
    customers behave (the BG/NBD + Gamma-Gamma CLV does not).

    References: Farris et al. (2010), ch. 5.3; Gupta, Lehmann & Stuart (2004).
    """
    if aov is None or purchases_per_year is None or lifespan is None:
        return None
    return aov * purchases_per_year * lifespan


# --- KPIs of a period ----------------------------------------------------------------------


def period_kpis(
    customers: CustomerFacts,
    daily: DailySales,
    *,
    start: int,
    end: int,
    window: int = ACTIVE_WINDOW_DAYS,
) -> dict[str, float | int | None]:
    r"""Every KPI tile for the period (start, end], from the per-customer and per-day aggregates.

    ``start`` and ``end`` must be among the boundaries ``customers`` was read with. See each
    function for its formula: `average_order_value`, `purchase_frequency`,
    `time_between_purchases` (of the customers who bought in the period, over their history up
    to ``end``), `retention`, `repeat_revenue_share` and `simple_clv` (AOV and frequency of
    the period scaled to a year, lifespan from the period's churn).
    """
    days = end - start
    revenue = daily.total("revenue", start, end)
    orders = int(daily.total("orders", start, end))
    guest_orders = int(daily.total("guest_orders", start, end))
    new_revenue = daily.total("new_revenue", start, end)
    returning_revenue = daily.total("returning_revenue", start, end)
    bought = customers.bought_in(start, end)
    active_customers = int(bought.sum())
    known_orders = orders - guest_orders
    aov = average_order_value(revenue, orders)
    frequency = purchase_frequency(known_orders, active_customers)
    gaps = time_between_purchases(
        customers.first_day[bought],
        customers.last_purchase_on_or_before(end)[bought],
        customers.purchase_days_on_or_before(end)[bought],
    )
    kept = retention(customers, start=start, end=end, window=window)
    per_year = None if frequency is None else frequency * DAYS_PER_YEAR / days
    lifespan = lifespan_years(kept.churn, days)
    return {
        "revenue": revenue,
        "orders": orders,
        "guest_orders": guest_orders,
        "aov": aov,
        "active_customers": active_customers,
        "new_customers": int(((customers.first_day > start) & (customers.first_day <= end)).sum()),
        "purchase_frequency": frequency,
        "days_between_purchases": gaps.median_days,
        "crr": kept.crr,
        "churn": kept.churn,
        "customers_at_start": kept.start_customers,
        "customers_at_end": kept.end_customers,
        "customers_lost": kept.lost,
        "customers_returned": kept.returned,
        "repeat_revenue_share": repeat_revenue_share(new_revenue, returning_revenue),
        "lifespan_years": lifespan,
        "simple_clv": simple_clv(aov, per_year, lifespan),
    }


# --- revenue by month, cohorts -------------------------------------------------------------


@dataclass(frozen=True)
class MonthlyRevenue:
    month: NDArray[np.int64]
    new: NDArray[np.float64]
    returning: NDArray[np.float64]
    guests: NDArray[np.float64]


def monthly_revenue(daily: DailySales, *, first_month: int, last_month: int) -> MonthlyRevenue:
    r"""Revenue by calendar month, split new / returning / guests.

    new(m) = Σ revenue of purchases on a customer's first purchase day in month m;
    returning(m) = Σ revenue of known customers' purchases on later days; guests(m) = Σ revenue
    of purchases without a customer. new + returning + guests = the month's revenue. Months
    with no sales are 0.
    """
    months = np.arange(first_month, last_month + 1, dtype=np.int64)
    index = month_of_day(daily.day) - first_month
    keep = (index >= 0) & (index < len(months))

    def by_month(values: NDArray) -> NDArray[np.float64]:
        return np.bincount(index[keep], weights=values[keep], minlength=len(months))

    return MonthlyRevenue(
        month=months,
        new=by_month(daily.new_revenue),
        returning=by_month(daily.returning_revenue),
        guests=by_month(daily.guest_revenue),
    )


@dataclass(frozen=True)
class CohortMatrix:
    cohort: list[int]  # month numbers
    size: list[int]
    retention: list[list[float | None]]  # [cohort][months since first purchase], percent


def cohort_matrix(customers: CustomerFacts) -> CohortMatrix:
    r"""Monthly cohort retention: R[c, k] = customers of cohort c who bought in month c + k / |c|.

    A cohort is the customers whose first purchase day is in month c; |c| is its size (all of
    them bought in month c, so R[c, 0] = 100). The cohorts and months are the calendar months
    ``customers`` has activity for (``month_starts``, the last 12 by default); months after the
    last one have not happened yet (None).

    References: Fader, P. S. (2012). Customer Centricity, 2nd ed., ch. 4. Wharton Digital Press.
    """
    starts = np.asarray(customers.month_starts, dtype=np.int64)
    months = len(starts) - 1
    first_month = month_of_day(starts[:1])[0]
    cohort = np.searchsorted(starts, customers.first_day, side="right") - 1
    inside = (cohort >= 0) & (cohort < months)
    # counts[c, m]: customers of cohort c who bought in month m (one-hot cohorts × activity).
    one_hot = np.zeros((int(inside.sum()), months))
    one_hot[np.arange(int(inside.sum())), cohort[inside]] = 1.0
    counts = one_hot.T @ customers.active_in_month[inside].astype(float)
    sizes = [int(counts[c, c]) for c in range(months)]
    rows = [
        [None if c + k >= months else _percent(counts[c, c + k], sizes[c]) for k in range(months)]
        for c in range(months)
    ]
    return CohortMatrix(
        cohort=[int(first_month) + c for c in range(months)], size=sizes, retention=rows
    )


# --- RFM -----------------------------------------------------------------------------------


def quintile_scores(values: ArrayLike) -> NDArray[np.int8]:
    r"""Score 1-5: 1 + the number of the 20th, 40th, 60th and 80th percentiles below the value.

    Higher values get higher scores. Percentiles are numpy's default (linear interpolation).
    Equal values always get equal scores, so with many ties (most customers bought once) some
    scores are not used; no customer is split from an identical one by an arbitrary rank.

    References: Hughes (1994); Fader, Hardie & Lee (2005b), RFM and CLV, JMR 42(4).
    """
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return np.zeros(0, dtype=np.int8)
    cuts = np.quantile(v, [0.2, 0.4, 0.6, 0.8])
    return (1 + np.searchsorted(cuts, v, side="left")).astype(np.int8)


@dataclass(frozen=True)
class RFMScores:
    recency: NDArray[np.int8]
    frequency: NDArray[np.int8]
    monetary: NDArray[np.int8]


def rfm_scores(recency_days: ArrayLike, purchase_days: ArrayLike, revenue: ArrayLike) -> RFMScores:
    r"""RFM quintile scores, 5 best.

    R scores −(days since the last purchase) (recent is better), F the number of purchase days,
    M the total spend, each with `quintile_scores` over all customers who bought.
    """
    return RFMScores(
        recency=quintile_scores(-np.asarray(recency_days, dtype=float)),
        frequency=quintile_scores(purchase_days),
        monetary=quintile_scores(revenue),
    )


class Segment(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    NEW = "new", _("New")
    POTENTIAL = "potential", _("Potential loyalists")
    CANT_LOSE = "cant_lose", _("Can't lose")
    AT_RISK = "at_risk", _("At risk")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


@dataclass(frozen=True)
class SegmentRule:
    """Customers whose R, F and M scores fall in these ranges (inclusive) are in `segment`."""

    segment: Segment
    recency: tuple[int, int]
    frequency: tuple[int, int]
    monetary: tuple[int, int]
    description: Any
    action: Any

    def matches(self, r: NDArray, f: NDArray, m: NDArray) -> NDArray[np.bool_]:
        return (
            (r >= self.recency[0])
            & (r <= self.recency[1])
            & (f >= self.frequency[0])
            & (f <= self.frequency[1])
            & (m >= self.monetary[0])
            & (m <= self.monetary[1])
        )


# First match wins; together the rules cover all 125 (R, F, M) cells (a test checks it).
RFM_RULES: tuple[SegmentRule, ...] = (
    SegmentRule(
        Segment.CHAMPIONS,
        (4, 5),
        (4, 5),
        (1, 5),
        _("Bought recently and buy most often."),
        _("Thank them; ask for reviews and referrals."),
    ),
    SegmentRule(
        Segment.LOYAL,
        (3, 5),
        (3, 5),
        (1, 5),
        _("Buy often, and not long ago."),
        _("Offer the next tier or a membership."),
    ),
    SegmentRule(
        Segment.NEW,
        (4, 5),
        (1, 1),
        (1, 5),
        _("First purchase, recently."),
        _("Welcome them; make the second visit easy."),
    ),
    SegmentRule(
        Segment.POTENTIAL,
        (3, 5),
        (1, 2),
        (1, 5),
        _("Bought recently, a few times."),
        _("Invite them to the loyalty program."),
    ),
    SegmentRule(
        Segment.CANT_LOSE,
        (1, 2),
        (4, 5),
        (4, 5),
        _("Bought often and spent the most, but not for a long time."),
        _("Win them back personally, with a generous offer."),
    ),
    SegmentRule(
        Segment.AT_RISK,
        (1, 2),
        (3, 5),
        (1, 5),
        _("Used to buy often; not for a while."),
        _("Send a win-back message with a reason to return."),
    ),
    SegmentRule(
        Segment.HIBERNATING,
        (2, 2),
        (1, 2),
        (1, 5),
        _("Bought once or twice, some time ago."),
        _("Remind them with a seasonal offer."),
    ),
    SegmentRule(
        Segment.LOST,
        (1, 1),
        (1, 2),
        (1, 5),
        _("Bought once or twice, long ago."),
        _("Do not spend much; include them in mass mailings only."),
    ),
)


def rfm_segments(
    scores: RFMScores, rules: Sequence[SegmentRule] = RFM_RULES
) -> NDArray[np.object_]:
    r"""Name each customer's segment by the first rule of ``rules`` their (R, F, M) scores match.

    The rule table (`RFM_RULES`, shown on the dashboard) reads on R and F, and on M only to
    tell "can't lose" (big spenders) from "at risk". A customer no rule matches gets "".
    """
    r, f, m = scores.recency, scores.frequency, scores.monetary
    result = np.full(len(r), "", dtype=object)
    unassigned = np.ones(len(r), dtype=bool)
    for rule in rules:
        hit = unassigned & rule.matches(r, f, m)
        result[hit] = rule.segment.value
        unassigned &= ~hit
    return result


# --- program economics ---------------------------------------------------------------------


@dataclass(frozen=True)
class GroupSpend:
    customers: int | None  # None for guests: unknown people
    orders: int
    revenue: float

    @property
    def aov(self) -> float | None:
        return average_order_value(self.revenue, self.orders)

    @property
    def orders_per_customer(self) -> float | None:
        return None if self.customers is None else _ratio(self.orders, self.customers)

    @property
    def revenue_per_customer(self) -> float | None:
        return None if self.customers is None else _ratio(self.revenue, self.customers)

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "customers": self.customers,
            "orders": self.orders,
            "revenue": self.revenue,
            "aov": self.aov,
            "orders_per_customer": self.orders_per_customer,
            "revenue_per_customer": self.revenue_per_customer,
        }


def program_economics(
    customers: CustomerFacts, daily: DailySales, loyalty: LoyaltyFacts
) -> dict[str, Any]:
    r"""Members against non-members, reward cost, points liability and associated revenue.

    Over the recent period of ``customers`` (``recent_start``, ``as_of``]:

    - **Members**: customers with a loyalty account, when the business has any; otherwise every
      customer with a customer record (``definition`` says which). **Non-members**: customers
      without an account, and guest purchases (no customer record).
    - Spend and frequency per group: revenue, purchases, AOV = revenue / purchases and
      purchases per customer (guests: AOV only, their people are unknown).
    - **Reward cost** = Σ over programs of (units redeemed in the period − redemptions
      cancelled) × unit value. **Outstanding liability** = Σ positive balances × unit value
      (the points a business owes; IFRS 15 B39-B43 treats them as deferred revenue).
    - **Unit value**: a cent of store credit is worth exactly 0.01; a point or stamp is worth the
      median of money value / cost over the program's rewards with a money value (a fixed
      discount's amount, a free product's price); without one, a point is worth
      `DEFAULT_POINT_VALUE` and a stamp is not valued.
    - **Revenue associated with the program** = (revenue per member − revenue per non-member
      customer) × members who bought; when there are no non-member customers (no accounts),
      (AOV of members − AOV of guests) × members' purchases. This is a difference between
      groups, not the effect of the program: regulars are the ones who join (self-selection,
      Leenheer et al. 2007), so it overstates what the program caused.
    """
    window = customers.recent_start, customers.as_of
    bought = customers.recent_orders > 0
    guests = GroupSpend(
        customers=None,
        orders=int(daily.total("guest_orders", *window)),
        revenue=daily.total("guest_revenue", *window),
    )
    member_rows = customers.is_member if loyalty.has_accounts else np.ones(len(customers), bool)

    def spend(rows: NDArray[np.bool_]) -> GroupSpend:
        rows = rows & bought
        return GroupSpend(
            customers=int(rows.sum()),
            orders=int(customers.recent_orders[rows].sum()),
            revenue=float(customers.recent_revenue[rows].sum()),
        )

    members = spend(member_rows)
    non_members = spend(~member_rows)
    if non_members.customers:
        per_member, per_other = members.revenue_per_customer, non_members.revenue_per_customer
        basis = "customers"
        associated = (
            None
            if per_member is None or per_other is None
            else (per_member - per_other) * (members.customers or 0)
        )
    else:
        basis = "guests"
        associated = (
            None
            if members.aov is None or guests.aov is None
            else (members.aov - guests.aov) * members.orders
        )

    programs = []
    reward_cost = liability = 0.0
    for p in loyalty.programs:
        cost = None if p.unit_value is None else p.redeemed * p.unit_value
        owed = None if p.unit_value is None else max(p.outstanding, 0) * p.unit_value
        reward_cost += cost or 0.0
        liability += owed or 0.0
        programs.append(
            {
                "name": p.name,
                "unit": p.unit,
                "accounts": p.accounts,
                "redeemed": p.redeemed,
                "outstanding": p.outstanding,
                "unit_value": p.unit_value,
                "value_source": p.value_source,
                "reward_cost": cost,
                "liability": owed,
            }
        )
    return {
        "definition": "accounts" if loyalty.has_accounts else "customers",
        "members": members.as_dict(),
        "non_members": non_members.as_dict(),
        "guests": guests.as_dict(),
        "associated_revenue": associated,
        "associated_basis": basis,
        "reward_cost": reward_cost,
        "reward_cost_share": _percent(reward_cost, members.revenue),
        "liability": liability,
        "programs": programs,
    }


DEFAULT_POINT_VALUE = 0.01


def unit_value(unit: str, reward_values: Sequence[tuple[float, int]]) -> tuple[float | None, str]:
    r"""Money one step of a unit is worth, and where the figure comes from.

    ``reward_values`` holds (money value, cost in units) of the program's rewards that have a
    money value. Store credit is counted in cents: exactly 0.01. Points and stamps: the median
    of value / cost over the rewards; with none, a point is worth `DEFAULT_POINT_VALUE` (0.01 of
    the currency) and a stamp is not valued (None).
    """
    if unit == "credit":
        return 0.01, "exact"
    ratios = [value / cost for value, cost in reward_values if cost > 0 and value > 0]
    if ratios:
        return float(np.median(ratios)), "rewards"
    if unit == "points":
        return DEFAULT_POINT_VALUE, "default"
    return None, "unknown"


# --- forecast ------------------------------------------------------------------------------


def new_customer_repeat_purchases(
    expected_purchases: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    per_day: float,
    weeks: int,
) -> NDArray[np.float64]:
    r"""Expected repeat purchases, week by week, of the customers who will join in those weeks.

    With new customers arriving at ``per_day`` a day, one arriving at day s (at mid-day, s + ½)
    has made E[X(t − s − ½)] repeat purchases by day t, E[X] from BG/NBD (FHL 2005, eq. 9).
    The cumulative expectation at day t is :math:`\lambda \sum_{s=0}^{t-1} E[X(t - s - ½)]`;
    the result is its increase over each week.
    """
    horizon = 7 * weeks
    ages = np.arange(horizon, dtype=float) + 0.5  # t − s − ½ for s = t − 1, ..., 0
    cumulative_by_age = np.concatenate([[0.0], np.cumsum(expected_purchases(ages))])
    cumulative = per_day * cumulative_by_age[7 * np.arange(weeks + 1)]
    return np.diff(cumulative)


@dataclass(frozen=True)
class Forecast:
    weeks: int
    expected: NDArray[np.float64]  # revenue per coming week
    week_low: NDArray[np.float64]  # each week's 10th percentile
    week_high: NDArray[np.float64]  # each week's 90th percentile
    low: NDArray[np.float64]  # cumulative, 10th percentile
    high: NDArray[np.float64]  # cumulative, 90th percentile
    components: dict[str, NDArray[np.float64]]  # revenue per week by source

    @property
    def cumulative(self) -> NDArray[np.float64]:
        return np.cumsum(self.expected)

    def total(self, weeks: int) -> dict[str, float]:
        return {
            "expected": float(self.cumulative[weeks - 1]),
            "low": float(self.low[weeks - 1]),
            "high": float(self.high[weeks - 1]),
        }


def sales_forecast(
    *,
    base_purchases: ArrayLike,
    base_spend: float,
    new_per_day: float,
    new_first_spend: float,
    new_repeat_purchases: ArrayLike,
    repeat_spend: float,
    guest_orders_per_day: float,
    guest_spend: float,
    spend_sd: float,
    draws: int = 4000,
    seed: int = 0,
) -> Forecast:
    r"""Sales for the coming weeks: today's customers, new customers and guests, with an interval.

    Expected revenue in week w:

    .. math::

        R_w = \underbrace{\mu_w\, \bar z_{base}}_{\text{current customers}}
            + \underbrace{7\lambda\, \bar z_1 + \nu_w\, \bar z}_{\text{new customers}}
            + \underbrace{7 g\, \bar z_g}_{\text{guests}}

    - μ_w (``base_purchases``): expected purchases of the current customers in week w, the sum
      of BG/NBD's E[Y(7w) | x, t_x, T] − E[Y(7(w−1)) | ...] (FHL 2005, eq. 10);
      :math:`\bar z_{base}` their expected spend per purchase (Gamma-Gamma, weighted by μ);
    - λ (``new_per_day``) new customers a day at the recent rate, each spending
      :math:`\bar z_1` (``new_first_spend``) on their first day and making ν_w
      (``new_repeat_purchases``, see `new_customer_repeat_purchases`) repeat purchases of
      :math:`\bar z` (``repeat_spend``);
    - g guest purchases a day at the recent rate, of :math:`\bar z_g` each.

    Interval: ``draws`` simulations in which each week's purchase counts of each source are
    Poisson with those means and a week's revenue given its n purchases is
    Normal(n·mean, n·``spend_sd``²); ``low``/``high`` are the 10th and 90th percentiles of the
    cumulative revenue (an 80% interval), ``week_low``/``week_high`` those of each week. It covers the chance in who buys, not the error of
    the fitted parameters, seasonality or a change in the business: read it as a lower bound
    on the uncertainty.
    """
    base = np.asarray(base_purchases, dtype=float)
    new_repeat = np.asarray(new_repeat_purchases, dtype=float)
    weeks = len(base)
    if len(new_repeat) != weeks:
        raise ValueError("base_purchases and new_repeat_purchases must cover the same weeks")
    means = {
        "customers": (base, base_spend),
        "new_customers_first": (np.full(weeks, 7.0 * new_per_day), new_first_spend),
        "new_customers_repeat": (new_repeat, repeat_spend),
        "guests": (np.full(weeks, 7.0 * guest_orders_per_day), guest_spend),
    }
    components = {name: count * spend for name, (count, spend) in means.items()}
    expected = np.sum(list(components.values()), axis=0)

    rng = np.random.default_rng(seed)
    revenue = np.zeros((draws, weeks))
    purchases = np.zeros((draws, weeks))
    for count, spend in means.values():
        n = rng.poisson(np.maximum(count, 0.0), size=(draws, weeks))
        revenue += n * spend
        purchases += n
    revenue += np.sqrt(purchases) * spend_sd * rng.standard_normal((draws, weeks))
    cumulative = np.cumsum(revenue, axis=1)
    low, high = np.percentile(cumulative, [10, 90], axis=0)
    week_low, week_high = np.percentile(revenue, [10, 90], axis=0)
    return Forecast(
        weeks=weeks,
        expected=expected,
        week_low=week_low,
        week_high=week_high,
        low=low,
        high=high,
        components={
            "customers": components["customers"],
            "new_customers": components["new_customers_first"] + components["new_customers_repeat"],
            "guests": components["guests"],
        },
    )
