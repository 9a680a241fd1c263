"""The periods the scheduler has already enqueued each periodic job for."""

from __future__ import annotations

from django.db import models


class PeriodicRun(models.Model):
    """Job `name` was enqueued for period number `period` (see jobs.Job.period_of).

    One row per job; a scheduler claims a new period with a conditional UPDATE, so however many
    schedulers run (one per worker), each period's run is enqueued once.
    """

    name = models.CharField(max_length=100, primary_key=True)
    period = models.BigIntegerField()
    enqueued_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} · {self.period}"
