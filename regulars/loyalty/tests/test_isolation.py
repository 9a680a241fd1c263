"""Tenant isolation: Charlie's bakery's objects are never usable in Alice's café, and back."""

from decimal import Decimal

import pytest

from regulars.accounts.models import Location
from regulars.loyalty.card import balances
from regulars.loyalty.errors import LoyaltyError
from regulars.loyalty.ledger import (
    accrue_purchase,
    adjust,
    award_bonus,
    redeem,
    reverse_purchase,
    spend_credit,
    undo,
)
from regulars.loyalty.models import Program, PromoCard, Reward
from regulars.loyalty.tests.conftest import points_program
from regulars.loyalty.vouchers import issue_promo_card, use_promo_card, use_voucher
from regulars.sales.models import Purchase
from regulars.sales.purchases import refund_purchase

pytestmark = pytest.mark.django_db


@pytest.fixture
def bakery(charlie_bakery):
    program = points_program(charlie_bakery, config={"bonuses": {"joined": 10}})
    reward = Reward.objects.create(
        business=charlie_bakery, program=program, name="Croissant", kind="free_product", cost=1
    )
    cashback = Program.objects.create(
        business=charlie_bakery, kind="cashback", name="Back", config={"percent": "5"}
    )
    return program, reward, cashback


def refused(field, call):
    with pytest.raises(LoyaltyError) as err:
        call()
    assert err.value.field == field and err.value.code == "not_found"


def test_another_business_reward_program_and_location_are_refused(
    points, cake_reward, dora, eve, bakery, bob, alice, charlie, charlie_bakery
):
    program, reward, cashback = bakery
    market = Location.objects.get(business=charlie_bakery)
    refused("reward", lambda: redeem(customer=dora, reward=reward, idempotency_key="x"))
    refused("reward", lambda: redeem(customer=eve, reward=cake_reward, idempotency_key="x"))
    refused(
        "location",
        lambda: redeem(customer=dora, reward=cake_reward, idempotency_key="x", location=market),
    )
    refused(
        "program",
        lambda: adjust(
            customer=dora, program=program, amount=5, reason="x", staff=alice, idempotency_key="x"
        ),
    )
    refused(
        "program",
        lambda: spend_credit(
            customer=dora, program=cashback, amount=Decimal(1), idempotency_key="x"
        ),
    )


def test_staff_of_another_business_are_refused(points, dora, charlie, bob):
    refused(
        "staff",
        lambda: adjust(
            customer=dora,
            program=points,
            amount=5,
            reason="x",
            staff=charlie,
            idempotency_key="x",
        ),
    )
    entry = adjust(
        customer=dora, program=points, amount=5, reason="x", staff=bob, idempotency_key="y"
    )
    refused("staff", lambda: undo(entry=entry, staff=charlie, idempotency_key="z"))
    refused(
        "staff",
        lambda: issue_promo_card(
            customer=dora, kind="fixed", value=Decimal(1), idempotency_key="p", staff=charlie
        ),
    )


def test_another_business_refund_and_purchase_are_refused(
    points, dora, eve, bakery, buy, alice_cafe, charlie_bakery
):
    purchase, _ = buy(dora, "10")
    theirs, _ = buy(eve, "10")
    their_refund, _ = refund_purchase(purchase=theirs)
    refused(
        "refund",
        lambda: reverse_purchase(purchase=purchase, refund=their_refund, idempotency_key="x"),
    )
    # a purchase whose customer belongs elsewhere (a corrupt row) never accrues
    odd = Purchase.objects.create(
        business=alice_cafe, customer=eve, occurred_at=purchase.occurred_at, total=Decimal(5)
    )
    refused("customer", lambda: accrue_purchase(purchase=odd, idempotency_key="x"))


def test_codes_of_another_business_are_not_found(
    points, cake_reward, dora, eve, bakery, alice_cafe, charlie_bakery, make
):
    _program, reward, _ = bakery
    adjust(customer=eve, program=_program, amount=5, reason="x", staff=None, idempotency_key="e")
    their_voucher = redeem(customer=eve, reward=reward, idempotency_key="r")
    their_card = issue_promo_card(
        customer=eve, kind=PromoCard.Kind.FIXED, value=Decimal(1), idempotency_key="p"
    )
    with pytest.raises(LoyaltyError) as err:
        use_voucher(business=alice_cafe, code=their_voucher.code)
    assert err.value.code == "not_found"
    with pytest.raises(LoyaltyError) as err:
        use_promo_card(business=alice_cafe, code=their_card.code)
    assert err.value.code == "not_found"
    # and Alice's purchase cannot be used to spend Charlie's code in Charlie's business
    ours = make.purchase(alice_cafe, dora, amount="5")
    refused(
        "purchase",
        lambda: use_voucher(business=charlie_bakery, code=their_voucher.code, purchase=ours),
    )


def test_only_the_business_own_programs_run_and_show(points, dora, eve, bakery, buy):
    _, accrual = buy(dora, "10")
    assert {e.account.program for e in accrual.entries} == {points}
    assert [p.program for p in balances(dora).points] == [points]
    assert award_bonus(customer=dora, action="joined", idempotency_key="j") == []
    [bonus] = award_bonus(customer=eve, action="joined", idempotency_key="j")
    assert bonus.account.program == bakery[0] and bonus.business == eve.business
