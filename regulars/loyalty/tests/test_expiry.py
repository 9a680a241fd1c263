"""Expiry by lots: first earned, first expired; idempotent; announced before it happens."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from regulars.loyalty.card import balances
from regulars.loyalty.expiry import expire_due, expiring_soon
from regulars.loyalty.ledger import adjust, redeem, undo
from regulars.loyalty.models import Account, LedgerEntry, Reward
from regulars.loyalty.signals import points_expired, points_expiring
from regulars.loyalty.tasks import expire_points
from regulars.loyalty.tests.conftest import points_program

pytestmark = pytest.mark.django_db


@pytest.fixture
def expiring(alice_cafe):
    return points_program(alice_cafe, expiry_days=90)


def balance(customer, program):
    return Account.objects.get(customer=customer, program=program).balance


def test_the_oldest_lot_expires_first_and_spending_counts_against_it(
    alice_cafe, expiring, dora, buy
):
    buy(dora, "30", days_ago=100)  # due
    buy(dora, "20", days_ago=50)  # not yet
    reward = Reward.objects.create(
        business=alice_cafe, program=expiring, name="Mug", kind="free_product", cost=25
    )
    redeem(customer=dora, reward=reward, idempotency_key="r1")  # spends 25 of the oldest lot
    [entry] = expire_due(business=alice_cafe)
    assert entry.amount == -5 and entry.lot.amount == 30
    assert entry.at == entry.lot.expires_at
    assert balance(dora, expiring) == 20


def test_running_twice_expires_nothing_more(alice_cafe, expiring, dora, buy):
    buy(dora, "30", days_ago=100)
    assert len(expire_due(business=alice_cafe)) == 1
    assert expire_due(business=alice_cafe) == []
    later = timezone.now() + timedelta(days=1)
    assert expire_due(business=alice_cafe, now=later) == []
    assert balance(dora, expiring) == 0


def test_an_old_purchase_recorded_late_still_expires(alice_cafe, expiring, dora, buy):
    buy(dora, "5", days_ago=1)
    expire_due(business=alice_cafe)  # settles the account up to now
    buy(dora, "30", days_ago=100)  # back-dated, already due
    [entry] = expire_due(business=alice_cafe)
    assert entry.amount == -30


def test_undone_spending_of_an_expired_lot_expires_on_the_next_run(
    alice_cafe, expiring, dora, buy, bob
):
    buy(dora, "30", days_ago=100)
    taken = adjust(
        customer=dora, program=expiring, amount=-30, reason="typo", staff=bob, idempotency_key="a"
    )
    assert expire_due(business=alice_cafe) == []
    undo(entry=taken, staff=bob, idempotency_key="u", window=None)
    [entry] = expire_due(business=alice_cafe)
    assert entry.amount == -30 and balance(dora, expiring) == 0


def test_expiring_soon_counts_what_spending_leaves(alice_cafe, expiring, dora, buy, bob):
    buy(dora, "30", days_ago=80)  # expires in 10 days
    buy(dora, "20", days_ago=10)  # in 80 days
    adjust(customer=dora, program=expiring, amount=-12, reason="x", staff=bob, idempotency_key="a")
    [soon] = expiring_soon(business=alice_cafe, within_days=14)
    assert (soon.customer, soon.amount, soon.value) == (dora, 18, 18)
    assert expiring_soon(business=alice_cafe, within_days=5) == []
    card = balances(dora).points[0]
    assert (card.expiring, card.expiring_at) == (18, soon.expires_at)


def test_the_task_expires_announces_and_signals(
    alice_cafe, expiring, dora, buy, django_capture_on_commit_callbacks
):
    buy(dora, "30", days_ago=100)
    buy(dora, "7", days_ago=80)
    heard = {"expiring": [], "expired": []}

    def on_expiring(**kw):
        heard["expiring"].append(kw)

    def on_expired(**kw):
        heard["expired"].append(kw)

    points_expiring.connect(on_expiring)
    points_expired.connect(on_expired)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = expire_points.call(business_slug=alice_cafe.slug)
    finally:
        points_expiring.disconnect(on_expiring)
        points_expired.disconnect(on_expired)
    assert result == {
        alice_cafe.slug: {"expired_entries": 1, "tier_changes": 0, "expiring_soon": 1}
    }
    assert [kw["amount"] for kw in heard["expiring"]] == [7]
    assert heard["expiring"][0]["customer"] == dora and heard["expiring"][0]["key"]
    assert [[e.amount for e in kw["entries"]] for kw in heard["expired"]] == [[-30]]


def test_the_expire_command_runs_the_expiry_now(alice_cafe, expiring, dora, buy, capsys):
    buy(dora, "30", days_ago=100)
    call_command("ledger", "expire", "--business", alice_cafe.slug)
    assert "1 lot(s) expired" in capsys.readouterr().out
    assert LedgerEntry.objects.filter(kind="expire").count() == 1


def test_the_task_can_be_enqueued_for_the_worker(alice_cafe):
    result = expire_points.enqueue(business_slug=alice_cafe.slug)
    assert result.status == "READY"
