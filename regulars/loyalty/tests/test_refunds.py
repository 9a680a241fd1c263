"""Refunds take back what the purchase earned, pro rata, by the program's readable rule."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from regulars.loyalty.card import balances
from regulars.loyalty.errors import LoyaltyConflict, LoyaltyError
from regulars.loyalty.expiry import expire_due
from regulars.loyalty.ledger import adjust, redeem, reverse_purchase
from regulars.loyalty.models import Account, Program, RefundRule, Reward
from regulars.loyalty.tests.conftest import key, points_program
from regulars.sales.purchases import refund_purchase

pytestmark = pytest.mark.django_db


def balance(customer, program):
    return Account.objects.get(customer=customer, program=program).balance


def refund(purchase, amount=None):
    r, _ = refund_purchase(purchase=purchase, amount=Decimal(amount) if amount else None)
    return r, reverse_purchase(purchase=purchase, refund=r, idempotency_key=key("refund"))


def test_a_full_refund_takes_back_everything(points, stamp_card, dora, buy, menu):
    purchase, _ = buy(dora, lines=[(menu.coffee, 3)])
    _, entries = refund(purchase)
    assert sorted(e.amount for e in entries) == [-9, -3]
    assert balance(dora, points) == 0 and balance(dora, stamp_card) == 0


def test_a_partial_refund_takes_back_pro_rata(points, dora, buy):
    purchase, _ = buy(dora, "10.00")
    _, [entry] = refund(purchase, "2.50")
    assert entry.amount == -3  # keeps floor(10 × 0.75) = 7
    assert balance(dora, points) == 7


def test_two_partial_refunds_take_back_what_one_would(points, dora, buy):
    purchase, _ = buy(dora, "7.00")
    refund(purchase, "3.50")  # keeps floor(3.5) = 3
    refund(purchase, "3.50")  # keeps 0
    assert balance(dora, points) == 0


def test_a_retry_of_the_reversal_takes_nothing_more(points, dora, buy):
    purchase, _ = buy(dora, "10.00")
    r, _ = refund_purchase(purchase=purchase, amount=Decimal("5"))
    first = reverse_purchase(purchase=purchase, refund=r, idempotency_key="rf")
    again = reverse_purchase(purchase=purchase, refund=r, idempotency_key="rf")
    other_key = reverse_purchase(purchase=purchase, refund=r, idempotency_key="rf2")
    assert [e.pk for e in again] == [e.pk for e in first]
    assert other_key == []  # nothing left to take for this share
    assert balance(dora, points) == 5


def test_a_refund_of_another_purchase_is_refused(points, dora, buy):
    purchase, _ = buy(dora, "10.00")
    other, _ = buy(dora, "4.00")
    r, _ = refund_purchase(purchase=other)
    with pytest.raises(LoyaltyError):
        reverse_purchase(purchase=purchase, refund=r, idempotency_key="rf")


def test_a_key_reused_for_another_refund_is_a_conflict(points, dora, buy):
    purchase, _ = buy(dora, "10.00")
    r1, _ = refund_purchase(purchase=purchase, amount=Decimal(5))
    reverse_purchase(purchase=purchase, refund=r1, idempotency_key="rf")
    r2, _ = refund_purchase(purchase=purchase, amount=Decimal(5))
    with pytest.raises(LoyaltyConflict):
        reverse_purchase(purchase=purchase, refund=r2, idempotency_key="rf")


def test_pending_points_are_cancelled_cleanly(alice_cafe, dora, buy):
    program = points_program(alice_cafe, pending_days=14)
    adjust(
        customer=dora, program=program, amount=10, reason="gift", staff=None, idempotency_key="g"
    )
    purchase, _ = buy(dora, "30")
    _, [entry] = refund(purchase)
    assert entry.available_at == purchase.occurred_at + timedelta(days=14)
    card = balances(dora)
    assert (card.points[0].available, card.points[0].pending) == (10, 0)
    later = balances(dora, now=timezone.now() + timedelta(days=20))
    assert (later.points[0].available, later.points[0].pending) == (10, 0)


def test_spent_points_under_the_clamp_rule_take_what_is_left_and_record_the_rest(
    points, cake_reward, dora, buy
):
    assert points.refund_rule == RefundRule.CLAMP
    purchase, _ = buy(dora, "60")
    redeem(customer=dora, reward=cake_reward, idempotency_key="r1")  # 10 left
    _, [entry] = refund(purchase)
    assert (entry.amount, entry.waived) == (-10, 50)
    assert balance(dora, points) == 0


def test_spent_points_under_the_negative_rule_leave_a_debt(alice_cafe, dora, buy):
    program = points_program(alice_cafe, refund_rule=RefundRule.NEGATIVE)
    reward = Reward.objects.create(
        business=alice_cafe, program=program, name="Cake", kind="free_product", cost=50
    )
    purchase, _ = buy(dora, "60")
    redeem(customer=dora, reward=reward, idempotency_key="r1")
    _, [entry] = refund(purchase)
    assert (entry.amount, entry.waived) == (-60, 0)
    assert balance(dora, program) == -50
    # the debt is paid back by the next purchase, and nothing can be redeemed meanwhile
    buy(dora, "70")
    assert balance(dora, program) == 20


def test_points_already_expired_are_not_taken_twice(alice_cafe, dora, buy):
    program = points_program(alice_cafe, expiry_days=30, refund_rule=RefundRule.NEGATIVE)
    purchase, _ = buy(dora, "40", days_ago=40)
    expire_due(business=alice_cafe)
    assert balance(dora, program) == 0
    _, [entry] = refund(purchase)
    assert (entry.amount, entry.waived) == (0, 40)
    assert balance(dora, program) == 0


def test_cashback_credit_is_taken_back_to_the_cent(alice_cafe, dora, buy):
    cashback = Program.objects.create(
        business=alice_cafe, kind="cashback", name="Cashback", config={"percent": "10"}
    )
    purchase, _ = buy(dora, "9.99")  # 0.99
    _, [entry] = refund(purchase, "3.33")  # keeps floor(99 × 2/3 = 66) cents
    assert entry.value == Decimal("-0.33")
    assert balance(dora, cashback) == 66


def test_a_stamp_survives_a_small_partial_refund(stamp_card, dora, buy, menu):
    purchase, _ = buy(dora, lines=[(menu.coffee, 1), (menu.cake, 1)])
    assert balance(dora, stamp_card) == 1
    assert refund(purchase, "1.00")[1] == []  # keeps round(1 × 6.5/7.5) = 1
    refund(purchase, "5.00")  # keeps round(1 × 1.5/7.5) = 0
    assert balance(dora, stamp_card) == 0
