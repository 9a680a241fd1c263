"""The CDNOW data shipped in tests/data (see its README for source and licence)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def cdnow_summary() -> np.ndarray:
    """2,357 customers: ID, frequency, recency, T (weeks), as Fader, Hardie & Lee (2005) fit."""
    return np.genfromtxt(DATA / "cdnow_customers_summary.csv", delimiter=",", names=True)


@pytest.fixture(scope="session")
def cdnow_monetary() -> np.ndarray:
    """The same customers with ID, x, t_x, T and zbar (mean repeat spend, USD)."""
    return np.genfromtxt(
        DATA / "cdnow_customers_summary_with_transactions.csv", delimiter=",", names=True
    )


@pytest.fixture(scope="session")
def cdnow_transactions() -> dict[str, np.ndarray]:
    """The 6,919 CDNOW sample transactions, 1997-01-01 to 1998-06-30."""
    with gzip.open(DATA / "CDNOW_sample.txt.gz", "rt") as handle:
        rows = [line.split() for line in handle if line.strip()]
    return {
        "customer_id": np.array([int(r[1]) for r in rows]),
        "date": np.array([f"{r[2][:4]}-{r[2][4:6]}-{r[2][6:]}" for r in rows], "datetime64[D]"),
        "amount": np.array([float(r[4]) for r in rows]),
    }


@pytest.fixture(scope="session")
def cdnow_calibration(cdnow_transactions):
    """Summary of the 39-week calibration period (to 1997-09-30, weeks) from the raw log."""
    from regulars.analytics.clv import summary_from_transactions

    t = cdnow_transactions
    return summary_from_transactions(
        t["customer_id"], t["date"], t["amount"], end="1997-09-30", unit="weeks"
    )
