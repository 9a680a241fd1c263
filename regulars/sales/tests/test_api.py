"""REST API: keys, one error shape, idempotent writes, cursors, and isolation between businesses."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from regulars.accounts.apikeys import revoke
from regulars.sales.models import Purchase

pytestmark = pytest.mark.django_db


def error_of(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "field"}, body
    return body


def test_it_refuses_missing_wrong_and_revoked_keys(client, api, alice_cafe):
    assert error_of(client.get("/api/v1/customers"), 401)["field"] == "Authorization"
    caller = api(alice_cafe)
    assert caller.get("/customers", token="rg_deadbeef_nope").status_code == 401
    assert caller.get("/customers").status_code == 200
    revoke(caller.key)
    assert error_of(caller.get("/customers"), 401)["code"] == "unauthorized"


def test_a_read_only_key_cannot_write(api, alice_cafe):
    reader = api(alice_cafe, scope="read")
    body = error_of(reader.post("/customers", {"name": "Ann"}), 403)
    assert body["code"] == "forbidden"


def test_creating_the_same_person_twice_finds_the_first_record(api, alice_cafe):
    caller = api(alice_cafe)
    first = caller.post(
        "/customers", {"name": "Ann", "email": "Ann@Example.com", "phone": "+36 30 111 2222"}
    )
    assert first.status_code == 201
    again = caller.post("/customers", {"name": "Ann B.", "phone": "+36301112222"})
    assert again.status_code == 200
    assert again.json()["code"] == first.json()["code"]
    assert first.json()["email"] == "ann@example.com" and first.json()["phone"] == "+36301112222"


def test_bad_input_names_the_field(api, alice_cafe):
    caller = api(alice_cafe)
    assert (
        error_of(caller.post("/customers", {"name": "Ann", "email": "not-an-email"}), 422)["field"]
        == "email"
    )
    assert error_of(caller.post("/customers", {"email": "a@b.hu"}), 422)["field"] == "name"
    body = error_of(
        caller.post("/purchases", {"lines": [{"unit_price": "1.00", "quantity": 0}]}), 422
    )
    assert body["field"] == "lines.0.quantity"
    body = error_of(caller.post("/purchases", {"customer": "NOPE", "amount": "3.00"}), 422)
    assert body["field"] == "customer"
    assert Purchase.objects.count() == 0  # nothing half-done by the refused requests
    # A JSON number is read through its decimal text, so 1.5 is exactly 1.50, never a float.
    assert caller.post("/purchases", {"amount": 1.5}).status_code == 201
    assert Purchase.objects.get().total == Decimal("1.50")
    assert error_of(caller.get("/customers", {"cursor": "forged"}), 422)["field"] == "cursor"


# Recording and refunding purchases (and what they earn): regulars/loyalty/tests/test_api.py.


def test_cursor_pagination_walks_every_customer_once(api, alice_cafe, make):
    codes = {make.customer(alice_cafe, name=f"C{i}").code for i in range(7)}
    caller = api(alice_cafe, scope="read")
    seen, cursor = [], None
    while True:
        page = caller.get(
            "/customers", {"limit": 3, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [c["code"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(codes) and len(seen) == 7


def test_a_key_of_one_business_gets_404_for_every_id_of_another(
    api, alice_cafe, charlie_bakery, make
):
    eve = make.customer(charlie_bakery, name="Eve Secret", email="eve@bakery.hu")
    bread = make.purchase(charlie_bakery, eve, amount="999.00")
    caller = api(alice_cafe)
    assert error_of(caller.get(f"/customers/{eve.code}"), 404)["code"] == "not_found"
    assert caller.patch(f"/customers/{eve.code}", {"name": "Hacked"}).status_code == 404
    assert caller.get(f"/purchases/{bread.code}").status_code == 404
    assert caller.post(f"/purchases/{bread.code}/refunds", {}).status_code == 404
    assert (
        error_of(caller.post("/purchases", {"customer": eve.code, "amount": "1"}), 422)["field"]
        == "customer"
    )
    assert caller.get("/customers", {"email": "eve@bakery.hu"}).json()["items"] == []
    assert caller.get("/purchases").json()["items"] == []
    eve.refresh_from_db()
    bread.refresh_from_db()
    assert eve.name == "Eve Secret" and bread.refunded == 0
    # Same e-mail in Alice's café is a different person: no cross-business matching.
    mine = caller.post("/customers", {"name": "Eve Too", "email": "eve@bakery.hu"})
    assert mine.status_code == 201 and mine.json()["code"] != eve.code


def test_too_many_requests_get_429_with_retry_after(api, alice_cafe):
    from django.core.cache import cache

    from regulars.api import api as ninja_api

    throttle = ninja_api.throttle[0]
    saved = throttle.num_requests
    throttle.num_requests = 3
    cache.clear()
    try:
        caller = api(alice_cafe, scope="read")
        statuses = [caller.get("/customers").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        response = caller.get("/customers")
        assert error_of(response, 429)["code"] == "rate_limited"
        assert int(response["Retry-After"]) >= 1
    finally:
        throttle.num_requests = saved
        cache.clear()


def test_openapi_schema_is_served(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/purchases" in schema["paths"]


def test_a_product_created_renamed_or_deleted_is_seen_by_the_very_next_sale(
    api, alice_cafe, charlie_bakery
):
    from regulars.sales.models import Product

    caller = api(alice_cafe)
    sale = {"lines": [{"sku": "FLAT", "unit_price": "3.00"}]}

    def line_name():
        response = caller.post("/purchases", sale)
        assert response.status_code == 201, response.content
        return response.json()["lines"][0]["name"]

    assert error_of(caller.post("/purchases", sale), 422)["field"] == "lines.0.sku"
    Product.objects.create(business=charlie_bakery, sku="FLAT", name="Charlie's", price=1)
    assert error_of(caller.post("/purchases", sale), 422)["field"] == "lines.0.sku"  # not ours
    flat = Product.objects.create(business=alice_cafe, sku="FLAT", name="Flat white", price=3)
    assert line_name() == "Flat white"
    flat.name = "Flat white, large"
    flat.save()
    assert line_name() == "Flat white, large"
    assert api(charlie_bakery).post("/purchases", sale).json()["lines"][0]["name"] == "Charlie's"
    flat.delete()
    assert error_of(caller.post("/purchases", sale), 422)["field"] == "lines.0.sku"


def test_a_product_renamed_by_another_process_is_seen_once_the_cache_expires(
    api, alice_cafe, monkeypatch
):
    from regulars.lib import ttlcache
    from regulars.sales import models
    from regulars.sales.models import Product

    caller = api(alice_cafe)
    flat = Product.objects.create(business=alice_cafe, sku="FLAT", name="Flat white", price=3)
    sale = {"lines": [{"sku": "FLAT", "unit_price": "3.00"}]}
    assert caller.post("/purchases", sale).json()["lines"][0]["name"] == "Flat white"
    Product.objects.filter(pk=flat.pk).update(name="Renamed")  # no signal, as in another process
    later = ttlcache.time.monotonic() + models.PRODUCTS_TTL_S + 1
    monkeypatch.setattr(ttlcache.time, "monotonic", lambda: later)
    assert caller.post("/purchases", sale).json()["lines"][0]["name"] == "Renamed"


def test_a_time_with_any_offset_filters_purchases_in_utc(alice_cafe, api, make):
    """PostgreSQL takes offsets up to ±15:59 only; the API turns every instant into UTC first."""
    dora = make.customer(alice_cafe)
    make.purchase(alice_cafe, dora, amount="5", days_ago=2)
    recent = make.purchase(alice_cafe, dora, amount="6", days_ago=0)
    since = (timezone.now() - timedelta(days=1)).astimezone(timezone.get_fixed_timezone(23 * 60 + 45))
    answer = api(alice_cafe, "read").get("/purchases", {"since": since.isoformat()})
    assert answer.status_code == 200, answer.content
    assert [p["code"] for p in answer.json()["items"]] == [recent.code]
    far = api(alice_cafe, "read").get("/purchases", {"until": "0001-01-01T00:00:00+05:00"})
    assert far.status_code == 422 and "until" in far.content.decode()
