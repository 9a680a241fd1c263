"""From a transaction log to the per-customer RFM summary the CLV models are fitted on.

For each customer, with purchases collapsed to one per day (two receipts on the same day are one
purchase occasion, as in Fader, Hardie & Lee's CDNOW data):

- ``frequency`` x: the number of *repeat* purchase days, i.e. distinct purchase days minus 1;
- ``recency`` t_x: time from the first to the last purchase day;
- ``T``: the customer's age, time from the first purchase day to the end of observation;
- ``monetary_value``: mean spend of the repeat purchase days (a day's spend is the sum of its
  receipts); the first purchase is left out, as the Gamma-Gamma model expects; 0 when x = 0.

Time is measured in days, or in weeks (days / 7, as in the CDNOW summary). Transactions after
the observation end are ignored.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An
Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value.
http://www.brucehardie.com/notes/025/
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Unit = Literal["days", "weeks"]
DAYS_PER_UNIT: dict[str, float] = {"days": 1.0, "weeks": 7.0}


class TransactionsFileError(ValueError):
    """A transactions file that cannot be read; the message names the line and the column."""


@dataclass(frozen=True)
class Transactions:
    """A transaction log as parallel arrays: one row per receipt."""

    customer_id: NDArray[np.str_]
    date: NDArray[np.datetime64]  # datetime64[D]
    amount: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.customer_id)


@dataclass(frozen=True)
class Summary:
    """Per-customer frequency, recency, age and mean repeat spend, sorted by customer id."""

    customer_id: NDArray
    frequency: NDArray[np.int64]
    recency: NDArray[np.float64]
    T: NDArray[np.float64]
    monetary_value: NDArray[np.float64]
    first_purchase: NDArray[np.datetime64]
    end: np.datetime64
    unit: Unit

    def __len__(self) -> int:
        return len(self.customer_id)


def summary_from_transactions(
    customer_id: ArrayLike,
    date: ArrayLike,
    amount: ArrayLike | None = None,
    *,
    end: dt.date | str | np.datetime64 | None = None,
    unit: Unit = "days",
) -> Summary:
    """Build the RFM summary (x, t_x, T, mean repeat spend) of every customer.

    Parameters
    ----------
    customer_id : array_like
        Customer of each transaction (any sortable ids: str or int).
    date : array_like
        Date of each transaction: ``datetime64``, ``datetime.date`` or ISO strings. A time of day
        is dropped: the purchase occasion is the day.
    amount : array_like, optional
        Spend of each transaction. Without it ``monetary_value`` is all zeros.
    end : date, optional
        Last day of observation (inclusive). Defaults to the last transaction date.
    unit : {"days", "weeks"}
        Unit of ``recency`` and ``T``. Weeks are days / 7.

    Returns
    -------
    Summary
        One row per customer who bought on or before ``end``, sorted by customer id.

    Notes
    -----
    Vectorised: one lexicographic sort of (customer, day), then ``np.bincount`` per customer.
    """
    if unit not in DAYS_PER_UNIT:
        raise ValueError(f"unit must be 'days' or 'weeks', not {unit!r}")
    ids = np.asarray(customer_id)
    days = np.asarray(date, dtype="datetime64[D]")
    amounts = np.zeros(len(ids)) if amount is None else np.asarray(amount, dtype=float)
    if not (ids.ndim == days.ndim == amounts.ndim == 1) or not (
        len(ids) == len(days) == len(amounts)
    ):
        raise ValueError("customer_id, date and amount must be 1-d arrays of the same length")
    if len(ids) == 0:
        raise ValueError("no transactions")
    if np.isnat(days).any():
        raise ValueError("a transaction has no date")
    end_day = days.max() if end is None else np.datetime64(end, "D")

    keep = days <= end_day
    ids, days, amounts = ids[keep], days[keep], amounts[keep]
    if len(ids) == 0:
        raise ValueError(f"no transactions on or before the observation end {end_day}")

    customers, customer = np.unique(ids, return_inverse=True)
    day = days.astype(np.int64)

    # One purchase occasion per (customer, day); its spend is the sum of that day's receipts.
    order = np.lexsort((day, customer))
    customer, day, amounts = customer[order], day[order], amounts[order]
    starts = np.ones(len(day), dtype=bool)
    starts[1:] = (customer[1:] != customer[:-1]) | (day[1:] != day[:-1])
    occasion = np.cumsum(starts) - 1
    occasion_spend = np.bincount(occasion, weights=amounts)
    occasion_customer = customer[starts]
    occasion_day = day[starts]

    # Occasions are sorted by customer then day: a customer's first and last are at the edges.
    first = np.ones(len(occasion_day), dtype=bool)
    first[1:] = occasion_customer[1:] != occasion_customer[:-1]
    last = np.ones(len(occasion_day), dtype=bool)
    last[:-1] = first[1:]

    n = len(customers)
    frequency = np.bincount(occasion_customer, minlength=n) - 1
    first_day = occasion_day[first]
    last_day = occasion_day[last]
    repeat_spend = np.bincount(
        occasion_customer, weights=np.where(first, 0.0, occasion_spend), minlength=n
    )
    monetary = np.divide(repeat_spend, frequency, out=np.zeros(n), where=frequency > 0, dtype=float)

    per_unit = DAYS_PER_UNIT[unit]
    return Summary(
        customer_id=customers,
        frequency=frequency.astype(np.int64),
        recency=(last_day - first_day) / per_unit,
        T=(end_day.astype(np.int64) - first_day) / per_unit,
        monetary_value=monetary,
        first_purchase=first_day.astype("datetime64[D]"),
        end=end_day,
        unit=unit,
    )


def deduplicate_rows(
    *columns: ArrayLike, weights: ArrayLike | None = None
) -> tuple[list[NDArray], NDArray[np.float64]]:
    """Collapse identical rows of parallel columns into unique rows with summed weights.

    Fitting on the unique (x, t_x, T) triples weighted by their count gives exactly the same
    likelihood as fitting on every customer, at the cost of the number of unique rows.
    """
    arrays = [np.asarray(c, dtype=float) for c in columns]
    w = np.ones(len(arrays[0])) if weights is None else np.asarray(weights, dtype=float)
    order = np.lexsort(arrays[::-1])
    sorted_cols = [a[order] for a in arrays]
    new = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        new[1:] = np.any([c[1:] != c[:-1] for c in sorted_cols], axis=0)
    group = np.cumsum(new) - 1
    return [c[new] for c in sorted_cols], np.bincount(group, weights=w[order])


def _parse_date(text: str, date_format: str | None) -> date:
    if date_format:
        return datetime.strptime(text, date_format).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        # "2024-03-08 14:05:00" and "2024-03-08T14:05:00+01:00" are dates with a time of day.
        return datetime.fromisoformat(text).date()


def read_transactions_csv(
    path: str | Path,
    *,
    customer_column: str = "customer_id",
    date_column: str = "date",
    amount_column: str = "amount",
    date_format: str | None = None,
    delimiter: str = ",",
) -> Transactions:
    """Read a ``customer_id,date,amount`` CSV file (header row required, extra columns ignored).

    Dates are ISO 8601 (``2024-03-08``, ``20240308``, ``2024-03-08 14:05``) unless
    ``date_format`` (a ``strptime`` format such as ``%d/%m/%Y``) is given. Amounts are plain
    decimal numbers (``12.50``), not negative: net refunds against their purchase first.

    Raises
    ------
    TransactionsFileError
        For the first bad row, with its line number and column, e.g.
        ``sales.csv line 7, column 'amount': 'abc' is not a number``.
    """
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise TransactionsFileError(f"{path}: cannot open ({exc.strerror})") from None

    ids: list[str] = []
    dates: list[date] = []
    amounts: list[float] = []
    parsed_dates: dict[str, date] = {}  # real logs repeat the same few hundred dates
    with handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise TransactionsFileError(f"{path}: the file is empty") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise TransactionsFileError(f"{path} line 1: {exc}") from None
        names = [name.strip() for name in header]
        wanted_columns = (customer_column, date_column, amount_column)
        positions = []
        for wanted in wanted_columns:
            if wanted not in names:
                found = ", ".join(repr(n) for n in names)
                raise TransactionsFileError(
                    f"{path} line 1: no column {wanted!r} in the header (found {found})"
                )
            positions.append(names.index(wanted))
        ci, di, ai = positions
        needed = max(positions) + 1

        try:
            for row in reader:
                line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) < needed:
                    missing = next(
                        name
                        for name, pos in zip(wanted_columns, positions, strict=True)
                        if pos >= len(row)
                    )
                    raise TransactionsFileError(
                        f"{path} line {line}, column {missing!r}: missing "
                        f"(the row has {len(row)} fields, the header {len(names)})"
                    )
                customer = row[ci].strip()
                if not customer:
                    raise TransactionsFileError(
                        f"{path} line {line}, column {customer_column!r}: empty customer id"
                    )
                text = row[di].strip()
                day = parsed_dates.get(text)
                if day is None:
                    try:
                        day = _parse_date(text, date_format)
                    except ValueError:
                        expected = date_format or "an ISO date such as 2024-03-08"
                        raise TransactionsFileError(
                            f"{path} line {line}, column {date_column!r}: {text!r} is not a "
                            f"date (expected {expected})"
                        ) from None
                    parsed_dates[text] = day
                text = row[ai].strip()
                try:
                    value = float(text)
                except ValueError:
                    value = math.nan
                if not math.isfinite(value):
                    raise TransactionsFileError(
                        f"{path} line {line}, column {amount_column!r}: {text!r} is not a number"
                    )
                if value < 0:
                    raise TransactionsFileError(
                        f"{path} line {line}, column {amount_column!r}: negative amount {text} "
                        "(net refunds against their purchase before fitting)"
                    )
                ids.append(customer)
                dates.append(day)
                amounts.append(value)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise TransactionsFileError(f"{path} line {reader.line_num}: {exc}") from None

    if not ids:
        raise TransactionsFileError(f"{path}: no transactions after the header")
    return Transactions(
        customer_id=np.array(ids),
        date=np.array(dates, dtype="datetime64[D]"),
        amount=np.array(amounts, dtype=float),
    )
