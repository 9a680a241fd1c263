"""Back-fill writes exactly the ledger the service functions write one call at a time.

A seeded random history (purchases with and without lines, same-moment purchases, partial and
whole refunds, some long after expiry) runs once through `replay_one_by_one` (the definition:
accrue_purchase, reverse_purchase, redeem, expire_due and review_tiers) and once through
`backfill`, in the same database state; everything both wrote must be equal, entry by entry in
each account's order, and `verify_ledger` clean.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from regulars.accounts.models import Location
from regulars.customers.models import Customer, TimelineEntry
from regulars.loyalty.backfill import RedeemChance, backfill, replay_one_by_one
from regulars.loyalty.ledger import accrue_purchase
from regulars.loyalty.models import (
    Account,
    LedgerEntry,
    Program,
    RefundRule,
    Reward,
    TierStatus,
    Voucher,
)
from regulars.loyalty.verify import verify_ledger
from regulars.sales.models import Product, Purchase, PurchaseLine, Refund

pytestmark = pytest.mark.django_db

START = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
UNTIL = START + timedelta(days=260)


class Rollback(Exception):
    pass


def set_up_programs(business, pending: int) -> list[Reward]:
    """Points, stamps, cashback, tiers and a discount at once; both refund rules, pending
    windows and expiry on the accounts with a balance."""
    points = Program.objects.create(
        business=business,
        kind=Program.Kind.POINTS,
        name="Points",
        pending_days=pending,
        expiry_days=45,
        refund_rule=RefundRule.CLAMP,
        config={
            "points_per_unit": "1",
            "rounding": "half_up",
            "category_multipliers": {"coffee": "2"},
        },
    )
    stamps = Program.objects.create(
        business=business,
        kind=Program.Kind.STAMPS,
        name="Coffee card",
        expiry_days=60,
        refund_rule=RefundRule.NEGATIVE,
        config={"stamps_needed": 5, "per": "item", "qualifying_categories": ["coffee"]},
    )
    Program.objects.create(
        business=business,
        kind=Program.Kind.CASHBACK,
        name="Cashback",
        pending_days=pending,
        expiry_days=30,
        refund_rule=RefundRule.NEGATIVE,
        config={"percent": "3"},
    )
    Program.objects.create(
        business=business,
        kind=Program.Kind.TIERS,
        name="Levels",
        config={
            "basis": "spend",
            "window_days": 40,
            "period_days": 25,
            "tiers": [
                {"key": "silver", "name": "Silver", "threshold": 60, "multiplier": "1.5"},
                {"key": "gold", "name": "Gold", "threshold": 150, "multiplier": "2"},
            ],
        },
    )
    Program.objects.create(business=business, kind=Program.Kind.DISCOUNT, name="Members")
    return [
        Reward.objects.create(
            business=business, program=stamps, name="Free coffee", kind="free_product", cost=5
        ),
        Reward.objects.create(
            business=business, program=points, name="Cake", kind="free_product", cost=30
        ),
        Reward.objects.create(
            business=business, program=points, name="Tenner", kind="fixed", value=10, cost=90
        ),
    ]


def make_history(business, seed: int, customers: int = 4, purchases: int = 18) -> None:
    rng = random.Random(seed)
    location = Location.objects.get(business=business)
    coffee = Product.objects.create(
        business=business, sku="C", name="Coffee", category="coffee", price=Decimal("3.10")
    )
    cake = Product.objects.create(
        business=business, sku="K", name="Cake", category="cake", price=Decimal("4.45")
    )
    shared = START + timedelta(days=3, hours=1)  # several customers buy at this very moment
    for n in range(customers):
        customer = Customer.objects.create(business=business, name=f"C{n}", joined_at=START)
        moments = sorted(
            START + timedelta(minutes=rng.randrange(0, 240 * 24 * 60)) for _ in range(purchases)
        )
        moments[0] = shared
        moments[5] = moments[4]  # two purchases of one customer at one moment
        for at in moments:
            if rng.random() < 0.3:
                total = Decimal(rng.randrange(50, 9000)) / 100
                purchase = Purchase.objects.create(
                    business=business,
                    customer=customer,
                    location=location,
                    occurred_at=at,
                    total=total,
                )
            else:
                items = [(coffee, rng.randint(1, 3)), (cake, rng.randint(0, 2))]
                items = [(p, q) for p, q in items if q]
                total = sum((p.price * q for p, q in items), Decimal(0))
                purchase = Purchase.objects.create(
                    business=business,
                    customer=customer,
                    location=location,
                    occurred_at=at,
                    total=total,
                )
                PurchaseLine.objects.bulk_create(
                    PurchaseLine(
                        purchase=purchase,
                        product=p,
                        name=p.name,
                        quantity=q,
                        unit_price=p.price,
                        amount=p.price * q,
                    )
                    for p, q in items
                )
            refunded = Decimal(0)
            for _ in range(rng.choice([0, 0, 0, 1, 2])):
                amount = min(
                    purchase.total - refunded,
                    (purchase.total * Decimal(rng.choice([25, 50, 100])) / 100).quantize(
                        Decimal("0.01")
                    ),
                )
                if amount <= 0:
                    break
                later = rng.choice([0, 1, 60 * 24 * 2, 60 * 24 * 50])  # minutes
                Refund.objects.create(
                    business=business,
                    purchase=purchase,
                    amount=amount,
                    occurred_at=at + timedelta(minutes=later),
                )
                refunded += amount
            Purchase.objects.filter(pk=purchase.pk).update(refunded=refunded)


def policy(chance: RedeemChance) -> list[Reward]:
    """Redeem now and then, decided by the purchase code (the same in both runs)."""
    roll = int(hashlib.sha256(chance.purchase_code.encode()).hexdigest(), 16)
    if roll % 3:
        return []
    wanted = [r for r in chance.rewards if chance.available.get(r.program_id, 0) >= r.cost]
    # sometimes also one it cannot afford: it is skipped in both
    return wanted[-1:] + chance.rewards[:1] if roll % 2 else wanted[:1]


def snapshot(business) -> dict:
    """Everything loyalty wrote, with primary keys and random codes replaced by stable names."""
    entries = list(
        LedgerEntry.objects.filter(business=business).select_related("account").order_by("pk")
    )
    by_pk = {e.pk: e for e in entries}

    def name(pk):
        return by_pk[pk].idempotency_key if pk else None

    def key(e):
        text = e.idempotency_key
        if e.reverses_id:  # "refund:<refund code>:<pk of the earn>"
            head, pk = text.rsplit(":", 1)
            assert int(pk) == e.reverses_id
            text = f"{head}:<{name(e.reverses_id)}>"
        if e.lot_id:  # "expire:<pk of the lot>:<n>"
            head, pk, n = text.split(":")
            assert int(pk) == e.lot_id
            text = f"{head}:<{name(e.lot_id)}>:{n}"
        return text

    def where(account):
        return (account.customer_id, account.program_id, account.unit)

    per_account: dict[tuple, list] = {}
    for e in entries:
        per_account.setdefault(where(e.account), []).append(
            (
                e.kind,
                e.amount,
                e.waived,
                e.at,
                e.available_at,
                e.expires_at,
                e.staff_id,
                e.location_id,
                e.reason,
                e.purchase_id,
                e.refund_id,
                key(e),
                e.operation.replace(e.account.code, "<account>"),
                name(e.reverses_id),
                name(e.lot_id),
            )
        )
    vouchers = sorted(
        (
            v.customer_id,
            v.reward_id,
            name(v.entry_id),
            v.name,
            v.kind,
            v.value,
            v.status,
            v.issued_at,
            v.valid_until,
        )
        for v in Voucher.objects.filter(business=business)
    )
    codes = dict(Voucher.objects.filter(business=business).values_list("code", "entry_id"))
    timeline = sorted(
        (t.customer_id, t.at, t.text, name(codes[t.data.pop("voucher")]), sorted(t.data.items()))
        for t in TimelineEntry.objects.filter(business=business, kind="reward")
    )
    return {
        "entries": per_account,
        "accounts": {
            where(a): (a.balance, a.expired_through)
            for a in Account.objects.filter(business=business)
        },
        "tiers": {
            (t.customer_id, t.program_id): (t.tier, t.since, t.period_ends_at)
            for t in TierStatus.objects.filter(business=business)
        },
        "vouchers": vouchers,
        "timeline": timeline,
    }


@pytest.mark.parametrize(("seed", "pending"), [(1, 0), (2, 3)])
def test_backfill_writes_exactly_what_the_service_functions_write_one_by_one(
    alice_cafe, seed, pending
):
    set_up_programs(alice_cafe, pending)
    make_history(alice_cafe, seed)
    try:
        with transaction.atomic():
            replay_one_by_one(business=alice_cafe, until=UNTIL, redeem=policy)
            expected = snapshot(alice_cafe)
            assert verify_ledger(alice_cafe) == []
            raise Rollback
    except Rollback:
        pass
    assert not LedgerEntry.objects.exists()

    result = backfill(business=alice_cafe, until=UNTIL, redeem=policy, chunk=4)
    got = snapshot(alice_cafe)
    assert verify_ledger(alice_cafe) == []
    # The history exercised what it should: refunds, expiries, redemptions, tier moves.
    kinds = {e[0] for entries in got["entries"].values() for e in entries}
    assert kinds == {"earn", "reverse", "expire", "redeem"}, kinds
    assert got["tiers"] and got["vouchers"] and result.tier_changes > len(got["tiers"])
    assert got["accounts"] == expected["accounts"]
    assert got["tiers"] == expected["tiers"]
    assert got["vouchers"] == expected["vouchers"]
    assert got["timeline"] == expected["timeline"]
    assert got["entries"].keys() == expected["entries"].keys()
    for account, entries in expected["entries"].items():
        assert got["entries"][account] == entries, account
    assert result.entries == sum(len(e) for e in expected["entries"].values())


def test_customers_with_loyalty_history_are_left_alone(alice_cafe, make):
    set_up_programs(alice_cafe, 0)
    old, new = make.customer(alice_cafe, name="Old"), make.customer(alice_cafe, name="New")
    first = make.purchase(alice_cafe, old, amount="10.00", days_ago=5)
    accrue_purchase(purchase=first, idempotency_key="live")
    make.purchase(alice_cafe, old, amount="20.00", days_ago=3)
    make.purchase(alice_cafe, new, amount="20.00", days_ago=3)
    result = backfill(business=alice_cafe)
    assert result.skipped == [old.pk] and result.customers == 1 and result.purchases == 1
    points = Program.objects.get(business=alice_cafe, kind="points")
    assert Account.objects.get(customer=old, program=points).balance == 10
    assert Account.objects.get(customer=new, program=points).balance == 20
    # a retried live sale of a back-filled purchase does not earn again
    purchase = Purchase.objects.get(customer=new)
    again = accrue_purchase(purchase=purchase, idempotency_key=f"accrue:{purchase.code}")
    assert not again.created
    assert verify_ledger(alice_cafe) == []
