"""Sending webhook deliveries: sign, POST once, log, and decide what happens next.

`attempt()` is the one place that talks HTTP. The task, the `regulars webhooks deliver`
command and the Resend button all call it; it claims the delivery first with a conditional
UPDATE, so two workers that pick the same due delivery send it once.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from regulars.accounts.models import Membership, Role
from regulars.integrations.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    listening,
)

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5
# After the n-th failed attempt the next one comes RETRY_DELAYS[n-1] later (plus jitter);
# after the last attempt (len + 1 in all, ~35 hours after the first) the delivery is dead.
RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=8),
    timedelta(minutes=32),
    timedelta(hours=2),
    timedelta(hours=8),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# Up to this share of a delay is added at random, so endpoints that came back do not get every
# queued retry in the same second.
JITTER = 0.1
# This many failed attempts in a row (across deliveries) switch an endpoint off.
FAILURE_THRESHOLD = 20
# While one worker sends, the delivery is not due for others; longer than any one attempt.
CLAIM_LEASE = timedelta(seconds=TIMEOUT_SECONDS * 12)
EXCERPT_CHARS = 500
USER_AGENT = "Regulars-Webhooks/1"

OPEN = [WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Regulars-Signature header: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()


def retry_delay(failed_attempts: int) -> timedelta:
    """How long after the `failed_attempts`-th failure the next attempt comes (with jitter)."""
    base = RETRY_DELAYS[failed_attempts - 1]
    return base + base * (JITTER * random.random())


def due(now: datetime | None = None) -> QuerySet[WebhookDelivery]:
    """Deliveries whose next attempt is due, oldest first, of endpoints that are switched on."""
    return WebhookDelivery.objects.filter(
        status__in=OPEN,
        next_attempt_at__lte=now or timezone.now(),
        endpoint__active=True,
    ).order_by("next_attempt_at", "pk")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirected POST would arrive as a GET without the body: report the 3xx instead.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str, str]:
    """POST once. Returns (status code or None, response excerpt, error text)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, _excerpt(response), ""
    except urllib.error.HTTPError as exc:
        error = "redirects are not followed" if 300 <= exc.code < 400 else ""
        try:
            return exc.code, _excerpt(exc), error
        finally:
            exc.close()
    except urllib.error.URLError as exc:
        return None, "", _describe(exc.reason)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, "", _describe(exc)


def _excerpt(response) -> str:
    """The start of the answer; a body that breaks off does not undo the status it came with."""
    try:
        raw = response.read(EXCERPT_CHARS * 4)
    except (OSError, http.client.HTTPException):
        return ""
    return raw.decode("utf-8", "replace")[:EXCERPT_CHARS]


def _describe(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return f"timed out after {TIMEOUT_SECONDS} s"
    if isinstance(reason, OSError) and reason.strerror and not reason.filename:
        return reason.strerror[:300]  # "Connection refused", not "[Errno 111] Connection refused"
    text = str(reason) or type(reason).__name__
    return text[:300]


def attempt(delivery: WebhookDelivery, now: datetime | None = None) -> WebhookAttempt | None:
    """Make one attempt of a due delivery and record it; None if it was not due or not ours.

    Success (2xx) ends the delivery and resets the endpoint's failure count. A failure schedules
    the next attempt with backoff (a task with run_after), or marks the delivery dead after
    MAX_ATTEMPTS. FAILURE_THRESHOLD failures in a row, or a dead delivery, switch the endpoint
    off and tell the owners. Test events are tried once and never retried.
    """
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status__in=OPEN, next_attempt_at__lte=now, endpoint__active=True
    ).update(next_attempt_at=now + CLAIM_LEASE)
    if not claimed:
        return None
    endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
    body = body_of(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Regulars-Event": delivery.event,
        "Regulars-Delivery": delivery.code,
        "Regulars-Signature": sign(endpoint.secret, int(now.timestamp()), body),
    }
    started = time.perf_counter()
    status_code, excerpt, error = _post(endpoint.url, body, headers)
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    if status_code is not None and not 200 <= status_code < 300 and not error:
        error = f"HTTP {status_code}"
    return _record(delivery, now, status_code, elapsed_ms, error, excerpt)


def _record(
    delivery: WebhookDelivery,
    now: datetime,
    status_code: int | None,
    elapsed_ms: int,
    error: str,
    excerpt: str,
) -> WebhookAttempt | None:
    from regulars.integrations.events import TEST_EVENT

    with transaction.atomic():
        # Locks in a fixed order (endpoint, then delivery) so two workers cannot deadlock.
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=delivery.endpoint_id)
        endpoint = endpoint.first()
        locked = WebhookDelivery.objects.select_for_update().filter(pk=delivery.pk).first()
        if endpoint is None or locked is None:
            return None  # the owner deleted the endpoint while we were sending
        logged = WebhookAttempt.objects.create(
            delivery=locked,
            at=now,
            status_code=status_code,
            response_ms=max(elapsed_ms, 0),
            error=error[:300],
            response_excerpt=excerpt,
        )
        locked.attempts += 1
        if logged.succeeded:
            locked.status = WebhookDelivery.Status.SUCCEEDED
            locked.delivered_at = now
            locked.next_attempt_at = None
            endpoint.consecutive_failures = 0
        else:
            endpoint.consecutive_failures += 1
            if locked.event == TEST_EVENT:
                locked.status, locked.next_attempt_at = WebhookDelivery.Status.FAILED, None
            elif locked.attempts >= MAX_ATTEMPTS:
                locked.status, locked.next_attempt_at = WebhookDelivery.Status.DEAD, None
            else:
                locked.status = WebhookDelivery.Status.FAILED
                locked.next_attempt_at = now + retry_delay(locked.attempts)
        locked.save(update_fields=["attempts", "status", "delivered_at", "next_attempt_at"])
        endpoint.save(update_fields=["consecutive_failures"])
        if endpoint.active:
            if locked.status == WebhookDelivery.Status.DEAD:
                switch_off(endpoint, WebhookEndpoint.DisabledReason.DEAD_DELIVERY, now=now)
            elif endpoint.consecutive_failures >= FAILURE_THRESHOLD:
                switch_off(endpoint, WebhookEndpoint.DisabledReason.FAILURES, now=now)
        if locked.status == WebhookDelivery.Status.FAILED and locked.next_attempt_at:
            from regulars.integrations import tasks

            transaction.on_commit(
                partial(tasks.schedule, locked.pk, run_after=locked.next_attempt_at)
            )
    delivery.refresh_from_db()
    return logged


def switch_off(endpoint: WebhookEndpoint, reason: str, *, now: datetime | None = None) -> None:
    """Switch a failing endpoint off, end its open deliveries and e-mail the business's owners.

    Call inside a transaction holding the endpoint's row lock; the e-mails go after commit.
    """
    now = now or timezone.now()
    endpoint.active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason
    endpoint.save(update_fields=["active", "disabled_at", "disabled_reason"])
    endpoint.deliveries.filter(status__in=OPEN).update(
        status=WebhookDelivery.Status.DEAD, next_attempt_at=None
    )
    transaction.on_commit(partial(notify_owners, endpoint.pk))


def notify_owners(endpoint_id: int) -> None:
    """E-mail every owner of the endpoint's business, each in their own language."""
    endpoint = WebhookEndpoint.objects.select_related("business").get(pk=endpoint_id)
    business = endpoint.business
    link = settings.SITE_URL + reverse("webhook_detail", args=[business.slug, endpoint.code])
    owners = Membership.objects.filter(business=business, role=Role.OWNER).select_related("user")
    for membership in owners:
        user = membership.user
        if not user.email:
            continue
        with translation.override(user.language or business.language):
            context = {"endpoint": endpoint, "business": business, "link": link, "user": user}
            subject = render_to_string("integrations/email/switched_off_subject.txt", context)
            text = render_to_string("integrations/email/switched_off.txt", context)
        try:
            send_mail(" ".join(subject.split()), text, None, [user.email])
        except Exception:
            # The banner on the integrations page still tells them; one bad mailbox must not
            # stop the others.
            logger.exception("could not tell %s that webhook %s was switched off", user, endpoint)


def enable(endpoint: WebhookEndpoint) -> None:
    """Switch an endpoint on again with a clean failure count. Dead deliveries stay dead."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        active=True, disabled_at=None, disabled_reason="", consecutive_failures=0
    )
    # update() sends no post_save: tell this process's cache it is listening again.
    listening.forget_now_and_on_commit(endpoint.business_id)
    endpoint.refresh_from_db()


def rotate_secret(endpoint: WebhookEndpoint) -> None:
    """A new signing secret, used from the next attempt on (retries included)."""
    from regulars.integrations.models import new_secret

    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])


def resend(delivery: WebhookDelivery, now: datetime | None = None) -> WebhookAttempt | None:
    """Attempt a delivery again now, whatever its state, with a fresh retry schedule.

    None (and nothing changed) when the endpoint is switched off: enable it first.
    """
    now = now or timezone.now()
    reopened = WebhookDelivery.objects.filter(pk=delivery.pk, endpoint__active=True).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=now
    )
    return attempt(delivery, now=now) if reopened else None


def send_test(endpoint: WebhookEndpoint, now: datetime | None = None) -> WebhookAttempt | None:
    """Send a `webhook.test` event to this one endpoint now and return the attempt."""
    from regulars.integrations.events import TEST_EVENT, emit

    (delivery,) = emit(
        endpoint.business,
        TEST_EVENT,
        {"message": "A test event from Regulars: your endpoint is reachable."},
        endpoints=[endpoint],
        enqueue=False,
    )
    return attempt(delivery, now=now)
