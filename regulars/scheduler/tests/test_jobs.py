"""The scheduler: each periodic job is enqueued once per period, however many workers tick."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django_tasks_db.models import DBTaskResult

from regulars.scheduler.jobs import JOBS, Job, tick
from regulars.scheduler.models import PeriodicRun

pytestmark = pytest.mark.django_db(transaction=True)

DAILY = Job("test.expire", "regulars.loyalty.tasks.expire_points", timedelta(days=1),
            offset=timedelta(hours=3))  # fmt: skip


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def queued(task: str) -> int:
    return DBTaskResult.objects.filter(task_path=task).count()


def test_a_daily_job_runs_once_a_day_from_its_hour():
    assert tick(at(23, 10), jobs=(DAILY,)) == ["test.expire"]  # first start: caught up at once
    assert tick(at(23, 10, 1), jobs=(DAILY,)) == []
    assert tick(at(24, 2, 59), jobs=(DAILY,)) == []  # before 03:00 it is still yesterday's
    assert tick(at(24, 3, 0), jobs=(DAILY,)) == ["test.expire"]
    assert tick(at(24, 23, 0), jobs=(DAILY,)) == []
    # Three days without a worker: one catch-up run, not three.
    assert tick(at(28, 12), jobs=(DAILY,)) == ["test.expire"]
    assert queued(DAILY.task) == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's concurrency")
def test_schedulers_ticking_together_enqueue_once():
    barrier, results = threading.Barrier(4), []

    def one():
        barrier.wait()
        try:
            results.extend(tick(at(23, 12), jobs=(DAILY,)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["test.expire"]
    assert queued(DAILY.task) == 1
    assert PeriodicRun.objects.get(name="test.expire").period == DAILY.period_of(at(23, 12))


def test_the_worker_once_enqueues_what_is_due_and_runs_it(alice_cafe, capsys):
    call_command("worker", once=True)
    out = capsys.readouterr().out
    assert {f"enqueued {job.name}" for job in JOBS} <= set(out.splitlines())
    done = DBTaskResult.objects.filter(task_path="regulars.loyalty.tasks.expire_points").get()
    assert done.status == "SUCCESSFUL"
    assert alice_cafe.slug in done.return_value
    # The nightly analytics job queued the café's refresh, and the batch ran it too.
    refresh = DBTaskResult.objects.filter(task_path="regulars.analytics.tasks.refresh_analytics")
    assert refresh.get().status == "SUCCESSFUL"
    call_command("worker", once=True)  # the same day: nothing new
    assert queued("regulars.loyalty.tasks.expire_points") == 1


