"""Background work of integrations: one webhook attempt per task run."""

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
