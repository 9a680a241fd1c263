"""The owner's analytics pages: the dashboard, its refresh status, Recompute, CSV downloads.

Thin views over the last snapshot: nothing here fits a model or scans the purchases.
"""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from regulars.accounts.models import Role
from regulars.accounts.tenancy import business_view
from regulars.analytics import reports
from regulars.analytics.metrics import RFM_RULES
from regulars.analytics.refresh import PERIODS
from regulars.analytics.tasks import request_refresh

CHARTS = ("revenue-by-month", "forecast", "cohorts", "segments", "clv", "members")


def _period(request: HttpRequest) -> int:
    try:
        days = int(request.GET.get("days", PERIODS[0]))
    except ValueError:
        days = PERIODS[0]
    return days if days in PERIODS else PERIODS[0]


def _unit_label(unit: str) -> str:
    from regulars.loyalty.models import Unit

    return str(Unit(unit).label) if unit in Unit.values else unit


def _tile(kpi: reports.Kpi, current: Any, previous: Any) -> dict[str, Any]:
    """A KPI with its change: relative for amounts and counts, in points for percentages."""
    change = None
    if current is not None and previous is not None:
        if kpi.kind == "percent":
            change = current - previous
        elif previous:
            change = 100.0 * (current - previous) / abs(previous)
    good = None
    if change is not None and abs(change) >= 0.05 and kpi.better:
        good = (change > 0) == (kpi.better == "up")
    money = kpi.kind == "money"
    if kpi.kind == "days" and current is not None:
        current = round(current)
    return {
        "kpi": kpi,
        "value": reports.cents(current) if money else current,
        "previous": reports.cents(previous) if money else previous,
        "change": change,
        "change_unit": "pp" if kpi.kind == "percent" else "%",
        "good": good,
    }


def _chart(slug: str, ctx: reports.Context) -> dict[str, Any]:
    report = reports.REPORTS[slug]
    rows = report.rows(ctx)
    return {
        "report": report,
        "figure": report.figure(ctx, rows) if rows and report.figure else None,
        "empty": not rows,
        "id": f"figure-{slug}",
    }


@business_view(role=Role.MANAGER)
def dashboard(request: HttpRequest) -> HttpResponse:
    business = request.business
    snapshot, data = reports.last_snapshot(business)
    days = _period(request)
    context: dict[str, Any] = {"snapshot": snapshot, "data": data, "days": days, "periods": PERIODS}
    if data:
        ctx = reports.Context(business, data)
        period = data["kpis"][str(days)]
        context["tiles"] = [
            _tile(k, period["current"].get(k.key), period["previous"].get(k.key))
            for k in reports.KPIS
        ]
        context["charts"] = {slug.replace("-", "_"): _chart(slug, ctx) for slug in CHARTS}
        segments = {s["segment"]: s for s in data["segments"]}
        context["rules"] = [
            {"rule": rule, "customers": segments.get(rule.segment.value, {}).get("customers", 0)}
            for rule in RFM_RULES
        ]
        context["slipping"] = list(reports.slipping_away(business))
        program = data["program"]
        context["program"] = {
            **program,
            "reward_cost": reports.cents(program["reward_cost"]),
            "liability": reports.cents(program["liability"]),
            "associated_revenue": reports.cents(program["associated_revenue"]),
            "programs": [
                {
                    **p,
                    "unit_label": _unit_label(p["unit"]),
                    "reward_cost": reports.cents(p["reward_cost"]),
                    "liability": reports.cents(p["liability"]),
                }
                for p in program["programs"]
            ],
        }
        forecast = data["forecast"]
        if forecast.get("method"):
            context["forecast"] = {
                weeks: {k: reports.cents(v) for k, v in forecast[f"total_{weeks}"].items()}
                for weeks in (4, 12)
            } | {"method": forecast["method"]}
        context["models"] = data["models"]
    return render(request, "analytics/dashboard.html", context)


@business_view(role=Role.MANAGER)
def status(request: HttpRequest) -> HttpResponse:
    """The refresh status fragment the dashboard polls (htmx) while a refresh runs.

    When a refresh has finished since the page was drawn (``since`` is the computed_at the
    page shows), the page is reloaded to show the new numbers.
    """
    snapshot, _data = reports.last_snapshot(request.business)
    response = render(request, "analytics/_status.html", {"snapshot": snapshot})
    since = request.GET.get("since", "")
    if snapshot and snapshot.computed_at and not snapshot.busy:
        if since != snapshot.computed_at.isoformat():
            response["HX-Refresh"] = "true"
    return response


@business_view(role=Role.MANAGER)
@require_POST
def recompute(request: HttpRequest) -> HttpResponse:
    if request_refresh(request.business):
        messages.success(request, _("Recomputing. The numbers will update when it is done."))
    else:
        messages.info(request, _("The numbers are already being recomputed."))
    url = reverse("analytics_dashboard", args=[request.business.slug])
    days = _period(request)
    return redirect(f"{url}?days={days}" if days != PERIODS[0] else url)


@business_view(role=Role.MANAGER)
def report_csv(request: HttpRequest, chart: str) -> HttpResponse:
    """One report of the last snapshot as CSV: the rows its chart is drawn from."""
    report = reports.REPORTS.get(chart)
    _snap, data = reports.last_snapshot(request.business)
    if report is None or not data:
        raise Http404("No such report")
    ctx = reports.Context(request.business, data)
    columns, rows = report.table(ctx)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"{request.business.slug}-{chart}-{data['as_of']}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([str(c.label) for c in columns])
    for row in rows:
        writer.writerow([reports.csv_value(v, c.kind) for v, c in zip(row, columns, strict=True)])
    return response
