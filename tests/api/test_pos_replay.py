"""A till replays a day at a café over plain HTTP, with the faults of a real network.

The till is a plain HTTP/1.1 client (http.client, no Django test client) talking to a live
server on 127.0.0.1 with a read-write API key. It enrols customers, sells, refunds and redeems,
always with an Idempotency-Key, and on the way:

- some answers are lost on their way back (the server did the work, the till never saw the
  answer) and the till sends the same request again;
- some requests go twice (a double tap on the till);
- on PostgreSQL, a few requests go from several threads at once with the same key.

At the end the ledger must be exactly what the day's real sales make it: one purchase per
sale, each customer's points and stamps as computed here from the day's receipts, and
`verify_ledger` clean.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from urllib.parse import urlsplit

import pytest
from django.db import connection

from regulars.accounts.apikeys import create_key
from regulars.loyalty.models import Account, Program, Reward, Voucher
from regulars.loyalty.verify import verify_ledger
from regulars.sales.models import Product, Purchase

pytestmark = pytest.mark.django_db(transaction=True)

MENU = {  # sku: (name, category, price)
    "FW": ("Flat white", "coffee", Decimal("3.20")),
    "ESP": ("Espresso", "coffee", Decimal("2.10")),
    "CRO": ("Croissant", "bakery", Decimal("2.40")),
    "CAK": ("Carrot cake", "cake", Decimal("4.50")),
}
STAMPS_NEEDED = 9


class Till:
    """A POS on one keep-alive connection; `lose_answer` reads the answer and forgets it."""

    def __init__(self, base_url: str, token: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.token = token
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        self.sent = 0

    def post(self, path: str, body: dict, key: str, *, lose_answer: bool = False):
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        }
        self.connection.request("POST", "/api/v1" + path, json.dumps(body), headers)
        response = self.connection.getresponse()
        data = json.loads(response.read() or b"null")
        self.sent += 1
        if lose_answer:
            return None
        return response.status, data

    def get(self, path: str):
        self.connection.request("GET", "/api/v1" + path, headers={"Authorization": f"Bearer {self.token}"})
        response = self.connection.getresponse()
        return response.status, json.loads(response.read())


@dataclass
class Expected:
    points: Counter = field(default_factory=Counter)
    stamps: Counter = field(default_factory=Counter)
    sales: int = 0


def send(till: Till, rng: random.Random, path: str, body: dict, key: str):
    """Send as a flaky network would: sometimes the answer is lost, sometimes a double tap."""
    fault = rng.random()
    if fault < 0.2:
        assert till.post(path, body, key, lose_answer=True) is None
    status, data = till.post(path, body, key)
    if 0.2 <= fault < 0.35:
        again = till.post(path, body, key)
        assert again == (status, data), f"a double tap on {path} answered differently"
    return status, data


def burst(base_url: str, token: str, path: str, body: dict, key: str, n: int = 4):
    """The same request from n tills at once; every answer must name the same object."""
    answers, barrier = [], threading.Barrier(n)

    def one():
        till = Till(base_url, token)
        barrier.wait()
        answers.append(till.post(path, body, key))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


@pytest.fixture
def cafe(alice_cafe):
    for sku, (name, category, price) in MENU.items():
        Product.objects.create(
            business=alice_cafe, sku=sku, name=name, category=category, price=price
        )
    points = Program.objects.create(
        business=alice_cafe, kind=Program.Kind.POINTS, name="Points",
        config={"points_per_unit": "1", "rounding": "floor"},
    )  # fmt: skip
    card = Program.objects.create(
        business=alice_cafe, kind=Program.Kind.STAMPS, name="Coffee card",
        config={"stamps_needed": STAMPS_NEEDED, "per": "item", "qualifying_categories": ["coffee"]},
    )  # fmt: skip
    free_coffee = Reward.objects.create(
        business=alice_cafe, program=card, name="Free coffee", kind=Reward.Kind.FREE_PRODUCT,
        cost=STAMPS_NEEDED,
    )  # fmt: skip
    _key, token = create_key(business=alice_cafe, name="till", scope="write")
    return alice_cafe, points, card, free_coffee, token


def test_a_day_at_the_counter_with_a_flaky_network_ends_with_an_exact_ledger(live_server, cafe):
    business, points, card, free_coffee, token = cafe
    rng = random.Random(20261123)
    till = Till(live_server.url, token)
    expected = Expected()

    # Morning: five regulars are enrolled at the till (one of them twice, by a double tap).
    people = []
    for i, name in enumerate(["Ana", "Bence", "Csilla", "Dario", "Eva"]):
        body = {"name": name, "phone": f"+3630111{i:04d}", "marketing_consent": True}
        status, data = send(till, rng, "/customers", body, f"enrol-{i}")
        assert status in (200, 201), data
        people.append(data["code"])
    assert len(set(people)) == 5

    # The day's receipts: 60 sales, a quarter of them to guests.
    receipts = []
    for n in range(60):
        customer = rng.choice(people) if rng.random() < 0.75 else None
        items = rng.sample(sorted(MENU), rng.randint(1, 3))
        lines = [{"sku": s, "quantity": rng.randint(1, 2), "unit_price": str(MENU[s][2])} for s in items]
        receipts.append((f"sale-{n:03d}", {"customer": customer, "lines": lines}))

    codes = {}
    for key, body in receipts:
        status, data = send(till, rng, "/purchases", body, key)
        assert status in (200, 201), data
        codes[key] = data["code"]
        total = sum(Decimal(line["unit_price"]) * line["quantity"] for line in body["lines"])
        assert Decimal(data["total"]) == total
        if body["customer"]:
            expected.points[body["customer"]] += int(total.to_integral_value(ROUND_FLOOR))
            expected.stamps[body["customer"]] += sum(
                line["quantity"] for line in body["lines"] if MENU[line["sku"]][1] == "coffee"
            )
        expected.sales += 1
    assert len(set(codes.values())) == len(receipts)

    # On PostgreSQL, where requests really run side by side: a receipt sent from four tills at
    # once with one key records one purchase.
    if connection.vendor == "postgresql":
        body = {"customer": people[1], "lines": [{"sku": "FW", "quantity": 1, "unit_price": "3.20"}]}
        answers = burst(live_server.url, token, "/purchases", body, "sale-burst")
        assert {status for status, _ in answers} <= {200, 201}
        assert len({data["code"] for _, data in answers}) == 1
        expected.points[people[1]] += 3
        expected.stamps[people[1]] += 1
        expected.sales += 1

    # Two sales of the first regular are refunded in full; their points and stamps go back.
    refunded = [key for key, body in receipts if body["customer"] == people[0]][:2]
    for key in refunded:
        status, data = send(till, rng, f"/purchases/{codes[key]}/refunds", {"reason": "spilt"}, f"refund-{key}")
        assert status in (200, 201), data
        body = dict(receipts)[key]
        total = sum(Decimal(line["unit_price"]) * line["quantity"] for line in body["lines"])
        assert Decimal(data["refunded"]) == total
        expected.points[people[0]] -= int(total.to_integral_value(ROUND_FLOOR))
        expected.stamps[people[0]] -= sum(
            line["quantity"] for line in body["lines"] if MENU[line["sku"]][1] == "coffee"
        )

    # Evening: everyone else with a full card gets a free coffee (the tap retried as well).
    redemptions = 0
    for person in people[1:]:
        while expected.stamps[person] >= STAMPS_NEEDED:
            key = f"redeem-{person}-{expected.stamps[person]}"
            status, data = send(
                till, rng, f"/customers/{person}/redemptions", {"reward": free_coffee.code}, key
            )
            assert status in (200, 201), data
            expected.stamps[person] -= STAMPS_NEEDED
            redemptions += 1

    # The ledger is exactly the day's real business, however often the till repeated itself.
    assert till.sent > len(receipts) + 5  # the faults really happened
    assert Purchase.objects.filter(business=business).count() == expected.sales
    for person in people:
        accounts = {
            a.program_id: a.balance
            for a in Account.objects.filter(business=business, customer__code=person)
        }
        assert accounts.get(points.pk, 0) == expected.points[person], person
        assert accounts.get(card.pk, 0) == expected.stamps[person], person
        status, loyalty = till.get(f"/customers/{person}/loyalty")
        assert status == 200
        assert loyalty["stamps"][0]["stamps"] == expected.stamps[person]
        assert loyalty["points"][0]["available"] == expected.points[person]
    assert Voucher.objects.filter(business=business).count() == redemptions > 0
    assert verify_ledger(business) == []
