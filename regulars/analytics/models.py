"""Cached analytics: the last computed snapshot of a business, and a score per customer.

Pages read these rows and never compute a model themselves; `refresh.refresh_business` (run
by the `refresh_analytics` task or `regulars analytics refresh`) writes them.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from regulars.accounts.models import Business, BusinessOwned
from regulars.analytics.metrics import Segment
from regulars.customers.models import Customer
from regulars.sales.models import MONEY

# A refresh that has not reported progress for this long is presumed dead (worker killed):
# a new one may be started.
STALE_AFTER = timedelta(minutes=15)


class AnalyticsSnapshot(BusinessOwned):
    """The last computed analytics of one business, and the state of the refresh in progress.

    `data` (the KPIs and chart series, JSON) and `computed_at` change only when a refresh
    succeeds, so the dashboard keeps showing the previous numbers while a new refresh runs or
    after one fails. `status`, `progress` (0-100) and `message` describe the current refresh.
    """

    class Status(models.TextChoices):
        NEVER = "never", _("Not computed yet")
        QUEUED = "queued", _("Waiting for a worker")
        RUNNING = "running", _("Computing")
        DONE = "done", _("Up to date")
        FAILED = "failed", _("Failed")

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.NEVER)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("analytics snapshot")
        verbose_name_plural = _("analytics snapshots")
        constraints = [
            models.UniqueConstraint(fields=["business"], name="one_snapshot_per_business")
        ]

    def __str__(self) -> str:
        return f"{self.business} · {self.status}"

    @property
    def busy(self) -> bool:
        """A refresh is queued or running and has shown signs of life recently."""
        if self.status not in (self.Status.QUEUED, self.Status.RUNNING):
            return False
        last = self.updated_at or self.requested_at
        return last is not None and timezone.now() - last < STALE_AFTER


class CustomerScore(BusinessOwned):
    """One customer's RFM scores and segment and the models' predictions, as of `computed_at`.

    `p_alive` is the BG/NBD probability that the customer is still active and `p_alive_before`
    the same probability 30 days earlier (from the purchases up to then): a fall means the
    customer is overdue. `expected_90d` is the expected number of purchase days in the next 90
    days, `clv` the expected spend of the next 12 months discounted at 1% a month. Model
    figures are null when the business has too little history to fit the models.
    """

    # A cache rewritten whole by every refresh: no database-level foreign keys, because their
    # checks at commit cost ~1.5 s per 100,000 rows on PostgreSQL (each locks the customer row).
    # Deleting a customer or a business through Django still deletes their scores (on_delete),
    # and the next refresh drops any row left behind.
    customer = models.OneToOneField(
        Customer,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="analytics_score",
        db_constraint=False,
    )
    business = models.ForeignKey(
        Business, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    segment = models.CharField(_("segment"), max_length=16, choices=Segment.choices)
    recency_score = models.PositiveSmallIntegerField()
    frequency_score = models.PositiveSmallIntegerField()
    monetary_score = models.PositiveSmallIntegerField()
    orders = models.PositiveIntegerField()
    revenue = models.DecimalField(**MONEY)
    last_purchase = models.DateField()
    p_alive = models.FloatField(null=True)
    p_alive_before = models.FloatField(null=True)
    expected_90d = models.FloatField(null=True)
    clv = models.DecimalField(null=True, **MONEY)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("customer score")
        verbose_name_plural = _("customer scores")
        # Also the index of the business column (its prefix): no separate one.
        indexes = [models.Index(fields=["business", "segment"])]

    def __str__(self) -> str:
        return f"{self.customer_id} · {self.segment}"
