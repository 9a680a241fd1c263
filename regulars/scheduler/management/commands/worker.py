"""`regulars worker`: the background worker, with the scheduler of periodic jobs."""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from regulars.scheduler.jobs import JOBS, tick


class Command(BaseCommand):
    help = (
        "Run background tasks (imports, analytics refreshes, webhook deliveries) and enqueue the "
        "periodic jobs when they are due (points expiry daily at 03:00 UTC, analytics at 04:00, "
        "birthday bonuses hourly). "
        "`regulars serve` starts one; run more for more throughput."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            action="store_true",
            help="enqueue the periodic jobs that are due and run every waiting task, then exit "
            "(for cron)",
        )
        parser.add_argument(
            "--no-scheduler",
            action="store_true",
            help="only run tasks; leave the periodic jobs to another worker",
        )

    def handle(self, *args, once, no_scheduler, verbosity, **options):
        database = settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"
        if once:
            if not no_scheduler:
                for name in tick():
                    self.stdout.write(f"enqueued {name}")
            if database:
                call_command("db_worker", batch=True, no_startup_delay=True, verbosity=verbosity)
            return
        stop = threading.Event()
        if not no_scheduler:
            names = ", ".join(job.name for job in JOBS)
            self.stdout.write(f"Scheduler on: {names}")
            threading.Thread(target=self._schedule, args=(stop,), daemon=True).start()
        try:
            if database:
                call_command("db_worker", verbosity=verbosity, reload=False)
            else:
                self.stdout.write(
                    "Tasks go to Redis: run their worker with `regulars rqworker default`."
                )
                stop.wait()
        finally:
            stop.set()

    @staticmethod
    def _schedule(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                tick()
            except Exception:  # a database hiccup must not end the scheduler
                import logging

                logging.getLogger(__name__).exception("scheduler tick failed")
            finally:
                close_old_connections()
            stop.wait(settings.SCHEDULER_TICK_S)
