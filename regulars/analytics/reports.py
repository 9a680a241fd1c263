"""The dashboard's reports, each defined once: its columns and rows are the CSV download and
the data its Plotly figure is drawn from.

A report reads the last snapshot (`AnalyticsSnapshot.data`); only the "slipping away" list
reads the customer scores. Labels are translated when a report is rendered, so a snapshot is
language-neutral. Figures are plain Plotly JSON (data + layout): plotly.js draws them in the
browser, nothing is rendered on the server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from regulars.accounts.models import Business
from regulars.analytics.metrics import RFM_RULES, Segment
from regulars.analytics.models import AnalyticsSnapshot
from regulars.analytics.refresh import DATA_VERSION

SLIPPING_LIMIT = 20
# A valuable customer is in the top two fifths by spend (RFM monetary score 4 or 5).
VALUABLE_MONETARY_SCORE = 4
# P(active) must have fallen by at least this much in 30 days to count as slipping.
SLIPPING_DROP = 0.05

COLORS = {
    "new": "#e0a458",
    "returning": "#b4532a",
    "guests": "#c9c2b8",
    "forecast": "#2f7d4f",
    "actual": "#1f2328",
}
SEGMENT_COLORS = {
    Segment.CHAMPIONS: "#2f7d4f",
    Segment.LOYAL: "#5a9e6f",
    Segment.NEW: "#7fb3d5",
    Segment.POTENTIAL: "#a3c4a8",
    Segment.CANT_LOSE: "#b42318",
    Segment.AT_RISK: "#e0a458",
    Segment.HIBERNATING: "#a89f94",
    Segment.LOST: "#6b6f76",
}


def last_snapshot(business) -> tuple[AnalyticsSnapshot | None, dict[str, Any]]:
    """The business's snapshot and its data: {} before the first refresh, or when an older
    version of the code wrote it (the pages then offer to recompute)."""
    snapshot = AnalyticsSnapshot.objects.filter(business=business).first()
    data = snapshot.data if snapshot and snapshot.data.get("version") == DATA_VERSION else {}
    return snapshot, data


def cents(value: float | None) -> Decimal | None:
    """A computed amount (a float in the snapshot) as money: a Decimal to the cent."""
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Column:
    key: str
    label: Any  # a lazy translation, or a callable of the context for labels with the currency
    kind: str = "text"  # text | money | number | percent | integer | date


@dataclass(frozen=True)
class Context:
    business: Business
    data: dict[str, Any]

    @property
    def currency(self) -> str:
        return self.data.get("currency") or self.business.currency


@dataclass(frozen=True)
class Report:
    slug: str
    title: Any
    explanation: Any
    columns: Callable[[Context], list[Column]]
    rows: Callable[[Context], list[list[Any]]]
    figure: Callable[[Context, list[list[Any]]], dict[str, Any]] | None = None

    def header(self, ctx: Context) -> list[str]:
        return [str(c.label) for c in self.columns(ctx)]

    def table(self, ctx: Context) -> tuple[list[Column], list[list[Any]]]:
        return self.columns(ctx), self.rows(ctx)


def _layout(**extra: Any) -> dict[str, Any]:
    layout = {
        "margin": {"l": 56, "r": 16, "t": 8, "b": 48},
        "height": 320,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, sans-serif", "size": 12, "color": "#1f2328"},
        "legend": {"orientation": "h", "y": -0.2},
        "hovermode": "x unified",
    }
    layout.update(extra)
    return layout


def _money_label(text: str, ctx: Context) -> str:
    return f"{text} ({ctx.currency})"


# --- revenue by month ----------------------------------------------------------------------


def _monthly_columns(ctx: Context) -> list[Column]:
    return [
        Column("month", _("Month"), "text"),
        Column("new", _money_label(_("New customers"), ctx), "money"),
        Column("returning", _money_label(_("Returning customers"), ctx), "money"),
        Column("guests", _money_label(_("Guests"), ctx), "money"),
    ]


def _monthly_rows(ctx: Context) -> list[list[Any]]:
    m = ctx.data.get("monthly") or {}
    return [
        list(row)
        for row in zip(
            *(m.get(k, []) for k in ("month", "new", "returning", "guests")), strict=True
        )
    ]


def _monthly_figure(ctx: Context, rows: list[list[Any]]) -> dict[str, Any]:
    months = [r[0] for r in rows]
    traces = [
        {
            "type": "bar",
            "name": _("Guests"),
            "x": months,
            "y": [r[3] for r in rows],
            "marker": {"color": COLORS["guests"]},
        },
        {
            "type": "bar",
            "name": _("New customers"),
            "x": months,
            "y": [r[1] for r in rows],
            "marker": {"color": COLORS["new"]},
        },
        {
            "type": "bar",
            "name": _("Returning customers"),
            "x": months,
            "y": [r[2] for r in rows],
            "marker": {"color": COLORS["returning"]},
        },
    ]
    return {
        "data": traces,
        "layout": _layout(barmode="stack", yaxis={"title": {"text": ctx.currency}}),
    }


# --- forecast ------------------------------------------------------------------------------


def _forecast_columns(ctx: Context) -> list[Column]:
    return [
        Column("week_end", _("Week ending"), "date"),
        Column("actual", _money_label(_("Revenue"), ctx), "money"),
        Column("expected", _money_label(_("Forecast"), ctx), "money"),
        Column("low", _money_label(_("Low (10%)"), ctx), "money"),
        Column("high", _money_label(_("High (90%)"), ctx), "money"),
    ]


def _forecast_rows(ctx: Context) -> list[list[Any]]:
    weekly = ctx.data.get("weekly") or {}
    rows = [
        [w, r, None, None, None]
        for w, r in zip(weekly.get("week_end", []), weekly.get("revenue", []), strict=True)
    ]
    f = ctx.data.get("forecast") or {}
    if f.get("method"):
        rows += [
            [w, None, e, lo, hi]
            for w, e, lo, hi in zip(
                f["week_end"], f["expected"], f["week_low"], f["week_high"], strict=True
            )
        ]
    return rows


def _forecast_figure(ctx: Context, rows: list[list[Any]]) -> dict[str, Any]:
    actual = [r for r in rows if r[1] is not None]
    ahead = [r for r in rows if r[2] is not None]
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": _("Revenue"),
            "x": [r[0] for r in actual],
            "y": [r[1] for r in actual],
            "line": {"color": COLORS["actual"]},
        },
    ]
    if ahead:
        x = [r[0] for r in ahead]
        traces += [
            {
                "type": "scatter",
                "mode": "lines",
                "name": _("High (90%)"),
                "x": x,
                "y": [r[4] for r in ahead],
                "line": {"width": 0},
                "showlegend": False,
                "hoverinfo": "skip",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": _("%(share)s%% interval") % {"share": 80},
                "x": x,
                "y": [r[3] for r in ahead],
                "fill": "tonexty",
                "fillcolor": "rgba(47,125,79,0.18)",
                "line": {"width": 0},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": _("Forecast"),
                "x": x,
                "y": [r[2] for r in ahead],
                "line": {"color": COLORS["forecast"], "dash": "dot"},
            },
        ]
    return {
        "data": traces,
        "layout": _layout(yaxis={"title": {"text": ctx.currency}, "rangemode": "tozero"}),
    }


# --- cohorts -------------------------------------------------------------------------------


def _cohort_columns(ctx: Context) -> list[Column]:
    months = len((ctx.data.get("cohorts") or {}).get("retention", [[]])[0] or [])
    return [
        Column("cohort", _("First purchase month"), "text"),
        Column("customers", _("Customers"), "integer"),
        *(Column(f"m{k}", _("Month %(n)s (%%)") % {"n": k}, "percent") for k in range(months)),
    ]


def _cohort_rows(ctx: Context) -> list[list[Any]]:
    c = ctx.data.get("cohorts") or {}
    return [
        [cohort, size, *row]
        for cohort, size, row in zip(
            c.get("cohort", []), c.get("size", []), c.get("retention", []), strict=True
        )
    ]


def _cohort_figure(ctx: Context, rows: list[list[Any]]) -> dict[str, Any]:
    months = len(rows[0]) - 2 if rows else 0
    labels = [f"{r[0]} ({r[1]})" for r in rows]
    z = [r[2:] for r in rows]
    text = [["" if v is None else f"{v:.0f}%" for v in row] for row in z]
    return {
        "data": [
            {
                "type": "heatmap",
                "x": [str(k) for k in range(months)],
                "y": labels,
                "z": z,
                "text": text,
                "texttemplate": "%{text}",
                "hovertemplate": "%{y}<br>+%{x}: %{z:.1f}%<extra></extra>",
                "colorscale": [[0, "#faf8f5"], [0.3, "#e0a458"], [1, "#b4532a"]],
                "zmin": 0,
                "zmax": 100
                if not z
                else max(40, max((v for row in z for v in row[1:] if v is not None), default=40)),
                "showscale": False,
            }
        ],
        "layout": _layout(
            height=60 + 26 * max(len(rows), 1),
            xaxis={"title": {"text": _("Months since the first purchase")}, "side": "top"},
            yaxis={"autorange": "reversed", "automargin": True},
            margin={"l": 110, "r": 8, "t": 48, "b": 8},
            hovermode="closest",
        ),
    }


# --- RFM segments --------------------------------------------------------------------------


def _span(pair: tuple[int, int]) -> str:
    low, high = pair
    return str(low) if low == high else f"{low}–{high}"


def _segment_columns(ctx: Context) -> list[Column]:
    return [
        Column("segment", _("Segment"), "text"),
        Column("recency", _("R score"), "text"),
        Column("frequency", _("F score"), "text"),
        Column("monetary", _("M score"), "text"),
        Column("customers", _("Customers"), "integer"),
        Column("revenue", _money_label(_("Spent, all time"), ctx), "money"),
        Column("clv", _money_label(_("Average CLV, 12 months"), ctx), "money"),
    ]


def _segment_rows(ctx: Context) -> list[list[Any]]:
    found = {s["segment"]: s for s in ctx.data.get("segments") or []}
    rows = []
    for rule in RFM_RULES:
        s = found.get(rule.segment.value, {})
        rows.append(
            [
                str(rule.segment.label),
                _span(rule.recency),
                _span(rule.frequency),
                _span(rule.monetary),
                s.get("customers", 0),
                s.get("revenue"),
                s.get("clv"),
            ]
        )
    return rows


def _segment_figure(ctx: Context, rows: list[list[Any]]) -> dict[str, Any]:
    colors = [SEGMENT_COLORS[rule.segment] for rule in RFM_RULES]
    return {
        "data": [
            {
                "type": "treemap",
                "labels": [r[0] for r in rows],
                "parents": ["" for _r in rows],
                "values": [r[4] for r in rows],
                "marker": {"colors": colors},
                "textinfo": "label+value+percent root",
                "hovertemplate": "%{label}: %{value}<extra></extra>",
            }
        ],
        "layout": _layout(margin={"l": 4, "r": 4, "t": 4, "b": 4}, hovermode="closest"),
    }


# --- CLV distribution ----------------------------------------------------------------------


def _clv_columns(ctx: Context) -> list[Column]:
    return [
        Column("from", _money_label(_("CLV from"), ctx), "money"),
        Column("to", _money_label(_("CLV to"), ctx), "money"),
        Column("customers", _("Customers"), "integer"),
    ]


def _clv_rows(ctx: Context) -> list[list[Any]]:
    h = ctx.data.get("clv_histogram") or {}
    edges, counts = h.get("edges", []), h.get("counts", [])
    # The last bin also holds everyone above the 99th percentile: it has no upper end.
    return [
        [edges[i], None if i == len(counts) - 1 else edges[i + 1], counts[i]]
        for i in range(len(counts))
    ]


def _clv_figure(ctx: Context, rows: list[list[Any]]) -> dict[str, Any]:
    x = [r[0] if r[1] is None else (r[0] + r[1]) / 2 for r in rows]
    width = [(rows[0][1] - rows[0][0]) if rows and rows[0][1] is not None else 1 for _r in rows]
    return {
        "data": [
            {
                "type": "bar",
                "x": x,
                "y": [r[2] for r in rows],
                "width": width,
                "marker": {"color": COLORS["returning"]},
                "name": _("Customers"),
                "hovertemplate": "%{x:.2f}: %{y}<extra></extra>",
            }
        ],
        "layout": _layout(
            xaxis={"title": {"text": _money_label(_("Expected spend in the next 12 months"), ctx)}},
            yaxis={"title": {"text": _("Customers")}},
            bargap=0.05,
            hovermode="closest",
        ),
    }


# --- members and non-members ---------------------------------------------------------------


def _member_columns(ctx: Context) -> list[Column]:
    return [
        Column("group", _("Group"), "text"),
        Column("customers", _("Customers who bought"), "integer"),
        Column("orders", _("Purchases"), "integer"),
        Column("revenue", _money_label(_("Revenue"), ctx), "money"),
        Column("aov", _money_label(_("Average order value"), ctx), "money"),
        Column("orders_per_customer", _("Purchases per customer"), "number"),
        Column("revenue_per_customer", _money_label(_("Revenue per customer"), ctx), "money"),
    ]


def _member_rows(ctx: Context) -> list[list[Any]]:
    p = ctx.data.get("program") or {}
    if not p:
        return []
    groups = [("members", _("Members")), ("non_members", _("Non-members")), ("guests", _("Guests"))]
    if p.get("definition") == "customers":
        groups = [("members", _("Customers with a record")), ("guests", _("Guests"))]
    keys = ("customers", "orders", "revenue", "aov", "orders_per_customer", "revenue_per_customer")
    return [[label, *(p[key].get(k) for k in keys)] for key, label in groups]


def _member_figure(ctx: Context, rows: list[list[Any]]) -> dict[str, Any]:
    names = [r[0] for r in rows]
    return {
        "data": [
            {
                "type": "bar",
                "name": _("Average order value"),
                "x": names,
                "y": [r[4] for r in rows],
                "marker": {"color": COLORS["returning"]},
                "xaxis": "x",
                "yaxis": "y",
            },
            {
                "type": "bar",
                "name": _("Purchases per customer"),
                "x": names,
                "y": [r[5] for r in rows],
                "marker": {"color": COLORS["new"]},
                "xaxis": "x2",
                "yaxis": "y2",
            },
        ],
        "layout": _layout(
            grid={"rows": 1, "columns": 2, "pattern": "independent"},
            yaxis={"title": {"text": ctx.currency}},
            hovermode="closest",
        ),
    }


# --- slipping away -------------------------------------------------------------------------


def slipping_away(business: Business, limit: int = SLIPPING_LIMIT):
    """Valuable customers whose probability of being active fell most in the last 30 days."""
    from regulars.analytics.models import CustomerScore

    return (
        CustomerScore.objects.filter(
            business=business,
            monetary_score__gte=VALUABLE_MONETARY_SCORE,
            p_alive__isnull=False,
            p_alive_before__gte=F("p_alive") + SLIPPING_DROP,
        )
        .annotate(drop=F("p_alive_before") - F("p_alive"))
        .select_related("customer")
        .order_by("-drop", "-revenue", "pk")[:limit]
    )


def _slipping_columns(ctx: Context) -> list[Column]:
    return [
        Column("customer", _("Customer"), "text"),
        Column("code", _("Code"), "text"),
        Column("segment", _("Segment"), "text"),
        Column("revenue", _money_label(_("Spent, all time"), ctx), "money"),
        Column("last_purchase", _("Last purchase"), "date"),
        Column("p_alive_before", _("Probability active 30 days ago (%)"), "percent"),
        Column("p_alive", _("Probability active now (%)"), "percent"),
        Column("clv", _money_label(_("CLV, 12 months"), ctx), "money"),
    ]


def _slipping_rows(ctx: Context) -> list[list[Any]]:
    return [
        [
            s.customer.name,
            s.customer.code,
            str(s.get_segment_display()),
            s.revenue,
            s.last_purchase.isoformat(),
            round(100 * s.p_alive_before, 1),
            round(100 * s.p_alive, 1),
            s.clv,
        ]
        for s in slipping_away(ctx.business)
    ]


# --- KPIs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    key: str
    label: Any
    kind: str  # money | integer | number | percent | days | years
    better: str | None  # "up", "down" or None: which change is good news
    help: Any


KPIS: tuple[Kpi, ...] = (
    Kpi(
        "revenue",
        gettext_lazy("Revenue"),
        "money",
        "up",
        gettext_lazy("Net sales in the period, refunds taken off."),
    ),
    Kpi(
        "orders",
        gettext_lazy("Purchases"),
        "integer",
        "up",
        gettext_lazy("Purchases in the period, guests' included."),
    ),
    Kpi(
        "aov",
        gettext_lazy("Average order value"),
        "money",
        "up",
        gettext_lazy("Revenue divided by purchases."),
    ),
    Kpi(
        "active_customers",
        gettext_lazy("Customers who bought"),
        "integer",
        "up",
        gettext_lazy("Known customers with a purchase in the period."),
    ),
    Kpi(
        "new_customers",
        gettext_lazy("New customers"),
        "integer",
        "up",
        gettext_lazy("Customers whose first purchase was in the period."),
    ),
    Kpi(
        "purchase_frequency",
        gettext_lazy("Purchases per customer"),
        "number",
        "up",
        gettext_lazy("Known customers' purchases divided by the customers who bought."),
    ),
    Kpi(
        "days_between_purchases",
        gettext_lazy("Days between purchases"),
        "days",
        "down",
        gettext_lazy("Median of each returning customer's average gap between purchase days."),
    ),
    Kpi(
        "crr",
        gettext_lazy("Retention rate"),
        "percent",
        "up",
        gettext_lazy(
            "(E − N) / S × 100: customers at the end minus new ones, over customers at the start."
        ),
    ),
    Kpi(
        "churn",
        gettext_lazy("Churn rate"),
        "percent",
        "down",
        gettext_lazy(
            "Customers at the start who are no longer customers at the end, over customers at the start."
        ),
    ),
    Kpi(
        "repeat_revenue_share",
        gettext_lazy("Revenue from repeat customers"),
        "percent",
        "up",
        gettext_lazy("Share of known customers' revenue from customers who had bought before."),
    ),
    Kpi(
        "simple_clv",
        gettext_lazy("Customer lifetime value (simple)"),
        "money",
        "up",
        gettext_lazy(
            "Average order value × purchases per year × average lifespan (1 / yearly churn, at most 10 years)."
        ),
    ),
)


def _kpi_columns(ctx: Context) -> list[Column]:
    return [
        Column("kpi", _("Measure"), "text"),
        Column("days", _("Period (days)"), "integer"),
        Column("current", _("This period"), "number"),
        Column("previous", _("Previous period"), "number"),
    ]


def _kpi_rows(ctx: Context) -> list[list[Any]]:
    rows = []
    for days, periods in sorted((ctx.data.get("kpis") or {}).items(), key=lambda kv: int(kv[0])):
        for kpi in KPIS:
            rows.append(
                [
                    str(kpi.label),
                    int(days),
                    periods["current"].get(kpi.key),
                    periods["previous"].get(kpi.key),
                ]
            )
    return rows


REPORTS: dict[str, Report] = {
    r.slug: r
    for r in (
        Report(
            "kpis",
            gettext_lazy("Key figures"),
            gettext_lazy(
                "Every key figure for the last 30, 90 and 365 days and the period before."
            ),
            _kpi_columns,
            _kpi_rows,
        ),
        Report(
            "revenue-by-month",
            gettext_lazy("Revenue by month"),
            gettext_lazy(
                "Each month's sales: from new customers (their first visit), returning customers, and guests without a card."
            ),
            _monthly_columns,
            _monthly_rows,
            _monthly_figure,
        ),
        Report(
            "forecast",
            gettext_lazy("Sales forecast"),
            gettext_lazy(
                "Weekly revenue so far and expected for the next 12 weeks, with the range it should fall in 8 weeks out of 10."
            ),
            _forecast_columns,
            _forecast_rows,
            _forecast_figure,
        ),
        Report(
            "cohorts",
            gettext_lazy("Cohort retention"),
            gettext_lazy(
                "Of the customers who first bought in a month, the share who bought again 1, 2, 3… months later."
            ),
            _cohort_columns,
            _cohort_rows,
            _cohort_figure,
        ),
        Report(
            "segments",
            gettext_lazy("Customer segments (RFM)"),
            gettext_lazy(
                "Customers grouped by how recently, how often and how much they buy, scored 1–5 against each other."
            ),
            _segment_columns,
            _segment_rows,
            _segment_figure,
        ),
        Report(
            "clv",
            gettext_lazy("Customer lifetime value"),
            gettext_lazy(
                "How many customers are expected to spend how much in the next 12 months (BG/NBD and Gamma-Gamma models)."
            ),
            _clv_columns,
            _clv_rows,
            _clv_figure,
        ),
        Report(
            "members",
            gettext_lazy("Members and non-members"),
            gettext_lazy(
                "Average order value and purchases per customer in the last 365 days, for loyalty members and everyone else."
            ),
            _member_columns,
            _member_rows,
            _member_figure,
        ),
        Report(
            "slipping-away",
            gettext_lazy("Slipping away"),
            gettext_lazy(
                "Customers who spend the most and whose chance of still being a customer fell most in the last 30 days."
            ),
            _slipping_columns,
            _slipping_rows,
        ),
    )
}


def csv_value(value: Any, kind: str) -> Any:
    """Machine-readable cells: plain numbers with a dot, empty for unknown."""
    if value is None:
        return ""
    if kind == "money":
        return f"{Decimal(str(value)):.2f}"
    if kind in ("percent", "number") and isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.2f}"
    return value
