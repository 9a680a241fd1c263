"""`regulars clv FILE.csv`: fits both models on a transactions file; no database involved."""

from __future__ import annotations

import json
import re
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from regulars.analytics.clv.simulate import (
    simulate_bgnbd,
    simulate_purchase_times,
    simulate_spend,
)


def run(*args: str) -> str:
    out = StringIO()
    call_command("clv", *args, stdout=out)
    return out.getvalue()


def strict_json(text: str):
    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def cdnow_csv(tmp_path, cdnow_transactions):
    """The whole CDNOW sample (to 1998-06-30) as customer_id,date,amount."""
    t = cdnow_transactions
    path = tmp_path / "cdnow.csv"
    lines = ["customer_id,date,amount"] + [
        f"{c},{d},{a:.2f}" for c, d, a in zip(t["customer_id"], t["date"], t["amount"], strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def simulated_csv(tmp_path):
    """400 simulated customers of a shop, with its own column names and day-first dates."""
    rng = np.random.default_rng(42)
    end = np.datetime64("2024-12-31")
    age_days = rng.integers(30, 365, size=400).astype(float)
    customers = simulate_bgnbd(age_days, r=0.8, alpha=20.0, a=0.7, b=3.0, rng=rng)
    owner, time = simulate_purchase_times(customers.frequency, customers.recency, rng=rng)
    amounts = simulate_spend(np.bincount(owner), p=5.0, q=4.0, gamma=60.0, rng=rng)
    days = end - age_days[owner].astype(int) + np.floor(time).astype(int)
    path = tmp_path / "shop.csv"
    lines = ["client,when,total,till"] + [
        f"cust-{o},{d.item():%d/%m/%Y},{a:.2f},1"
        for o, d, a in zip(owner, days, amounts, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_clv_command_reproduces_the_published_cdnow_estimates_from_raw_transactions(cdnow_csv):
    report = strict_json(
        run(str(cdnow_csv), "--end", "1997-09-30", "--unit", "weeks", "--format", "json")
    )
    bg = {k: round(v, 3) for k, v in report["bgnbd"]["params"].items()}
    gg = {k: round(v, 2) for k, v in report["gammagamma"]["params"].items()}
    assert bg == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # FHL 2005
    assert gg == {"p": 6.25, "q": 3.74, "gamma": 15.44}  # Fader & Hardie 2013
    assert round(report["bgnbd"]["log_likelihood"], 1) == -9582.4
    assert report["data"] | {"file": None} == {
        "file": None,
        "transactions": 4960,
        "ignored_after_end": 1959,
        "customers": 2357,
        "repeat_customers": 946,
        "first_date": "1997-01-01",
        "end": "1997-09-30",
        "unit": "weeks",
    }
    assert "predictions" not in report


def test_table_prints_parameters_and_the_top_customers_by_clv_aligned(cdnow_csv):
    out = run(str(cdnow_csv), "--end", "1997-09-30", "--unit", "weeks", "--top", "5")
    assert "(1,959 transactions after 1997-09-30 ignored)" in out
    assert "BG/NBD purchase model (2,357 customers)" in out
    assert "Gamma-Gamma spend model (946 repeat customers)" in out
    assert "  r            0.2426" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("customer"))
    table = lines[header : header + 6]
    assert len(lines) == header + 6
    assert table[0].split()[:4] == ["customer", "x", "t_x", "T"]
    # Right-aligned numbers: every row ends at the same column.
    assert len({len(row) for row in table}) == 1
    clv = [float(row.split()[-1]) for row in table[1:]]
    assert clv == sorted(clv, reverse=True)


def test_predictions_on_a_simulated_shop_with_its_own_columns(simulated_csv):
    report = strict_json(
        run(
            str(simulated_csv),
            "--customer-column=client",
            "--date-column=when",
            "--amount-column=total",
            "--date-format=%d/%m/%Y",
            "--horizon=6",
            "--discount-rate=0.02",
            "--predict",
            "--format=json",
        )
    )
    predictions = report["predictions"]
    assert len(predictions) == report["data"]["customers"] == 400
    assert report["clv"] == {"horizon_months": 6, "discount_rate": 0.02, "periods_per_month": 30.0}
    assert all(0 <= p["p_alive"] <= 1 for p in predictions)
    assert all(p["purchases_90d"] >= 0 and p["clv"] >= 0 for p in predictions)
    assert [p["clv"] for p in predictions] == sorted((p["clv"] for p in predictions), reverse=True)
    one_timer = next(p for p in predictions if p["frequency"] == 0)
    assert one_timer["p_alive"] == 1.0
    assert one_timer["expected_spend"] == pytest.approx(
        report["gammagamma"]["mean_spend_per_purchase"]
    )


def test_a_bad_row_is_one_command_error_line_naming_line_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,date,amount\nc1,2024-01-01,5\nc1,2024-01-09,5\nc2,2024-02-30,5\n")
    with pytest.raises(CommandError) as caught:
        run(str(path))
    message = str(caught.value)
    assert (
        message
        == f"{path} line 4, column 'date': '2024-02-30' is not a date (expected an ISO date such as 2024-03-08)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--end", "31/12/2024"], "--end: '31/12/2024' is not a date (YYYY-MM-DD)"),
        (["--horizon", "0"], "--horizon: must be at least 1 month"),
        (["--top", "0"], "--top: must be at least 1"),
        (["--amount-column", "total"], "line 1: no column 'total' in the header"),
    ],
)
def test_bad_options_are_one_command_error_line(tmp_path, args, message):
    path = tmp_path / "ok.csv"
    path.write_text("customer_id,date,amount\nc1,2024-01-01,5\n")
    with pytest.raises(CommandError, match=re.escape(message)):
        run(str(path), *args)


def test_a_file_without_repeat_purchases_cannot_be_fitted(tmp_path):
    path = tmp_path / "once.csv"
    path.write_text("customer_id,date,amount\nc1,2024-01-01,5\nc2,2024-01-03,5\n")
    with pytest.raises(CommandError, match="BG/NBD: no customer has a repeat purchase"):
        run(str(path))
