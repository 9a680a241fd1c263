"""The customer's card page: the right figures, the customer's language, never cached."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from regulars.lib.money import format_money
from regulars.loyalty.ledger import redeem
from regulars.loyalty.models import PromoCard
from regulars.loyalty.sale import record_sale
from regulars.loyalty.vouchers import issue_promo_card
from regulars.sales.purchases import Line

pytestmark = pytest.mark.django_db


def card_url(customer):
    return reverse("portal_card", args=[customer.card_token])


def buy(customer, *lines, amount=None, key):
    return record_sale(
        business=customer.business,
        customer=customer,
        lines=[Line(name="", unit_price=p.price, quantity=q, product=p) for p, q in lines] or None,
        amount=amount,
        idempotency_key=key,
    )


@pytest.fixture
def everything(alice_cafe, points, cake_reward, stamp_card, free_coffee, tiers):
    return alice_cafe


def test_the_card_shows_the_qr_code_and_zeros_for_a_new_member(client, everything, dora):
    response = client.get(card_url(dora))
    page = response.text
    assert response.status_code == 200
    assert "<svg" in page and f'data-card-code="{dora.card_code}"' in page
    assert re.search(r"data-points>0<", page)
    assert page.count('class="pdot"') == 9 and 'class="pdot on"' not in page
    assert "Nothing yet" in page
    assert "no-store" in response["Cache-Control"]


def test_the_card_shows_the_right_figures_at_once_after_a_purchase(
    client, everything, dora, menu, cake_reward
):
    client.get(card_url(dora))
    buy(dora, (menu.coffee, 11), amount=None, key="s1")  # 33.00
    buy(dora, amount=Decimal("80.00"), key="s2")
    voucher = redeem(customer=dora, reward=cake_reward, idempotency_key="r1")
    issue_promo_card(
        customer=dora,
        kind=PromoCard.Kind.PERCENT,
        value=Decimal("15"),
        idempotency_key="p1",
        valid_until=timezone.now() + timedelta(days=10),
    )
    page = client.get(card_url(dora)).text
    assert re.search(r"data-points>63<", page)  # 113 − 50
    assert 'data-stamps="11"' in page and "Your card is full: a reward is waiting!" in page
    assert page.count('class="pdot on"') == 9
    assert "Silver" in page and "€187.00 more to Gold" in page
    assert voucher.code in page and "Free cake" in page
    assert "−15%" in page
    assert "Redeemed" in page and "−50 points" in page and "+11 stamps" in page


def test_the_card_speaks_the_customers_language(client, alice_cafe, points, make):
    hanna = make.customer(alice_cafe, name="Hanna", language="hu", email="h@example.com")
    response = client.get(card_url(hanna), headers={"accept-language": "en"})
    assert '<html lang="hu">' in response.text
    assert response["Content-Language"] == "hu"
    # The customer switches it; the choice is kept for them.
    back = client.post(reverse("portal_card_language", args=[hanna.card_token]), {"language": "hr"})
    assert back.status_code == 302
    hanna.refresh_from_db()
    assert hanna.language == "hr"
    assert '<html lang="hr">' in client.get(card_url(hanna)).text


def test_money_on_the_card_is_in_the_business_currency(client, charlie_bakery, make):
    from regulars.loyalty.models import Program

    Program.objects.create(
        business=charlie_bakery, kind="cashback", name="Cashback", config={"percent": "10"}
    )
    eve = make.customer(charlie_bakery, name="Eve", language="en", phone="+36309998888")
    buy(eve, amount=Decimal("1000"), key="c1")
    assert format_money(Decimal("100"), "HUF", "en") in client.get(card_url(eve)).text


def test_a_wrong_token_is_not_found(client, dora):
    assert client.get(reverse("portal_card", args=["X" * 20])).status_code == 404
    assert client.get(reverse("portal_card", args=[dora.card_code])).status_code == 404
    assert client.get(reverse("portal_card", args=[dora.code])).status_code == 404


def test_the_card_page_takes_a_bounded_number_of_queries(
    client, everything, dora, menu, django_assert_max_num_queries
):
    for i in range(6):
        buy(dora, (menu.coffee, 2), key=f"s{i}")
    with django_assert_max_num_queries(14):
        assert client.get(card_url(dora)).status_code == 200
