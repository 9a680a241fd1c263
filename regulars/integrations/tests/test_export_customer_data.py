"""A person's right to their data: the full export, and erasure that keeps the totals right."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from regulars.customers.models import Customer, Tag, TimelineEntry
from regulars.integrations import privacy
from regulars.integrations.events import emit
from regulars.integrations.models import Erasure, WebhookDelivery, WebhookEndpoint
from regulars.loyalty.ledger import redeem
from regulars.loyalty.models import Account, LedgerEntry, Program, PromoCard, Reward
from regulars.loyalty.sale import record_sale, refund_sale
from regulars.loyalty.vouchers import issue_promo_card
from regulars.sales.models import Purchase, Refund

pytestmark = pytest.mark.django_db


def url(name, *args, slug="alice-cafe"):
    return reverse(name, args=[slug, *args])


@pytest.fixture
def dora(alice_cafe, make):
    dora = make.customer(
        alice_cafe, name="Dora Kovač", email="dora@example.com", phone="+36301112222",
        birthday=date(1990, 5, 17), marketing_consent=True, consent_at=timezone.now(),
        notes="Oat milk, no sugar.", preferences={"milk": "oat"}, external_id="POS-1",
        language="hu",
    )  # fmt: skip
    dora.tags.add(Tag.objects.create(business=alice_cafe, name="vegan"))
    TimelineEntry.objects.create(
        business=alice_cafe, customer=dora, kind="note", at=timezone.now(),
        text="Lives next door, daughter Anna", data={"by": "Bob"},
    )  # fmt: skip
    points = Program.objects.create(
        business=alice_cafe,
        kind=Program.Kind.POINTS,
        name="Points",
        config={"points_per_unit": "1"},
    )
    cake = Reward.objects.create(
        business=alice_cafe, program=points, name="Cake", kind=Reward.Kind.FREE_PRODUCT, cost=5
    )
    sale = record_sale(
        business=alice_cafe, customer=dora, amount=Decimal("12.00"), idempotency_key="s1"
    )
    record_sale(business=alice_cafe, customer=dora, amount=Decimal("8.50"), idempotency_key="s2")
    refund_sale(purchase=sale.purchase, amount=Decimal("2.00"), idempotency_key="r1")
    redeem(customer=dora, reward=cake, idempotency_key="v1")
    issue_promo_card(
        customer=dora, kind="percent", value=Decimal("10"), idempotency_key="p1", reason="Come back"
    )
    return dora


def totals(business):
    purchases = Purchase.objects.filter(business=business)
    return {
        "purchases": purchases.count(),
        "revenue": purchases.aggregate(s=Sum("total"))["s"],
        "refunded": purchases.aggregate(s=Sum("refunded"))["s"],
        "ledger": LedgerEntry.objects.filter(business=business).aggregate(s=Sum("amount"))["s"],
        "entries": LedgerEntry.objects.filter(business=business).count(),
        "balances": list(
            Account.objects.filter(business=business).values_list("balance", flat=True)
        ),
        "customers": Customer.objects.filter(business=business).count(),
    }


def test_the_data_export_holds_everything_about_the_person(client, alice, dora):
    client.force_login(alice)
    response = client.get(url("customer_data", dora.code))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"] == f'attachment; filename="customer-{dora.code}.json"'
    data = json.loads(response.content)
    record = data["customer"]
    assert (record["name"], record["email"], record["phone"], record["birthday"]) == (
        "Dora Kovač", "dora@example.com", "+36301112222", "1990-05-17"
    )  # fmt: skip
    assert record["tags"] == ["vegan"] and record["preferences"] == {"milk": "oat"}
    assert record["notes"] == "Oat milk, no sugar." and record["external_id"] == "POS-1"
    assert {e["kind"] for e in data["timeline"]} >= {"note", "purchase", "refund"}
    assert sorted(p["total"] for p in data["purchases"]) == ["12.00", "8.50"]
    refunded = next(p for p in data["purchases"] if p["refunds"])
    assert refunded["refunds"][0]["amount"] == "2.00" and refunded["lines"][0]["amount"] == "12.00"
    ledger = data["loyalty"]["ledger"]
    assert [e["kind"] for e in ledger] == ["earn", "earn", "reverse", "redeem"]
    assert data["loyalty"]["accounts"] == [{"program": "Points", "unit": "points", "balance": 13}]
    assert [v["name"] for v in data["vouchers"]] == ["Cake"]
    assert data["promo_cards"][0]["reason"] == "Come back"


def test_erasure_removes_the_person_and_keeps_every_total(client, alice, alice_cafe, dora, caplog):
    endpoint = WebhookEndpoint.objects.create(
        business=alice_cafe, url="https://x.example/h", events=["*"]
    )
    emit(alice_cafe, "customer.created", {"customer": {"code": dora.code, "name": dora.name,
                                                       "email": dora.email}}, enqueue=False)  # fmt: skip
    refund_sale(
        purchase=Purchase.objects.get(customer=dora, total=Decimal("8.50")),
        amount=Decimal("1.00"), reason="Dora spilt it", idempotency_key="r2",
    )  # fmt: skip
    before = totals(alice_cafe)
    old_card, old_link = dora.card_code, reverse("portal_card", args=[dora.card_token])
    client.force_login(alice)

    page = client.get(url("customer_erase", dora.code))
    assert page.status_code == 200 and "Type the customer&#x27;s name to confirm" in page.text
    wrong = client.post(url("customer_erase", dora.code), {"name": "Dora"})
    assert wrong.status_code == 200
    assert wrong.context["form"].errors == {"name": ["That is not the customer's name."]}
    assert not Erasure.objects.exists()

    with caplog.at_level(logging.INFO, logger="regulars.integrations.privacy"):
        done = client.post(url("customer_erase", dora.code), {"name": "  dora   kovač "})
    assert done.status_code == 302 and done["Location"] == url("customer_detail", dora.code)
    assert f"customer {dora.code} of alice-cafe erased by {alice.pk}" in caplog.text

    dora.refresh_from_db()
    assert dora.name == "Erased customer"
    assert (dora.email, dora.phone, dora.notes, dora.external_id, dora.language) == (
        "",
        "",
        "",
        "",
        "",
    )
    assert dora.birthday is None and dora.preferences == {} and not dora.tags.exists()
    assert not dora.marketing_consent and dora.consent_at is None
    assert dora.card_code != old_card and not Customer.objects.filter(card_code=old_card).exists()
    assert client.get(old_link).status_code == 404  # "their card stops working"
    assert set(PromoCard.objects.filter(customer=dora).values_list("reason", flat=True)) == {""}
    assert not Refund.objects.filter(purchase__customer=dora).exclude(reason="").exists()
    note = dora.timeline.get(kind="note", text="")
    assert note.data == {}  # the old note: text and data gone
    assert (
        dora.timeline.filter(kind="note", staff=alice).get().text.startswith("Personal data erased")
    )
    assert dora.timeline.filter(kind="purchase").count() == 2  # codes and amounts stay
    assert totals(alice_cafe) == before
    assert Purchase.objects.filter(customer=dora).count() == 2
    erasure = Erasure.objects.get()
    assert (erasure.customer, erasure.customer_code, erasure.erased_by) == (dora, dora.code, alice)
    payload = WebhookDelivery.objects.get(endpoint=endpoint).payload["data"]["customer"]
    assert payload == {"code": dora.code, "name": "", "email": ""}

    again = client.get(url("customer_erase", dora.code))
    assert "was erased on" in again.text
    client.post(url("customer_erase", dora.code), {"name": "Erased customer"})
    assert Erasure.objects.count() == 1


def test_the_export_of_an_erased_customer_holds_no_personal_data(alice_cafe, alice, dora):
    privacy.erase_customer(customer=dora, staff=alice)
    text = privacy.customer_data_json(dora)
    for personal in ("Dora", "dora@example.com", "+36301112222", "1990-05-17", "Oat milk",
                     "vegan", "POS-1", "Anna"):  # fmt: skip
        assert personal not in text


def test_the_data_section_is_on_the_customer_page_for_the_owner_only(client, alice, bob, dora):
    client.force_login(alice)
    page = client.get(url("customer_detail", dora.code))
    assert (
        url("customer_data", dora.code) in page.text
        and url("customer_erase", dora.code) in page.text
    )
    client.force_login(bob)
    page = client.get(url("customer_detail", dora.code))
    assert page.status_code == 200 and url("customer_erase", dora.code) not in page.text
    assert client.get(url("customer_data", dora.code)).status_code == 403
    assert client.post(url("customer_erase", dora.code), {"name": "Dora Kovač"}).status_code == 403
    dora.refresh_from_db()
    assert dora.email == "dora@example.com"


def test_charlies_customers_are_404_for_alice(client, alice, charlie_bakery, make):
    eve = make.customer(charlie_bakery, name="Eve", email="eve@example.com")
    client.force_login(alice)
    assert client.get(url("customer_data", eve.code)).status_code == 404
    assert client.post(url("customer_erase", eve.code), {"name": "Eve"}).status_code == 404
    eve.refresh_from_db()
    assert eve.email == "eve@example.com"
    assert not Erasure.objects.exists()
    assert (timezone.now() - eve.joined_at) > timedelta(days=1)
