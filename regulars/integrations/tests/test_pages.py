"""Owner pages: API keys and webhook endpoints; the cashier and other businesses are kept out."""

from __future__ import annotations

import pytest
from django.urls import reverse

from regulars.accounts.models import ApiKey
from regulars.integrations import deliveries
from regulars.integrations.events import emit
from regulars.integrations.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

SLUG = "alice-cafe"


def url(name, *args, slug=SLUG):
    return reverse(name, args=[slug, *args])


@pytest.fixture
def owner(client, alice):
    client.force_login(alice)
    return client


def test_an_api_key_is_shown_once_and_works_against_the_api(owner, alice_cafe, alice, make):
    make.customer(alice_cafe, name="Dora")
    response = owner.post(url("apikey_create"), {"name": "Till 1", "scope": "read"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    token = response.context["token"]
    assert token.startswith("rg_") and token in response.text
    key = ApiKey.objects.get(business=alice_cafe)
    assert (key.name, key.scope, key.created_by) == ("Till 1", "read", alice)
    assert token not in key.hashed

    api = owner.get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.status_code == 200 and api.json()["items"][0]["name"] == "Dora"

    listing = owner.get(url("integrations")).text
    assert token not in listing  # never again
    assert f"rg_{key.prefix}" in listing and "Till 1" in listing and "Read only" in listing

    response = owner.post(url("apikey_revoke", key.prefix))
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    api = owner.get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.status_code == 401


def test_bad_key_and_endpoint_input_names_the_field_and_writes_nothing(owner, alice_cafe):
    response = owner.post(url("apikey_create"), {"name": "", "scope": "admin"})
    assert response.status_code == 200
    form = response.context["key_form"]
    assert set(form.errors) == {"name", "scope"}
    assert "This field is required." in response.text

    for data, field, message in [
        ({"url": "ftp://example.com/x", "events": ["*"]}, "url", "Use an http:// or https:// URL."),
        ({"url": "javascript:alert(1)", "events": ["*"]}, "url", "Use an http:// or https:// URL."),
        ({"url": "https://exa mple.com/", "events": ["*"]}, "url", "Enter a valid URL."),
        ({"url": "https://example.com/hook"}, "events", "Choose at least one event."),
        (
            {"url": "https://example.com/hook", "events": ["coffee.spilled"]},
            "events",
            "valid choice",
        ),
    ]:
        response = owner.post(url("webhook_create"), data)
        assert response.status_code == 200
        errors = response.context["endpoint_form"].errors
        assert list(errors) == [field], data
        assert message in errors[field][0], errors
    assert not ApiKey.objects.exists() and not WebhookEndpoint.objects.exists()


def test_owner_adds_an_endpoint_sees_its_secret_rotates_it_and_deletes_it(owner, alice_cafe):
    response = owner.post(
        url("webhook_create"),
        {"url": "https://pos.example.com/hook", "events": ["purchase.recorded", "tier.changed"]},
    )
    endpoint = WebhookEndpoint.objects.get(business=alice_cafe)
    assert response.status_code == 302 and response["Location"] == url(
        "webhook_detail", endpoint.code
    )
    assert endpoint.events == ["purchase.recorded", "tier.changed"]
    assert endpoint.active and endpoint.secret.startswith("whsec_")
    page = owner.get(response["Location"]).text
    assert endpoint.secret in page and "purchase.recorded" in page

    old = endpoint.secret
    assert owner.post(url("webhook_rotate", endpoint.code)).status_code == 302
    endpoint.refresh_from_db()
    assert (
        endpoint.secret != old
        and endpoint.secret in owner.get(url("webhook_detail", endpoint.code)).text
    )

    # "All events" wins over single ones.
    owner.post(url("webhook_create"), {"url": "http://10.0.0.5/x", "events": ["*", "tier.changed"]})
    assert WebhookEndpoint.objects.get(url="http://10.0.0.5/x").events == ["*"]

    emit(alice_cafe, "purchase.recorded", {})
    assert owner.post(url("webhook_delete", endpoint.code)).status_code == 302
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookDelivery.objects.filter(endpoint_id=endpoint.pk).exists()


def test_the_log_shows_deliveries_and_resend_and_test_send_now(owner, alice_cafe, receiver):
    hook = receiver([500, 200])
    endpoint = WebhookEndpoint.objects.create(
        business=alice_cafe, url=hook.url, events=["purchase.recorded"]
    )
    hook.secret = endpoint.secret
    (delivery,) = emit(alice_cafe, "purchase.recorded", {"purchase": {"code": "PURCH12345"}})
    deliveries.attempt(delivery)  # 500

    page = owner.get(url("webhook_detail", endpoint.code))
    assert page.status_code == 200
    text = page.text
    assert delivery.code in text and "purchase.recorded" in text and "PURCH12345" in text
    assert "Failed" in text and ">500<" in text and "HTTP 500" in text

    response = owner.post(url("webhook_resend", endpoint.code, delivery.code), follow=True)
    assert "Delivered: HTTP 200" in response.text
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts_log.count() == 2

    response = owner.post(url("webhook_test", endpoint.code), follow=True)
    assert "Delivered: HTTP 200" in response.text
    assert hook.requests[-1]["event"] == "webhook.test" and hook.requests[-1]["valid"]
    assert WebhookDelivery.objects.filter(endpoint=endpoint, event="webhook.test").count() == 1


def test_a_switched_off_endpoint_can_be_switched_on_and_is_not_sent_to_before(
    owner, alice_cafe, closed_port_url
):
    endpoint = WebhookEndpoint.objects.create(
        business=alice_cafe, url=closed_port_url, events=["*"]
    )
    (delivery,) = emit(alice_cafe, "purchase.recorded", {})
    deliveries.switch_off(endpoint, WebhookEndpoint.DisabledReason.FAILURES)
    page = owner.get(url("webhook_detail", endpoint.code)).text
    assert "Switched off on" in page and "Too many consecutive failed attempts" in page

    response = owner.post(url("webhook_resend", endpoint.code, delivery.code), follow=True)
    assert "Switch the endpoint on before sending to it." in response.text
    response = owner.post(url("webhook_test", endpoint.code), follow=True)
    assert "Switch the endpoint on before sending to it." in response.text
    assert not delivery.attempts_log.exists()

    assert owner.post(url("webhook_enable", endpoint.code)).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.disabled_at is None and endpoint.disabled_reason == ""
    response = owner.post(url("webhook_resend", endpoint.code, delivery.code), follow=True)
    assert "The attempt failed" in response.text and "retried automatically" in response.text


def test_the_cashier_gets_403_everywhere(client, bob, alice_cafe):
    endpoint = WebhookEndpoint.objects.create(
        business=alice_cafe, url="https://e.com/", events=["*"]
    )
    client.force_login(bob)
    assert client.get(url("integrations")).status_code == 403
    assert client.post(url("apikey_create"), {"name": "x", "scope": "write"}).status_code == 403
    assert (
        client.post(url("webhook_create"), {"url": "https://e.com/", "events": ["*"]}).status_code
        == 403
    )
    assert client.get(url("webhook_detail", endpoint.code)).status_code == 403
    assert client.post(url("webhook_delete", endpoint.code)).status_code == 403
    assert not ApiKey.objects.exists() and WebhookEndpoint.objects.count() == 1


def test_charlies_codes_give_404_to_alice_and_change_nothing(owner, charlie_bakery):
    theirs = WebhookEndpoint.objects.create(
        business=charlie_bakery, url="https://charlie.example/secret-hook", events=["*"]
    )
    (delivery,) = emit(charlie_bakery, "purchase.recorded", {})
    from regulars.accounts.apikeys import create_key

    key, _ = create_key(business=charlie_bakery, name="Charlie's till")
    urls = [
        url("webhook_detail", theirs.code),
        url("webhook_rotate", theirs.code),
        url("webhook_enable", theirs.code),
        url("webhook_delete", theirs.code),
        url("webhook_test", theirs.code),
        url("webhook_resend", theirs.code, delivery.code),
        url("apikey_revoke", key.prefix),
        # Charlie's pages under his own slug: Alice is no member there.
        url("integrations", slug=charlie_bakery.slug),
        url("webhook_detail", theirs.code, slug=charlie_bakery.slug),
    ]
    for target in urls:
        for method in ("get", "post"):
            response = getattr(owner, method)(target)
            assert response.status_code == 404, (method, target)
            assert "charlie.example" not in response.text
    assert "charlie.example" not in owner.get(url("integrations")).text
    before = theirs.secret
    theirs.refresh_from_db()
    key.refresh_from_db()
    assert theirs.secret == before and key.revoked_at is None
    assert not delivery.attempts_log.exists()


def test_alices_own_endpoint_does_not_resend_charlies_delivery(owner, alice_cafe, charlie_bakery):
    mine = WebhookEndpoint.objects.create(
        business=alice_cafe, url="https://a.example/", events=["*"]
    )
    WebhookEndpoint.objects.create(business=charlie_bakery, url="https://c.example/", events=["*"])
    (theirs,) = emit(charlie_bakery, "purchase.recorded", {})
    assert owner.post(url("webhook_resend", mine.code, theirs.code)).status_code == 404


def test_changes_need_post(owner, alice_cafe):
    endpoint = WebhookEndpoint.objects.create(
        business=alice_cafe, url="https://e.com/", events=["*"]
    )
    for target in [
        url("apikey_create"),
        url("webhook_create"),
        url("webhook_rotate", endpoint.code),
        url("webhook_delete", endpoint.code),
        url("webhook_test", endpoint.code),
    ]:
        assert owner.get(target).status_code == 405, target
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_the_isolation_walk_finds_no_way_to_charlies_webhooks(owner, alice_cafe, charlie_bakery):
    """The project-wide walk (accounts/tests/test_isolation.py), with webhook objects to probe."""
    from regulars.accounts.tests.test_isolation import business_routes, coded_objects, fill

    theirs = WebhookEndpoint.objects.create(
        business=charlie_bakery, url="https://charlie.example/hook", events=["*"]
    )
    emit(charlie_bakery, "purchase.recorded", {})
    foreign = coded_objects(charlie_bakery)
    assert {label for label, _, _ in foreign} >= {
        "integrations.WebhookEndpoint",
        "integrations.WebhookDelivery",
    }
    routes = [
        r
        for r, _ in business_routes()
        if r.count("<") > 1 and ("integrations/webhooks/" in r or "integrations/keys/" in r)
    ]
    assert len(routes) == 7
    for route in routes:
        for _label, code, text in foreign:
            for method in ("get", "post"):
                response = getattr(owner, method)(fill(route, alice_cafe.slug, code))
                assert response.status_code == 404, (method, route, code)
                assert text not in response.text
    theirs.refresh_from_db()
    assert theirs.active and WebhookEndpoint.objects.filter(pk=theirs.pk).exists()


def test_the_log_page_costs_the_same_queries_for_1_or_30_deliveries(owner, alice_cafe, receiver):
    hook = receiver([500, 200])
    endpoint = WebhookEndpoint.objects.create(business=alice_cafe, url=hook.url, events=["*"])
    hook.secret = endpoint.secret
    target = url("webhook_detail", endpoint.code)

    def queries_for_page() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert owner.get(target).status_code == 200
        return len(ctx)

    deliveries.attempt(emit(alice_cafe, "purchase.recorded", {})[0])
    one = queries_for_page()
    for _ in range(29):
        deliveries.attempt(emit(alice_cafe, "purchase.recorded", {})[0])
    assert queries_for_page() == one
