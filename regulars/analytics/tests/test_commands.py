"""`regulars analytics refresh` and `regulars report`."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from regulars.analytics.models import AnalyticsSnapshot, CustomerScore

from .conftest import sell


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_refresh_runs_now_with_a_progress_bar(alice_cafe, cafe_history):
    out, err = run("analytics", "refresh", "--business", "alice-cafe")
    assert out.startswith("alice-cafe: done in ")
    assert "100%" in err and "Done" in err
    assert AnalyticsSnapshot.objects.get(business=alice_cafe).status == "done"
    assert CustomerScore.objects.filter(business=alice_cafe).count() == len(cafe_history)
    status, _ = run("analytics", "status", "--business", "alice-cafe")
    assert status.startswith("alice-cafe: done; last computed ")


def test_refresh_all_goes_through_every_business(alice_cafe, charlie_bakery):
    out, _ = run("analytics", "refresh", "--all", "--quiet")
    assert out.splitlines()[0].startswith("alice-cafe: done")
    assert out.splitlines()[1].startswith("charlie-bakery: done")


def test_refresh_of_an_unknown_business_is_one_line(db):
    with pytest.raises(CommandError, match="--business: no business 'nope'"):
        run("analytics", "refresh", "--business", "nope")
    with pytest.raises(CommandError, match="--business: no business 'nope'"):
        run("analytics", "status", "--business", "nope")


@pytest.fixture
def ledger_days(alice_cafe, make):
    """2024-03: the 10 days up to 03-20 and the 10 before them, by hand.

    Period 03-11..03-20: Ann 03-12 10.00 (she first bought 03-05), Ben 03-15 6.00 (new),
    a guest 03-18 4.00: revenue 20.00, 3 purchases, AOV 6.67; 2 customers, 1 new.
    Before, 03-01..03-10: Ann 03-05 8.00, a guest 03-06 2.00: 10.00, 2 purchases, AOV 5.00.
    Revenue change +100%; repeat-customer share now 10 / 16 = 62.5%, before 0%.
    """
    ann, ben = make.customer(alice_cafe, name="Ann"), make.customer(alice_cafe, name="Ben")
    noon = datetime(2024, 3, 1, 12, tzinfo=UTC)
    for customer, days, amount in (
        (ann, 4, "8.00"),
        (None, 5, "2.00"),
        (ann, 11, "10.00"),
        (ben, 14, "6.00"),
        (None, 17, "4.00"),
    ):
        sell(alice_cafe, customer, noon + timedelta(days=days), amount)
    return alice_cafe


def test_report_compares_the_period_with_the_one_before(ledger_days):
    out, _ = run(
        "report",
        "--business",
        "alice-cafe",
        "--since",
        "2024-03-11",
        "--until",
        "2024-03-20",
        "--format",
        "json",
    )
    report = json.loads(out)
    assert (report["since"], report["until"]) == ("2024-03-11", "2024-03-20")
    assert (report["previous_since"], report["previous_until"]) == ("2024-03-01", "2024-03-10")
    kpis = report["kpis"]
    assert kpis["revenue"] == {"current": 20.0, "previous": 10.0, "change": 100.0}
    assert kpis["orders"]["current"] == 3 and kpis["orders"]["previous"] == 2
    assert kpis["aov"]["current"] == pytest.approx(6.6667, abs=1e-4)
    assert kpis["active_customers"]["current"] == 2
    assert kpis["new_customers"]["current"] == 1
    assert kpis["repeat_revenue_share"]["current"] == 62.5
    assert kpis["repeat_revenue_share"]["change"] == 62.5  # percentage points


def test_report_days_is_the_last_n_days_up_to_until(ledger_days):
    out, _ = run(
        "report",
        "--business",
        "alice-cafe",
        "--days",
        "10",
        "--until",
        "2024-03-20",
        "--format",
        "json",
    )
    assert json.loads(out)["since"] == "2024-03-11"


def test_report_as_a_table_and_as_csv(ledger_days):
    table, _ = run(
        "report", "--business", "alice-cafe", "--since", "2024-03-11", "--until", "2024-03-20"
    )
    assert "2024-03-11 to 2024-03-20" in table
    revenue = next(line for line in table.splitlines() if line.startswith("Revenue"))
    assert revenue.split() == ["Revenue", "€20.00", "€10.00", "+100.0%"]
    out, _ = run(
        "report",
        "--business",
        "alice-cafe",
        "--since",
        "2024-03-11",
        "--until",
        "2024-03-20",
        "--format",
        "csv",
    )
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["kpi", "label", "current", "previous", "change"]
    assert rows[1] == ["revenue", "Revenue", "20.0", "10.0", "100.0"]


def test_report_defaults_to_the_last_30_days(alice_cafe):
    out, _ = run("report", "--business", "alice-cafe", "--format", "json")
    report = json.loads(out)
    until = date.fromisoformat(report["until"])
    assert (until - date.fromisoformat(report["since"])).days == 29
    assert report["kpis"]["revenue"]["current"] == 0.0
    assert report["active_days"] == 90


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--business", "nope"), "--business: no business 'nope'"),
        (("--business", "alice-cafe", "--days", "5", "--since", "2024-01-01"), "not both"),
        (("--business", "alice-cafe", "--since", "2024-02-30"), "is not a date"),
        (
            ("--business", "alice-cafe", "--since", "2024-03-02", "--until", "2024-03-01"),
            "is after",
        ),
        (("--business", "alice-cafe", "--days", "0"), "at least 1"),
    ],
)
def test_report_refuses_bad_options_in_one_line(alice_cafe, args, message):
    with pytest.raises(CommandError, match=message):
        run("report", *args)
