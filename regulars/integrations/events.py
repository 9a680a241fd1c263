"""The webhook event catalogue and `emit`, the one function every event source calls.

Lower apps never import this module: they send their Django signals (after commit) and the
receivers below turn them into events. Payloads carry public codes only, never primary keys,
and money as decimal strings ("4.50"), exactly as the REST API renders the same objects.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from regulars.accounts.models import Business
from regulars.integrations.models import WebhookDelivery, WebhookEndpoint, listening

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    name: str
    label: Promise
    description: Promise


CATALOGUE: dict[str, Event] = {
    e.name: e
    for e in [
        Event("customer.created", _("Customer created"), _("A new customer joined or was added.")),
        Event("purchase.recorded", _("Purchase recorded"), _("A sale was recorded.")),
        Event(
            "purchase.refunded", _("Purchase refunded"), _("All or part of a sale was refunded.")
        ),
        Event("points.earned", _("Points earned"), _("A customer earned points or stamps.")),
        Event("reward.redeemed", _("Reward redeemed"), _("A customer redeemed a reward.")),
        Event("tier.changed", _("Tier changed"), _("A customer moved to another tier.")),
        Event("points.expiring", _("Points expiring"), _("A customer's points will expire soon.")),
    ]
}
ALL_EVENTS = "*"
# Sent only by the "Send test event" button, to one endpoint, whatever it subscribes to.
TEST_EVENT = "webhook.test"


def _as_json(data: Any) -> Any:
    """Decimals as strings, datetimes as ISO 8601 (UTC, "Z"): what the stored payload holds."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def envelope(*, code: str, event: str, business: Business, at: datetime, data: Any) -> dict:
    """The JSON body of every delivery: the delivery id, the event, when, whose, and the data."""
    return {
        "id": code,
        "event": event,
        "created_at": _as_json(at),
        "business": business.slug,
        "data": data,
    }


def _active_endpoints(business_id: int) -> list[WebhookEndpoint]:
    """The business's active endpoints, oldest first.

    Plain SQL (`raw`) on purpose: every sale asks several times, most businesses have none,
    and compiling the ORM query cost more than the database's answer. A business known (for a
    few seconds, `models.listening`) to have none costs no query at all.
    """
    loaded = None

    def load(business_id: int) -> bool:
        nonlocal loaded
        loaded = list(WebhookEndpoint.objects.raw(_ACTIVE_ENDPOINTS_SQL, [business_id]))
        return bool(loaded)

    if not listening.get(business_id, load):
        return []
    if loaded is None:
        loaded = list(WebhookEndpoint.objects.raw(_ACTIVE_ENDPOINTS_SQL, [business_id]))
    return loaded


_ACTIVE_ENDPOINTS_SQL = (
    f"SELECT * FROM {WebhookEndpoint._meta.db_table} WHERE business_id = %s AND active "
    "ORDER BY created_at, id"
)


def emit(
    business: Business,
    event: str,
    data: dict | Callable[[], dict],
    *,
    endpoints: list[WebhookEndpoint] | None = None,
    enqueue: bool = True,
) -> list[WebhookDelivery]:
    """Queue `event` for every active endpoint of the business subscribed to it.

    Creates one WebhookDelivery per endpoint in one transaction and, once that has committed,
    enqueues one delivery task each. `data` may be a function: it is only called (and its
    queries only run) when some endpoint listens, so an event nobody subscribed to costs one
    query. `endpoints` overrides the subscription lookup and `enqueue=False` leaves the
    first attempt to the caller (the test button does both).
    """
    if event not in CATALOGUE and event != TEST_EVENT:
        raise ValueError(f"event: unknown webhook event {event!r}")
    if endpoints is None:
        endpoints = [e for e in _active_endpoints(business.pk) if e.subscribes_to(event)]
    if not endpoints:
        return []
    body = _as_json(data() if callable(data) else data)
    now = timezone.now()
    from regulars.integrations import tasks

    deliveries = []
    with transaction.atomic():
        for endpoint in endpoints:
            delivery = WebhookDelivery(
                business=business, endpoint=endpoint, event=event, next_attempt_at=now
            )
            delivery.payload = envelope(
                code=delivery.code, event=event, business=business, at=now, data=body
            )
            delivery.save()
            deliveries.append(delivery)
            if enqueue:
                # After commit, so a worker never looks for a delivery that is not there yet.
                transaction.on_commit(partial(tasks.schedule, delivery.pk))
    return deliveries


# Payloads: the same shapes the REST API returns for these objects.


def customer_data(customer) -> dict:
    from regulars.customers.api import CustomerOut

    return {"customer": CustomerOut.from_orm(customer).model_dump()}


def purchase_data(purchase) -> dict:
    from regulars.sales.api import PurchaseOut, purchases_of

    fresh = purchases_of(purchase.business_id).get(pk=purchase.pk)
    return {"purchase": PurchaseOut.from_orm(fresh).model_dump()}


def refund_data(refund) -> dict:
    from regulars.sales.api import RefundOut

    return {
        "refund": RefundOut.from_orm(refund).model_dump(),
        **purchase_data(refund.purchase),
    }


# Receivers, connected in IntegrationsConfig.ready(). The signals are sent after commit: the
# sale stands whatever happens here, so a failure to queue a webhook is logged, not raised.


def _emit_safely(business: Business, event: str, data: Callable[[], dict]) -> None:
    try:
        emit(business, event, data)
    except Exception:
        logger.exception("could not queue webhook event %s for business %s", event, business.pk)


def on_customer_created(sender, customer, **kwargs) -> None:
    _emit_safely(customer.business, "customer.created", lambda: customer_data(customer))


def on_purchase_recorded(sender, purchase, **kwargs) -> None:
    _emit_safely(purchase.business, "purchase.recorded", lambda: purchase_data(purchase))


def on_purchase_refunded(sender, refund, **kwargs) -> None:
    _emit_safely(refund.business, "purchase.refunded", lambda: refund_data(refund))


# Loyalty events. The same shapes as the loyalty API (regulars.loyalty.api).


def points_earned_data(accrual) -> dict:
    from regulars.loyalty.api import accrual_body
    from regulars.loyalty.models import from_units

    purchase = accrual.purchase
    accounts = {e.account_id: e.account for e in accrual.entries}
    return {
        "customer": purchase.customer.code,
        "purchase": purchase.code,
        **accrual_body(accrual),
        # Balances right after this purchase, pending points included.
        "balances": [
            {"program": a.program.code, "unit": a.unit, "balance": from_units(a.unit, a.balance)}
            for a in accounts.values()
        ],
    }


def reward_redeemed_data(voucher) -> dict:
    from regulars.loyalty.api import VoucherOut
    from regulars.loyalty.models import from_units

    account = voucher.entry.account  # what the reward was paid from
    return {
        "customer": voucher.customer.code,
        "voucher": VoucherOut.from_orm(voucher).model_dump(),
        "program": account.program.code,
        "unit": account.unit,
        "cost": from_units(account.unit, -voucher.entry.amount),
    }


def tier_changed_data(change) -> dict:
    from regulars.customers.models import Customer
    from regulars.loyalty.api import tier_change_body

    code = Customer.objects.filter(pk=change.customer_id).values_list("code", flat=True).first()
    return {"customer": code, **tier_change_body(change)}


def on_purchase_accrued(sender, accrual, **kwargs) -> None:
    _emit_safely(accrual.purchase.business, "points.earned", lambda: points_earned_data(accrual))


def on_reward_redeemed(sender, voucher, **kwargs) -> None:
    _emit_safely(voucher.business, "reward.redeemed", lambda: reward_redeemed_data(voucher))


def on_tier_changed(sender, change, **kwargs) -> None:
    business = Business.objects.get(pk=change.program.business_id)
    _emit_safely(business, "tier.changed", lambda: tier_changed_data(change))


def on_points_expiring(
    sender, business, customer, program, amount, value, expires_at, key, **kwargs
) -> None:
    """Announced every night until the points expire or are spent: each endpoint gets one
    delivery per `key` (account and expiry day), however often it is announced."""
    event = "points.expiring"
    try:
        endpoints = [
            e
            for e in WebhookEndpoint.objects.for_business(business).filter(active=True)
            if e.subscribes_to(event)
            and not e.deliveries.filter(event=event, payload__data__key=key).exists()
        ]
        if endpoints:
            data = {
                "customer": customer.code,
                "program": program.code,
                "unit": program.unit,
                "amount": value,
                "expires_at": expires_at,
                "key": key,
            }
            emit(business, event, data, endpoints=endpoints)
    except Exception:
        logger.exception("could not queue webhook event %s for business %s", event, business.pk)


def connect() -> None:
    from regulars.customers.signals import customer_created
    from regulars.loyalty.signals import (
        points_expiring,
        purchase_accrued,
        reward_redeemed,
        tier_changed,
    )
    from regulars.sales.signals import purchase_recorded, purchase_refunded

    customer_created.connect(on_customer_created, dispatch_uid="integrations.customer_created")
    purchase_recorded.connect(on_purchase_recorded, dispatch_uid="integrations.purchase_recorded")
    purchase_refunded.connect(on_purchase_refunded, dispatch_uid="integrations.purchase_refunded")
    purchase_accrued.connect(on_purchase_accrued, dispatch_uid="integrations.purchase_accrued")
    reward_redeemed.connect(on_reward_redeemed, dispatch_uid="integrations.reward_redeemed")
    tier_changed.connect(on_tier_changed, dispatch_uid="integrations.tier_changed")
    points_expiring.connect(on_points_expiring, dispatch_uid="integrations.points_expiring")
