"""The demo café's loyalty programs, and its two years of history run through them.

A stamp card ("9 coffees, the 10th free"), points at 1 per €1 with a rewards catalogue, and
Silver / Gold / Platinum tiers by spend over a rolling year that multiply the points. Customers
redeem when they can, with some probability, and mostly use their voucher on their next visit.
The history goes through `loyalty.backfill`, so the ledger is exactly what recording every sale
live would have written, and `regulars ledger verify` proves it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from django.db import connections

from regulars.accounts.models import Business
from regulars.loyalty.backfill import BackfillResult, RedeemChance, backfill
from regulars.loyalty.models import Program, RefundRule, Reward, Voucher
from regulars.sales.models import Product, Purchase

# Coffee drinks, hot or cold; oat milk, tea and the rest earn no stamp.
STAMP_SKUS = ["ESP", "AMR", "CAP", "FLW", "LAT", "ICL", "CBR"]
TIERS = [
    {"key": "silver", "name": "Silver", "threshold": 150, "multiplier": "1.25",
     "perks": ["Oat milk free of charge"]},
    {"key": "gold", "name": "Gold", "threshold": 400, "multiplier": "1.5",
     "perks": ["Oat milk free of charge", "A free cookie on your birthday"]},
    {"key": "platinum", "name": "Platinum", "threshold": 800, "multiplier": "2",
     "perks": ["Oat milk free of charge", "A free cookie on your birthday",
               "First to taste new roasts"]},
]  # fmt: skip
# (name, kind, product sku, value, cost in points)
CATALOGUE = [
    ("Free croissant", Reward.Kind.FREE_PRODUCT, "CRO", None, 50),
    ("Free cappuccino", Reward.Kind.FREE_PRODUCT, "CAP", None, 80),
    ("10% off your order", Reward.Kind.PERCENT_DISCOUNT, None, Decimal(10), 120),
    ("Barista class for two", Reward.Kind.EXPERIENCE, None, None, 600),
]
# How likely a customer who can afford a reward redeems it on a visit, and uses it next time.
FULL_CARD_REDEEMED = 0.7
POINTS_REDEEMED = 0.2
VOUCHER_USED = 0.9


def set_up_programs(business: Business) -> None:
    """The three programs and their rewards: a few rows, through the ORM."""
    products = {p.sku: p for p in Product.objects.filter(business=business)}
    card = Program.objects.create(
        business=business,
        kind=Program.Kind.STAMPS,
        name="Coffee card",
        config={"stamps_needed": 9, "per": "item", "qualifying_products": STAMP_SKUS},
    )
    Reward.objects.create(
        business=business,
        program=card,
        name="Free coffee",
        description="Any coffee on the menu: the 10th is on us.",
        kind=Reward.Kind.FREE_PRODUCT,
        product=products["CAP"],
        cost=9,
    )
    points = Program.objects.create(
        business=business,
        kind=Program.Kind.POINTS,
        name="Café points",
        expiry_days=365,
        refund_rule=RefundRule.CLAMP,
        config={"points_per_unit": "1", "rounding": "floor"},
    )
    for name, kind, sku, value, cost in CATALOGUE:
        Reward.objects.create(
            business=business,
            program=points,
            name=name,
            kind=kind,
            product=products.get(sku),
            value=value,
            cost=cost,
            valid_days=90 if kind == Reward.Kind.EXPERIENCE else 30,
        )
    Program.objects.create(
        business=business,
        kind=Program.Kind.TIERS,
        name="Regulars' club",
        config={"basis": "spend", "window_days": 365, "tiers": TIERS},
    )


def _chance(seed: int, purpose: str, code: str) -> float:
    """A uniform number in [0, 1) from the seed and a purchase code: the same on every load."""
    digest = hashlib.blake2b(f"{seed}:{purpose}:{code}".encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64


def redemption_policy(seed: int) -> Callable[[RedeemChance], list[Reward]]:
    """A full coffee card is mostly redeemed at once; points now and then, on what they buy."""
    card: list[Reward] = []  # the stamp card's reward, and the points catalogue, cheapest first
    catalogue: list[Reward] = []

    def choose(chance: RedeemChance) -> list[Reward]:
        if not card and not catalogue:
            for reward in chance.rewards:
                kind = reward.program.kind
                (card if kind == Program.Kind.STAMPS else catalogue).append(reward)
        picked = []
        available = chance.available
        if card and available.get(card[0].program_id, 0) >= card[0].cost:
            if _chance(seed, "card", chance.purchase_code) < FULL_CARD_REDEEMED:
                picked.append(card[0])
        points = available.get(catalogue[0].program_id, 0) if catalogue else 0
        affordable = [r for r in catalogue if points >= r.cost]
        if affordable and _chance(seed, "points", chance.purchase_code) < POINTS_REDEEMED:
            # Most take the dearest thing they can afford; the class needs real saving up.
            pick = _chance(seed, "which", chance.purchase_code)
            picked.append(affordable[-1] if pick < 0.6 else affordable[int(pick * len(affordable))])
        return picked

    return choose


def run_history(
    business: Business, *, seed: int, until: datetime, progress: Callable[[int], object]
) -> BackfillResult:
    """Back-fill the whole history, then use most vouchers on the customer's next visit."""
    result = backfill(
        business=business, until=until, redeem=redemption_policy(seed), progress=progress
    )
    _use_vouchers(business, seed)
    return result


def _use_vouchers(business: Business, seed: int) -> None:
    vouchers = list(
        # Keyed by the redemption's operation (it names the purchase), not the random code.
        Voucher.objects.filter(business=business).values_list(
            "pk", "entry__operation", "customer_id", "issued_at", "valid_until"
        )
    )
    if not vouchers:
        return
    visits: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for customer_id, at, pk in (
        Purchase.objects.filter(business=business, customer_id__in={v[2] for v in vouchers})
        .order_by("occurred_at", "pk")
        .values_list("customer_id", "occurred_at", "pk")
    ):
        visits[customer_id].append((at, pk))
    used = []
    for pk, operation, customer_id, issued_at, valid_until in vouchers:
        after = next((v for v in visits[customer_id] if v[0] > issued_at), None)
        if after and after[0] <= valid_until and _chance(seed, "use", operation) < VOUCHER_USED:
            used.append((after[0], after[1], pk))
    if not used:
        return
    # A status change of a voucher, not of the ledger: one UPDATE per used voucher, at once.
    connection = connections[Voucher.objects.db]
    table = connection.ops.quote_name(Voucher._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET status = %s, used_at = %s, used_purchase_id = %s WHERE id = %s",
            [
                (Voucher.Status.USED, connection.ops.adapt_datetimefield_value(at), purchase, pk)
                for at, purchase, pk in used
            ],
        )
