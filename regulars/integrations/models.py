"""Webhooks: endpoints an owner subscribes to events, and the log of every delivery and attempt."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from regulars.accounts.models import BusinessOwned
from regulars.lib.codes import new_code


def new_secret() -> str:
    """A signing secret: 32 random bytes, URL-safe, with a prefix so it is recognisable in configs."""
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(BusinessOwned):
    """A URL of an integrator that receives signed POSTs for the events it is subscribed to.

    `events` is a list of event names from `regulars.integrations.events.CATALOGUE`, or ["*"] for
    every event. The secret is kept in clear because Regulars must sign with it; it is shown to
    the owner (who pastes it into the receiver) and can be rotated. An endpoint that keeps failing
    is switched off (`active` false, `disabled_at`, `disabled_reason`) until the owner enables it.
    """

    class DisabledReason(models.TextChoices):
        FAILURES = "failures", _("Too many consecutive failed attempts")
        DEAD_DELIVERY = "dead_delivery", _("A delivery failed on every retry")

    code = models.CharField(max_length=12, default=new_code, unique=True, editable=False)
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list)
    secret = models.CharField(max_length=80, default=new_secret)
    active = models.BooleanField(_("active"), default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(
        max_length=20, choices=DisabledReason.choices, blank=True, default=""
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.url

    def subscribes_to(self, event: str) -> bool:
        return "*" in self.events or event in self.events


class WebhookDelivery(BusinessOwned):
    """One event to send to one endpoint, tried until it succeeds or its retries run out.

    `code` is the delivery id sent in the Regulars-Delivery header: a receiver that sees the same
    id twice (a retry after a timeout, a resend) can ignore the second one. `attempts` counts the
    attempts of the current retry schedule (a resend starts a new one); every attempt is logged
    in WebhookAttempt. `next_attempt_at` is when the next attempt is due, or null when none is.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        DEAD = "dead", _("Dead")

    code = models.CharField(max_length=12, default=new_code, unique=True, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(_("event"), max_length=40)
    payload = models.JSONField()
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The sweep of due deliveries (`regulars webhooks deliver`).
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["endpoint", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.code}"

    @property
    def last_attempt(self) -> WebhookAttempt | None:
        """The latest attempt; reads the prefetched `attempts_log` when the view prefetched it."""
        log = list(self.attempts_log.all())
        return max(log, key=lambda a: (a.at, a.pk)) if log else None


class WebhookAttempt(models.Model):
    """One HTTP POST of a delivery: when, the response status (null if none came) and how long.

    `error` says why an attempt failed without a response (refused, timed out, bad TLS);
    `response_excerpt` keeps the start of the receiver's answer for the owner to debug with.
    """

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempts_log"
    )
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return (
            f"{self.delivery.code} @ {self.at:%Y-%m-%d %H:%M:%S} → {self.status_code or self.error}"
        )

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
