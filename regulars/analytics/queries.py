"""What the metrics are computed from: one GROUP BY query per family, read into numpy arrays.

- `customer_facts`: GROUP BY customer (first and last purchase day, purchase days, orders,
  revenue, first-day revenue, the last purchase on or before each boundary day, and the
  months in which the customer bought, for the cohorts);
- `daily_sales`: GROUP BY day (orders and revenue, split guest / known);
- `loyalty_facts`: GROUP BY program and unit over the ledger and the accounts.

Days are the business's calendar days: the database converts each purchase time to the
business's time zone (PostgreSQL with AT TIME ZONE; SQLite with the zone's UTC offsets over
the data's range, daylight-saving changes included) before truncating to the day; months
are ranges of local days.
Purchases count at total − refunded; purchases refunded in full (or of zero value) and
purchases after the end of ``as_of`` are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.db import connection
from django.db.models import Count, Max, Min, Q, Sum

from regulars.accounts.models import Business
from regulars.analytics.metrics import (
    NO_DAY,
    CustomerFacts,
    DailySales,
    LoyaltyFacts,
    ProgramFacts,
    unit_value,
)
from regulars.sales.models import Purchase


def local_day_end(business: Business, day: date) -> datetime:
    """The first instant after ``day`` in the business's time zone, in UTC."""
    tz = ZoneInfo(business.timezone)
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)


def local_today(business: Business, now: datetime | None = None) -> date:
    now = now or datetime.now(UTC)
    return now.astimezone(ZoneInfo(business.timezone)).date()


def _offset_pieces(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """[(from, UTC offset in seconds)] covering [start, end]: one piece per daylight-saving rule.

    Offsets are probed once a day and each change is narrowed to the second by bisection;
    zones change their offset at most a few times a year.
    """

    def offset(at: datetime) -> int:
        return int(at.astimezone(tz).utcoffset().total_seconds())

    at = start.replace(minute=0, second=0, microsecond=0)
    pieces = [(at, offset(at))]
    while at < end:
        following = at + timedelta(days=1)
        if offset(following) != pieces[-1][1]:
            low, high = at, following  # offset(low) is the current one, offset(high) differs
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == pieces[-1][1] else (low, middle)
            pieces.append((high.replace(microsecond=0), offset(following)))
        at = following
    return pieces


class _LocalTime:
    """SQL for the local day of a UTC timestamp column, for this database.

    SQLite has no time zones: the column is shifted by the zone's UTC offset, chosen by a CASE
    over the daylight-saving changes between ``start`` and ``end`` (no CASE for a zone without
    them), before julianday() truncates it.
    """

    def __init__(self, business: Business, column: str, start: datetime, end: datetime) -> None:
        self.column = column
        if connection.vendor == "postgresql":
            self.local = f"({column} AT TIME ZONE %s)"
            self.local_params = [business.timezone]
            return
        if connection.vendor != "sqlite":  # pragma: no cover - the two supported databases
            raise NotImplementedError(f"analytics queries do not support {connection.vendor}")
        pieces = _offset_pieces(ZoneInfo(business.timezone), start, end)
        if len(pieces) == 1:
            self.modifier, self.modifier_params = "%s", [f"{pieces[0][1]:+d} seconds"]
        else:
            whens, params = [], []
            for (_, seconds), (following, _next) in zip(pieces, pieces[1:], strict=False):
                whens.append(f"WHEN {column} < %s THEN %s")
                params += [_db_datetime(following), f"{seconds:+d} seconds"]
            self.modifier = "CASE " + " ".join(whens) + " ELSE %s END"
            self.modifier_params = [*params, f"{pieces[-1][1]:+d} seconds"]

    def day(self) -> tuple[str, list]:
        """Days since 1970-01-01 of the local date."""
        if connection.vendor == "postgresql":
            return f"(({self.local})::date - DATE '1970-01-01')", list(self.local_params)
        return (
            f"CAST(julianday({self.column}, {self.modifier}) - 2440587.5 AS INTEGER)",
            list(self.modifier_params),
        )


def _db_datetime(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _purchases_sql(business: Business, end: datetime, *, known_only: bool) -> tuple[str, list]:
    """Counted purchases as rows (c customer, d local day, v net value), for a FROM clause."""
    table = Purchase._meta.db_table
    span = Purchase.objects.filter(business=business, occurred_at__lt=end).aggregate(
        first=Min("occurred_at"), last=Max("occurred_at")
    )
    local = _LocalTime(business, "occurred_at", span["first"] or end, span["last"] or end)
    day_sql, day_params = local.day()
    sql = f"""
        SELECT customer_id AS c, {day_sql} AS d, total - refunded AS v
        FROM {table}{_scan_hint(business)}
        WHERE business_id = %s AND occurred_at < %s AND total > refunded
              {"AND customer_id IS NOT NULL" if known_only else ""}
    """
    return sql, [*day_params, business.pk, _db_datetime(end)]


# When one business holds at least this share of all purchases, SQLite reads them faster by
# scanning the table than through the (business, occurred_at) index: one random page read
# per row otherwise (measured 0.2 s against 2.7 s for 1,000,000 purchases).
TABLE_SCAN_SHARE = 0.2


def _scan_hint(business: Business) -> str:
    if connection.vendor != "sqlite":
        return ""  # PostgreSQL's planner has the statistics to choose
    counts = Purchase.objects.aggregate(
        total=Count("id"), mine=Count("id", filter=Q(business=business))
    )
    total, mine = counts["total"], counts["mine"]
    return " NOT INDEXED" if total and mine >= TABLE_SCAN_SHARE * total else ""


def _fetch(sql: str, params: Sequence) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _columns(rows: list[tuple], count: int) -> list[np.ndarray]:
    if not rows:
        return [np.zeros(0) for _ in range(count)]
    return [np.asarray(column) for column in zip(*rows, strict=True)]


# First-day spend and orders ride on the first day in one integer, so that MIN() over the
# customer's days picks them without a join back to the first day: day * K + value.
_CENTS_KEY = 10**12  # up to 10^10 a day in currency units
_ORDERS_KEY = 10**6


def month_starts(as_of: date, months: int) -> list[date]:
    """First days of the last ``months`` calendar months up to ``as_of``, and of the next."""
    year, month = as_of.year, as_of.month
    starts = []
    for k in range(months, -1, -1):
        index = year * 12 + month - 1 - (k - 1)
        starts.append(date(index // 12, index % 12 + 1, 1))
    return starts


def customer_facts(
    business: Business,
    *,
    as_of: date,
    boundaries: Sequence[date] = (),
    history_boundaries: Sequence[date] = (),
    recent_days: int = 365,
    activity_months: int = 12,
) -> CustomerFacts:
    """One row per customer who bought up to ``as_of``: one query, GROUP BY customer.

    Inside, purchases are first grouped by (customer, local day), so that a day with two
    receipts is one purchase occasion; the outer GROUP BY customer reads, per customer:
    first and last purchase day, purchase days, orders, revenue, the first day's orders and
    revenue, the recent orders and revenue (``as_of`` − ``recent_days``, ``as_of``], for each
    of ``boundaries`` the last purchase day on or before it, for each of
    ``history_boundaries`` (and ``as_of``) the purchase days on or before it, and whether the
    customer bought in each of the last ``activity_months`` calendar months.
    """
    end_day = day_number(as_of)
    recent_start = end_day - recent_days
    # At as_of itself these are the last purchase day and the purchase days: not read twice.
    last_days = sorted({day_number(b) for b in boundaries} - {end_day})
    count_days = sorted({day_number(b) for b in history_boundaries} - {end_day})
    starts = [day_number(d) for d in month_starts(as_of, activity_months)]
    p_sql, p_params = _purchases_sql(business, local_day_end(business, as_of), known_only=True)
    columns_sql = [
        *(f"COALESCE(MAX(CASE WHEN d <= {b} THEN d END), {NO_DAY})" for b in last_days),
        *(f"SUM(CASE WHEN d <= {b} THEN 1 ELSE 0 END)" for b in count_days),
        *(
            f"MAX(CASE WHEN d >= {a} AND d < {b} THEN 1 ELSE 0 END)"
            for a, b in zip(starts, starts[1:], strict=False)
        ),
    ]
    sql = f"""
        SELECT c, MIN(d), MAX(d), COUNT(*), SUM(n), SUM(v),
               MIN(CAST(d AS BIGINT) * {_ORDERS_KEY} + n),
               MIN(CAST(d AS BIGINT) * {_CENTS_KEY} + cents),
               SUM(CASE WHEN d > {recent_start} THEN n ELSE 0 END),
               SUM(CASE WHEN d > {recent_start} THEN v ELSE 0 END)
               {"".join(f", {column}" for column in columns_sql)}
        FROM (
            SELECT c, d, COUNT(*) AS n, CAST(SUM(v) AS DOUBLE PRECISION) AS v,
                   CAST(ROUND(SUM(v) * 100) AS BIGINT) AS cents
            FROM ({p_sql}) AS p
            GROUP BY c, d
        ) AS days
        GROUP BY c
        ORDER BY c
    """
    fixed = 10
    columns = _columns(_fetch(sql, p_params), fixed + len(columns_sql))
    cid, first, last, days, orders, revenue, first_orders, first_cents, r_orders, r_revenue = (
        columns[:fixed]
    )
    rest = columns[fixed:]
    last_before = {
        d: col.astype(np.int64) for d, col in zip(last_days, rest[: len(last_days)], strict=True)
    }
    rest = rest[len(last_days) :]
    days_before = {
        d: col.astype(np.int64) for d, col in zip(count_days, rest[: len(count_days)], strict=True)
    }
    active = rest[len(count_days) :]
    customer_id = cid.astype(np.int64)
    first = first.astype(np.int64)
    last_before[end_day] = last.astype(np.int64)
    days_before[end_day] = days.astype(np.int64)
    return CustomerFacts(
        customer_id=customer_id,
        first_day=first,
        last_day=last.astype(np.int64),
        days=days.astype(np.int64),
        orders=orders.astype(np.int64),
        revenue=revenue.astype(float),
        first_day_orders=first_orders.astype(np.int64) - first * _ORDERS_KEY,
        first_day_revenue=(first_cents.astype(np.int64) - first * _CENTS_KEY) / 100.0,
        recent_orders=r_orders.astype(np.int64),
        recent_revenue=r_revenue.astype(float),
        recent_start=recent_start,
        last_before=last_before,
        days_before=days_before,
        month_starts=starts,
        active_in_month=(
            np.stack([a.astype(bool) for a in active], axis=1)
            if len(customer_id)
            else np.zeros((0, len(active)), dtype=bool)
        ),
        is_member=np.isin(customer_id, _member_ids(business)),
        as_of=end_day,
    )


def _member_ids(business: Business) -> np.ndarray:
    from regulars.loyalty.models import Account

    ids = Account.objects.filter(business=business).values_list("customer_id", flat=True)
    return np.fromiter(ids.distinct(), dtype=np.int64)


def daily_sales(business: Business, *, as_of: date, customers: CustomerFacts) -> DailySales:
    """One row per day with sales up to ``as_of``: one query, GROUP BY day.

    The split of known customers' purchases into new (on the customer's first purchase day)
    and returning comes from ``customers`` (read with the same ``as_of``), whose first-day
    orders and revenue are added up by day.
    """
    p_sql, p_params = _purchases_sql(business, local_day_end(business, as_of), known_only=False)
    sql = f"""
        SELECT d, COUNT(*), SUM(v), SUM(v * v),
               SUM(CASE WHEN c IS NULL THEN 1 ELSE 0 END),
               SUM(CASE WHEN c IS NULL THEN v ELSE 0 END)
        FROM (
            SELECT c, d, CAST(v AS DOUBLE PRECISION) AS v FROM ({p_sql}) AS p
        ) AS purchases
        GROUP BY d
        ORDER BY d
    """
    day, orders, revenue, sq, g_orders, g_revenue = _columns(_fetch(sql, p_params), 6)
    day = day.astype(np.int64)
    # Every first purchase day is a day with sales, so it is in `day`.
    at = np.searchsorted(day, customers.first_day)
    return DailySales(
        day=day,
        orders=orders.astype(np.int64),
        revenue=revenue.astype(float),
        revenue_sq=sq.astype(float),
        guest_orders=g_orders.astype(np.int64),
        guest_revenue=g_revenue.astype(float),
        new_orders=np.bincount(at, weights=customers.first_day_orders, minlength=len(day)).astype(
            np.int64
        ),
        new_revenue=np.bincount(at, weights=customers.first_day_revenue, minlength=len(day)),
        new_customers=np.bincount(at, minlength=len(day)).astype(np.int64),
    )


def loyalty_facts(business: Business, *, since: date, as_of: date) -> LoyaltyFacts:
    """Per program and unit: accounts, outstanding balance, net redemptions in (since, as_of].

    Three small grouped queries (accounts, ledger redemptions, the rewards catalog).
    """
    from regulars.loyalty.models import Account, LedgerEntry, Program, Reward

    start, end = local_day_end(business, since), local_day_end(business, as_of)
    Kind = LedgerEntry.Kind
    balances = {
        (row["program_id"], row["unit"]): row
        for row in Account.objects.filter(business=business)
        .values("program_id", "unit")
        .annotate(accounts=Count("id"), outstanding=Sum("balance", filter=Q(balance__gt=0)))
    }
    redeemed = {
        (row["account__program_id"], row["account__unit"]): -(row["net"] or 0)
        for row in LedgerEntry.objects.filter(business=business, at__gte=start, at__lt=end)
        .filter(Q(kind=Kind.REDEEM) | Q(kind=Kind.REVERSE, reverses__kind=Kind.REDEEM))
        .values("account__program_id", "account__unit")
        .annotate(net=Sum("amount"))
    }
    reward_values: dict[int, list[tuple[float, int]]] = {}
    for reward in Reward.objects.filter(business=business, active=True).select_related("product"):
        if reward.kind == Reward.Kind.FIXED_DISCOUNT and reward.value:
            money = float(reward.value)
        elif reward.kind == Reward.Kind.FREE_PRODUCT and reward.product is not None:
            money = float(reward.product.price)
        else:
            continue
        reward_values.setdefault(reward.program_id, []).append((money, reward.cost))
    names = dict(Program.objects.filter(business=business).values_list("pk", "name"))
    programs = []
    for key in sorted(balances.keys() | redeemed.keys()):
        program_id, unit = key
        value, source = unit_value(unit, reward_values.get(program_id, []))
        row = balances.get(key, {})
        programs.append(
            ProgramFacts(
                name=names.get(program_id, ""),
                unit=unit,
                accounts=int(row.get("accounts") or 0),
                redeemed=int(redeemed.get(key, 0)),
                outstanding=int(row.get("outstanding") or 0),
                unit_value=value,
                value_source=source,
            )
        )
    return LoyaltyFacts(programs=programs)


def day_number(value: date) -> int:
    """A date as days since 1970-01-01, the day numbers the queries return."""
    return (value - date(1970, 1, 1)).days
