"""balances(): what the counter and the card show, in a fixed number of queries."""

from decimal import Decimal

import pytest

from regulars.loyalty.card import balances, recent_activity
from regulars.loyalty.ledger import redeem
from regulars.loyalty.models import Program, PromoCard
from regulars.loyalty.vouchers import issue_promo_card

pytestmark = pytest.mark.django_db


@pytest.fixture
def everything(alice_cafe, points, cake_reward, stamp_card, free_coffee, tiers):
    Program.objects.create(
        business=alice_cafe, kind="cashback", name="Cashback", config={"percent": "2"}
    )
    return alice_cafe


def test_a_new_member_sees_zeros(everything, dora):
    card = balances(dora)
    assert [(p.available, p.pending) for p in card.points] == [(0, 0)]
    assert [(s.stamps, s.needed, s.ready, s.progress) for s in card.stamps] == [(0, 9, 0, 0)]
    assert card.stamps[0].reward.name == "Free coffee"
    assert [c.available for c in card.credit] == [Decimal("0.00")]
    assert card.tiers[0].tier is None and card.tiers[0].next_tier.name == "Silver"
    assert card.rewards_ready == []


def test_the_card_shows_balances_progress_rewards_and_codes(
    everything, cake_reward, dora, buy, menu
):
    buy(dora, lines=[(menu.coffee, 11)])  # 33.00
    buy(dora, "80.00")
    redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    issue_promo_card(
        customer=dora, kind=PromoCard.Kind.FIXED, value=Decimal("5"), idempotency_key="p"
    )
    card = balances(dora)
    assert card.points[0].available == 113 - 50
    assert (card.stamps[0].stamps, card.stamps[0].ready, card.stamps[0].progress) == (11, 1, 2)
    assert card.credit[0].available == Decimal("2.26")
    tier = card.tiers[0]
    assert tier.tier.name == "Silver" and tier.next_tier.name == "Gold"
    assert tier.value == Decimal("113.00") and tier.to_next == Decimal("187.00")
    assert tier.percent == 37
    assert {r.reward.name for r in card.rewards_ready} == {"Free cake", "Free coffee"}
    assert [v.name for v in card.vouchers] == ["Free cake"]
    assert [p.value for p in card.promo_cards] == [Decimal("5.00")]
    assert [e.kind for e in recent_activity(dora)][:1] == ["redeem"]


def test_the_lookup_takes_a_fixed_number_of_queries(
    everything, dora, buy, menu, django_assert_max_num_queries
):
    """Whatever the history: a regular of years is scanned as fast as a new member. (On
    PostgreSQL the statements travel as one pipeline, which Django does not count.)"""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    buy(dora, lines=[(menu.coffee, 2)])
    with CaptureQueriesContext(connection) as short:
        balances(dora)
    for _ in range(12):
        buy(dora, lines=[(menu.coffee, 2)])
    with django_assert_max_num_queries(10), CaptureQueriesContext(connection) as long:
        card = balances(dora)
    assert len(long.captured_queries) == len(short.captured_queries)
    assert card.stamps[0].stamps == 26 and card.points[0].available == 13 * 6


def test_a_voucher_for_a_reward_no_longer_offered_still_shows(everything, cake_reward, dora, buy):
    buy(dora, "60.00")
    redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    cake_reward.active = False
    cake_reward.save()
    card = balances(dora)
    assert [(v.reward.name, v.customer) for v in card.vouchers] == [("Free cake", dora)]
    assert "Free cake" not in {r.reward.name for r in card.rewards}
