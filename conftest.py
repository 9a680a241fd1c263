"""Shared fixtures: Alice's café (owner Alice, cashier Bob) and Charlie's bakery (another tenant).

Isolation tests are nearly free: anything made for Charlie's bakery must never show up for Alice
or Bob, and every id of it must give them 404.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

# Hashing with PBKDF2 costs ~100 ms a login; tests need no security from it.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def alice_cafe(db):
    from regulars.accounts.models import Business, Location, Membership, Role, User

    cafe = Business.objects.create(slug="alice-cafe", name="Alice's Café", currency="EUR")
    alice = User.objects.create_user("alice", "alice@example.com", PASSWORD, first_name="Alice")
    bob = User.objects.create_user("bob", "bob@example.com", PASSWORD, first_name="Bob")
    Membership.objects.create(user=alice, business=cafe, role=Role.OWNER)
    Membership.objects.create(user=bob, business=cafe, role=Role.CASHIER)
    Location.objects.create(business=cafe, name="Main Street", address="1 Main Street")
    return cafe


@pytest.fixture
def charlie_bakery(db):
    from regulars.accounts.models import Business, Location, Membership, Role, User

    bakery = Business.objects.create(slug="charlie-bakery", name="Charlie's Bakery", currency="HUF")
    charlie = User.objects.create_user("charlie", "charlie@example.com", PASSWORD)
    Membership.objects.create(user=charlie, business=bakery, role=Role.OWNER)
    Location.objects.create(business=bakery, name="Market Hall")
    return bakery


@pytest.fixture
def alice(alice_cafe):
    return alice_cafe.memberships.get(user__username="alice").user


@pytest.fixture
def bob(alice_cafe):
    return alice_cafe.memberships.get(user__username="bob").user


@pytest.fixture
def charlie(charlie_bakery):
    return charlie_bakery.memberships.get(user__username="charlie").user


def make_customer(business, name="Dora Customer", **fields):
    from regulars.customers.models import Customer

    fields.setdefault("joined_at", timezone.now() - timedelta(days=100))
    return Customer.objects.create(business=business, name=name, **fields)


def make_purchase(business, customer, amount="4.50", days_ago=1, **kwargs):
    from regulars.sales.purchases import record_purchase

    purchase, _ = record_purchase(
        business=business,
        customer=customer,
        amount=Decimal(amount),
        location=business_location(business),
        occurred_at=timezone.now() - timedelta(days=days_ago),
        **kwargs,
    )
    return purchase


def business_location(business):
    from regulars.accounts.models import Location

    return Location.objects.filter(business=business).first()


@pytest.fixture
def make():
    """Factories as a fixture: make.customer(business, ...), make.purchase(business, customer, ...)."""

    class Make:
        customer = staticmethod(make_customer)
        purchase = staticmethod(make_purchase)

    return Make


@pytest.fixture
def api(client):
    """An API caller: api(business, scope="write").post(path, json, key=...) with a fresh key."""
    import json as _json

    from regulars.accounts.apikeys import create_key

    class Caller:
        def __init__(self, business, scope):
            self.key, self.token = create_key(business=business, name="test", scope=scope)

        def call(self, method, path, data=None, headers=None, token=None):
            extra = {"HTTP_AUTHORIZATION": f"Bearer {token or self.token}"}
            for name, value in (headers or {}).items():
                extra["HTTP_" + name.upper().replace("-", "_")] = value
            body = _json.dumps(data, default=str) if data is not None else None
            kwargs = {"content_type": "application/json"} if body is not None else {}
            if body is not None:
                kwargs["data"] = body
            return getattr(client, method)("/api/v1" + path, **kwargs, **extra)

        def get(self, path, params=None, **kw):
            if params:
                from urllib.parse import urlencode

                path = f"{path}?{urlencode(params)}"
            return self.call("get", path, **kw)

        def post(self, path, data=None, **kw):
            return self.call("post", path, data if data is not None else {}, **kw)

        def patch(self, path, data=None, **kw):
            return self.call("patch", path, data if data is not None else {}, **kw)

    return lambda business, scope="write": Caller(business, scope)
