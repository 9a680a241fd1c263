"""Property tests of the ledger invariants (hypothesis): whatever happens, in whatever order.

- a balance is the sum of its entries, and the cache agrees;
- nothing goes below the rule's floor (zero under CLAMP, available and total);
- a retry with the same key changes nothing;
- expiry takes the oldest points first: exactly what spending left of the due lots;
- refunds take back pro rata, and all refunds together never more than was earned.

Each example runs in a savepoint that is rolled back, so examples never see each other.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

import pytest
import time_machine
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regulars.loyalty.errors import LoyaltyError
from regulars.loyalty.expiry import expire_due
from regulars.loyalty.ledger import accrue_purchase, adjust, redeem, reverse_purchase, undo
from regulars.loyalty.models import Account, LedgerEntry, Program, RefundRule, Reward
from regulars.loyalty.verify import verify_ledger
from regulars.sales.purchases import Line, record_purchase, refund_purchase

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class Rollback(Exception):
    pass


def isolated(example):
    """Run one example in a savepoint and roll it back."""
    try:
        with transaction.atomic():
            example()
            raise Rollback
    except Rollback:
        pass


def sums(account: Account, now: datetime) -> tuple[int, int, int, int]:
    """(cached balance, Σ entries, Σ available entries, entry count) in one query, computed
    straight from the rows, independently of the code under test."""
    spendable = Q(entries__available_at__isnull=True) | Q(entries__available_at__lte=now)
    row = Account.objects.filter(pk=account.pk).annotate(
        total=Coalesce(Sum("entries__amount"), 0),
        available=Coalesce(Sum("entries__amount", filter=spendable), 0),
        count=Count("entries"),
    )
    return row.values_list("balance", "total", "available", "count").get()


# (operation, arguments, retry?) — a retried operation is called again with the same key.
operations = st.lists(
    st.tuples(
        st.one_of(
            st.tuples(st.just("buy"), st.integers(1, 9000)),  # cents
            st.tuples(st.just("redeem"), st.sampled_from([10, 25, 60])),
            st.tuples(st.just("refund"), st.integers(0, 9), st.integers(1, 100)),  # which, %
            st.tuples(st.just("adjust"), st.integers(-60, 60).filter(bool)),
            st.tuples(st.just("undo"), st.integers(0, 9)),
            st.tuples(st.just("expire")),
            st.tuples(st.just("wait"), st.integers(1, 40)),  # days
        ),
        st.booleans(),
    ),
    max_size=8,
)


@PROPERTY
@given(
    ops=operations,
    rule=st.sampled_from(RefundRule.values),
    pending_days=st.sampled_from([0, 7]),
    expiry_days=st.sampled_from([None, 30]),
)
def test_balance_is_the_sum_never_below_the_floor_and_retries_change_nothing(
    alice_cafe, dora, alice, ops, rule, pending_days, expiry_days
):
    def example():
        program = Program.objects.create(
            business=alice_cafe,
            kind="points",
            name="P",
            refund_rule=rule,
            pending_days=pending_days,
            expiry_days=expiry_days,
        )
        rewards = {
            cost: Reward.objects.create(
                business=alice_cafe, program=program, name=f"R{cost}", kind="experience", cost=cost
            )
            for cost in (10, 25, 60)
        }
        account = Account.objects.create(
            business=alice_cafe, customer=dora, program=program, unit="points"
        )
        now = START
        keys = (f"k{i}" for i in itertools.count())
        purchases, actions = [], []

        def run(op, key):
            kind = op[0]
            if kind == "buy":
                purchase, created = record_purchase(
                    business=alice_cafe,
                    customer=dora,
                    amount=Decimal(op[1]) / 100,
                    idempotency_key=f"p-{key}",
                )
                if created:
                    purchases.append(purchase)
                return accrue_purchase(purchase=purchase, idempotency_key=key).entries
            if kind == "redeem":
                return [redeem(customer=dora, reward=rewards[op[1]], idempotency_key=key).entry]
            if kind == "refund":
                if not purchases:
                    return []
                purchase = purchases[op[1] % len(purchases)]
                purchase.refresh_from_db()
                rest = purchase.total - purchase.refunded
                amount = (rest * op[2] / 100).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
                if amount <= 0:
                    return []
                refund, _ = refund_purchase(
                    purchase=purchase, amount=amount, idempotency_key=f"r-{key}"
                )
                return reverse_purchase(purchase=purchase, refund=refund, idempotency_key=key)
            if kind == "adjust":
                return [
                    adjust(
                        customer=dora,
                        program=program,
                        amount=op[1],
                        reason="property",
                        staff=None,
                        idempotency_key=key,
                    )
                ]
            if kind == "undo":
                if not actions:
                    return []
                target = actions[op[1] % len(actions)]
                return undo(entry=target, staff=alice, idempotency_key=key, window=None)
            if kind == "expire":
                expire_due(business=alice_cafe, now=now)
            return []

        for op, retry in ops:
            if op[0] == "wait":
                now += timedelta(days=op[1])
                continue
            with time_machine.travel(now, tick=False):
                key = next(keys)
                if op[0] in ("redeem", "adjust"):
                    _, _, available_before, _ = sums(account, now)
                try:
                    written = run(op, key)
                except LoyaltyError as refused:
                    written = None
                    if op[0] == "redeem":
                        assert refused.code == "insufficient" and available_before < op[1]
                    elif op[0] == "adjust":
                        assert available_before + op[1] < 0
                    # undo of something already undone, of a used voucher, etc. is refused
                    else:
                        assert op[0] == "undo", refused
                if written is not None:
                    if op[0] == "redeem":
                        assert available_before >= op[1]
                    if retry:  # the same call with the same key writes nothing more
                        before = sums(account, now)
                        run(op, key)
                        assert sums(account, now) == before
                    actions.extend(e for e in written if e.kind in ("earn", "redeem", "adjust"))
                cached, total, available, _ = sums(account, now)
                assert cached == total
                if rule == RefundRule.CLAMP:
                    assert total >= 0 and available >= 0
        assert verify_ledger(alice_cafe) == []

    isolated(example)


@PROPERTY
@given(
    lots=st.lists(st.tuples(st.integers(1, 200), st.integers(0, 200)), min_size=1, max_size=6),
    spend_share=st.integers(0, 100),
    expire_after=st.integers(0, 250),
)
def test_expiry_takes_the_oldest_points_first(
    alice_cafe, dora, alice, lots, spend_share, expire_after
):
    """Lots earned on days d (amount a) expire after 60 days; spending D comes first out of
    the oldest. Expiring at day T takes exactly max(0, Σ due a − D), and once only."""

    def example():
        program = Program.objects.create(
            business=alice_cafe, kind="points", name="P", expiry_days=60
        )
        ordered = sorted(lots, key=lambda lot: lot[1])
        for i, (amount, day) in enumerate(ordered):
            with time_machine.travel(START + timedelta(days=day), tick=False):
                adjust(
                    customer=dora,
                    program=program,
                    amount=amount,
                    reason="lot",
                    staff=None,
                    idempotency_key=f"lot{i}",
                )
        earned = sum(a for a, _ in ordered)
        spend = earned * spend_share // 100
        last = START + timedelta(days=max(d for _, d in ordered))
        if spend:
            with time_machine.travel(last, tick=False):
                adjust(
                    customer=dora,
                    program=program,
                    amount=-spend,
                    reason="spend",
                    staff=None,
                    idempotency_key="spend",
                )
        now = last + timedelta(days=expire_after)
        due = sum(a for a, d in ordered if START + timedelta(days=d + 60) <= now)
        # spending made after a lot expired cannot have used it; only check runs where every
        # lot was still alive when the spending happened
        if any(START + timedelta(days=d + 60) <= last for _, d in ordered):
            return
        expired = -sum(e.amount for e in expire_due(business=alice_cafe, now=now))
        assert expired == max(0, due - spend)
        assert expire_due(business=alice_cafe, now=now) == []
        account = Account.objects.get(customer=dora, program=program)
        assert account.balance == earned - spend - expired

    isolated(example)


@PROPERTY
@given(
    total_cents=st.integers(100, 50000),
    refunds=st.lists(st.integers(1, 100), min_size=1, max_size=4),
    rate=st.sampled_from(["1", "0.5", "3"]),
    rounding=st.sampled_from(["floor", "half_up"]),
)
def test_refunds_take_back_pro_rata_and_never_more_than_was_earned(
    alice_cafe, dora, total_cents, refunds, rate, rounding
):
    def example():
        program = Program.objects.create(
            business=alice_cafe,
            kind="points",
            name="P",
            config={"points_per_unit": rate, "rounding": rounding},
        )
        total = Decimal(total_cents) / 100
        purchase, _ = record_purchase(
            business=alice_cafe, customer=dora, lines=[Line(name="x", unit_price=total)]
        )
        earned = sum(
            e.amount for e in accrue_purchase(purchase=purchase, idempotency_key="a").entries
        )
        rules = program.rules
        refunded = Decimal(0)
        for i, percent in enumerate(refunds):
            rest = total - refunded
            amount = (rest * percent / 100).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
            if amount <= 0:
                continue
            refund, _ = refund_purchase(purchase=purchase, amount=amount)
            refunded += amount
            reverse_purchase(purchase=purchase, refund=refund, idempotency_key=f"r{i}")
            kept = rules.keep_after_refund(earned, (total - refunded) / total)
            balance = Account.objects.get(customer=dora, program=program).balance
            assert balance == kept
            assert 0 <= balance <= earned
        if refunded == total:
            assert Account.objects.get(customer=dora, program=program).balance == 0

    isolated(example)


@PROPERTY
@given(
    quantities=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    retries=st.integers(1, 3),
)
def test_accrual_retries_never_count_twice(alice_cafe, dora, menu, stamp_card, quantities, retries):
    def example():
        program = Program.objects.create(business=alice_cafe, kind="points", name="P")
        products = [menu.coffee, menu.cake, menu.beans]
        purchase, _ = record_purchase(
            business=alice_cafe,
            customer=dora,
            lines=[
                Line(name="", unit_price=products[i % 3].price, quantity=q, product=products[i % 3])
                for i, q in enumerate(quantities)
            ],
        )
        first = accrue_purchase(purchase=purchase, idempotency_key="same")
        for i in range(retries):
            accrue_purchase(purchase=purchase, idempotency_key="same" if i % 2 else f"other{i}")
        assert LedgerEntry.objects.filter(purchase=purchase).count() == len(first.entries)
        points = Account.objects.get(customer=dora, program=program).balance
        assert points == int(purchase.total)
        stamps = Account.objects.get(customer=dora, program=stamp_card).balance
        assert stamps == sum(q for i, q in enumerate(quantities) if i % 3 == 0)

    isolated(example)
