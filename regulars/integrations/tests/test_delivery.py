"""Webhook delivery against a real HTTP receiver: signatures, retries, backoff, switching off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from regulars.integrations import deliveries
from regulars.integrations.deliveries import FAILURE_THRESHOLD, MAX_ATTEMPTS, RETRY_DELAYS, attempt
from regulars.integrations.events import emit
from regulars.integrations.models import WebhookDelivery, WebhookEndpoint
from regulars.integrations.tasks import deliver
from regulars.sales.purchases import record_purchase, refund_purchase

pytestmark = pytest.mark.django_db

START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
TASK_PATH = "regulars.integrations.tasks.deliver"


def endpoint_for(business, url, events=("*",)) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(business=business, url=url, events=list(events))


def assert_backoff(delivery: WebhookDelivery, failed_at: datetime, failures: int) -> None:
    base = RETRY_DELAYS[failures - 1]
    delay = delivery.next_attempt_at - failed_at
    assert base <= delay <= base * (1 + deliveries.JITTER), (failures, delay)


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers_200(
    alice_cafe, receiver, django_capture_on_commit_callbacks
):
    hook = receiver([500, 500, 200])
    endpoint = endpoint_for(alice_cafe, hook.url, ["customer.created"])
    hook.secret = endpoint.secret
    with time_machine.travel(START, tick=False) as clock:
        (delivery,) = emit(alice_cafe, "customer.created", {"customer": {"code": "DORA234567"}})
        assert delivery.status == "pending" and delivery.next_attempt_at == START

        with django_capture_on_commit_callbacks(execute=True):
            first = attempt(delivery)
        assert first.status_code == 500 and first.error == "HTTP 500"
        assert delivery.status == "failed" and delivery.attempts == 1
        assert_backoff(delivery, START, failures=1)
        # The retry is a task that the worker will not pick before its time.
        retry_task = DBTaskResult.objects.get(task_path=TASK_PATH)
        assert retry_task.run_after == delivery.next_attempt_at
        assert retry_task.args_kwargs == {"args": [delivery.pk], "kwargs": {}}

        # Not due yet: nothing is sent.
        clock.move_to(delivery.next_attempt_at - timedelta(seconds=1))
        assert attempt(delivery) is None
        assert len(hook.requests) == 1

        second_at = delivery.next_attempt_at
        clock.move_to(second_at)
        assert attempt(delivery).status_code == 500
        assert delivery.attempts == 2
        assert_backoff(delivery, second_at, failures=2)

        third_at = delivery.next_attempt_at
        clock.move_to(third_at)
        # The task the worker runs is a thin wrapper around attempt().
        assert deliver.call(delivery.pk) == "succeeded"

    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.delivered_at == third_at
    assert delivery.next_attempt_at is None
    log = list(delivery.attempts_log.order_by("at"))
    assert [(a.at, a.status_code) for a in log] == [
        (START, 500),
        (second_at, 500),
        (third_at, 200),
    ]
    assert all(a.response_ms >= 0 for a in log)
    assert log[-1].response_excerpt == '{"seen": 3}' and log[-1].error == ""
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.consecutive_failures == 0

    # What the receiver saw: three signed POSTs of the same delivery, stamped with their time.
    assert [r["valid"] for r in hook.requests] == [True, True, True]
    assert {r["delivery"] for r in hook.requests} == {delivery.code}
    assert {r["event"] for r in hook.requests} == {"customer.created"}
    assert {r["content_type"] for r in hook.requests} == {"application/json"}
    assert [r["timestamp"] for r in hook.requests] == [
        int(t.timestamp()) for t in (START, second_at, third_at)
    ]
    assert hook.requests[0]["json"] == {
        "id": delivery.code,
        "event": "customer.created",
        "created_at": "2030-03-04T09:00:00Z",
        "business": "alice-cafe",
        "data": {"customer": {"code": "DORA234567"}},
    }


def test_a_wrong_secret_fails_the_signature_check(alice_cafe, receiver):
    hook = receiver([200])
    endpoint = endpoint_for(alice_cafe, hook.url)
    hook.secret = "whsec_not-the-one"
    (delivery,) = emit(alice_cafe, "customer.created", {})
    assert attempt(delivery).status_code == 400
    assert hook.requests[0]["valid"] is False
    # After rotation the receiver with the new secret accepts the retry.
    deliveries.rotate_secret(endpoint)
    assert endpoint.secret != hook.secret
    hook.secret = endpoint.secret
    assert deliveries.resend(delivery).status_code == 200
    assert hook.requests[1]["valid"] is True


def test_a_redirect_is_a_failure_not_followed(alice_cafe, receiver):
    hook = receiver([302])
    hook.secret = endpoint_for(alice_cafe, hook.url).secret
    (delivery,) = emit(alice_cafe, "customer.created", {})
    logged = attempt(delivery)
    assert logged.status_code == 302 and logged.error == "redirects are not followed"
    assert delivery.status == "failed" and len(hook.requests) == 1


def test_an_endpoint_refusing_connections_is_switched_off_after_the_threshold_and_owners_told(
    alice_cafe, closed_port_url, mailoutbox, django_capture_on_commit_callbacks, client, alice
):
    endpoint = endpoint_for(alice_cafe, closed_port_url)
    events = [emit(alice_cafe, "customer.created", {"n": n})[0] for n in range(FAILURE_THRESHOLD)]
    for n, delivery in enumerate(events, start=1):
        with django_capture_on_commit_callbacks(execute=True):
            logged = attempt(delivery)
        assert logged.status_code is None and "refused" in logged.error.lower(), logged.error
        endpoint.refresh_from_db()
        assert endpoint.consecutive_failures == n
        assert endpoint.active == (n < FAILURE_THRESHOLD)

    assert endpoint.disabled_reason == WebhookEndpoint.DisabledReason.FAILURES
    assert endpoint.disabled_at is not None
    # Its open deliveries end; new events are not queued for it; nothing is due any more.
    assert set(endpoint.deliveries.values_list("status", flat=True)) == {"dead"}
    assert emit(alice_cafe, "customer.created", {}) == []
    assert not deliveries.due().exists()

    # One e-mail to the owner (Alice), none to the cashier (Bob).
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]
    assert closed_port_url in mailoutbox[0].body
    assert f"/b/alice-cafe/integrations/webhooks/{endpoint.code}/" in mailoutbox[0].body
    assert "switched off" in mailoutbox[0].subject

    # And a banner on the integrations page until she switches it on again.
    client.force_login(alice)
    page = client.get("/b/alice-cafe/integrations/").text
    assert "was switched off" in page and closed_port_url in page
    deliveries.enable(endpoint)
    assert endpoint.active and endpoint.consecutive_failures == 0
    assert "was switched off" not in client.get("/b/alice-cafe/integrations/").text


def test_a_delivery_failing_every_retry_goes_dead_and_switches_the_endpoint_off(
    alice_cafe, receiver, mailoutbox, django_capture_on_commit_callbacks
):
    hook = receiver([503])
    endpoint = endpoint_for(alice_cafe, hook.url)
    hook.secret = endpoint.secret
    with time_machine.travel(START, tick=False) as clock:
        (delivery,) = emit(alice_cafe, "purchase.recorded", {"purchase": {"code": "P"}})
        times = []
        while delivery.next_attempt_at is not None:
            clock.move_to(delivery.next_attempt_at)
            times.append(delivery.next_attempt_at)
            with django_capture_on_commit_callbacks(execute=True):
                assert attempt(delivery).status_code == 503
    assert len(times) == MAX_ATTEMPTS == 8
    assert delivery.status == "dead" and delivery.attempts == MAX_ATTEMPTS
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    for gap, base in zip(gaps, RETRY_DELAYS, strict=True):
        assert base <= gap <= base * (1 + deliveries.JITTER)
    # About a day and a half from the first attempt to the last.
    assert timedelta(hours=34) < times[-1] - times[0] < timedelta(hours=39)
    endpoint.refresh_from_db()
    assert not endpoint.active
    assert endpoint.disabled_reason == WebhookEndpoint.DisabledReason.DEAD_DELIVERY
    assert len(mailoutbox) == 1
    # One retry task per failure but the last.
    assert DBTaskResult.objects.filter(task_path=TASK_PATH).count() == MAX_ATTEMPTS - 1


def test_a_recorded_purchase_produces_a_purchase_recorded_delivery(
    alice_cafe, charlie_bakery, make, receiver, django_capture_on_commit_callbacks
):
    hook = receiver([200])
    endpoint = endpoint_for(alice_cafe, hook.url, ["purchase.recorded", "purchase.refunded"])
    hook.secret = endpoint.secret
    endpoint_for(alice_cafe, hook.url, ["customer.created"])  # not subscribed
    endpoint_for(charlie_bakery, hook.url, ["*"])  # another business
    dora = make.customer(alice_cafe, name="Dora", email="dora@example.com")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        purchase, _ = record_purchase(
            business=alice_cafe, customer=dora, amount=Decimal("4.50"), external_id="till-7"
        )
    assert callbacks, "the sale announces itself after commit"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.business, delivery.endpoint, delivery.event) == (
        alice_cafe,
        endpoint,
        "purchase.recorded",
    )
    data = delivery.payload["data"]["purchase"]
    assert data["code"] == purchase.code
    assert data["customer"] == dora.code
    assert data["total"] == "4.50" and data["refunded"] == "0.00"
    assert data["currency"] == "EUR" and data["external_id"] == "till-7"
    assert data["lines"] == [{"name": "", "quantity": 1, "unit_price": "4.50", "amount": "4.50"}]
    assert data["location"] is None and data["refunds"] == []
    assert not _has_key(delivery.payload["data"], {"id", "pk", "business_id", "customer_id"})
    # emit enqueued the first attempt once the delivery had committed.
    queued = DBTaskResult.objects.ready().get(task_path=TASK_PATH)
    assert queued.args_kwargs["args"] == [delivery.pk]
    assert deliver.call(delivery.pk) == "succeeded"
    assert hook.requests[0]["json"] == delivery.payload and hook.requests[0]["valid"]

    with django_capture_on_commit_callbacks(execute=True):
        refund, _ = refund_purchase(purchase=purchase, amount=Decimal("1.50"), reason="cold")
    refunded = WebhookDelivery.objects.get(event="purchase.refunded")
    assert refunded.payload["data"]["refund"] == {
        "code": refund.code,
        "amount": "1.50",
        "reason": "cold",
        "occurred_at": refunded.payload["data"]["refund"]["occurred_at"],
    }
    assert refunded.payload["data"]["purchase"]["refunded"] == "1.50"


def _has_key(value, keys: set[str]) -> bool:
    """Whether any object inside `value` has one of `keys` (primary keys would look like that)."""
    if isinstance(value, dict):
        return any(k in keys or _has_key(v, keys) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_key(v, keys) for v in value)
    return False


def test_the_customer_created_signal_produces_customer_created(alice_cafe, make):
    from regulars.customers.models import Customer
    from regulars.customers.signals import customer_created

    endpoint_for(alice_cafe, "https://example.com/hook", ["customer.created"])
    ann = make.customer(alice_cafe, name="Ann", email="ann@example.com")
    customer_created.send(sender=Customer, customer=ann)
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.payload["data"]["customer"]["code"] == ann.code
    assert delivery.payload["data"]["customer"]["email"] == "ann@example.com"
    assert delivery.payload["data"]["customer"]["card_code"] == ann.card_code


def test_a_new_customer_produces_customer_created(alice_cafe, django_capture_on_commit_callbacks):
    from regulars.customers.records import CustomerInput, create_customer

    endpoint_for(alice_cafe, "https://example.com/hook", ["customer.created"])
    with django_capture_on_commit_callbacks(execute=True):
        customer, created = create_customer(
            business=alice_cafe, data=CustomerInput(name="Ann", email="ann@example.com")
        )
    assert created
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.payload["data"]["customer"]["code"] == customer.code


def test_an_unknown_event_is_refused(alice_cafe):
    with pytest.raises(ValueError, match="unknown webhook event"):
        emit(alice_cafe, "coffee.spilled", {})


def test_the_deliver_command_sends_every_due_delivery(alice_cafe, receiver, capsys):
    hook = receiver([200])
    hook.secret = endpoint_for(alice_cafe, hook.url).secret
    first = emit(alice_cafe, "customer.created", {"n": 1})[0]
    second = emit(alice_cafe, "purchase.recorded", {"n": 2})[0]
    call_command("webhooks", "deliver")
    out = capsys.readouterr()
    assert first.code in out.out and second.code in out.out
    assert "2 delivered, 0 failed." in out.err
    assert [r["delivery"] for r in hook.requests] == [first.code, second.code]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
    call_command("webhooks", "deliver")  # nothing due any more
    assert len(hook.requests) == 2
    assert "0 delivered, 0 failed." in capsys.readouterr().err


def test_a_test_event_is_tried_once_and_not_retried(alice_cafe, closed_port_url):
    endpoint = endpoint_for(alice_cafe, closed_port_url, ["purchase.recorded"])
    logged = deliveries.send_test(endpoint)
    assert logged.status_code is None
    delivery = logged.delivery
    assert delivery.event == "webhook.test" and delivery.status == "failed"
    assert delivery.next_attempt_at is None


def test_the_documented_openssl_check_agrees_with_the_signature(alice_cafe, tmp_path):
    """docs/webhooks.md's shell recipe, run on a real delivery body."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    endpoint = endpoint_for(alice_cafe, "https://example.com/hook")
    (delivery,) = emit(alice_cafe, "purchase.recorded", {"purchase": {"name": "Kávé €"}})
    body = deliveries.body_of(delivery)
    (tmp_path / "body.json").write_bytes(body)
    header = deliveries.sign(endpoint.secret, 1767225600, body)
    t, v1 = (part.split("=", 1)[1] for part in header.split(","))
    script = (
        f"printf '%s.' \"{t}\" | cat - body.json "
        f"| openssl dgst -sha256 -hmac \"$SECRET\" -r | cut -d' ' -f1"
    )
    out = subprocess.run(
        ["sh", "-c", script],
        cwd=tmp_path,
        env={"SECRET": endpoint.secret, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == v1


def test_an_event_nobody_subscribed_to_costs_one_query(alice_cafe, django_assert_num_queries):
    endpoint_for(alice_cafe, "https://example.com/hook", ["customer.created"])
    built = []
    with django_assert_num_queries(1):
        assert emit(alice_cafe, "purchase.recorded", lambda: built.append(1) or {}) == []
    assert built == []  # the payload was never built


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(alice_cafe, receiver, monkeypatch):
    monkeypatch.setattr(deliveries, "TIMEOUT_SECONDS", 0.2)
    hook = receiver(["slow"])
    hook.secret = endpoint_for(alice_cafe, hook.url).secret
    (delivery,) = emit(alice_cafe, "customer.created", {})
    logged = attempt(delivery)
    assert logged.status_code is None and logged.error == "timed out after 0.2 s"
    assert 150 <= logged.response_ms < 500
    assert delivery.status == "failed" and delivery.next_attempt_at is not None


def test_an_endpoint_created_in_this_process_gets_the_very_next_event(alice_cafe, charlie_bakery):
    assert emit(alice_cafe, "customer.created", {}) == []  # remembered: Alice has no endpoint
    endpoint = endpoint_for(alice_cafe, "https://example.com/hook")
    (delivery,) = emit(alice_cafe, "customer.created", {})
    assert delivery.endpoint == endpoint
    assert emit(charlie_bakery, "customer.created", {}) == []  # and only Alice's
    endpoint.active = False
    endpoint.save()
    assert emit(alice_cafe, "customer.created", {}) == []
    deliveries.enable(endpoint)  # an UPDATE: no signal, the cache is told all the same
    assert len(emit(alice_cafe, "customer.created", {})) == 1
    endpoint.delete()
    assert emit(alice_cafe, "customer.created", {}) == []
    other = endpoint_for(alice_cafe, "https://example.com/other")
    assert [d.endpoint for d in emit(alice_cafe, "customer.created", {})] == [other]


def test_an_endpoint_created_by_another_process_gets_events_within_the_ttl(alice_cafe, monkeypatch):
    from regulars.integrations import models
    from regulars.lib import ttlcache

    assert emit(alice_cafe, "customer.created", {}) == []
    WebhookEndpoint.objects.bulk_create(  # no signal, as in another process
        [WebhookEndpoint(business=alice_cafe, url="https://example.com/hook", events=["*"])]
    )
    later = ttlcache.time.monotonic() + models.LISTENING_TTL_S + 1
    monkeypatch.setattr(ttlcache.time, "monotonic", lambda: later)
    assert len(emit(alice_cafe, "customer.created", {})) == 1


def test_an_endpoint_switched_off_by_another_process_gets_nothing_more(alice_cafe):
    endpoint = endpoint_for(alice_cafe, "https://example.com/hook")
    assert len(emit(alice_cafe, "customer.created", {})) == 1
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)  # no signal
    assert emit(alice_cafe, "customer.created", {}) == []
