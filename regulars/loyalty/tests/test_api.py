"""Loyalty over the REST API: sales that earn, balances, redemptions, vouchers, promo cards,
programs and the ledger; one error shape; another business's codes are never found."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from regulars.accounts.models import Location
from regulars.loyalty.ledger import adjust, redeem
from regulars.loyalty.models import Account, LedgerEntry, Program, PromoCard, Reward, Voucher
from regulars.loyalty.tests.conftest import key, points_program
from regulars.loyalty.vouchers import issue_promo_card
from regulars.sales.models import Purchase
from regulars.sales.tests.test_api import error_of

pytestmark = pytest.mark.django_db


def give(customer, program, amount):
    return adjust(
        customer=customer,
        program=program,
        amount=amount,
        reason="opening balance",
        staff=None,
        idempotency_key=key("give"),
    )


# --- recording sales ----------------------------------------------------------------------


def test_a_purchase_says_what_it_earned_in_each_program(
    api, alice_cafe, points, stamp_card, tiers, dora, menu
):
    caller = api(alice_cafe)
    response = caller.post(
        "/purchases",
        {
            "customer": dora.code,
            "lines": [
                {"sku": "COF", "unit_price": "3.00", "quantity": 2},
                {"sku": "CAK", "unit_price": "4.50"},
            ],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["total"] == "10.50"
    earned = {(e["program"], e["unit"], e["amount"]) for e in body["earned"]}
    assert earned == {(points.code, "points", 10), (stamp_card.code, "stamps", 2)}
    assert body["tier_changes"] == []
    assert Account.objects.get(customer=dora, program=points).balance == 10


def test_the_purchase_that_crosses_a_threshold_reports_the_upgrade(
    api, alice_cafe, points, tiers, dora
):
    caller = api(alice_cafe)
    body = caller.post("/purchases", {"customer": dora.code, "amount": "120.00"}).json()
    assert body["earned"][0]["amount"] == 120  # earned at the tier held when paying
    [change] = body["tier_changes"]
    assert (change["program"], change["old"], change["new"]) == (tiers.code, "", "silver")
    assert change["new_name"] == "Silver" and change["upgraded"] is True
    body = caller.post("/purchases", {"customer": dora.code, "amount": "10.00"}).json()
    assert body["earned"][0]["amount"] == 15  # Silver earns 1.5×


def test_a_retried_purchase_counts_once_and_a_reused_key_with_another_body_is_409(
    api, alice_cafe, points, make
):
    caller = api(alice_cafe)
    dora = make.customer(alice_cafe)
    body = {
        "customer": dora.code,
        "lines": [{"name": "Cappuccino", "unit_price": "3.40", "quantity": 2}],
    }
    first = caller.post("/purchases", body, headers={"Idempotency-Key": "till-1-0001"})
    assert first.status_code == 201
    assert first.json()["total"] == "6.80"
    retry = caller.post("/purchases", body, headers={"Idempotency-Key": "till-1-0001"})
    assert retry.status_code == 201 and retry.json() == first.json()
    sale = first.json()
    assert [e["amount"] for e in sale.pop("earned")] == [6] and sale.pop("tier_changes") == []
    assert caller.get(f"/purchases/{sale['code']}").json() == sale
    assert Purchase.objects.filter(business=alice_cafe).count() == 1
    assert LedgerEntry.objects.filter(business=alice_cafe).count() == 1
    other = dict(body, lines=[{"name": "Espresso", "unit_price": "2.20"}])
    conflict = error_of(
        caller.post("/purchases", other, headers={"Idempotency-Key": "till-1-0001"}), 409
    )
    assert conflict["code"] == "idempotency_key_reused"
    assert Purchase.objects.filter(business=alice_cafe).count() == 1


def test_a_long_idempotency_key_still_records_once(api, alice_cafe, points, dora):
    caller = api(alice_cafe)
    long_key = "x" * 100
    body = {"customer": dora.code, "amount": "5.00"}
    assert caller.post("/purchases", body, headers={"Idempotency-Key": long_key}).status_code == 201
    assert caller.post("/purchases", body, headers={"Idempotency-Key": long_key}).status_code == 201
    assert Purchase.objects.get().idempotency_key.startswith("api:#")


def test_refunds_never_exceed_what_was_paid_and_take_back_points_pro_rata(
    api, alice_cafe, points, make
):
    caller = api(alice_cafe)
    dora = make.customer(alice_cafe)
    sale = caller.post("/purchases", {"customer": dora.code, "amount": "10.00"}).json()
    part = caller.post(f"/purchases/{sale['code']}/refunds", {"amount": "4.00", "reason": "cold"})
    assert part.status_code == 201 and part.json()["refunded"] == "4.00"
    assert part.json()["taken_back"] == [
        {"program": points.code, "unit": "points", "amount": 4, "waived": 0}
    ]
    too_much = error_of(caller.post(f"/purchases/{sale['code']}/refunds", {"amount": "6.01"}), 422)
    assert too_much["field"] == "amount"
    rest = caller.post(f"/purchases/{sale['code']}/refunds", {})
    assert rest.json()["refunded"] == "10.00"
    assert Account.objects.get(customer=dora, program=points).balance == 0


def test_get_and_post_share_the_purchases_path(api, alice_cafe):
    caller = api(alice_cafe)
    assert caller.get("/purchases").status_code == 200
    assert caller.post("/purchases", {"amount": "1.00"}).status_code == 201
    response = caller.call("delete", "/purchases")
    assert response.status_code == 405
    assert set(response["Allow"].split(", ")) == {"GET", "POST"}


# --- a customer's loyalty, the catalogue, programs, the ledger ----------------------------


def test_the_loyalty_summary_shows_balances_stamps_tier_rewards_and_codes(
    api, alice_cafe, points, cake_reward, stamp_card, free_coffee, tiers, dora, buy, menu
):
    buy(dora, lines=[(menu.coffee, 10)])  # 30.00: 30 points, 10 stamps
    give(dora, points, 40)
    voucher = redeem(customer=dora, reward=cake_reward, idempotency_key="r")
    promo = issue_promo_card(
        customer=dora, kind=PromoCard.Kind.PERCENT, value=Decimal(10), idempotency_key="p"
    )
    body = api(alice_cafe, scope="read").get(f"/customers/{dora.code}/loyalty").json()
    assert body["customer"] == dora.code
    assert body["points"] == [
        {
            "program": points.code,
            "name": "Points",
            "available": 20,
            "pending": 0,
            "expiring": 0,
            "expiring_at": None,
        }
    ]
    [stamps] = body["stamps"]
    assert (stamps["stamps"], stamps["ready"], stamps["progress"]) == (10, 1, 1)
    assert stamps["reward"] == free_coffee.code
    [tier] = body["tiers"]
    assert tier["tier"] is None and tier["next_tier"]["key"] == "silver"
    assert Decimal(tier["to_next"]) == Decimal(70)
    by_reward = {r["reward"]: r for r in body["rewards"]}
    assert by_reward[free_coffee.code]["affordable"] is True
    assert by_reward[cake_reward.code]["short_by"] == 30
    assert [v["code"] for v in body["vouchers"]] == [voucher.code]
    assert [p["code"] for p in body["promo_cards"]] == [promo.code]
    assert body["promo_cards"][0]["value"] == "10.00"


def test_the_catalogue_lists_active_rewards_of_running_programs(
    api, alice_cafe, points, cake_reward, stamp_card, free_coffee
):
    Reward.objects.create(
        business=alice_cafe, program=points, name="Old", kind="free_product", cost=1, active=False
    )
    caller = api(alice_cafe, scope="read")
    body = caller.get("/rewards").json()
    assert [(r["code"], r["cost"], r["unit"]) for r in body] == [
        (free_coffee.code, 9, "stamps"),
        (cake_reward.code, 50, "points"),
    ]
    assert [r["code"] for r in caller.get("/rewards", {"program": points.code}).json()] == [
        cake_reward.code
    ]


def test_programs_are_listed_with_their_settings(api, alice_cafe, points, cake_reward, tiers):
    body = api(alice_cafe, scope="read").get("/programs").json()
    assert [(p["code"], p["kind"], p["unit"]) for p in body] == [
        (points.code, "points", "points"),
        (tiers.code, "tiers", None),
    ]
    assert body[0]["rewards"] == [cake_reward.code]
    assert "Points per 1 EUR spent: 1" in body[0]["description"]
    assert body[1]["config"]["tiers"][0]["key"] == "silver"


def test_the_ledger_pages_newest_first_with_a_cursor(api, alice_cafe, points, dora, buy):
    for amount in ("1.00", "2.00", "3.00", "4.00", "5.00"):
        buy(dora, amount)
    caller = api(alice_cafe, scope="read")
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = caller.get(f"/customers/{dora.code}/ledger", params).json()
        seen += [(e["kind"], e["amount"]) for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [("earn", 5), ("earn", 4), ("earn", 3), ("earn", 2), ("earn", 1)]
    first = caller.get(f"/customers/{dora.code}/ledger", {"limit": 1}).json()["items"][0]
    assert first["program"] == points.code and first["purchase"]


# --- redemptions, vouchers, promo cards ---------------------------------------------------


def test_redeeming_returns_a_voucher_and_a_retry_returns_the_same_one(
    api, alice_cafe, points, cake_reward, dora
):
    give(dora, points, 120)
    caller = api(alice_cafe)
    path = f"/customers/{dora.code}/redemptions"
    first = caller.post(path, {"reward": cake_reward.code}, headers={"Idempotency-Key": "r-1"})
    assert first.status_code == 201, first.content
    voucher = first.json()
    assert voucher["reward"] == cake_reward.code and voucher["status"] == "issued"
    assert voucher["customer"] == dora.code
    again = caller.post(path, {"reward": cake_reward.code}, headers={"Idempotency-Key": "r-1"})
    assert again.json() == voucher
    assert Voucher.objects.count() == 1
    assert Account.objects.get(customer=dora, program=points).balance == 70
    # without a key, each call is a new redemption
    assert caller.post(path, {"reward": cake_reward.code}).status_code == 201
    assert Account.objects.get(customer=dora, program=points).balance == 20


def test_not_enough_points_is_a_422_on_the_reward_saying_what_is_missing(
    api, alice_cafe, points, cake_reward, dora
):
    give(dora, points, 12)
    response = api(alice_cafe).post(
        f"/customers/{dora.code}/redemptions", {"reward": cake_reward.code}
    )
    body = error_of(response, 422)
    assert body["field"] == "reward" and body["code"] == "insufficient"
    assert body["message"] == "needs 50 points; 12 available"
    assert not Voucher.objects.exists()


def test_a_voucher_is_used_once(api, alice_cafe, points, cake_reward, dora, buy):
    give(dora, points, 60)
    voucher = redeem(customer=dora, reward=cake_reward, idempotency_key="r")
    purchase, _ = buy(dora, "3.00")
    caller = api(alice_cafe)
    used = caller.post(f"/vouchers/{voucher.code}/use", {"purchase": purchase.code})
    assert used.status_code == 200
    assert used.json()["status"] == "used" and used.json()["used_purchase"] == purchase.code
    again = error_of(caller.post(f"/vouchers/{voucher.code}/use", {}), 409)
    assert again["field"] == "voucher"


def test_promo_cards_are_issued_listed_and_used_once(api, alice_cafe, dora, buy):
    caller = api(alice_cafe)
    path = f"/customers/{dora.code}/promo-cards"
    valid_until = (timezone.now() + timedelta(days=10)).isoformat()
    issued = caller.post(
        path,
        {"kind": "fixed", "value": "2.50", "valid_until": valid_until, "reason": "miss you"},
        headers={"Idempotency-Key": "promo-1"},
    )
    assert issued.status_code == 201, issued.content
    promo = issued.json()
    assert (promo["kind"], promo["value"], promo["status"]) == ("fixed", "2.50", "issued")
    listed = caller.get(path).json()
    assert [p["code"] for p in listed["items"]] == [promo["code"]]
    bad = error_of(caller.post(path, {"kind": "gift", "value": "1"}), 422)
    assert bad["field"] == "kind"
    purchase, _ = buy(dora, "9.00")
    used = caller.post(f"/promo-cards/{promo['code']}/use", {"purchase": purchase.code})
    assert used.json()["status"] == "used"
    assert error_of(caller.post(f"/promo-cards/{promo['code']}/use", {}), 409)["code"] == "conflict"
    assert caller.get(path, {"status": "issued"}).json()["items"] == []


# --- scopes and isolation, on every endpoint ----------------------------------------------


def schema_operations(client) -> list[tuple[str, str]]:
    """Every (METHOD, path) the API serves, from its OpenAPI schema."""
    schema = client.get("/api/v1/openapi.json").json()
    return sorted(
        (method.upper(), path.removeprefix("/api/v1"))
        for path, methods in schema["paths"].items()
        for method in methods
    )


WRITES = {"POST", "PATCH", "PUT", "DELETE"}


@pytest.fixture
def two_cafes(alice_cafe, charlie_bakery, points, cake_reward, dora, eve, make):
    """Alice's café and Charlie's bakery, each with a customer, a purchase, a voucher, a promo
    card, a reward, a program and a location: a code of every kind the API takes."""
    give(dora, points, 500)
    theirs = points_program(charlie_bakery)
    their_reward = Reward.objects.create(
        business=charlie_bakery, program=theirs, name="Bread", kind="free_product", cost=5
    )
    give(eve, theirs, 500)

    def codes(business, customer, program, reward):
        return {
            "customer": customer.code,
            "purchase": make.purchase(business, customer, amount="20.00").code,
            "voucher": redeem(customer=customer, reward=reward, idempotency_key=key()).code,
            "promo": issue_promo_card(
                customer=customer, kind="fixed", value=Decimal(1), idempotency_key=key()
            ).code,
            "reward": reward.code,
            "program": program.code,
            "location": Location.objects.get(business=business).code,
        }

    return codes(alice_cafe, dora, points, cake_reward), codes(
        charlie_bakery, eve, theirs, their_reward
    )


def path_with(path: str, codes: dict) -> str:
    """Fill {code} with the code of the kind the path's first segment names."""
    kind = {"customers": "customer", "purchases": "purchase", "vouchers": "voucher"}
    kind["promo-cards"] = "promo"
    first = path.strip("/").split("/")[0]
    return re.sub(r"\{\w+\}", codes.get(kind.get(first, ""), "NONE"), path)


def valid_body(method: str, path: str, codes: dict) -> dict | None:
    """A body the endpoint would accept with the caller's own codes."""
    if method not in WRITES:
        return None
    bodies = {
        "/customers": {"name": "Someone New"},
        "/customers/{code}": {"name": "Renamed"},
        "/customers/{code}/redemptions": {"reward": codes["reward"]},
        "/customers/{code}/credit-payments": {"program": codes["program"], "amount": "1.00"},
        "/customers/{code}/adjustments": {"program": codes["program"], "amount": 5, "reason": "x"},
        "/customers/{code}/promo-cards": {"kind": "fixed", "value": "1.00"},
        "/purchases": {"customer": codes["customer"], "amount": "2.00"},
        "/purchases/{code}/refunds": {"amount": "1.00"},
        "/vouchers/{code}/use": {},
        "/promo-cards/{code}/use": {},
    }
    return bodies[path]


def test_a_key_of_one_business_gets_404_for_every_id_of_another_on_every_endpoint(
    client, api, two_cafes, alice_cafe
):
    mine, theirs = two_cafes
    caller = api(alice_cafe)
    operations = schema_operations(client)
    with_ids = [(m, p) for m, p in operations if "{" in p]
    assert len(with_ids) >= 11, with_ids
    for method, path in with_ids:
        url = path_with(path, theirs)
        body = valid_body(method, path, mine)
        response = caller.call(method.lower(), url, body)
        assert response.status_code == 404, (method, path, response.content)
        assert error_of(response, 404)["code"] == "not_found"

    # Codes of the other business in a body or a filter are not found either (422 on the field).
    def refused(method, url, body, field):
        response = caller.call(method, url, body)
        assert error_of(response, 422)["field"] == field, (url, body)

    refused("post", "/purchases", {"customer": theirs["customer"], "amount": "1"}, "customer")
    refused("post", "/purchases", {"location": theirs["location"], "amount": "1"}, "location")
    redemptions = f"/customers/{mine['customer']}/redemptions"
    refused("post", redemptions, {"reward": theirs["reward"]}, "reward")
    refused(
        "post", redemptions, {"reward": mine["reward"], "location": theirs["location"]}, "location"
    )
    refused(
        "post", f"/vouchers/{mine['voucher']}/use", {"purchase": theirs["purchase"]}, "purchase"
    )
    credit = f"/customers/{mine['customer']}/credit-payments"
    refused("post", credit, {"program": theirs["program"], "amount": "1.00"}, "program")
    adjustments = f"/customers/{mine['customer']}/adjustments"
    refused(
        "post", adjustments, {"program": theirs["program"], "amount": 5, "reason": "x"}, "program"
    )
    refused(
        "post", f"/promo-cards/{mine['promo']}/use", {"purchase": theirs["purchase"]}, "purchase"
    )

    # Lists never show the other business's objects, whatever the filter.
    for method, path in operations:
        if method == "GET" and "{" not in path:
            text = caller.get(path).content.decode()
            assert not any(code in text for code in theirs.values()), path
    assert caller.get("/rewards", {"program": theirs["program"]}).json() == []
    assert caller.get("/purchases", {"customer": theirs["customer"]}).json()["items"] == []
    ledger = f"/customers/{mine['customer']}/ledger"
    assert caller.get(ledger, {"program": theirs["program"]}).json()["items"] == []

    # Nothing of Charlie's changed.
    assert Voucher.objects.get(code=theirs["voucher"]).status == "issued"
    assert PromoCard.objects.get(code=theirs["promo"]).status == "issued"
    assert Purchase.objects.get(code=theirs["purchase"]).refunded == 0


def test_a_read_only_key_is_refused_on_every_write(client, api, alice_cafe, two_cafes):
    mine, _ = two_cafes
    reader = api(alice_cafe, scope="read")
    writes = [(m, p) for m, p in schema_operations(client) if m in WRITES]
    assert len(writes) >= 8, writes
    before = LedgerEntry.objects.count(), Purchase.objects.count(), PromoCard.objects.count()
    for method, path in writes:
        response = reader.call(
            method.lower(), path_with(path, mine), valid_body(method, path, mine)
        )
        assert error_of(response, 403)["field"] == "Authorization", (method, path)
    assert (
        LedgerEntry.objects.count(),
        Purchase.objects.count(),
        PromoCard.objects.count(),
    ) == before


# --- store credit and corrections -------------------------------------------------------------


def test_store_credit_pays_once_per_key_and_never_more_than_available(api, alice_cafe, dora):
    cashback = Program.objects.create(
        business=alice_cafe, kind="cashback", name="Back", config={"percent": "10"}
    )
    caller = api(alice_cafe)
    caller.post("/purchases", {"customer": dora.code, "amount": "50.00"})  # 5.00 of credit
    body = {"program": cashback.code, "amount": "3.50"}
    first = caller.post(f"/customers/{dora.code}/credit-payments", body,
                        headers={"Idempotency-Key": "till-7"})  # fmt: skip
    again = caller.post(f"/customers/{dora.code}/credit-payments", body,
                        headers={"Idempotency-Key": "till-7"})  # fmt: skip
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert first.json()["amount"] == "-3.50" and first.json()["kind"] == "redeem"
    too_much = caller.post(f"/customers/{dora.code}/credit-payments", body)
    assert error_of(too_much, 422)["field"] == "amount"
    summary = caller.get(f"/customers/{dora.code}/loyalty").json()
    assert summary["credit"][0]["available"] == "1.50"
    points_only = Program.objects.create(business=alice_cafe, kind="points", name="P")
    wrong = caller.post(
        f"/customers/{dora.code}/credit-payments", {"program": points_only.code, "amount": "1"}
    )
    assert error_of(wrong, 422)["field"] == "program"


def test_a_correction_is_written_with_its_reason_and_never_goes_below_zero(
    api, alice_cafe, dora, points
):
    caller = api(alice_cafe)
    added = caller.post(
        f"/customers/{dora.code}/adjustments",
        {"program": points.code, "amount": 40, "reason": "points lost with an old card"},
    )
    assert added.status_code == 201
    assert (added.json()["kind"], added.json()["amount"]) == ("adjust", 40)
    assert added.json()["reason"] == "points lost with an old card"
    taken = caller.post(
        f"/customers/{dora.code}/adjustments",
        {"program": points.code, "amount": -15, "reason": "double entry"},
    )
    assert taken.json()["amount"] == -15
    below = caller.post(
        f"/customers/{dora.code}/adjustments",
        {"program": points.code, "amount": -100, "reason": "too much"},
    )
    assert error_of(below, 422)["field"] == "amount"
    assert Account.objects.get(customer=dora, program=points).balance == 25
    no_reason = caller.post(
        f"/customers/{dora.code}/adjustments", {"program": points.code, "amount": 1, "reason": ""}
    )
    assert no_reason.status_code == 422
