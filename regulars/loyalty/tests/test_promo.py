"""Promo cards: single-use discount codes with an expiry, issued to one customer."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from regulars.loyalty.errors import LoyaltyConflict, LoyaltyError
from regulars.loyalty.models import PromoCard
from regulars.loyalty.vouchers import issue_promo_card, use_promo_card

pytestmark = pytest.mark.django_db


def issue(customer, **kw):
    kw.setdefault("kind", PromoCard.Kind.PERCENT)
    kw.setdefault("value", Decimal("15"))
    kw.setdefault("idempotency_key", "p1")
    return issue_promo_card(customer=customer, reason="Sorry about the wait", **kw)


def test_a_promo_card_is_issued_once_per_key(dora, alice):
    card = issue(dora, staff=alice)
    assert issue(dora).pk == card.pk
    assert card.valid_until - card.issued_at == timedelta(days=30)
    assert card.discount_on(Decimal("20.00")) == Decimal("3.00")
    assert dora.timeline.filter(kind="reward").count() == 1


def test_a_promo_card_is_used_once(dora, alice_cafe, make, bob):
    card = issue(dora)
    purchase = make.purchase(alice_cafe, dora, amount="20")
    used = use_promo_card(business=alice_cafe, code=card.code, purchase=purchase, staff=bob)
    assert used.status == PromoCard.Status.USED and used.used_purchase == purchase
    with pytest.raises(LoyaltyConflict):
        use_promo_card(business=alice_cafe, code=card.code)


def test_an_expired_promo_card_is_refused(dora, alice_cafe):
    card = issue(dora, valid_until=timezone.now() + timedelta(days=2))
    with pytest.raises(LoyaltyError) as err:
        use_promo_card(business=alice_cafe, code=card.code, now=timezone.now() + timedelta(days=3))
    assert err.value.code == "expired"


def test_another_customers_purchase_cannot_use_it(dora, alice_cafe, make):
    card = issue(dora)
    someone = make.customer(alice_cafe, name="Someone Else")
    purchase = make.purchase(alice_cafe, someone, amount="20")
    with pytest.raises(LoyaltyError):
        use_promo_card(business=alice_cafe, code=card.code, purchase=purchase)


def test_the_minimum_purchase_is_enforced(dora, alice_cafe, make):
    card = issue(dora, kind=PromoCard.Kind.FIXED, value=Decimal("5"), min_purchase=Decimal("20"))
    assert card.discount_on(Decimal("19.99")) == Decimal("0.00")
    assert card.discount_on(Decimal("25.00")) == Decimal("5.00")
    small = make.purchase(alice_cafe, dora, amount="10")
    with pytest.raises(LoyaltyError):
        use_promo_card(business=alice_cafe, code=card.code, purchase=small)


@pytest.mark.parametrize(
    "kind,value", [("percent", "0"), ("percent", "101"), ("fixed", "-1"), ("bogus", "5")]
)
def test_bad_promo_cards_are_refused(dora, kind, value):
    with pytest.raises(LoyaltyError):
        issue(dora, kind=kind, value=Decimal(value))
