"""`regulars clv FILE.csv`: fit the CLV models on any transactions file, no business needed."""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from regulars.analytics.clv import (
    BGNBD,
    PERIODS_PER_MONTH,
    ConvergenceError,
    GammaGamma,
    TransactionsFileError,
    read_transactions_csv,
    summary_from_transactions,
)
from regulars.analytics.clv.summary import DAYS_PER_UNIT

PREDICTION_DAYS = 90
COLUMNS = (
    ("customer", "customer"),
    ("frequency", "x"),
    ("recency", "t_x"),
    ("T", "T"),
    ("mean_spend", "mean spend"),
    ("purchases_90d", f"purchases {PREDICTION_DAYS}d"),
    ("p_alive", "P(alive)"),
    ("expected_spend", "spend/purchase"),
    ("clv", "CLV"),
)


class Command(BaseCommand):
    help = (
        "Fit the BG/NBD (purchases) and Gamma-Gamma (spend) models on a customer_id,date,amount "
        "CSV file and print their parameters; with --predict, per-customer predictions and CLV."
    )
    requires_system_checks: list[str] = []  # reads a file, never the database

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV file with a header row")
        for column, default in (
            ("customer", "customer_id"),
            ("date", "date"),
            ("amount", "amount"),
        ):
            parser.add_argument(
                f"--{column}-column", default=default, metavar="NAME", help=f"default {default}"
            )
        parser.add_argument(
            "--date-format", metavar="FMT", help="strptime format, e.g. %%d/%%m/%%Y (default ISO)"
        )
        parser.add_argument(
            "--end", metavar="YYYY-MM-DD", help="observation end (default: last date in the file)"
        )
        parser.add_argument(
            "--unit",
            choices=("days", "weeks"),
            default="days",
            help="time unit of recency, T and alpha (default days)",
        )
        parser.add_argument(
            "--horizon", type=int, default=12, metavar="MONTHS", help="CLV horizon (default 12)"
        )
        parser.add_argument(
            "--discount-rate",
            type=float,
            default=0.01,
            metavar="RATE",
            help="monthly discount rate for CLV (default 0.01)",
        )
        parser.add_argument(
            "--predict", action="store_true", help="print predictions for each customer"
        )
        parser.add_argument("--format", choices=("table", "json"), default="table")
        parser.add_argument(
            "--top",
            type=int,
            metavar="N",
            help="only the N customers of highest CLV (implies --predict)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = build_report(
            path=options["file"],
            customer_column=options["customer_column"],
            date_column=options["date_column"],
            amount_column=options["amount_column"],
            date_format=options["date_format"],
            end=options["end"],
            unit=options["unit"],
            horizon=options["horizon"],
            discount_rate=options["discount_rate"],
            predict=options["predict"] or options["top"] is not None,
            top=options["top"],
        )
        if options["format"] == "json":
            self.stdout.write(json.dumps(_finite(report), indent=2))
        else:
            self.stdout.write(render_table(report))


def build_report(
    *,
    path: str,
    customer_column: str,
    date_column: str,
    amount_column: str,
    date_format: str | None,
    end: str | None,
    unit: str,
    horizon: int,
    discount_rate: float,
    predict: bool,
    top: int | None,
) -> dict[str, Any]:
    """Read, summarise, fit both models and predict; every failure is one CommandError line."""
    if horizon < 1:
        raise CommandError(f"--horizon: must be at least 1 month, not {horizon}")
    if not -1 < discount_rate < 1:
        raise CommandError(f"--discount-rate: {discount_rate} is not a monthly rate in (-1, 1)")
    if top is not None and top < 1:
        raise CommandError(f"--top: must be at least 1, not {top}")
    end_date = None
    if end is not None:
        try:
            end_date = date.fromisoformat(end)
        except ValueError:
            raise CommandError(f"--end: {end!r} is not a date (YYYY-MM-DD)") from None

    try:
        transactions = read_transactions_csv(
            path,
            customer_column=customer_column,
            date_column=date_column,
            amount_column=amount_column,
            date_format=date_format,
        )
    except TransactionsFileError as exc:
        raise CommandError(str(exc)) from None
    try:
        summary = summary_from_transactions(
            transactions.customer_id,
            transactions.date,
            transactions.amount,
            end=end_date,
            unit=unit,  # type: ignore[arg-type]
        )
    except ValueError as exc:
        raise CommandError(f"{path}: {exc}") from None

    used = int((transactions.date <= summary.end).sum())
    x, tx, T, m = summary.frequency, summary.recency, summary.T, summary.monetary_value
    try:
        bgnbd = BGNBD().fit(x, tx, T)
    except (ValueError, ConvergenceError) as exc:
        raise CommandError(f"BG/NBD: {exc}") from None

    repeat = (x > 0) & (m > 0)
    if repeat.sum() < 3:
        raise CommandError(
            f"Gamma-Gamma: {int(repeat.sum())} customers with repeat purchases and spend; "
            "at least 3 are needed"
        )
    try:
        spend_model = GammaGamma().fit(x[repeat], m[repeat])
    except (ValueError, ConvergenceError) as exc:
        raise CommandError(f"Gamma-Gamma: {exc}") from None
    q = spend_model.params.q
    mean_spend = spend_model.population_mean_spend() if q > 1 else None
    correlation = float(np.corrcoef(x[repeat], m[repeat])[0, 1]) if np.ptp(x[repeat]) > 0 else None

    report: dict[str, Any] = {
        "data": {
            "file": str(path),
            "transactions": used,
            "ignored_after_end": len(transactions) - used,
            "customers": len(summary),
            "repeat_customers": int((x > 0).sum()),
            "first_date": str(transactions.date.min()),
            "end": str(summary.end),
            "unit": unit,
        },
        "bgnbd": {
            "params": bgnbd.params.as_dict(),
            "standard_errors": bgnbd.standard_errors,
            "log_likelihood": bgnbd.log_likelihood,
            "customers": int(bgnbd.n_customers),
        },
        "gammagamma": {
            "params": spend_model.params.as_dict(),
            "standard_errors": spend_model.standard_errors,
            "log_likelihood": spend_model.log_likelihood,
            "customers": int(spend_model.n_customers),
            "mean_spend_per_purchase": mean_spend,
            "frequency_spend_correlation": correlation,
        },
        "clv": {
            "horizon_months": horizon,
            "discount_rate": discount_rate,
            "periods_per_month": PERIODS_PER_MONTH[unit],
        },
    }
    if not predict:
        return report

    purchases = bgnbd.conditional_expected_purchases(
        PREDICTION_DAYS / DAYS_PER_UNIT[unit], x, tx, T
    )
    alive = bgnbd.probability_alive(x, tx, T)
    if mean_spend is not None:
        expected_spend = spend_model.conditional_expected_spend(x, m)
        clv = spend_model.customer_lifetime_value(
            bgnbd,
            x,
            tx,
            T,
            m,
            months=horizon,
            discount_rate=discount_rate,
            periods_per_month=PERIODS_PER_MONTH[unit],
        )
        order = np.argsort(-clv, kind="stable")
    else:
        expected_spend = clv = np.full(len(x), np.nan)
        order = np.argsort(-purchases, kind="stable")
    if top is not None:
        order = order[:top]
    report["predictions"] = [
        {
            "customer": str(summary.customer_id[i]),
            "frequency": int(x[i]),
            "recency": float(tx[i]),
            "T": float(T[i]),
            "mean_spend": float(m[i]),
            "purchases_90d": float(purchases[i]),
            "p_alive": float(alive[i]),
            "expected_spend": float(expected_spend[i]),
            "clv": float(clv[i]),
        }
        for i in order
    ]
    return report


def render_table(report: dict[str, Any]) -> str:
    """The report as plain aligned text."""
    data, bg, gg, clv = report["data"], report["bgnbd"], report["gammagamma"], report["clv"]
    lines = [
        f"{data['file']}: {data['transactions']:,} transactions, {data['customers']:,} customers "
        f"({data['repeat_customers']:,} with repeat purchases), {data['first_date']} to "
        f"{data['end']}, time in {data['unit']}",
        *(
            [f"({data['ignored_after_end']:,} transactions after {data['end']} ignored)"]
            if data["ignored_after_end"]
            else []
        ),
        "",
        f"BG/NBD purchase model ({bg['customers']:,} customers)",
        *_param_lines(bg),
        "",
        f"Gamma-Gamma spend model ({gg['customers']:,} repeat customers)",
        *_param_lines(gg),
    ]
    if gg["mean_spend_per_purchase"] is None:
        lines.append("  q <= 1: mean spend per purchase is unbounded; no spend or CLV predictions")
    else:
        lines.append(f"  mean spend per purchase  {gg['mean_spend_per_purchase']:.2f}")
    if gg["frequency_spend_correlation"] is not None:
        lines.append(
            f"  corr(frequency, mean spend)  {gg['frequency_spend_correlation']:.2f}"
            "  (the model assumes 0)"
        )
    lines += [
        "",
        f"CLV: next {clv['horizon_months']} months, discounted at {clv['discount_rate']:.2%} a "
        f"month ({clv['periods_per_month']:g} {data['unit']} a month)",
    ]
    predictions = report.get("predictions")
    if predictions is not None:
        rows = [[label for _, label in COLUMNS]]
        for p in predictions:
            rows.append(
                [
                    p["customer"],
                    str(p["frequency"]),
                    f"{p['recency']:.2f}",
                    f"{p['T']:.2f}",
                    f"{p['mean_spend']:.2f}",
                    f"{p['purchases_90d']:.3f}",
                    f"{p['p_alive']:.3f}",
                    _number(p["expected_spend"]),
                    _number(p["clv"]),
                ]
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
        lines.append("")
        for row in rows:
            cells = [row[0].ljust(widths[0])] + [
                cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
            ]
            lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _param_lines(model: dict[str, Any]) -> list[str]:
    lines = []
    for name, value in model["params"].items():
        se = model["standard_errors"][name]
        lines.append(f"  {name:<6} {value:>12.4f}   (se {_number(se, 4)})")
    lines.append(f"  log-likelihood {model['log_likelihood']:.2f}")
    return lines


def _number(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "-"


def _finite(value: Any) -> Any:
    """NaN and infinity are not JSON: write them as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
