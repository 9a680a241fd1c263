"""Spending: rewards and vouchers, store credit, bonuses, adjustments and the counter's undo."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from regulars.customers.models import TimelineEntry
from regulars.loyalty.errors import LoyaltyConflict, LoyaltyError
from regulars.loyalty.ledger import adjust, award_bonus, redeem, spend_credit, undo
from regulars.loyalty.models import (
    Account,
    LedgerEntry,
    LedgerImmutable,
    Program,
    Reward,
    Voucher,
)
from regulars.loyalty.tests.conftest import key, points_program
from regulars.loyalty.vouchers import use_voucher

pytestmark = pytest.mark.django_db


def balance(customer, program):
    return Account.objects.get(customer=customer, program=program).balance


def give(customer, program, amount, staff=None):
    return adjust(
        customer=customer,
        program=program,
        amount=amount,
        reason="opening balance",
        staff=staff,
        idempotency_key=key("give"),
    )


def test_redeeming_issues_a_voucher_and_takes_the_points(points, cake_reward, dora, bob):
    give(dora, points, 80)
    voucher = redeem(customer=dora, reward=cake_reward, idempotency_key="r1", staff=bob)
    assert voucher.status == Voucher.Status.ISSUED and voucher.name == "Free cake"
    assert voucher.valid_until - voucher.issued_at == timedelta(days=30)
    assert voucher.entry.amount == -50 and voucher.entry.staff == bob
    assert balance(dora, points) == 30
    assert TimelineEntry.objects.filter(customer=dora, kind="reward").count() == 1


def test_it_refuses_to_overdraw_and_says_what_is_missing(points, cake_reward, dora):
    give(dora, points, 40)
    with pytest.raises(LoyaltyError) as err:
        redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    assert err.value.field == "reward" and err.value.code == "insufficient"
    assert "needs 50 points; 40 available" in err.value.message
    assert balance(dora, points) == 40
    assert not Voucher.objects.exists()


def test_pending_points_cannot_be_spent(alice_cafe, dora, buy):
    program = points_program(alice_cafe, pending_days=14)
    reward = Reward.objects.create(
        business=alice_cafe, program=program, name="Cake", kind="free_product", cost=50
    )
    buy(dora, "60")
    with pytest.raises(LoyaltyError) as err:
        redeem(customer=dora, reward=reward, idempotency_key="r1")
    assert "(60 more pending)" in err.value.message
    voucher = redeem(
        customer=dora, reward=reward, idempotency_key="r1", now=timezone.now() + timedelta(days=15)
    )
    assert voucher.entry.amount == -50


def test_a_retry_returns_the_same_voucher(points, cake_reward, dora):
    give(dora, points, 120)
    first = redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    again = redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    assert first.pk == again.pk
    assert balance(dora, points) == 70


def test_it_refuses_a_key_reused_for_another_reward(points, cake_reward, dora):
    give(dora, points, 120)
    redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    other = Reward.objects.create(
        business=points.business, program=points, name="Mug", kind="free_product", cost=10
    )
    with pytest.raises(LoyaltyConflict):
        redeem(customer=dora, reward=other, idempotency_key="r1")


def test_an_inactive_reward_is_not_available(points, cake_reward, dora):
    give(dora, points, 120)
    cake_reward.active = False
    cake_reward.save()
    with pytest.raises(LoyaltyError) as err:
        redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    assert err.value.code == "unavailable"


def test_a_full_stamp_card_restarts_after_the_reward(stamp_card, free_coffee, dora, buy, menu):
    buy(dora, lines=[(menu.coffee, 10)])
    redeem(customer=dora, reward=free_coffee, idempotency_key="r1")
    assert balance(dora, stamp_card) == 1  # the tenth stamp carries over


def test_a_voucher_is_used_once(points, cake_reward, dora, make, alice_cafe, bob):
    give(dora, points, 50)
    voucher = redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    purchase = make.purchase(alice_cafe, dora, amount="0")
    used = use_voucher(business=alice_cafe, code=voucher.code.lower(), purchase=purchase, staff=bob)
    assert used.status == Voucher.Status.USED and used.used_by == bob
    # the same use retried is fine; another use is not
    assert use_voucher(business=alice_cafe, code=voucher.code, purchase=purchase).pk == voucher.pk
    with pytest.raises(LoyaltyConflict):
        use_voucher(business=alice_cafe, code=voucher.code)


def test_an_expired_voucher_is_refused(points, cake_reward, dora, alice_cafe):
    give(dora, points, 50)
    voucher = redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    with pytest.raises(LoyaltyError) as err:
        use_voucher(business=alice_cafe, code=voucher.code, now=timezone.now() + timedelta(days=31))
    assert err.value.code == "expired"


def test_undo_of_a_redemption_gives_the_points_back_and_voids_the_voucher(
    points, cake_reward, dora, bob
):
    give(dora, points, 60)
    voucher = redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    [reversal] = undo(entry=voucher.entry, staff=bob, idempotency_key="u1")
    assert reversal.amount == 50 and reversal.reverses == voucher.entry
    assert balance(dora, points) == 60
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.VOID
    # a retry of the undo returns the same reversal; a second undo is refused
    assert [e.pk for e in undo(entry=voucher.entry, staff=bob, idempotency_key="u1")] == [
        reversal.pk
    ]
    with pytest.raises(LoyaltyConflict):
        undo(entry=voucher.entry, staff=bob, idempotency_key="u2")


def test_undo_is_refused_once_the_voucher_was_used(points, cake_reward, dora, alice_cafe, bob):
    give(dora, points, 60)
    voucher = redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    use_voucher(business=alice_cafe, code=voucher.code)
    with pytest.raises(LoyaltyConflict):
        undo(entry=voucher.entry, staff=bob, idempotency_key="u1")
    assert balance(dora, points) == 10


def test_undo_is_refused_after_the_window(points, dora, bob):
    entry = give(dora, points, 60)
    with pytest.raises(LoyaltyError) as err:
        undo(
            entry=entry, staff=bob, idempotency_key="u1", now=timezone.now() + timedelta(minutes=6)
        )
    assert err.value.code == "too_late"
    # an owner's correction may pass window=None
    undo(entry=entry, staff=bob, idempotency_key="u1", window=None)
    assert balance(dora, points) == 0


def test_undo_of_an_accrual_takes_back_every_program_together(
    points, stamp_card, dora, buy, menu, bob
):
    _, accrual = buy(dora, lines=[(menu.coffee, 2)])
    reversals = undo(entry=accrual.entries[0], staff=bob, idempotency_key="u1")
    assert sorted(r.amount for r in reversals) == [-6, -2]
    assert balance(dora, points) == 0 and balance(dora, stamp_card) == 0


def test_reversals_and_expiries_cannot_be_undone(points, cake_reward, dora, bob):
    give(dora, points, 60)
    voucher = redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    [reversal] = undo(entry=voucher.entry, staff=bob, idempotency_key="u1")
    with pytest.raises(LoyaltyError):
        undo(entry=reversal, staff=bob, idempotency_key="u2")


def test_store_credit_is_spent_as_money(alice_cafe, dora, buy):
    cashback = Program.objects.create(
        business=alice_cafe, kind="cashback", name="Cashback", config={"percent": "10"}
    )
    buy(dora, "45.00")  # 4.50 credit
    entry = spend_credit(
        customer=dora, program=cashback, amount=Decimal("4.00"), idempotency_key="c1"
    )
    assert entry.value == Decimal("-4.00")
    with pytest.raises(LoyaltyError) as err:
        spend_credit(customer=dora, program=cashback, amount=Decimal("1.00"), idempotency_key="c2")
    assert "0.50 available" in err.value.message
    assert (
        spend_credit(
            customer=dora, program=cashback, amount=Decimal("4.00"), idempotency_key="c1"
        ).pk
        == entry.pk
    )
    with pytest.raises(LoyaltyError):
        spend_credit(customer=dora, program=cashback, amount=Decimal("0.001"), idempotency_key="c3")


def test_adjust_needs_a_reason_and_never_goes_below_zero(points, dora, alice):
    with pytest.raises(LoyaltyError) as err:
        adjust(
            customer=dora, program=points, amount=5, reason=" ", staff=alice, idempotency_key="a"
        )
    assert err.value.field == "reason"
    give(dora, points, 5)
    with pytest.raises(LoyaltyError) as err:
        adjust(
            customer=dora,
            program=points,
            amount=-6,
            reason="typo",
            staff=alice,
            idempotency_key="b",
        )
    assert err.value.code == "insufficient"
    entry = adjust(
        customer=dora, program=points, amount=-5, reason="typo", staff=alice, idempotency_key="b"
    )
    assert entry.amount == -5 and entry.reason == "typo" and entry.staff == alice
    assert balance(dora, points) == 0


def test_adjust_refuses_fractions_of_a_point(points, dora, alice):
    with pytest.raises(LoyaltyError) as err:
        adjust(
            customer=dora,
            program=points,
            amount=Decimal("1.5"),
            reason="x",
            staff=alice,
            idempotency_key="a",
        )
    assert err.value.field == "amount"


def test_bonuses_are_paid_once_per_occasion(alice_cafe, dora, stamp_card):
    points = points_program(alice_cafe, config={"bonuses": {"joined": 50, "birthday": 100}})
    Program.objects.filter(pk=stamp_card.pk).update(
        config={**stamp_card.config, "bonuses": {"joined": 1}}
    )
    entries = award_bonus(customer=dora, action="joined", idempotency_key=f"joined:{dora.code}")
    again = award_bonus(customer=dora, action="joined", idempotency_key=f"joined:{dora.code}")
    assert sorted(e.amount for e in entries) == [1, 50]
    assert {e.pk for e in again} == {e.pk for e in entries}
    assert all(e.available_at is None for e in entries)
    assert award_bonus(customer=dora, action="review", idempotency_key="rv") == []
    assert balance(dora, points) == 50
    with pytest.raises(LoyaltyError):
        award_bonus(customer=dora, action="lottery", idempotency_key="x")


def test_ledger_entries_are_never_changed_or_deleted(points, dora):
    entry = give(dora, points, 5)
    entry.amount = 500
    with pytest.raises(LedgerImmutable):
        entry.save()
    with pytest.raises(LedgerImmutable):
        entry.delete()
    with pytest.raises(LedgerImmutable):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=500)
    with pytest.raises(LedgerImmutable):
        LedgerEntry.objects.all().delete()
    assert LedgerEntry.objects.get(pk=entry.pk).amount == 5


def test_the_counter_finds_the_last_action_it_may_undo(points, cake_reward, dora, bob):
    from regulars.loyalty.ledger import last_undoable

    assert last_undoable(customer=dora) is None
    give(dora, points, 60)
    voucher = redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    assert last_undoable(customer=dora) == voucher.entry
    undo(entry=voucher.entry, staff=bob, idempotency_key="u1")
    last = last_undoable(customer=dora)
    assert last.kind == "adjust"
    assert (last.account.customer, last.account.program) == (dora, points)
    assert last_undoable(customer=dora, now=timezone.now() + timedelta(minutes=6)) is None


def test_the_last_action_is_the_customers_own(points, dora, alice_cafe):
    from conftest import make_customer
    from regulars.loyalty.ledger import last_undoable

    eve = make_customer(alice_cafe, name="Eve")
    assert last_undoable(customer=eve) is None
    give(dora, points, 60)
    assert last_undoable(customer=eve) is None
    give(eve, points, 5)
    assert last_undoable(customer=eve).amount == 5
    assert last_undoable(customer=dora).amount == 60
