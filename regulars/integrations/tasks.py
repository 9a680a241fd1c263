"""Background work of integrations: webhook attempts, and the two steps of an import."""

from __future__ import annotations

import logging
from datetime import datetime

from django.tasks import task

from regulars.integrations.models import WebhookDelivery

logger = logging.getLogger(__name__)


@task()
def deliver(delivery_id: int) -> str:
    """Make one attempt of a delivery if it is still due; a failure enqueues the next one."""
    from regulars.integrations.deliveries import attempt

    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None:
        return "gone"
    logged = attempt(delivery)
    # Not due: a resend, the `webhooks deliver` sweep or another worker got there first.
    return "not due" if logged is None else delivery.status


def schedule(delivery_id: int, run_after: datetime | None = None) -> None:
    """Enqueue an attempt, now or at `run_after`. Never raises.

    If the queue is down, or the backend cannot run tasks later (the immediate backend), the
    delivery stays due in the database and `regulars webhooks deliver` sends it.
    """
    try:
        job = deliver
        if run_after is not None:
            if not deliver.get_backend().supports_defer:
                return
            job = deliver.using(run_after=run_after)
        job.enqueue(delivery_id)
    except Exception:
        logger.exception("could not enqueue webhook delivery %s", delivery_id)


@task()
def check_import(job_id: int) -> str:
    """Check every line of an uploaded file (the job must have been marked CHECKING)."""
    from regulars.integrations.imports.jobs import check_job
    from regulars.integrations.models import ImportJob

    job = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.CHECKING).first()
    if job is None:
        return "not checking"
    checked = check_job(job)
    return f"{checked.rows} rows, {checked.problem_count} problems"


@task()
def run_import(job_id: int) -> str:
    """Import a checked file (the job must have been QUEUED)."""
    from regulars.integrations.imports.jobs import run_job
    from regulars.integrations.models import ImportJob

    job = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).first()
    if job is None:
        return "not queued"
    result = run_job(job)
    return f"{result.purchases_created} purchases, {result.customers_created} customers"


def enqueue_import_step(job_id: int, step) -> bool:
    """Enqueue `check_import` or `run_import`; on a queue failure mark the job failed."""
    from django.utils import timezone
    from django.utils.translation import gettext as _

    from regulars.integrations.models import ImportJob

    try:
        step.enqueue(job_id)
        return True
    except Exception:
        logger.exception("could not enqueue import %s", job_id)
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportJob.Status.FAILED,
            message=_("The background worker could not be reached; try again later."),
            finished_at=timezone.now(),
        )
        return False
