"""`regulars report --business SLUG [--days N | --since D --until D]`: KPIs in the terminal.

Computed now from the sales (two grouped queries), for any period, against the period of the
same length just before it; no model is fitted, so it is quick even for a large business.
"""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from regulars.accounts.models import Business
from regulars.analytics import metrics, queries
from regulars.analytics.refresh import active_window_days
from regulars.analytics.reports import KPIS
from regulars.lib.money import format_money


class Command(BaseCommand):
    help = (
        "Print a business's KPIs for a period (default the last 30 days) against the period "
        "before it, as a table, JSON or CSV."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--business", metavar="SLUG", required=True)
        parser.add_argument(
            "--days", type=int, metavar="N", help="the last N days up to --until (default 30)"
        )
        parser.add_argument("--since", metavar="YYYY-MM-DD", help="first day of the period")
        parser.add_argument(
            "--until", metavar="YYYY-MM-DD", help="last day of the period (default today)"
        )
        parser.add_argument(
            "--active-days",
            type=int,
            metavar="N",
            help="a customer at a date bought in the N days up to it (default "
            "ANALYTICS_ACTIVE_DAYS, 90)",
        )
        parser.add_argument("--format", choices=("table", "json", "csv"), default="table")

    def handle(self, *args: Any, **options: Any) -> None:
        business = Business.objects.filter(slug=options["business"]).first()
        if business is None:
            raise CommandError(f"--business: no business {options['business']!r}")
        since, until = _period(business, options["days"], options["since"], options["until"])
        window = options["active_days"] or active_window_days()
        if window < 1:
            raise CommandError("--active-days: must be at least 1")
        report = build_report(business, since=since, until=until, window=window)
        output = {"json": _json, "csv": _csv, "table": _table}[options["format"]](report)
        self.stdout.write(output)


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option}: {text!r} is not a date (YYYY-MM-DD)") from None


def _period(
    business: Business, days: int | None, since_text: str | None, until_text: str | None
) -> tuple[date, date]:
    since, until = _date(since_text, "--since"), _date(until_text, "--until")
    if days is not None and since is not None:
        raise CommandError("give --days or --since, not both")
    until = until or queries.local_today(business)
    if since is None:
        days = 30 if days is None else days
        if days < 1:
            raise CommandError(f"--days: must be at least 1, not {days}")
        since = until - timedelta(days=days - 1)
    if since > until:
        raise CommandError(f"--since {since} is after --until {until}")
    return since, until


def build_report(business: Business, *, since: date, until: date, window: int) -> dict[str, Any]:
    """KPIs of [since, until] and of the as many days just before, with their changes."""
    days = (until - since).days + 1
    start = since - timedelta(days=1)  # periods are (start, end]
    previous_start = start - timedelta(days=days)
    customers = queries.customer_facts(
        business,
        as_of=until,
        boundaries=[start, previous_start],
        history_boundaries=[start],
    )
    daily = queries.daily_sales(business, as_of=until, customers=customers)
    day = queries.day_number
    current = metrics.period_kpis(customers, daily, start=day(start), end=day(until), window=window)
    previous = metrics.period_kpis(
        customers, daily, start=day(previous_start), end=day(start), window=window
    )
    rows = []
    for kpi in KPIS:
        now, before = current.get(kpi.key), previous.get(kpi.key)
        change = None
        if now is not None and before is not None:
            if kpi.kind == "percent":
                change = now - before
            elif before:
                change = 100.0 * (now - before) / abs(before)
        rows.append(
            {
                "key": kpi.key,
                "label": str(kpi.label),
                "kind": kpi.kind,
                "current": now,
                "previous": before,
                "change": change,
            }
        )
    return {
        "business": business.slug,
        "currency": business.currency,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "previous_since": (previous_start + timedelta(days=1)).isoformat(),
        "previous_until": start.isoformat(),
        "active_days": window,
        "kpis": rows,
    }


def _rounded(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def _json(report: dict[str, Any]) -> str:
    kpis = {
        row["key"]: {k: _rounded(row[k]) for k in ("current", "previous", "change")}
        for row in report["kpis"]
    }
    return json.dumps({**{k: v for k, v in report.items() if k != "kpis"}, "kpis": kpis}, indent=2)


def _csv(report: dict[str, Any]) -> str:
    out = StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kpi", "label", "current", "previous", "change"])
    for row in report["kpis"]:
        writer.writerow(
            [
                row["key"],
                row["label"],
                *(
                    "" if row[k] is None else _rounded(row[k])
                    for k in ("current", "previous", "change")
                ),
            ]
        )
    return out.getvalue().rstrip("\n")


def _cell(value: Any, kind: str, currency: str) -> str:
    if value is None:
        return "-"
    if kind == "money":
        return format_money(Decimal(str(round(value, 2))), currency)
    if kind == "percent":
        return f"{value:.1f}%"
    if kind == "integer":
        return f"{int(value):,}"
    if kind == "days":
        return f"{value:.0f} d"
    return f"{value:.2f}"


def _change(row: dict[str, Any]) -> str:
    change = row["change"]
    if change is None:
        return ""
    unit = " pts" if row["kind"] == "percent" else "%"
    return f"{change:+.1f}{unit}"


def _table(report: dict[str, Any]) -> str:
    currency = report["currency"]
    header = [
        "",
        f"{report['since']} to {report['until']}",
        f"{report['previous_since']} to {report['previous_until']}",
        "change",
    ]
    rows = [header] + [
        [
            row["label"],
            _cell(row["current"], row["kind"], currency),
            _cell(row["previous"], row["kind"], currency),
            _change(row),
        ]
        for row in report["kpis"]
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        f"{report['business']}: KPIs (a customer at a date bought in the {report['active_days']} days up to it)",
        "",
    ]
    for r in rows:
        lines.append(
            "  ".join(
                [
                    r[0].ljust(widths[0]),
                    *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)),
                ]
            ).rstrip()
        )
    return "\n".join(lines)
