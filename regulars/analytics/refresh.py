"""The full analytics refresh of one business: read, compute, fit, predict, store.

`compute` reads the aggregates (`queries.py`), computes every metric (`metrics.py`), fits
BG/NBD and Gamma-Gamma (`clv/`) and predicts per customer; it returns the snapshot data (JSON)
and the per-customer scores as arrays. `refresh_business` also writes the scores and the
snapshot. The task (`tasks.refresh_analytics`) and `regulars analytics refresh` call it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop
from numpy.typing import NDArray

from regulars.accounts.models import Business
from regulars.analytics import metrics as m
from regulars.analytics import queries as q
from regulars.analytics.clv import BGNBD, ConvergenceError, GammaGamma
from regulars.customers.models import Customer

logger = logging.getLogger(__name__)

Progress = Callable[[int, str], None]

DATA_VERSION = 1
PERIODS = (30, 90, 365)  # the dashboard's period selector, in days
PREDICTION_DAYS = 90
CLV_MONTHS = 12
CLV_DISCOUNT_RATE = 0.01  # a month
FALL_WINDOW_DAYS = 30  # P(active) now against this many days ago
FORECAST_WEEKS = 12
RECENT_RATE_DAYS = 56  # new-customer and guest rates for the forecast: the last 8 weeks
HISTORY_MONTHS = 24
HISTORY_WEEKS = 26
# The models need some repeat customers to say anything; below this they are not fitted.
MIN_CUSTOMERS_FOR_MODELS = 20
MIN_REPEAT_CUSTOMERS_FOR_MODELS = 5
SCORE_BATCH = 10_000


def active_window_days() -> int:
    """Days within which a customer must have bought to count as a customer at a date."""
    return int(getattr(settings, "ANALYTICS_ACTIVE_DAYS", m.ACTIVE_WINDOW_DAYS))


def _noop(_percent: int, _message: str) -> None:
    pass


@dataclass
class Scores:
    """Per-customer results, aligned with ``customer_id``."""

    customer_id: NDArray[np.int64]
    segment: NDArray[np.object_]
    rfm: m.RFMScores
    orders: NDArray[np.int64]
    revenue: NDArray[np.float64]
    last_day: NDArray[np.int64]
    p_alive: NDArray[np.float64] | None
    p_alive_before: NDArray[np.float64] | None
    expected_90d: NDArray[np.float64] | None
    clv: NDArray[np.float64] | None


@dataclass
class Fitted:
    bgnbd: BGNBD | None
    gammagamma: GammaGamma | None
    note: str  # why a model is missing, for the page


def _round(value: float | None, digits: int = 2) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)


def _rounded(values: dict[str, Any], digits: int = 4) -> dict[str, Any]:
    return {k: _round(v, digits) if isinstance(v, float) else v for k, v in values.items()}


def compute(
    business: Business, *, as_of: date, progress: Progress = _noop, window: int | None = None
) -> tuple[dict[str, Any], Scores]:
    """Every metric, both models and the per-customer predictions, as of the end of ``as_of``."""
    window = window or active_window_days()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 4)
        clock = now

    end = q.day_number(as_of)
    ago = [0, 30, 60, 90, 180, 365, 730]
    boundaries = [as_of - timedelta(days=d) for d in ago]
    history = [as_of - timedelta(days=d) for d in (0, FALL_WINDOW_DAYS, 90, 365)]

    progress(2, gettext_noop("Reading customers"))
    customers = q.customer_facts(
        business, as_of=as_of, boundaries=boundaries, history_boundaries=history
    )
    lap("customers_query")
    progress(25, gettext_noop("Reading daily sales"))
    daily = q.daily_sales(business, as_of=as_of, customers=customers)
    lap("daily_query")
    progress(38, gettext_noop("Reading the loyalty ledger"))
    loyalty = q.loyalty_facts(business, since=as_of - timedelta(days=365), as_of=as_of)
    lap("loyalty_query")

    progress(42, gettext_noop("Computing KPIs"))
    kpis = {
        str(days): {
            "current": _rounded(
                m.period_kpis(customers, daily, start=end - days, end=end, window=window)
            ),
            "previous": _rounded(
                m.period_kpis(customers, daily, start=end - 2 * days, end=end - days, window=window)
            ),
        }
        for days in PERIODS
    }
    last_month = int(m.month_of_day([end])[0])
    monthly = m.monthly_revenue(
        daily, first_month=last_month - HISTORY_MONTHS + 1, last_month=last_month
    )
    matrix = m.cohort_matrix(customers)
    rfm = m.rfm_scores(end - customers.last_day, customers.days, customers.revenue)
    segments = m.rfm_segments(rfm)
    economics = m.program_economics(customers, daily, loyalty)
    lap("metrics")

    progress(50, gettext_noop("Fitting the purchase model (BG/NBD)"))
    x = (customers.days - 1).astype(float)
    tx = (customers.last_day - customers.first_day).astype(float)
    T = (end - customers.first_day).astype(float)
    repeat_spend = customers.revenue - customers.first_day_revenue
    mean_spend = np.divide(repeat_spend, x, out=np.zeros(len(x)), where=x > 0)
    fitted = fit_models(x, tx, T, mean_spend)
    lap("fit")

    progress(65, gettext_noop("Predicting each customer"))
    p_alive = p_before = expected = clv = None
    spend = None
    if fitted.bgnbd is not None:
        bg = fitted.bgnbd
        p_alive = bg.probability_alive(x, tx, T)
        expected = bg.conditional_expected_purchases(PREDICTION_DAYS, x, tx, T)
        then = end - FALL_WINDOW_DAYS
        known_then = customers.first_day <= then
        p_before = np.full(len(x), np.nan)
        first = customers.first_day[known_then]
        p_before[known_then] = bg.probability_alive(
            customers.purchase_days_on_or_before(then)[known_then] - 1.0,
            (customers.last_purchase_on_or_before(then)[known_then] - first).astype(float),
            (then - first).astype(float),
        )
        if fitted.gammagamma is not None:
            gg = fitted.gammagamma
            spend = gg.conditional_expected_spend(x, mean_spend)
            clv = gg.customer_lifetime_value(
                bg, x, tx, T, mean_spend, months=CLV_MONTHS, discount_rate=CLV_DISCOUNT_RATE
            )
    lap("predict")

    progress(75, gettext_noop("Forecasting sales"))
    forecast = _forecast(customers, daily, fitted, x, tx, T, spend, end)
    lap("forecast")

    scores = Scores(
        customer_id=customers.customer_id,
        segment=segments,
        rfm=rfm,
        orders=customers.orders,
        revenue=customers.revenue,
        last_day=customers.last_day,
        p_alive=p_alive,
        p_alive_before=p_before,
        expected_90d=expected,
        clv=clv,
    )
    data = {
        "version": DATA_VERSION,
        "as_of": as_of.isoformat(),
        "currency": business.currency,
        "window_days": window,
        "counts": {
            "customers": Customer.objects.for_business(business).count(),
            "buyers": len(customers),
            "repeat_buyers": int((customers.days > 1).sum()),
            "purchases": int(daily.orders.sum()),
            "guest_purchases": int(daily.guest_orders.sum()),
            "revenue": _round(float(daily.revenue.sum())),
            "first_day": m.date_of(daily.day[0]) if len(daily.day) else None,
        },
        "kpis": kpis,
        "monthly": {
            "month": [m.month_label(v) for v in monthly.month],
            "new": [_round(v) for v in monthly.new],
            "returning": [_round(v) for v in monthly.returning],
            "guests": [_round(v) for v in monthly.guests],
        },
        "weekly": _weekly_history(daily, end),
        "cohorts": {
            "cohort": [m.month_label(c) for c in matrix.cohort],
            "size": matrix.size,
            "retention": [[_round(v, 1) for v in row] for row in matrix.retention],
        },
        "segments": _segment_summary(segments, customers, clv),
        "clv_histogram": _histogram(clv),
        "program": _round_tree(economics),
        "forecast": forecast,
        "models": _model_summary(fitted, x),
        "timings": timings,
    }
    return data, scores


def fit_models(x: NDArray, tx: NDArray, T: NDArray, mean_spend: NDArray) -> Fitted:
    """BG/NBD on (x, t_x, T) in days and Gamma-Gamma on the repeat customers' mean spend.

    Either is left out (None, with the reason in ``note``) when the history is too short or
    the fit does not converge; every other metric is computed regardless.
    """
    repeat = (x > 0) & (mean_spend > 0)
    if len(x) < MIN_CUSTOMERS_FOR_MODELS or repeat.sum() < MIN_REPEAT_CUSTOMERS_FOR_MODELS:
        return Fitted(None, None, "too_little_history")
    try:
        bgnbd = BGNBD().fit(x, tx, T)
    except (ValueError, ConvergenceError):
        logger.warning("BG/NBD did not converge", exc_info=True)
        return Fitted(None, None, "bgnbd_failed")
    try:
        gammagamma = GammaGamma().fit(x[repeat], mean_spend[repeat])
    except (ValueError, ConvergenceError):
        logger.warning("Gamma-Gamma did not converge", exc_info=True)
        return Fitted(bgnbd, None, "gammagamma_failed")
    if gammagamma.params.q <= 1:
        return Fitted(bgnbd, None, "spend_unbounded")
    return Fitted(bgnbd, gammagamma, "")


def _model_summary(fitted: Fitted, x: NDArray) -> dict[str, Any]:
    out: dict[str, Any] = {"note": fitted.note, "bgnbd": None, "gammagamma": None}
    if fitted.bgnbd is not None:
        out["bgnbd"] = {
            "params": fitted.bgnbd.params.as_dict(),
            "log_likelihood": fitted.bgnbd.log_likelihood,
            "customers": int(fitted.bgnbd.n_customers),
        }
    if fitted.gammagamma is not None:
        gg = fitted.gammagamma
        out["gammagamma"] = {
            "params": gg.params.as_dict(),
            "log_likelihood": gg.log_likelihood,
            "customers": int(gg.n_customers),
            "mean_spend": gg.population_mean_spend(),
        }
    return _round_tree(out, 6)


def _forecast(
    customers: m.CustomerFacts,
    daily: m.DailySales,
    fitted: Fitted,
    x: NDArray,
    tx: NDArray,
    T: NDArray,
    spend: NDArray | None,
    end: int,
) -> dict[str, Any]:
    """Inputs of `metrics.sales_forecast` from the models and the recent rates; its result."""
    recent = (end - RECENT_RATE_DAYS, end)
    year = (end - 365, end)
    orders_year = daily.total("orders", *year)
    if not orders_year:
        return {"method": None}
    mean_value = daily.total("revenue", *year) / orders_year
    spread = max(daily.total("revenue_sq", *year) / orders_year - mean_value**2, 0.0)
    guest_orders = daily.total("guest_orders", *recent)
    guest_spend = m.average_order_value(daily.total("guest_revenue", *recent), guest_orders)
    new_per_day = daily.total("new_customers", *recent) / RECENT_RATE_DAYS
    joined = customers.first_day > end - 365
    first_spend = (
        float(customers.first_day_revenue[joined].mean())
        if joined.any()
        else float(customers.first_day_revenue.mean())
        if len(customers)
        else 0.0
    )
    weeks = FORECAST_WEEKS
    if fitted.bgnbd is not None and spend is not None and fitted.gammagamma is not None:
        horizons = 7.0 * np.arange(weeks + 1)
        cumulative = fitted.bgnbd.conditional_expected_purchases(horizons[:, None], x, tx, T)
        per_week = np.diff(cumulative, axis=0)  # (weeks, customers)
        base = per_week.sum(axis=1)
        total = per_week.sum(axis=0)
        base_spend = float(np.average(spend, weights=total)) if total.sum() > 0 else mean_value
        repeat_spend = fitted.gammagamma.population_mean_spend()
        new_repeat = m.new_customer_repeat_purchases(
            fitted.bgnbd.expected_purchases, new_per_day, weeks
        )
        method = "models"
    else:
        # Without the models: the recent rate of returning purchases carries on.
        returning = daily.total("returning_orders", *recent)
        known_spend = m.average_order_value(daily.total("returning_revenue", *recent), returning)
        base = np.full(weeks, 7.0 * returning / RECENT_RATE_DAYS)
        base_spend = known_spend or mean_value
        repeat_spend = base_spend
        new_repeat = np.zeros(weeks)
        method = "recent_rate"
    result = m.sales_forecast(
        base_purchases=base,
        base_spend=base_spend,
        new_per_day=new_per_day,
        new_first_spend=first_spend,
        new_repeat_purchases=new_repeat,
        repeat_spend=repeat_spend,
        guest_orders_per_day=guest_orders / RECENT_RATE_DAYS,
        guest_spend=guest_spend or 0.0,
        spend_sd=float(np.sqrt(spread)),
    )
    return {
        "method": method,
        "week_end": [m.date_of(end + 7 * (w + 1)) for w in range(weeks)],
        "expected": [_round(v) for v in result.expected],
        "cumulative": [_round(v) for v in result.cumulative],
        "week_low": [_round(v) for v in result.week_low],
        "week_high": [_round(v) for v in result.week_high],
        "low": [_round(v) for v in result.low],
        "high": [_round(v) for v in result.high],
        "customers": [_round(v) for v in result.components["customers"]],
        "new_customers": [_round(v) for v in result.components["new_customers"]],
        "guests": [_round(v) for v in result.components["guests"]],
        "total_4": _round_tree(result.total(4)),
        "total_12": _round_tree(result.total(12)),
        "new_per_day": _round(new_per_day, 3),
        "guest_orders_per_day": _round(guest_orders / RECENT_RATE_DAYS, 3),
    }


def _weekly_history(daily: m.DailySales, end: int) -> dict[str, list]:
    """Revenue of each of the last HISTORY_WEEKS 7-day weeks ending on ``end``."""
    age = (end - daily.day) // 7  # 0 = the week ending today
    keep = (age >= 0) & (age < HISTORY_WEEKS)
    revenue = np.bincount(age[keep], weights=daily.revenue[keep], minlength=HISTORY_WEEKS)
    weeks = range(HISTORY_WEEKS - 1, -1, -1)
    return {
        "week_end": [m.date_of(end - 7 * k) for k in weeks],
        "revenue": [_round(revenue[k]) for k in weeks],
    }


def _segment_summary(
    segments: NDArray[np.object_], customers: m.CustomerFacts, clv: NDArray | None
) -> list[dict[str, Any]]:
    out = []
    for rule in m.RFM_RULES:
        rows = segments == rule.segment.value
        n = int(rows.sum())
        out.append(
            {
                "segment": rule.segment.value,
                "customers": n,
                "revenue": _round(float(customers.revenue[rows].sum())),
                "recent_revenue": _round(float(customers.recent_revenue[rows].sum())),
                "clv": _round(float(clv[rows].mean())) if clv is not None and n else None,
            }
        )
    return out


def _histogram(values: NDArray | None, bins: int = 30) -> dict[str, Any] | None:
    """Counts of 12-month CLV in equal bins up to the 99th percentile; the last bin is open."""
    if values is None or len(values) == 0:
        return None
    finite = values[np.isfinite(values)]
    top = float(np.percentile(finite, 99)) if len(finite) else 0.0
    if top <= 0:
        top = float(finite.max()) if len(finite) and finite.max() > 0 else 1.0
    edges = np.linspace(0.0, top, bins + 1)
    counts = np.bincount(
        np.clip(np.searchsorted(edges, finite, side="right") - 1, 0, bins - 1), minlength=bins
    )
    return {
        "edges": [_round(e) for e in edges],
        "counts": [int(c) for c in counts],
        "median": _round(float(np.median(finite))) if len(finite) else None,
        "mean": _round(float(finite.mean())) if len(finite) else None,
    }


def _round_tree(value: Any, digits: int = 4) -> Any:
    if isinstance(value, float | np.floating):
        return _round(float(value), digits)
    if isinstance(value, dict):
        return {k: _round_tree(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round_tree(v, digits) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


# --- writing -------------------------------------------------------------------------------


def write_scores(business: Business, scores: Scores, *, computed_at: datetime) -> int:
    """Replace the business's customer scores in one transaction, in batches.

    Readers see the old scores or the new ones, never a mix. Rows go in with one multi-row
    statement per batch (SQLite) or COPY (PostgreSQL), built from the arrays: Django's
    bulk_create spends ~200 µs a row preparing values, 20 s for 100,000 customers.
    """
    from regulars.analytics.models import CustomerScore

    fields = list(CustomerScore._meta.concrete_fields)  # keyed by customer: no generated id
    n = len(scores.customer_id)

    def optional(values: NDArray | None, digits: int = 6) -> list:
        if values is None:
            return [None] * n
        rounded = np.round(values.astype(float), digits)
        return [None if v != v else v for v in rounded.tolist()]  # NaN != NaN

    def money(values: NDArray) -> list:
        return [None if v != v else f"{v:.2f}" for v in values.astype(float).tolist()]

    pg = connection.vendor == "postgresql"
    stamp = computed_at.isoformat() if pg else _db_datetime(computed_at)
    rfm = scores.rfm
    columns = {
        "business_id": [business.pk] * n,
        "customer_id": scores.customer_id.tolist(),
        "segment": scores.segment.tolist(),
        "recency_score": rfm.recency.tolist(),
        "frequency_score": rfm.frequency.tolist(),
        "monetary_score": rfm.monetary.tolist(),
        "orders": scores.orders.tolist(),
        "revenue": money(scores.revenue),
        "last_purchase": np.datetime_as_string(scores.last_day.astype("datetime64[D]")).tolist(),
        "p_alive": optional(scores.p_alive),
        "p_alive_before": optional(scores.p_alive_before),
        "expected_90d": optional(scores.expected_90d),
        "clv": [None] * n if scores.clv is None else money(scores.clv),
        "computed_at": [stamp] * n,
    }
    missing = [f.attname for f in fields if f.attname not in columns]
    if missing:  # pragma: no cover - a field added to CustomerScore without a value here
        raise RuntimeError(f"write_scores does not fill {missing}")
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    rows = list(zip(*(columns[f.attname] for f in fields), strict=True))
    table = connection.ops.quote_name(CustomerScore._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        CustomerScore.objects.filter(business=business).delete()
        if pg:
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(fields))})"
            for start in range(0, n, SCORE_BATCH):
                cursor.executemany(insert, rows[start : start + SCORE_BATCH])
    return n


def _db_datetime(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def refresh_business(
    business: Business, *, now: datetime | None = None, progress: Progress = _noop
) -> dict[str, Any]:
    """Compute everything for ``business`` and store the customer scores; returns the data.

    The snapshot row is the caller's (`tasks.run_refresh`), so that its status can be
    managed around failures.
    """
    now = now or timezone.now()
    as_of = q.local_today(business, now)
    started = time.perf_counter()
    data, scores = compute(business, as_of=as_of, progress=progress)
    progress(85, gettext_noop("Saving customer scores"))
    clock = time.perf_counter()
    write_scores(business, scores, computed_at=now)
    data["timings"]["write_scores"] = round(time.perf_counter() - clock, 4)
    data["timings"]["total"] = round(time.perf_counter() - started, 4)
    progress(100, gettext_noop("Done"))
    return data
