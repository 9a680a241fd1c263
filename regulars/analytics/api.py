"""Analytics over the REST API, read-only: the dashboard's KPIs and the RFM segments.

Like the pages, these read the last snapshot that a refresh wrote (`regulars analytics refresh`
or the dashboard's Recompute) and never compute anything in the request. Before the first
refresh the answers say `status: "never"` and carry no figures.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema

from regulars.accounts.api_support import ApiError, business_of, paginate
from regulars.analytics import reports
from regulars.analytics.metrics import RFM_RULES, Segment
from regulars.analytics.models import AnalyticsSnapshot, CustomerScore
from regulars.analytics.refresh import PERIODS
from regulars.lib.errors import DomainError

router = Router(tags=["analytics"])
ERRORS = {400: ApiError, 401: ApiError, 403: ApiError, 404: ApiError, 422: ApiError, 429: ApiError}


class KpiOut(Schema):
    key: str
    label: str
    kind: str = Field(..., description="money, integer, number, percent, days or years")
    better: str | None = Field(None, description="up or down: which change is good news")
    value: Decimal | None = Field(
        None, description="this period, a decimal string: money to the cent, ratios to 4 places"
    )
    previous: Decimal | None = Field(None, description="the period before, as long")


class KpisOut(Schema):
    status: str = Field(..., description="never, queued, running, done or failed")
    computed_at: datetime | None
    days: int = Field(..., description="length of the period, ending at computed_at")
    currency: str
    kpis: list[KpiOut]


class SegmentOut(Schema):
    segment: str
    name: str
    description: str
    action: str = Field(..., description="what the owner could do for them")
    customers: int
    revenue: Decimal | None = Field(None, description="all-time spend of the segment")
    recent_revenue: Decimal | None = Field(None, description="spend in the last 90 days")
    clv: Decimal | None = Field(None, description="mean predicted 12-month value")


class SegmentsOut(Schema):
    status: str
    computed_at: datetime | None
    segments: list[SegmentOut]


class ScoredCustomerOut(Schema):
    customer: str = Field(..., alias="customer.code")
    name: str = Field(..., alias="customer.name")
    segment: str
    recency_score: int
    frequency_score: int
    monetary_score: int
    orders: int
    revenue: Decimal
    last_purchase: date
    p_alive: float | None = Field(None, description="probability the customer is still active")
    expected_90d: float | None = Field(None, description="expected purchase days, next 90 days")
    clv: Decimal | None = Field(None, description="expected spend, next 12 months")


class ScoredCustomerPage(Schema):
    items: list[ScoredCustomerOut]
    next_cursor: str | None


class KpiFilters(Schema):
    days: int = Field(PERIODS[0], description=f"one of {', '.join(map(str, PERIODS))}")


class SegmentCustomerFilters(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


def _snapshot(business) -> tuple[str, datetime | None, dict[str, Any]]:
    """(status, computed_at, data) of the last refresh; no figures before the first."""
    snapshot, data = reports.last_snapshot(business)
    if snapshot is None:
        return AnalyticsSnapshot.Status.NEVER, None, {}
    return snapshot.status, snapshot.computed_at if data else None, data


def _figure(kind: str, value: float | None) -> Decimal | None:
    """A computed figure as the API shows numbers: a decimal, never a float."""
    if value is None:
        return None
    places = {"money": "0.01", "integer": "1"}.get(kind, "0.0001")
    return Decimal(repr(value)).quantize(Decimal(places))


@router.get("kpis", response={200: KpisOut, **ERRORS}, summary="The dashboard's KPIs")
def kpis(request: HttpRequest, filters: Query[KpiFilters]):
    """Revenue, purchases, average order value, retention, churn, CLV and the rest for the last
    `days` days and the period before, as of the last analytics refresh."""
    if filters.days not in PERIODS:
        raise DomainError("days", f"must be one of {', '.join(map(str, PERIODS))}")
    business = business_of(request)
    status, computed_at, data = _snapshot(business)
    period = data.get("kpis", {}).get(str(filters.days))
    items = []
    if period:
        items = [
            {
                "key": k.key,
                "label": str(k.label),
                "kind": k.kind,
                "better": k.better,
                "value": _figure(k.kind, period["current"].get(k.key)),
                "previous": _figure(k.kind, period["previous"].get(k.key)),
            }
            for k in reports.KPIS
        ]
    return {
        "status": status,
        "computed_at": computed_at,
        "days": filters.days,
        "currency": business.currency,
        "kpis": items,
    }


@router.get("segments", response={200: SegmentsOut, **ERRORS}, summary="RFM segments")
def segments(request: HttpRequest):
    """Customers grouped by recency, frequency and spend (champions, loyal, at risk, lost, …),
    with how many are in each and what they spend, as of the last analytics refresh."""
    status, computed_at, data = _snapshot(business_of(request))
    found = {s["segment"]: s for s in data.get("segments", [])}
    items = []
    if data:
        for rule in RFM_RULES:
            row = found.get(rule.segment.value, {})
            items.append(
                {
                    "segment": rule.segment.value,
                    "name": str(rule.segment.label),
                    "description": str(rule.description),
                    "action": str(rule.action),
                    "customers": row.get("customers", 0),
                    "revenue": reports.cents(row.get("revenue")),
                    "recent_revenue": reports.cents(row.get("recent_revenue")),
                    "clv": reports.cents(row.get("clv")),
                }
            )
    return {"status": status, "computed_at": computed_at, "segments": items}


@router.get(
    "segments/{segment}/customers",
    response={200: ScoredCustomerPage, **ERRORS},
    summary="The customers of one segment, with their scores",
)
def segment_customers(
    request: HttpRequest, segment: str, filters: Query[SegmentCustomerFilters]
):
    if segment not in Segment.values:
        raise Http404(f"no segment {segment!r}: one of {', '.join(Segment.values)}")
    qs = CustomerScore.objects.filter(business=business_of(request), segment=segment)
    items, next_cursor = paginate(
        qs.select_related("customer"), cursor=filters.cursor, limit=filters.limit
    )
    return {"items": items, "next_cursor": next_cursor}
