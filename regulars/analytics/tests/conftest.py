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


# --- sales for the analytics of a business -------------------------------------------------


def sell(business, customer, when, total, refunded="0"):
    """One purchase, written directly (no ledger, no timeline): analytics reads only the row."""
    from decimal import Decimal

    from regulars.sales.models import Purchase

    return Purchase.objects.create(
        business=business,
        customer=customer,
        occurred_at=when,
        total=Decimal(str(total)),
        refunded=Decimal(str(refunded)),
    )


def simulated_history(business, *, customers=60, guests=40, days=400, seed=7, now=None):
    """A seeded café history: customers buying by the BG/NBD process, some guests, in bulk.

    Returns the customers. Purchases are at 09:00-18:00 UTC on their days, all before ``now``.
    """
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from regulars.analytics.clv.simulate import (
        simulate_bgnbd,
        simulate_purchase_times,
        simulate_spend,
    )
    from regulars.customers.models import Customer
    from regulars.sales.models import Purchase

    now = now or datetime.now(UTC)
    rng = np.random.default_rng(seed)
    age = rng.integers(1, days, size=customers)
    sim = simulate_bgnbd(age.astype(float), r=1.5, alpha=20.0, a=0.8, b=3.0, rng=rng)
    owner, since_first = simulate_purchase_times(sim.frequency, sim.recency, rng=rng)
    spend = simulate_spend(
        np.bincount(owner, minlength=customers), p=6.0, q=4.0, gamma=15.0, rng=rng
    )
    people = Customer.objects.bulk_create(
        Customer(
            business=business, name=f"Regular {i:03d}", joined_at=now - timedelta(days=int(age[i]))
        )
        for i in range(customers)
    )
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = [
        Purchase(
            business=business,
            customer=people[o],
            occurred_at=today
            - timedelta(days=int(age[o]) - int(t), hours=-9 - int(rng.integers(0, 9))),
            total=Decimal(f"{max(a, 0.5):.2f}"),
        )
        for o, t, a in zip(owner, since_first, spend, strict=True)
    ]
    rows += [
        Purchase(
            business=business,
            customer=None,
            occurred_at=today - timedelta(days=int(rng.integers(1, days)), hours=-12),
            total=Decimal(f"{rng.gamma(4.0, 1.0):.2f}"),
        )
        for _ in range(guests)
    ]
    Purchase.objects.bulk_create(rows)
    return people


@pytest.fixture
def cafe_history(alice_cafe):
    """Alice's café with 60 customers' purchases over 400 days and 40 guest purchases."""
    return simulated_history(alice_cafe)


def points_program(business, members, *, balance=500, redeemed=300, days_ago=20):
    """A points program priced by its catalog (a 3.00 coffee for 300 points: 0.01 a point),
    an account with ``balance`` for each of ``members`` and one redemption of ``redeemed``."""
    from datetime import UTC, datetime, timedelta

    from regulars.loyalty.models import Account, LedgerEntry, Program, Reward
    from regulars.sales.models import Product

    program = Program.objects.create(business=business, kind="points", name="Beans", config={})
    coffee = Product.objects.create(business=business, sku="C", name="Coffee", price="3.00")
    Reward.objects.create(
        business=business,
        program=program,
        name="Coffee",
        kind="free_product",
        product=coffee,
        cost=300,
    )
    at = datetime.now(UTC) - timedelta(days=days_ago)
    for i, customer in enumerate(members):
        account = Account.objects.create(
            business=business, customer=customer, program=program, unit="points", balance=balance
        )
        LedgerEntry.objects.create(
            business=business,
            account=account,
            kind="redeem",
            amount=-redeemed,
            at=at,
            operation=f"r{i}",
            idempotency_key=f"r{i}",
        )
    return program
