"""Analytics in the background: a django.tasks task per refresh, its progress on the snapshot row.

`request_refresh` (the dashboard's Recompute button) marks the snapshot queued with a
conditional UPDATE, so a double click or two managers enqueue one refresh, not two; the task
claims the row the same way before it starts. A refresh that stopped reporting progress for
`models.STALE_AFTER` (its worker was killed) may be requested again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.tasks import task
from django.utils import timezone

from regulars.accounts.models import Business
from regulars.analytics.models import STALE_AFTER, AnalyticsSnapshot

logger = logging.getLogger(__name__)
Status = AnalyticsSnapshot.Status


def snapshot_for(business: Business) -> AnalyticsSnapshot:
    snapshot, _ = AnalyticsSnapshot.objects.get_or_create(business=business)
    return snapshot


def _not_busy(now) -> Q:
    """Rows with no live refresh: idle, finished, or queued/running but silent for too long."""
    busy = Q(status__in=[Status.QUEUED, Status.RUNNING]) & (
        Q(updated_at__gte=now - STALE_AFTER)
        | (Q(updated_at__isnull=True) & Q(requested_at__gte=now - STALE_AFTER))
    )
    return ~busy


def request_refresh(business: Business) -> bool:
    """Queue a refresh of the business unless one is already queued or running.

    Returns whether a new refresh was queued.
    """
    snapshot = snapshot_for(business)
    now = timezone.now()
    claimed = (
        AnalyticsSnapshot.objects.filter(pk=snapshot.pk)
        .filter(_not_busy(now))
        .update(
            status=Status.QUEUED,
            progress=0,
            message="",
            error="",
            requested_at=now,
            updated_at=now,
        )
    )
    if not claimed:
        return False

    def enqueue() -> None:
        try:
            refresh_analytics.enqueue(business.pk)
        except Exception as exc:  # the queue is down: say so on the page instead of waiting
            logger.exception("could not enqueue the analytics refresh of %s", business.slug)
            AnalyticsSnapshot.objects.filter(pk=snapshot.pk).update(
                status=Status.FAILED, error=f"could not queue: {exc}", updated_at=timezone.now()
            )

    transaction.on_commit(enqueue)
    return True


def run_refresh(business_id: int, *, force: bool = False, progress=None) -> dict[str, Any]:
    """Claim the business's snapshot, refresh it, record the outcome; never raises for a failure.

    Without ``force`` a refresh only runs when this one was requested (or the last one died):
    a second worker picking up a duplicate finds the row running and leaves. ``progress`` is
    called with (percent, message) besides the snapshot row being updated.
    """
    from regulars.analytics.refresh import refresh_business

    business = Business.objects.filter(pk=business_id).first()
    if business is None:
        return {"status": "gone"}
    snapshot = snapshot_for(business)
    now = timezone.now()
    rows = AnalyticsSnapshot.objects.filter(pk=snapshot.pk)
    if not force:
        rows = rows.filter(Q(status=Status.QUEUED) | _not_busy(now))
    if not rows.update(status=Status.RUNNING, progress=0, message="", updated_at=now):
        return {"status": "busy"}

    last_percent = -1

    def report(percent: int, message: str) -> None:
        nonlocal last_percent
        if progress is not None:
            progress(percent, message)
        if percent != last_percent:
            last_percent = percent
            AnalyticsSnapshot.objects.filter(pk=snapshot.pk).update(
                progress=percent, message=message[:200], updated_at=timezone.now()
            )

    started = time.perf_counter()
    try:
        data = refresh_business(business, now=now, progress=report)
    except Exception as exc:
        logger.exception("analytics refresh of %s failed", business.slug)
        AnalyticsSnapshot.objects.filter(pk=snapshot.pk).update(
            status=Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            updated_at=timezone.now(),
        )
        return {"status": "failed", "error": str(exc)}
    duration = time.perf_counter() - started
    AnalyticsSnapshot.objects.filter(pk=snapshot.pk).update(
        status=Status.DONE,
        progress=100,
        message="",
        error="",
        data=data,
        computed_at=now,
        duration_s=round(duration, 3),
        updated_at=timezone.now(),
    )
    return {"status": "done", "seconds": round(duration, 3)}


@task()
def refresh_analytics(business_id: int) -> dict[str, Any]:
    """Recompute a business's analytics (run by `regulars db_worker`)."""
    return run_refresh(business_id)


@task()
def refresh_all_analytics() -> dict[str, bool]:
    """Nightly (regulars.scheduler): queue a refresh of every business; busy ones are left be."""
    return {b.slug: request_refresh(b) for b in Business.objects.order_by("pk")}
