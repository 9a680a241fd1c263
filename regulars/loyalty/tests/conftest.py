"""Loyalty fixtures on top of the shared ones: Alice's café runs points, a stamp card and tiers."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from regulars.loyalty.ledger import accrue_purchase
from regulars.loyalty.models import Program, Reward
from regulars.sales.models import Product
from regulars.sales.purchases import Line, record_purchase

_keys = itertools.count(1)


def key(prefix: str = "k") -> str:
    """A fresh idempotency key."""
    return f"{prefix}-{next(_keys)}"


@pytest.fixture
def menu(alice_cafe):
    def product(sku, name, category, price):
        return Product.objects.create(
            business=alice_cafe, sku=sku, name=name, category=category, price=Decimal(price)
        )

    class Menu:
        coffee = product("COF", "Flat white", "coffee", "3.00")
        cake = product("CAK", "Carrot cake", "cake", "4.50")
        beans = product("BEA", "Beans 250 g", "retail", "9.00")

    return Menu


@pytest.fixture
def dora(alice_cafe, make):
    return make.customer(alice_cafe, name="Dora Regular", phone="+36301112222")


@pytest.fixture
def eve(charlie_bakery, make):
    return make.customer(charlie_bakery, name="Eve Bakery", phone="+36309998888")


def points_program(business, **fields):
    config = fields.pop("config", {"points_per_unit": "1"})
    return Program.objects.create(
        business=business, kind=Program.Kind.POINTS, name="Points", config=config, **fields
    )


@pytest.fixture
def points(alice_cafe):
    return points_program(alice_cafe)


@pytest.fixture
def stamp_card(alice_cafe):
    return Program.objects.create(
        business=alice_cafe,
        kind=Program.Kind.STAMPS,
        name="Coffee card",
        config={"stamps_needed": 9, "per": "item", "qualifying_categories": ["coffee"]},
    )


@pytest.fixture
def free_coffee(stamp_card):
    return Reward.objects.create(
        business=stamp_card.business,
        program=stamp_card,
        name="Free coffee",
        kind=Reward.Kind.FREE_PRODUCT,
        cost=9,
    )


@pytest.fixture
def cake_reward(points):
    return Reward.objects.create(
        business=points.business, program=points, name="Free cake", kind="free_product", cost=50
    )


@pytest.fixture
def tiers(alice_cafe):
    return Program.objects.create(
        business=alice_cafe,
        kind=Program.Kind.TIERS,
        name="Levels",
        config={
            "basis": "spend",
            "window_days": 365,
            "tiers": [
                {"key": "silver", "name": "Silver", "threshold": "100", "multiplier": "1.5"},
                {
                    "key": "gold",
                    "name": "Gold",
                    "threshold": "300",
                    "multiplier": "2",
                    "perks": ["Free refill"],
                },
            ],
        },
    )


@pytest.fixture
def buy(alice_cafe):
    """buy(customer, "4.50") or buy(customer, lines=[(product, qty)]) → (purchase, accrual)."""

    def buy(customer, amount=None, *, lines=None, days_ago=0, at=None, business=None):
        business = business or customer.business
        purchase, _ = record_purchase(
            business=business,
            customer=customer,
            amount=Decimal(amount) if amount is not None else None,
            lines=[Line(name="", unit_price=p.price, quantity=q, product=p) for p, q in lines]
            if lines
            else None,
            occurred_at=at or timezone.now() - timedelta(days=days_ago),
        )
        return purchase, accrue_purchase(purchase=purchase, idempotency_key=key("buy"))

    return buy
