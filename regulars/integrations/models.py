"""Webhooks: endpoints an owner subscribes to events, and the log of every delivery and attempt."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from regulars.accounts.models import BusinessOwned
from regulars.lib.codes import new_code
from regulars.lib.ttlcache import BusinessCache


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


# --- whether a business has active endpoints, kept per process ------------------------------
#
# Every sale emits several events and most businesses have no endpoint, so each process keeps
# "does business X have an active endpoint?" for at most LISTENING_TTL_S seconds
# (regulars.lib.ttlcache). Only a "no" saves a query: when the answer is yes, `emit` still reads
# the endpoints themselves, so one switched off or deleted anywhere gets nothing more. An
# endpoint created, or switched on, in this process gets the very next event; one created in
# another process (another web worker) starts receiving events within the TTL.

LISTENING_TTL_S = 5.0
listening = BusinessCache[bool](LISTENING_TTL_S)


listening.follow(WebhookEndpoint, "integrations.endpoints")


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


def import_upload_path(job: ImportJob, filename: str) -> str:
    """MEDIA_ROOT/imports/<business>/<job code>.csv: never the uploader's file name, never served."""
    return f"imports/{job.business.slug}/{job.code}.csv"


class ImportJob(BusinessOwned):
    """One import of a CSV file: its mapping and options, the check, the run and its report.

    The owner uploads (NEW), maps columns and checks the whole file (CHECKING → CHECKED), then
    starts the import (QUEUED → RUNNING → DONE, or FAILED). Progress lives on this row and the
    page polls it. `errors` keeps the first bad lines for the page (as codes, rendered in the
    reader's language); `error_file` and `report_file` hold every bad and every skipped line.
    `split_lines` and `copies` carry what the check learnt about the whole file to the run.
    A CLI import reads the file in place (`source_path`) instead of an upload.
    """

    class Status(models.TextChoices):
        NEW = "new", _("Waiting for the column mapping")
        CHECKING = "checking", _("Checking the file")
        CHECKED = "checked", _("Checked")
        QUEUED = "queued", _("Waiting to start")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class Kind(models.TextChoices):
        SALES = "sales", _("Sales")
        CUSTOMERS = "customers", _("Customers")

    class OnError(models.TextChoices):
        STOP = "stop", _("Stop: import nothing while any line is bad")
        SKIP = "skip", _("Skip bad lines and import the rest")

    code = models.CharField(max_length=12, default=new_code, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    file = models.FileField(upload_to=import_upload_path, max_length=300, blank=True)
    source_path = models.CharField(max_length=1000, blank=True)
    filename = models.CharField(_("file"), max_length=255)
    size = models.BigIntegerField(default=0)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.SALES)
    preset = models.CharField(_("preset"), max_length=40, default="generic")
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)  # field name → column index
    options = models.JSONField(default=dict)  # encoding, delimiter, decimal, date_format, …
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.NEW
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    progress = models.PositiveSmallIntegerField(default=0)  # percent of the current step
    error_count = models.PositiveIntegerField(default=0)
    bad_lines = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list)
    split_lines = models.JSONField(default=list)
    copies = models.JSONField(default=dict)
    summary = models.JSONField(default=dict)  # what the check counted
    result = models.JSONField(default=dict)  # what the import wrote and left out
    message = models.TextField(blank=True)
    error_file = models.FileField(max_length=300, blank=True)
    report_file = models.FileField(max_length=300, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.code})"

    @property
    def path(self) -> str:
        return self.file.path if self.file else self.source_path

    @property
    def busy(self) -> bool:
        return self.status in (self.Status.CHECKING, self.Status.QUEUED, self.Status.RUNNING)

    def option(self, name: str, default=None):
        return (self.options or {}).get(name, default)


class Erasure(BusinessOwned):
    """The record that a customer's personal data was erased: by whom, when, on whose request.

    The customer row stays (anonymised) so that purchases and ledger entries keep adding up;
    this row is the business's proof that the request was carried out.
    """

    customer = models.ForeignKey(
        "customers.Customer", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer_code = models.CharField(max_length=12)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    erased_at = models.DateTimeField()

    class Meta:
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")
        ordering = ["-erased_at"]

    def __str__(self) -> str:
        return f"{self.customer_code} @ {self.erased_at:%Y-%m-%d}"
