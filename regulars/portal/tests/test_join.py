"""The join page behind the poster's QR code: consent, no duplicates, a rate limit, isolation."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from regulars.customers.models import Customer
from regulars.loyalty.card import balances
from regulars.loyalty.models import Program
from regulars.portal import views

pytestmark = pytest.mark.django_db


def join_url(business):
    return reverse("portal_join", args=[business.join_code])


def test_the_join_page_opens_with_consent_unticked(client, alice_cafe):
    response = client.get(join_url(alice_cafe))
    assert response.status_code == 200
    assert "Alice&#x27;s Café" in response.text
    consent = next(
        line for line in response.text.splitlines() if 'name="marketing_consent"' in line
    )
    assert "checked" not in consent
    assert 'name="birthday"' in response.text and 'name="language"' in response.text


def test_joining_stores_the_member_with_their_consent_and_pays_the_bonus(client, alice_cafe):
    Program.objects.create(
        business=alice_cafe,
        kind="points",
        name="Points",
        config={"points_per_unit": "1", "bonuses": {"joined": 20}},
    )
    response = client.post(
        join_url(alice_cafe),
        {
            "name": "Hanna Kiss",
            "phone": "+36 70 123 4567",
            "email": "Hanna@Example.com",
            "birthday": "1991-04-02",
            "language": "hu",
            "marketing_consent": "on",
        },
    )
    hanna = Customer.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal_card", args=[hanna.card_token]) + "?welcome=1"
    assert hanna.business == alice_cafe
    assert (hanna.phone, hanna.email, hanna.language) == ("+36701234567", "hanna@example.com", "hu")
    assert hanna.birthday == date(1991, 4, 2)
    assert hanna.marketing_consent and hanna.consent_at is not None
    assert balances(hanna).points[0].available == 20


def test_consent_is_not_given_unless_ticked(client, alice_cafe):
    client.post(
        join_url(alice_cafe), {"name": "No Spam", "email": "no@example.com", "language": "en"}
    )
    customer = Customer.objects.get()
    assert not customer.marketing_consent and customer.consent_at is None


def test_a_phone_or_an_email_is_needed(client, alice_cafe):
    response = client.post(join_url(alice_cafe), {"name": "Nobody", "language": "en"})
    assert response.status_code == 200
    assert "Enter a phone number or an e-mail address." in response.text
    assert not Customer.objects.exists()


def test_joining_twice_from_the_same_phone_opens_the_same_card(client, alice_cafe):
    data = {"name": "Ida", "phone": "+36201234567", "language": "en"}
    first = client.post(join_url(alice_cafe), data)
    again = client.post(join_url(alice_cafe), {**data, "name": "Ida Again"})
    ida = Customer.objects.get()
    assert again.status_code == 302
    assert again["Location"] == reverse("portal_card", args=[ida.card_token])
    assert first["Location"].startswith(again["Location"])
    assert ida.name == "Ida"


def test_joining_with_someone_elses_phone_finds_them_but_does_not_show_their_card(
    client, alice_cafe, make
):
    dora = make.customer(alice_cafe, name="Dora Member", phone="+36301112222")
    response = client.post(
        join_url(alice_cafe), {"name": "Not Dora", "phone": "+36 30 111 2222", "language": "en"}
    )
    assert response.status_code == 200
    assert "You are a member already" in response.text
    assert dora.card_token not in response.text and dora.card_code not in response.text
    assert Customer.objects.count() == 1


def test_the_card_link_is_remembered_by_the_browser_that_opened_it(client, alice_cafe, make):
    dora = make.customer(alice_cafe, name="Dora Member", email="dora@example.com")
    client.get(reverse("portal_card", args=[dora.card_token]))
    response = client.post(
        join_url(alice_cafe), {"name": "Dora", "email": "DORA@example.com", "language": "en"}
    )
    assert response["Location"] == reverse("portal_card", args=[dora.card_token])


def test_joins_are_rate_limited_per_address(client, alice_cafe, monkeypatch):
    monkeypatch.setattr(views, "JOIN_LIMIT", 3)
    for i in range(3):
        response = client.post(
            join_url(alice_cafe), {"name": f"P{i}", "phone": f"+3630000000{i}", "language": "en"}
        )
        assert response.status_code == 302
    response = client.post(
        join_url(alice_cafe), {"name": "P9", "phone": "+36300000009", "language": "en"}
    )
    assert response.status_code == 429
    assert "Please wait a moment" in response.text
    assert Customer.objects.count() == 3
    other = client.post(
        join_url(alice_cafe),
        {"name": "P8", "phone": "+36300000008", "language": "en"},
        REMOTE_ADDR="10.0.0.8",
    )
    assert other.status_code == 302


def test_a_wrong_join_code_is_not_found(client, alice_cafe):
    assert client.get(reverse("portal_join", args=["NOPE234567"])).status_code == 404
    assert client.post(reverse("portal_join", args=["NOPE234567"]), {}).status_code == 404


def test_charlies_join_code_never_makes_a_customer_of_alice(client, alice_cafe, charlie_bakery):
    response = client.post(
        join_url(charlie_bakery), {"name": "Eve", "phone": "+36309998888", "language": "hu"}
    )
    assert response.status_code == 302
    assert not Customer.objects.filter(business=alice_cafe).exists()
    assert Customer.objects.get().business == charlie_bakery
    page = client.get(join_url(charlie_bakery)).text
    assert "Charlie" in page and "Alice" not in page


def test_join_codes_are_their_own_per_business(alice_cafe, charlie_bakery):
    assert alice_cafe.join_code != charlie_bakery.join_code
    assert len(alice_cafe.join_code) >= 10
