"""The RFM summary builder and the transactions CSV reader."""

from __future__ import annotations

import numpy as np
import pytest

from regulars.analytics.clv import (
    TransactionsFileError,
    deduplicate_rows,
    read_transactions_csv,
    summary_from_transactions,
)

# Hand-made log, observation end 2024-01-31 (times in days):
#   A: 01-01 (10 + 5, one day), 01-05 (20), 01-10 (30)  -> x=2, t_x=9, T=30, spend (20+30)/2=25
#   B: 01-20 (8)                                         -> x=0, t_x=0, T=11, spend 0
#   C: 01-15 (7 + 3), 01-16 (4)                          -> x=1, t_x=1, T=16, spend 4
#   D: 01-02 (1), 01-03 (6 + 4)                          -> x=1, t_x=1, T=29, spend 6+4=10
LOG = [
    ("A", "2024-01-01", 10.0),
    ("A", "2024-01-10", 30.0),
    ("A", "2024-01-01", 5.0),
    ("B", "2024-01-20", 8.0),
    ("C", "2024-01-16", 4.0),
    ("A", "2024-01-05", 20.0),
    ("C", "2024-01-15", 7.0),
    ("D", "2024-01-03", 6.0),
    ("C", "2024-01-15", 3.0),
    ("D", "2024-01-02", 1.0),
    ("D", "2024-01-03", 4.0),
]


def summarise(log=LOG, **kwargs):
    ids, dates, amounts = zip(*log, strict=True)
    return summary_from_transactions(ids, dates, amounts, **kwargs)


def test_two_purchases_on_the_same_day_count_once():
    s = summarise(end="2024-01-31")
    assert list(s.customer_id) == ["A", "B", "C", "D"]
    assert list(s.frequency) == [2, 0, 1, 1]
    assert list(s.recency) == [9, 0, 1, 1]
    assert list(s.T) == [30, 11, 16, 29]


def test_monetary_value_is_the_mean_of_repeat_days_spend_leaving_out_the_first_day():
    s = summarise(end="2024-01-31")
    assert list(s.monetary_value) == [25.0, 0.0, 4.0, 10.0]


def test_weeks_are_days_divided_by_seven():
    days = summarise(end="2024-01-31")
    weeks = summarise(end="2024-01-31", unit="weeks")
    np.testing.assert_allclose(weeks.T, days.T / 7)
    np.testing.assert_allclose(weeks.recency, days.recency / 7)
    assert list(weeks.frequency) == list(days.frequency)


def test_observation_end_defaults_to_the_last_transaction_day():
    s = summarise()
    assert s.end == np.datetime64("2024-01-20")
    assert list(s.T) == [19, 0, 5, 18]


def test_transactions_after_the_observation_end_are_ignored():
    s = summarise(end="2024-01-07")
    # A keeps 01-01 and 01-05; B and C have not bought yet; D keeps both days.
    assert list(s.customer_id) == ["A", "D"]
    assert list(s.frequency) == [1, 1]
    assert list(s.T) == [6, 5]
    assert list(s.monetary_value) == [20.0, 10.0]


def test_a_time_of_day_is_dropped_so_purchases_collapse_by_day():
    s = summary_from_transactions(
        ["A", "A", "A"],
        np.array(["2024-03-01T09:00", "2024-03-01T17:30", "2024-03-02T08:00"], "datetime64[m]"),
        [1.0, 2.0, 3.0],
    )
    assert list(s.frequency) == [1]
    assert list(s.monetary_value) == [3.0]


def test_summary_without_amounts_has_zero_monetary_value():
    s = summary_from_transactions(["A", "A"], ["2024-01-01", "2024-01-02"])
    assert list(s.frequency) == [1]
    assert list(s.monetary_value) == [0.0]


def test_an_observation_end_before_every_purchase_is_refused():
    with pytest.raises(ValueError, match="no transactions on or before"):
        summarise(end="2023-12-31")


def test_summary_of_cdnow_transactions_matches_the_published_cdnow_summary(
    cdnow_transactions, cdnow_monetary
):
    """Fader-Hardie's 39-week calibration summary, rebuilt from the raw CDNOW sample."""
    s = summary_from_transactions(
        cdnow_transactions["customer_id"],
        cdnow_transactions["date"],
        cdnow_transactions["amount"],
        end="1997-09-30",
        unit="weeks",
    )
    published = cdnow_monetary
    np.testing.assert_array_equal(s.customer_id, published["ID"].astype(int))
    np.testing.assert_array_equal(s.frequency, published["x"])
    # The published file is rounded to 2 decimals.
    np.testing.assert_allclose(s.recency, published["t_x"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(s.T, published["T"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(s.monetary_value, published["zbar"], atol=0.005 + 1e-9)


def test_deduplicate_rows_sums_weights_of_identical_rows():
    (x, t), w = deduplicate_rows([1, 0, 1, 1, 0], [2.0, 0.0, 2.0, 3.0, 0.0])
    assert list(x) == [0, 1, 1]
    assert list(t) == [0, 2, 3]
    assert list(w) == [2, 2, 1]
    (_, _), w = deduplicate_rows([1, 1], [2.0, 2.0], weights=[3, 4])
    assert list(w) == [7]


# --- CSV reader ---------------------------------------------------------------------------


def write(tmp_path, text, name="sales.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_reader_reads_named_columns_in_any_order_and_ignores_others(tmp_path):
    path = write(
        tmp_path,
        "\ufeffnote,amount,when,who\nx,12.50,2024-03-08,alice\n\ny,3,2024-03-09 14:05:00,bob\n",
    )
    t = read_transactions_csv(
        path, customer_column="who", date_column="when", amount_column="amount"
    )
    assert list(t.customer_id) == ["alice", "bob"]
    assert list(t.date) == [np.datetime64("2024-03-08"), np.datetime64("2024-03-09")]
    assert list(t.amount) == [12.5, 3.0]


def test_csv_reader_uses_a_given_date_format(tmp_path):
    path = write(tmp_path, "customer_id,date,amount\nc1,08/03/2024,1\n")
    t = read_transactions_csv(path, date_format="%d/%m/%Y")
    assert t.date[0] == np.datetime64("2024-03-08")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "customer_id,date,amount\nc1,2024-01-01,1\nc2,2024-13-01,2\n",
            "line 3, column 'date': '2024-13-01' is not a date",
        ),
        (
            "customer_id,date,amount\nc1,2024-01-01,1\nc1,2024-01-02,abc\n",
            "line 3, column 'amount': 'abc' is not a number",
        ),
        (
            "customer_id,date,amount\nc1,2024-01-01,nan\n",
            "line 2, column 'amount': 'nan' is not a number",
        ),
        (
            "customer_id,date,amount\nc1,2024-01-01,-4.00\n",
            "line 2, column 'amount': negative amount -4.00",
        ),
        (
            "customer_id,date,amount\nc1,2024-01-01,1\nc1,2024-01-02\n",
            "line 3, column 'amount': missing",
        ),
        (
            "customer_id,date,amount\n ,2024-01-01,1\n",
            "line 2, column 'customer_id': empty customer id",
        ),
        ("customer,date,amount\nc1,2024-01-01,1\n", "line 1: no column 'customer_id'"),
        ("customer_id,date,amount\n", "no transactions after the header"),
        ("", "the file is empty"),
    ],
)
def test_csv_reader_names_the_line_and_column_of_a_bad_row(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(TransactionsFileError) as caught:
        read_transactions_csv(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(path))
    assert "\n" not in str(caught.value)


def test_csv_reader_reports_a_missing_file(tmp_path):
    with pytest.raises(TransactionsFileError, match="cannot open"):
        read_transactions_csv(tmp_path / "nope.csv")
