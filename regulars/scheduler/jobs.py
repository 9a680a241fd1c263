"""Periodic background work: what runs when, and the tick that enqueues what is due.

`regulars worker` (and `regulars serve`, which starts one) calls `tick()` every
`SCHEDULER_TICK_S` seconds. A job is due when the current period (a day starting at its hour,
UTC, or a fixed interval) is newer than the last one claimed for it in `PeriodicRun`; claiming
is one conditional UPDATE, so several workers never enqueue the same period twice. Every job
is idempotent, so a period missed while no worker ran is simply caught up at the next tick
(once, not once per missed period).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import import_module

from django.db import IntegrityError, transaction
from django.utils import timezone

from regulars.scheduler.models import PeriodicRun

logger = logging.getLogger(__name__)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Job:
    name: str
    task: str  # dotted path of a django.tasks Task
    every: timedelta
    offset: timedelta = timedelta(0)  # from midnight UTC, for daily jobs: 3 h = 03:00 UTC

    def period_of(self, now: datetime) -> int:
        return int((now - EPOCH - self.offset) // self.every)

    def enqueue(self) -> None:
        module, _, name = self.task.rpartition(".")
        getattr(import_module(module), name).enqueue()


JOBS: tuple[Job, ...] = (
    # Expire due points by lots, review tiers whose period ended, announce what expires soon.
    Job("loyalty.expire_points", "regulars.loyalty.tasks.expire_points", timedelta(days=1),
        offset=timedelta(hours=3)),  # fmt: skip
    # Birthday bonuses: hourly, so that each business's own midnight is met wherever it is;
    # keyed by customer and year, so the other 23 runs of the day pay nothing.
    Job("loyalty.birthday_bonuses", "regulars.loyalty.tasks.birthday_bonuses",
        timedelta(hours=1)),  # fmt: skip
    # Recompute every business's analytics overnight, so the dashboard opens on fresh numbers.
    Job("analytics.refresh_all", "regulars.analytics.tasks.refresh_all_analytics",
        timedelta(days=1), offset=timedelta(hours=4)),  # fmt: skip
)


def claim(job: Job, now: datetime) -> bool:
    """Take this period of `job` for the caller; False when another run already took it."""
    period = job.period_of(now)
    if PeriodicRun.objects.filter(name=job.name, period__lt=period).update(
        period=period, enqueued_at=now
    ):
        return True
    if PeriodicRun.objects.filter(name=job.name).exists():
        return False
    try:
        with transaction.atomic():
            PeriodicRun.objects.create(name=job.name, period=period, enqueued_at=now)
    except IntegrityError:  # another scheduler created it first
        return False
    return True


def tick(now: datetime | None = None, jobs: tuple[Job, ...] = JOBS) -> list[str]:
    """Enqueue every job that is due; returns their names."""
    now = now or timezone.now()
    enqueued = []
    for job in jobs:
        with transaction.atomic():
            if not claim(job, now):
                continue
            transaction.on_commit(job.enqueue)
        enqueued.append(job.name)
        logger.info("scheduled %s", job.name)
    return enqueued
