"""Accrual: what a purchase earns in each kind of program, once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from regulars.loyalty.card import balances
from regulars.loyalty.errors import LoyaltyConflict
from regulars.loyalty.ledger import accrue_purchase
from regulars.loyalty.models import Account, LedgerEntry, Program, TierStatus, Unit
from regulars.loyalty.programs.tiers import review_tiers
from regulars.loyalty.tests.conftest import key, points_program

pytestmark = pytest.mark.django_db


def points_of(customer, program):
    account = Account.objects.filter(customer=customer, program=program).first()
    return account.balance if account else 0


def test_points_round_down_by_default(points, dora, buy):
    _, accrual = buy(dora, "4.99")
    assert [(e.value, e.unit) for e in accrual.earned] == [(4, Unit.POINTS)]


def test_points_round_half_up_when_the_program_says_so(alice_cafe, dora, buy):
    program = points_program(alice_cafe, config={"rounding": "half_up"})
    buy(dora, "4.50")
    buy(dora, "4.49")
    assert points_of(dora, program) == 5 + 4


def test_rounding_is_applied_once_per_purchase_not_per_line(alice_cafe, dora, buy, menu):
    program = points_program(alice_cafe, config={"points_per_unit": "0.5"})
    # 3 coffees at 3.00: per line 1.5 → 1 each would give 3; the whole purchase gives 4.
    buy(dora, lines=[(menu.coffee, 1), (menu.coffee, 1), (menu.coffee, 1)])
    assert points_of(dora, program) == 4


def test_product_multiplier_wins_over_category(alice_cafe, dora, buy, menu):
    program = points_program(
        alice_cafe,
        config={
            "category_multipliers": {"coffee": "2", "retail": "3"},
            "product_multipliers": {"BEA": "0"},
        },
    )
    # coffee 3.00 × 2 = 6; cake 4.50 × 1 = 4.5; beans 9.00 × 0 = 0 → 10.5 → 10
    buy(dora, lines=[(menu.coffee, 1), (menu.cake, 1), (menu.beans, 1)])
    assert points_of(dora, program) == 10


def test_nothing_under_the_minimum_purchase(alice_cafe, dora, buy):
    program = points_program(alice_cafe, config={"min_purchase": "5"})
    _, accrual = buy(dora, "4.99")
    assert accrual.earned == []
    buy(dora, "5.00")
    assert points_of(dora, program) == 5


def test_a_purchase_without_customer_earns_nothing(alice_cafe, points, make):
    purchase = make.purchase(alice_cafe, None, amount="10")
    accrual = accrue_purchase(purchase=purchase, idempotency_key="k")
    assert accrual.entries == [] and not accrual.created


def test_a_retry_returns_the_first_accrual(points, stamp_card, dora, buy, menu):
    purchase, first = buy(dora, lines=[(menu.coffee, 2)])
    key_used = first.entries[0].operation
    again = accrue_purchase(purchase=purchase, idempotency_key=key_used)
    other_key = accrue_purchase(purchase=purchase, idempotency_key="another-key")
    assert not again.created and not other_key.created
    assert {e.pk for e in again.entries} == {e.pk for e in first.entries}
    assert {e.pk for e in other_key.entries} == {e.pk for e in first.entries}
    assert LedgerEntry.objects.count() == 2
    assert points_of(dora, points) == 6 and points_of(dora, stamp_card) == 2


def test_a_key_reused_for_another_purchase_is_a_conflict(points, dora, buy, make, alice_cafe):
    _, first = buy(dora, "5")
    other = make.purchase(alice_cafe, dora, amount="7")
    with pytest.raises(LoyaltyConflict) as err:
        accrue_purchase(purchase=other, idempotency_key=first.entries[0].operation)
    assert err.value.field == "idempotency_key"


def test_stamps_per_qualifying_item(stamp_card, dora, buy, menu):
    buy(dora, lines=[(menu.coffee, 2), (menu.cake, 1)])
    assert points_of(dora, stamp_card) == 2


def test_stamps_per_visit(alice_cafe, dora, buy, menu):
    card = Program.objects.create(
        business=alice_cafe, kind="stamps", name="Visits", config={"stamps_needed": 5}
    )
    buy(dora, lines=[(menu.coffee, 3), (menu.cake, 1)])
    buy(dora, "2.00")
    assert points_of(dora, card) == 2


def test_a_free_coffee_does_not_earn_the_next_stamp(stamp_card, dora, buy, menu, alice_cafe):
    from regulars.sales.purchases import Line, record_purchase

    purchase, _ = record_purchase(
        business=alice_cafe,
        customer=dora,
        lines=[Line(name="Free coffee", unit_price=Decimal(0), product=menu.coffee)],
    )
    accrual = accrue_purchase(purchase=purchase, idempotency_key="free")
    assert accrual.entries == []


def test_cashback_is_credit_rounded_down_to_the_cent(alice_cafe, dora, buy):
    program = Program.objects.create(
        business=alice_cafe, kind="cashback", name="Cashback", config={"percent": "3"}
    )
    _, accrual = buy(dora, "9.99")  # 0.2997 → 0.29
    assert accrual.earned[0].value == Decimal("0.29")
    assert points_of(dora, program) == 29  # cents in the ledger


def test_discount_program_earns_nothing_but_shows_on_the_card(alice_cafe, dora, buy):
    Program.objects.create(
        business=alice_cafe, kind="discount", name="Members", config={"percent": "5"}
    )
    _, accrual = buy(dora, "10")
    assert accrual.entries == []
    assert balances(dora).discount_percent == Decimal(5)


def test_pending_points_wait_for_the_return_window(alice_cafe, dora, buy):
    program = points_program(alice_cafe, pending_days=14)
    purchase, accrual = buy(dora, "20")
    assert accrual.earned[0].available_at == purchase.occurred_at + timedelta(days=14)
    card = balances(dora)
    assert (card.points[0].available, card.points[0].pending) == (0, 20)
    later = balances(dora, now=timezone.now() + timedelta(days=15))
    assert (later.points[0].available, later.points[0].pending) == (20, 0)
    assert program.pk


def test_inactive_programs_earn_nothing(alice_cafe, dora, buy):
    points_program(alice_cafe, active=False)
    _, accrual = buy(dora, "20")
    assert accrual.entries == []


def test_tier_upgrades_at_once_and_multiplies_later_purchases(points, tiers, dora, buy):
    _, first = buy(dora, "120")  # earns at the old (no tier) rate, then reaches Silver
    assert first.earned[0].amount == 120
    assert [(c.old, c.new, c.upgraded) for c in first.tier_changes] == [("", "silver", True)]
    _, second = buy(dora, "10")
    assert second.earned[0].amount == 15  # Silver × 1.5
    assert TierStatus.objects.get(customer=dora).tier == "silver"


def test_tier_downgrades_only_at_period_end(points, tiers, dora, buy):
    buy(dora, "350", days_ago=300)
    status = TierStatus.objects.get(customer=dora)
    assert status.tier == "gold"
    # 100 days later the spend has left the window, but the period is not over.
    assert review_tiers(business=dora.business, now=timezone.now() + timedelta(days=30)) == []
    assert TierStatus.objects.get(customer=dora).tier == "gold"
    buy(dora, "120")  # Silver-level spend inside the window now
    changes = review_tiers(business=dora.business, now=timezone.now() + timedelta(days=70))
    assert [(c.old, c.new, c.upgraded) for c in changes] == [("gold", "silver", False)]
    # Running the review again changes nothing more.
    assert review_tiers(business=dora.business, now=timezone.now() + timedelta(days=70)) == []


def test_tiers_by_visits(alice_cafe, dora, buy):
    Program.objects.create(
        business=alice_cafe,
        kind="tiers",
        name="Visits",
        config={"basis": "visits", "tiers": [{"name": "Regular", "threshold": 3}]},
    )
    buy(dora, "1")
    buy(dora, "1")
    assert not TierStatus.objects.filter(customer=dora).exists()
    _, third = buy(dora, "1")
    assert third.tier_changes[0].new == "regular"


def test_accrual_staff_and_location_come_from_the_purchase(points, dora, bob):
    from regulars.accounts.models import Location
    from regulars.sales.purchases import record_purchase

    where = Location.objects.get(business=dora.business)
    purchase, _ = record_purchase(
        business=dora.business, customer=dora, amount=Decimal(3), cashier=bob, location=where
    )
    entry = accrue_purchase(purchase=purchase, idempotency_key=key()).entries[0]
    assert (entry.staff, entry.location, entry.purchase) == (bob, where, purchase)
    assert entry.at == purchase.occurred_at
