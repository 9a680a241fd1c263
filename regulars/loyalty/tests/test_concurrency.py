"""Real races on PostgreSQL: many threads, each with its own connection, on one account.

SQLite serialises every writer (BEGIN IMMEDIATE), so there is no race to lose there; these tests
are skipped on it. On PostgreSQL they prove the row locks and the unique keys: nothing
overdraws, nothing counts twice, and no two writers deadlock.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection, connections

from regulars.loyalty.errors import LoyaltyError
from regulars.loyalty.ledger import accrue_purchase, adjust, redeem
from regulars.loyalty.models import Account, LedgerEntry, Voucher
from regulars.loyalty.verify import verify_ledger
from regulars.sales.purchases import record_purchase

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
OPS = 20


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite runs one writer at a time, so nothing can race")


def in_threads(work: Callable[[int], None]) -> list[BaseException]:
    """Run work(0..THREADS-1) at once, each thread on its own connection (closed at the end)."""
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            start.wait()
            work(n)
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_racing_redemptions_purchases_and_retries_never_overdraw_or_count_twice(
    points, stamp_card, cake_reward, dora, bob, menu
):
    """8 threads × 20 operations on one customer: purchases with accrual, redemptions (threads
    n and n+4 send the same keys, a retry racing its original), and every thread accruing one
    shared purchase under two different keys. One transactional test, because each costs a
    full database flush on PostgreSQL."""
    from regulars.sales.purchases import Line

    cake_reward.cost = 10
    cake_reward.save()
    adjust(customer=dora, program=points, amount=30, reason="start", staff=bob, idempotency_key="s")
    shared, _ = record_purchase(
        business=dora.business,
        customer=dora,
        lines=[Line(name="", unit_price=menu.coffee.price, quantity=2, product=menu.coffee)],
    )
    earned: list[int] = []
    vouchers: list[int] = []
    lock = threading.Lock()

    def points_of(accrual):
        return [e.amount for e in accrual.entries if e.account.program_id == points.pk]

    def work(n: int) -> None:
        rng = random.Random(n)
        for i in range(OPS):
            if i == OPS // 2:
                accrual = accrue_purchase(purchase=shared, idempotency_key=f"shared{n % 2}")
                if accrual.created:
                    with lock:
                        earned.extend(points_of(accrual))
            elif rng.random() < 0.5:
                purchase, _ = record_purchase(
                    business=dora.business, customer=dora, amount=Decimal("3.00")
                )
                accrual = accrue_purchase(purchase=purchase, idempotency_key=f"p{n}-{i}")
                with lock:
                    earned.extend(points_of(accrual))
            else:
                try:
                    voucher = redeem(
                        customer=dora, reward=cake_reward, idempotency_key=f"r{n % 4}-{i}"
                    )
                except LoyaltyError as refused:
                    assert refused.code == "insufficient"
                else:
                    with lock:
                        vouchers.append(voucher.pk)

    assert in_threads(work) == []

    # the shared purchase accrued once: 6 points and 2 stamps, whoever won
    assert LedgerEntry.objects.filter(purchase=shared).count() == 2
    assert Account.objects.get(customer=dora, program=stamp_card).balance == 2
    account = Account.objects.get(customer=dora, program=points)
    redeemed = len(set(vouchers))
    assert redeemed == Voucher.objects.filter(customer=dora).count() > 0
    assert account.balance == 30 + sum(earned) - 10 * redeemed
    # the account never went below zero: entries are numbered in lock (commit) order
    running = 0
    for amount in (
        LedgerEntry.objects.filter(account=account).order_by("pk").values_list("amount", flat=True)
    ):
        running += amount
        assert running >= 0
    assert running == account.balance
    assert verify_ledger(dora.business) == []
