"""verify_ledger and `regulars ledger verify`: an exact ledger passes, any drift is named."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from regulars.loyalty.ledger import adjust, redeem, undo
from regulars.loyalty.models import Account, LedgerEntry, Voucher
from regulars.loyalty.verify import verify_ledger

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy(alice_cafe, points, stamp_card, cake_reward, dora, buy, menu, bob):
    from decimal import Decimal

    from regulars.loyalty.ledger import reverse_purchase
    from regulars.sales.purchases import refund_purchase

    purchase, _ = buy(dora, lines=[(menu.coffee, 40)])
    redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    v2 = redeem(customer=dora, reward=cake_reward, idempotency_key="r2")
    undo(entry=v2.entry, staff=bob, idempotency_key="u")
    r, _ = refund_purchase(purchase=purchase, amount=Decimal("30"))
    reverse_purchase(purchase=purchase, refund=r, idempotency_key="rf")
    return alice_cafe


def test_an_exact_ledger_has_no_problems(busy, charlie_bakery):
    assert verify_ledger(busy) == []
    assert verify_ledger(charlie_bakery) == []


def test_the_command_says_ok(busy, capsys):
    call_command("ledger", "verify", "--business", busy.slug)
    assert "alice-cafe: ledger OK" in capsys.readouterr().out


def test_a_stale_balance_cache_is_found_and_the_command_fails(busy, dora, points, capsys):
    Account.objects.filter(customer=dora, program=points).update(balance=999)
    [problem] = verify_ledger(busy)
    assert "cached balance 999" in problem
    with pytest.raises(CommandError) as err:
        call_command("ledger", "verify", "--business", busy.slug)
    assert err.value.returncode == 1
    assert "cached balance 999" in capsys.readouterr().err


def test_an_entry_slipped_past_the_domain_functions_is_found(busy, dora, points):
    account = Account.objects.get(customer=dora, program=points)
    # bulk_create skips the domain function (no lock, no cache update, no floor check)
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                business=busy,
                account=account,
                kind="adjust",
                amount=-1000,
                at=account.created_at,
                operation="raw",
                idempotency_key="raw",
            )
        ]
    )
    problems = verify_ledger(busy)
    assert any("cached balance" in p for p in problems)
    Account.objects.filter(pk=account.pk).update(balance=account.balance - 1000)
    assert any("below zero" in p for p in verify_ledger(busy))


def test_an_over_reversal_is_found(busy, dora, points, bob):
    entry = adjust(
        customer=dora, program=points, amount=5, reason="x", staff=bob, idempotency_key="a"
    )
    account = entry.account
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                business=busy,
                account=account,
                kind="reverse",
                amount=-6,
                at=entry.at,
                reverses=entry,
                operation="raw",
                idempotency_key="raw",
            )
        ]
    )
    Account.objects.filter(pk=account.pk).update(balance=account.balance - 6)
    assert any("take back 6 (+0 waived) of 5" in p for p in verify_ledger(busy))


def test_a_voucher_out_of_step_with_its_redemption_is_found(busy):
    Voucher.objects.filter(status=Voucher.Status.VOID).update(status=Voucher.Status.ISSUED)
    assert any("was undone but it is still issued" in p for p in verify_ledger(busy))


def test_an_edit_behind_the_ledgers_back_is_found(busy, dora, points):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_ledgerentry SET amount = amount + 1 WHERE kind = 'earn'")
    assert any("cached balance" in p for p in verify_ledger(busy))


def test_an_unknown_business_is_a_one_line_error():
    with pytest.raises(CommandError, match="no business with slug"):
        call_command("ledger", "verify", "--business", "nope")
