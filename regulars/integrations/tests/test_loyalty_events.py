"""Loyalty events as webhooks: points.earned, reward.redeemed, tier.changed, points.expiring."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from regulars.integrations.models import WebhookDelivery, WebhookEndpoint
from regulars.integrations.tests.test_delivery import _has_key
from regulars.loyalty.expiry import announce_expiring
from regulars.loyalty.ledger import adjust
from regulars.loyalty.models import Program, Reward
from regulars.loyalty.sale import record_sale

pytestmark = pytest.mark.django_db

PRIMARY_KEYS = {"id", "pk", "business_id", "customer_id", "program_id", "account_id"}


@pytest.fixture
def points(alice_cafe):
    return Program.objects.create(
        business=alice_cafe,
        kind=Program.Kind.POINTS,
        name="Points",
        config={"points_per_unit": 1},
        expiry_days=365,
    )


@pytest.fixture
def tiers(alice_cafe):
    return Program.objects.create(
        business=alice_cafe,
        kind=Program.Kind.TIERS,
        name="Levels",
        config={"tiers": [{"key": "gold", "name": "Gold", "threshold": 100, "multiplier": 2}]},
    )


def hook(business, *events) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        business=business, url="https://pos.example.com/hook", events=list(events)
    )


def payload(event: str) -> dict:
    data = WebhookDelivery.objects.get(event=event).payload["data"]
    assert not _has_key(data, PRIMARY_KEYS), data
    return data


def test_a_redemption_over_the_api_produces_a_reward_redeemed_delivery(
    api, alice_cafe, points, make, django_capture_on_commit_callbacks
):
    endpoint = hook(alice_cafe, "reward.redeemed")
    hook(alice_cafe, "customer.created")  # not subscribed to it
    cake = Reward.objects.create(
        business=alice_cafe, program=points, name="Cake", kind="free_product", cost=50
    )
    dora = make.customer(alice_cafe)
    adjust(customer=dora, program=points, amount=80, reason="x", staff=None, idempotency_key="a")
    with django_capture_on_commit_callbacks(execute=True):
        response = api(alice_cafe).post(
            f"/customers/{dora.code}/redemptions", {"reward": cake.code}
        )
    assert response.status_code == 201
    delivery = WebhookDelivery.objects.get()
    assert (delivery.endpoint, delivery.event) == (endpoint, "reward.redeemed")
    data = payload("reward.redeemed")
    assert data["customer"] == dora.code and data["program"] == points.code
    assert (data["cost"], data["unit"]) == (50, "points")
    assert data["voucher"]["code"] == response.json()["code"]
    assert data["voucher"]["reward"] == cake.code and data["voucher"]["status"] == "issued"


def test_a_sale_produces_points_earned_and_tier_changed(
    alice_cafe, points, tiers, make, django_capture_on_commit_callbacks
):
    hook(alice_cafe, "points.earned", "tier.changed")
    dora = make.customer(alice_cafe)
    with django_capture_on_commit_callbacks(execute=True):
        sale = record_sale(
            business=alice_cafe, customer=dora, amount=Decimal("120.00"), idempotency_key="s1"
        )
    earned = payload("points.earned")
    assert earned["customer"] == dora.code and earned["purchase"] == sale.purchase.code
    assert [(e["program"], e["unit"], e["amount"]) for e in earned["earned"]] == [
        (points.code, "points", 120)
    ]
    assert earned["balances"] == [{"program": points.code, "unit": "points", "balance": 120}]
    assert earned["tier_changes"][0]["new"] == "gold"
    changed = payload("tier.changed")
    assert changed["customer"] == dora.code and changed["program"] == tiers.code
    assert (changed["old"], changed["new"], changed["upgraded"]) == ("", "gold", True)
    # a retried sale earns nothing new and announces nothing new
    with django_capture_on_commit_callbacks(execute=True):
        record_sale(
            business=alice_cafe, customer=dora, amount=Decimal("120.00"), idempotency_key="s1"
        )
    assert WebhookDelivery.objects.filter(event="points.earned").count() == 1


def test_expiring_points_are_announced_once_per_account_and_day(alice_cafe, points, make):
    hook(alice_cafe, "points.expiring")
    dora = make.customer(alice_cafe)
    now = timezone.now()
    adjust(
        customer=dora,
        program=points,
        amount=30,
        reason="x",
        staff=None,
        idempotency_key="a",
        now=now - timedelta(days=360),
    )
    for _ in range(2):  # the nightly job runs again the next night
        announce_expiring(business=alice_cafe, within_days=14, now=now)
    data = payload("points.expiring")
    assert data["customer"] == dora.code and data["program"] == points.code
    assert (data["amount"], data["unit"]) == (30, "points")
    assert data["expires_at"].startswith(str((now + timedelta(days=5)).date()))
