"""The metrics against tiny data sets computed by hand (each test's docstring shows the sums)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from regulars.analytics import metrics as m


def facts(
    history: dict[int, list[tuple[int, float]]],
    *,
    as_of: int,
    boundaries: tuple[int, ...] = (),
    members: tuple[int, ...] = (),
    recent_days: int = 365,
    month_starts: tuple[int, ...] = (),
) -> m.CustomerFacts:
    """CustomerFacts from {customer: [(day, amount), ...]}, the obvious way (one receipt a day)."""
    ids = sorted(history)
    days = {c: sorted(d for d, _ in history[c] if d <= as_of) for c in ids}
    spend = {c: {d: a for d, a in history[c]} for c in ids}
    points = sorted(set(boundaries) | {as_of})

    def col(values, dtype=np.int64):
        return np.array(values, dtype=dtype)

    starts = list(month_starts) or [as_of - 30, as_of + 1]
    return m.CustomerFacts(
        customer_id=col(ids),
        first_day=col([days[c][0] for c in ids]),
        last_day=col([days[c][-1] for c in ids]),
        days=col([len(days[c]) for c in ids]),
        orders=col([len(days[c]) for c in ids]),
        revenue=col([sum(spend[c][d] for d in days[c]) for c in ids], float),
        first_day_orders=col([1 for _ in ids]),
        first_day_revenue=col([spend[c][days[c][0]] for c in ids], float),
        recent_orders=col([sum(1 for d in days[c] if d > as_of - recent_days) for c in ids]),
        recent_revenue=col(
            [sum(spend[c][d] for d in days[c] if d > as_of - recent_days) for c in ids], float
        ),
        recent_start=as_of - recent_days,
        last_before={
            b: col([max((d for d in days[c] if d <= b), default=m.NO_DAY) for c in ids])
            for b in points
        },
        days_before={b: col([sum(1 for d in days[c] if d <= b) for c in ids]) for b in points},
        month_starts=starts,
        active_in_month=np.array(
            [
                [any(a <= d < b for d in days[c]) for a, b in itertools.pairwise(starts)]
                for c in ids
            ],
            dtype=bool,
        ).reshape(len(ids), len(starts) - 1),
        is_member=np.isin(col(ids), col(members)),
        as_of=as_of,
    )


def sales(rows: list[tuple[int, int, float, int, float, int, float]]) -> m.DailySales:
    """DailySales from (day, orders, revenue, guest orders, guest revenue, new orders, new rev)."""
    a = np.array(rows, dtype=float).reshape(-1, 7)
    revenue = a[:, 2]
    return m.DailySales(
        day=a[:, 0].astype(np.int64),
        orders=a[:, 1].astype(np.int64),
        revenue=revenue,
        revenue_sq=revenue**2,
        guest_orders=a[:, 3].astype(np.int64),
        guest_revenue=a[:, 4],
        new_orders=a[:, 5].astype(np.int64),
        new_revenue=a[:, 6],
        new_customers=a[:, 5].astype(np.int64),
    )


# --- order value, frequency, gaps ---------------------------------------------------------


def test_average_order_value_is_revenue_over_purchases():
    """3 purchases for 4.50 + 3.00 + 7.50 = 15.00: AOV = 15 / 3 = 5.00."""
    assert m.average_order_value(15.0, 3) == 5.0
    assert m.average_order_value(0.0, 0) is None


def test_purchase_frequency_is_purchases_over_customers_who_bought():
    """7 purchases by 2 customers: 3.5 each."""
    assert m.purchase_frequency(7, 2) == 3.5
    assert m.purchase_frequency(0, 0) is None


def test_time_between_purchases_is_the_median_gap_of_returning_customers():
    """A: days 0, 4, 10 -> (10 - 0) / 2 = 5; B: days 0, 30 -> 30; C bought once: left out.

    Median of (5, 30) = 17.5; pooled mean = (10 + 30) / (2 + 1) = 13.33.
    """
    gaps = m.time_between_purchases([0, 0, 7], [10, 30, 7], [3, 2, 1])
    assert gaps.median_days == 17.5
    assert gaps.mean_days == pytest.approx(40 / 3)
    assert gaps.customers == 2
    assert m.time_between_purchases([1], [1], [1]).median_days is None


# --- retention ----------------------------------------------------------------------------


def test_retention_counts_start_end_and_new_customers_by_the_activity_window():
    """Window 90 days, period (100, 130]: a customer at 100 bought in (10, 100], at 130 in (40, 130].

    a: days 50, 120  -> at start and at end: retained
    b: day 20        -> at start only: lost
    c: day 110       -> new (first purchase in the period), at end
    d: days 5, 125   -> not at start (5 <= 10), at end, not new: came back after a lapse
    e: day 0         -> neither
    S = {a, b} = 2, E = {a, c, d} = 3, N = {c} = 1: CRR = (3 - 1) / 2 = 100%,
    churn = lost / S = 1 / 2 = 50%; CRR + churn = 100 + 100 * returned / S = 150.
    """
    customers = facts(
        {
            1: [(50, 5.0), (120, 5.0)],
            2: [(20, 5.0)],
            3: [(110, 5.0)],
            4: [(5, 5.0), (125, 5.0)],
            5: [(0, 5.0)],
        },
        as_of=130,
        boundaries=(100,),
    )
    kept = m.retention(customers, start=100, end=130, window=90)
    assert (kept.start_customers, kept.end_customers, kept.new_customers) == (2, 3, 1)
    assert (kept.retained, kept.lost, kept.returned) == (1, 1, 1)
    assert kept.crr == 100.0
    assert kept.churn == 50.0


def test_a_new_customer_who_lapsed_again_in_a_long_period_is_not_counted_as_new():
    """Window 30, period (0, 365]: f first bought on day 10 and never again, so at day 365 f is
    not a customer (10 <= 335) and must not be subtracted from E as new. g bought on day -5 and
    day 360: S = {g}, E = {g}, N = {}: CRR = 100%."""
    customers = facts({1: [(10, 2.0)], 2: [(-5, 2.0), (360, 2.0)]}, as_of=365, boundaries=(0,))
    kept = m.retention(customers, start=0, end=365, window=30)
    assert (kept.start_customers, kept.end_customers, kept.new_customers) == (1, 1, 0)
    assert kept.crr == 100.0 and kept.churn == 0.0


def test_retention_is_unknown_without_customers_at_the_start():
    customers = facts({1: [(110, 2.0)]}, as_of=130, boundaries=(100,))
    kept = m.retention(customers, start=100, end=130, window=90)
    assert kept.crr is None and kept.churn is None


def test_repeat_revenue_share_leaves_guests_out():
    """New 30, returning 90 (guests' 50 not passed): 90 / 120 = 75%."""
    assert m.repeat_revenue_share(30.0, 90.0) == 75.0
    assert m.repeat_revenue_share(0.0, 0.0) is None


# --- simple CLV ---------------------------------------------------------------------------


def test_lifespan_compounds_the_churn_of_a_period_to_a_year():
    """30-day churn 10%: yearly retention 0.9^(365.25/30) = 0.9^12.175 = exp(12.175 ln 0.9)
    = exp(-1.28276) = 0.27725, yearly churn 0.72275, lifespan 1 / 0.72275 = 1.3836 years."""
    assert m.lifespan_years(10.0, 30) == pytest.approx(1.3836, abs=1e-4)
    # 365-day churn 40%: 1 - 0.6^(365.25/365) = 1 - exp(1.000685 x -0.510826) = 1 - 0.599790
    # = 0.400210 a year, lifespan 2.4987 years (a 365-day year would give exactly 2.5).
    assert m.lifespan_years(40.0, 365) == pytest.approx(2.4987, abs=1e-4)


def test_lifespan_is_capped_when_nobody_leaves():
    assert m.lifespan_years(0.0, 90) == m.MAX_LIFESPAN_YEARS
    assert m.lifespan_years(None, 90) is None


def test_simple_clv_multiplies_order_value_frequency_and_lifespan():
    """AOV 4.00 x 50 purchases a year x 2.5 years = 500.00."""
    assert m.simple_clv(4.0, 50.0, 2.5) == 500.0
    assert m.simple_clv(None, 50.0, 2.5) is None


def test_period_kpis_of_a_small_cafe():
    """Period (100, 130], window 90. Purchases in the period:

    day 110: customer 3's first (new) 6.00, a guest 4.00
    day 120: customer 1 (returning) 10.00
    day 125: customer 4 (returning) 8.00
    revenue 28.00 from 4 purchases: AOV 7.00; known purchases 3 by 3 customers: frequency 1.
    Repeat-customer share: returning 18 / (18 + 6) = 75%. Retention as in the retention test:
    churn 50%, so lifespan = 1 / (1 - 0.5^(365.25/30)) = 1.0002 years and simple CLV =
    7.00 x (1 x 365.25 / 30) x 1.0002 = 85.24. Days between purchases of the buyers, history to
    day 130: customer 1 (50, 120) gap 70, customer 4 (5, 125) gap 120, customer 3 one day:
    median 95.
    """
    customers = facts(
        {
            1: [(50, 5.0), (120, 10.0)],
            2: [(20, 5.0)],
            3: [(110, 6.0)],
            4: [(5, 5.0), (125, 8.0)],
            5: [(0, 5.0)],
        },
        as_of=130,
        boundaries=(100,),
    )
    daily = sales(
        [
            (0, 1, 5.0, 0, 0.0, 1, 5.0),
            (5, 1, 5.0, 0, 0.0, 1, 5.0),
            (20, 1, 5.0, 0, 0.0, 1, 5.0),
            (50, 1, 5.0, 0, 0.0, 1, 5.0),
            (110, 2, 10.0, 1, 4.0, 1, 6.0),
            (120, 1, 10.0, 0, 0.0, 0, 0.0),
            (125, 1, 8.0, 0, 0.0, 0, 0.0),
        ]
    )
    k = m.period_kpis(customers, daily, start=100, end=130, window=90)
    assert k["revenue"] == 28.0 and k["orders"] == 4 and k["aov"] == 7.0
    assert k["active_customers"] == 3 and k["new_customers"] == 1
    assert k["purchase_frequency"] == 1.0
    assert k["repeat_revenue_share"] == 75.0
    assert k["crr"] == 100.0 and k["churn"] == 50.0
    assert k["days_between_purchases"] == 95.0
    assert k["simple_clv"] == pytest.approx(7.0 * 365.25 / 30 * 1.0002, abs=0.01)


# --- months and cohorts -------------------------------------------------------------------


def test_monthly_revenue_splits_new_returning_and_guests():
    """2024-01-31 (day 19753): 10 new + 5 guests; 2024-02-01 (19754): 7 returning + 3 guests.

    January: new 10, returning 0, guests 5; February: new 0, returning 7, guests 3.
    """
    jan31, feb1 = m.day_of("2024-01-31"), m.day_of("2024-02-01")
    daily = sales([(jan31, 2, 15.0, 1, 5.0, 1, 10.0), (feb1, 2, 10.0, 1, 3.0, 0, 0.0)])
    jan = int(m.month_of_day([jan31])[0])
    monthly = m.monthly_revenue(daily, first_month=jan, last_month=jan + 1)
    assert [m.month_label(v) for v in monthly.month] == ["2024-01", "2024-02"]
    assert monthly.new.tolist() == [10.0, 0.0]
    assert monthly.returning.tolist() == [0.0, 7.0]
    assert monthly.guests.tolist() == [5.0, 3.0]


def test_cohort_matrix_divides_each_later_month_by_the_cohort_size():
    """Three months from 2024-01. January cohort: customers 1, 2, 3; February cohort: 4.

    Customer 1 buys again in February, 2 in March, 4 in March.
    Jan: size 3, +1 month 1/3 = 33.3%, +2 months 1/3 = 33.3%.
    Feb: size 1, +1 month (March) 100%, +2 months (April) not yet: None.
    Mar: size 0: all None but month 0 (0 / 0 is unknown).
    """
    jan, feb, mar, apr = (
        m.day_of(d) for d in ("2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01")
    )
    customers = facts(
        {
            1: [(jan + 3, 1.0), (feb + 3, 1.0)],
            2: [(jan + 5, 1.0), (mar + 1, 1.0)],
            3: [(jan + 9, 1.0)],
            4: [(feb + 9, 1.0), (mar + 9, 1.0)],
        },
        as_of=mar + 20,
        month_starts=(jan, feb, mar, apr),
    )
    matrix = m.cohort_matrix(customers)
    assert [m.month_label(c) for c in matrix.cohort] == ["2024-01", "2024-02", "2024-03"]
    assert matrix.size == [3, 1, 0]
    assert matrix.retention[0] == [100.0, pytest.approx(100 / 3), pytest.approx(100 / 3)]
    assert matrix.retention[1] == [100.0, 100.0, None]
    assert matrix.retention[2] == [None, None, None]


# --- RFM ----------------------------------------------------------------------------------


def test_quintile_scores_split_one_to_ten_in_pairs():
    """Percentiles of 1..10: 2.8, 4.6, 6.4, 8.2, so 1-2 score 1, 3-4 score 2, ... 9-10 score 5."""
    assert m.quintile_scores(range(1, 11)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_quintile_scores_never_split_equal_values():
    """Six of ten bought once. Percentiles at positions 9p of the sorted values: 1.8 -> 1,
    3.6 -> 1, 5.4 -> 1 + 0.4 (2 - 1) = 1.4, 7.2 -> 3 + 0.2 (4 - 3) = 3.2. All six ones score 1
    (above no cut), 2 and 3 are above three cuts (4), 4 and 5 above all four (5)."""
    scores = m.quintile_scores([1, 1, 1, 1, 1, 1, 2, 3, 4, 5])
    assert scores.tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]


def test_rfm_scores_recent_purchases_score_high():
    """Recency 0 days is best: days since the last purchase 0, 10, 20, 30, 40 score 5..1."""
    scores = m.rfm_scores([0, 10, 20, 30, 40], [1, 2, 3, 4, 5], [5, 4, 3, 2, 1])
    assert scores.recency.tolist() == [5, 4, 3, 2, 1]
    assert scores.frequency.tolist() == [1, 2, 3, 4, 5]
    assert scores.monetary.tolist() == [5, 4, 3, 2, 1]


def test_the_rule_table_names_every_score_combination():
    r, f, mo = (
        np.array(v, dtype=np.int8)
        for v in zip(*itertools.product(range(1, 6), repeat=3), strict=True)
    )
    segments = m.rfm_segments(m.RFMScores(r, f, mo))
    assert "" not in set(segments)
    assert set(segments) == {s.value for s in m.Segment}


@pytest.mark.parametrize(
    ("r", "f", "mo", "segment"),
    [
        (5, 5, 1, "champions"),
        (4, 4, 3, "champions"),
        (3, 5, 5, "loyal"),
        (5, 3, 2, "loyal"),
        (5, 1, 1, "new"),
        (3, 1, 2, "potential"),
        (5, 2, 5, "potential"),
        (1, 5, 5, "cant_lose"),
        (2, 4, 4, "cant_lose"),
        (2, 5, 3, "at_risk"),
        (1, 3, 5, "at_risk"),
        (2, 2, 5, "hibernating"),
        (1, 1, 1, "lost"),
    ],
)
def test_the_first_matching_rule_names_the_segment(r, f, mo, segment):
    scores = m.RFMScores(np.array([r]), np.array([f]), np.array([mo]))
    assert m.rfm_segments(scores).tolist() == [segment]


# --- program economics --------------------------------------------------------------------


def test_members_are_compared_with_non_member_customers_and_guests():
    """Last 365 days up to day 400. Members 1, 2; non-member 3; guests on the daily table.

    member 1: 3 purchases, 30.00; member 2: 1 purchase, 10.00 -> 2 customers, 4 purchases,
      40.00, AOV 10.00, 2 purchases and 20.00 per customer
    non-member 3: 2 purchases, 12.00 -> 12.00 per customer, AOV 6.00
    guests: 5 purchases, 20.00 -> AOV 4.00
    associated revenue = (20.00 - 12.00) x 2 members = 16.00
    points: 1,000 redeemed at 0.01 = 10.00 reward cost (25% of members' 40.00); 5,000 unspent
    = 50.00 liability; stamps of unknown value add nothing.
    """
    customers = facts(
        {
            1: [(100, 10.0), (200, 10.0), (300, 10.0)],
            2: [(350, 10.0)],
            3: [(390, 6.0), (395, 6.0)],
            4: [(10, 99.0)],  # bought before the window: not counted
        },
        as_of=400,
        members=(1, 2),
    )
    daily = sales([(380, 5, 20.0, 5, 20.0, 0, 0.0)])
    loyalty = m.LoyaltyFacts(
        [
            m.ProgramFacts("Points", "points", 2, 1000, 5000, 0.01, "default"),
            m.ProgramFacts("Card", "stamps", 2, 9, 14, None, "unknown"),
        ]
    )
    e = m.program_economics(customers, daily, loyalty)
    assert e["definition"] == "accounts"
    assert e["members"] == {
        "customers": 2,
        "orders": 4,
        "revenue": 40.0,
        "aov": 10.0,
        "orders_per_customer": 2.0,
        "revenue_per_customer": 20.0,
    }
    assert e["non_members"]["revenue_per_customer"] == 12.0
    assert e["guests"]["aov"] == 4.0 and e["guests"]["customers"] is None
    assert e["associated_revenue"] == 16.0 and e["associated_basis"] == "customers"
    assert e["reward_cost"] == pytest.approx(10.0)
    assert e["reward_cost_share"] == pytest.approx(25.0)
    assert e["liability"] == pytest.approx(50.0)
    assert e["programs"][1]["liability"] is None


def test_without_accounts_every_customer_is_a_member_and_guests_are_the_comparison():
    """Customers: 2 purchases for 20.00 (AOV 10.00); guests AOV 4.00: (10 - 4) x 2 = 12.00."""
    customers = facts({1: [(390, 10.0), (395, 10.0)]}, as_of=400)
    daily = sales([(380, 5, 20.0, 5, 20.0, 0, 0.0)])
    e = m.program_economics(customers, daily, m.LoyaltyFacts([]))
    assert e["definition"] == "customers"
    assert e["non_members"]["customers"] == 0
    assert e["associated_revenue"] == 12.0 and e["associated_basis"] == "guests"


def test_unit_value_is_exact_for_credit_and_the_catalog_median_for_points():
    """Rewards 3.00 for 300 points (0.01) and 5.00 for 250 (0.02), 4.00 for 100 (0.04): median 0.02."""
    assert m.unit_value("credit", []) == (0.01, "exact")
    assert m.unit_value("points", [(3.0, 300), (5.0, 250), (4.0, 100)]) == (0.02, "rewards")
    assert m.unit_value("points", []) == (m.DEFAULT_POINT_VALUE, "default")
    assert m.unit_value("stamps", []) == (None, "unknown")
    assert m.unit_value("stamps", [(2.5, 10)]) == (0.25, "rewards")


# --- forecast -----------------------------------------------------------------------------


def test_new_customers_repeat_purchases_follow_their_arrival_days():
    """One new customer a day, each then buying once a week: E[X(t)] = t / 7.

    By day t: sum over arrivals s = 0..t-1 of (t - s - 1/2) / 7 = t^2 / 14. Day 7: 3.5,
    day 14: 14: so week 1 brings 3.5 repeat purchases and week 2 brings 10.5.
    """
    weekly = m.new_customer_repeat_purchases(lambda t: t / 7.0, 1.0, 2)
    assert weekly.tolist() == pytest.approx([3.5, 10.5])


def test_forecast_adds_customers_new_customers_and_guests():
    """Week: 10 base purchases x 5.00 = 50; 7 new a week x 2.00 first spend = 14 plus 1 repeat
    x 4.00 = 4; 14 guest purchases x 3.00 = 42: 110.00 a week, 220.00 over two weeks."""
    f = m.sales_forecast(
        base_purchases=[10.0, 10.0],
        base_spend=5.0,
        new_per_day=1.0,
        new_first_spend=2.0,
        new_repeat_purchases=[1.0, 1.0],
        repeat_spend=4.0,
        guest_orders_per_day=2.0,
        guest_spend=3.0,
        spend_sd=1.0,
    )
    assert f.expected.tolist() == pytest.approx([110.0, 110.0])
    assert f.total(2)["expected"] == pytest.approx(220.0)
    assert f.components["new_customers"].tolist() == pytest.approx([18.0, 18.0])
    # The 80% interval holds the expectation and widens with the horizon.
    assert f.low[0] < 110.0 < f.high[0] and f.low[1] < 220.0 < f.high[1]
    assert f.high[1] - f.low[1] > f.high[0] - f.low[0]
    assert f.week_low[0] < 110.0 < f.week_high[0]


def test_forecast_interval_is_the_poisson_spread_of_the_counts():
    """Only 100 base purchases of exactly 1.00 a week (no spend spread): revenue ~ Poisson(100),
    whose 10th and 90th percentiles are 87 and 113 (100 -+ 1.2816 x 10, to the nearest unit)."""
    f = m.sales_forecast(
        base_purchases=[100.0],
        base_spend=1.0,
        new_per_day=0.0,
        new_first_spend=0.0,
        new_repeat_purchases=[0.0],
        repeat_spend=0.0,
        guest_orders_per_day=0.0,
        guest_spend=0.0,
        spend_sd=0.0,
        draws=20000,
    )
    assert f.low[0] == pytest.approx(87, abs=1.5)
    assert f.high[0] == pytest.approx(113, abs=1.5)
