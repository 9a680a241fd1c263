"""A person's right to their data: everything a business holds on one customer, and erasure.

Erasure anonymises instead of deleting: the customer row stays, with nothing left that points
at the person, so that purchases, ledger entries and vouchers keep adding up to the business's
real totals (revenue, points issued and redeemed, liabilities). What goes: name (replaced),
e-mail, phone, birthday, language, external id, notes, tags, preferences, marketing consent,
the texts of the timeline, and the copies of the person's record in webhook payloads. The card
code is re-issued, so an old card or QR no longer finds the record. Every erasure is logged.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Prefetch, TextField
from django.db.models.functions import Cast
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from regulars.customers.models import Customer, TimelineEntry, new_card_code, new_card_token
from regulars.integrations.models import Erasure, WebhookDelivery
from regulars.loyalty.models import Account, LedgerEntry, PromoCard, TierStatus, Voucher
from regulars.sales.models import Purchase, PurchaseLine, Refund

logger = logging.getLogger(__name__)

# Timeline kinds whose `data` holds only codes and amounts; the others may quote the person.
NEUTRAL_KINDS = {
    TimelineEntry.Kind.JOINED,
    TimelineEntry.Kind.PURCHASE,
    TimelineEntry.Kind.REFUND,
    TimelineEntry.Kind.REWARD,
}
PERSONAL_KEYS = ("name", "email", "phone", "birthday", "notes", "tags", "external_id",
                 "preferences", "language")  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def customer_data(customer: Customer) -> dict:
    """Everything the business holds on this customer, as plain JSON-ready data."""
    purchases = (
        Purchase.objects.filter(customer=customer)
        .select_related("location")
        .prefetch_related(
            Prefetch(
                "lines", queryset=PurchaseLine.objects.select_related("product").order_by("pk")
            ),
            "refunds",
        )
        .order_by("occurred_at", "pk")
    )
    accounts = Account.objects.filter(customer=customer).select_related("program").order_by("pk")
    entries = (
        LedgerEntry.objects.filter(account__customer=customer)
        .select_related("account__program", "purchase", "location")
        .order_by("at", "pk")
    )
    return {
        "format": "regulars.customer-data.v1",
        "exported_at": _iso(timezone.now()),
        "business": {"name": customer.business.name, "slug": customer.business.slug},
        "customer": {
            "code": customer.code,
            "card_code": customer.card_code,
            "name": customer.name,
            "email": customer.email,
            "phone": customer.phone,
            "birthday": customer.birthday.isoformat() if customer.birthday else None,
            "language": customer.language,
            "marketing_consent": customer.marketing_consent,
            "consent_at": _iso(customer.consent_at),
            "joined_at": _iso(customer.joined_at),
            "external_id": customer.external_id,
            "home_location": customer.home_location.name if customer.home_location else None,
            "preferences": customer.preferences,
            "notes": customer.notes,
            "tags": sorted(t.name for t in customer.tags.all()),
            "created_at": _iso(customer.created_at),
        },
        "timeline": [
            {
                "kind": e.kind,
                "at": _iso(e.at),
                "text": e.text,
                "data": e.data,
                "location": e.location.name if e.location else None,
            }
            for e in customer.timeline.select_related("location").order_by("at", "pk")
        ],
        "purchases": [
            {
                "code": p.code,
                "occurred_at": _iso(p.occurred_at),
                "location": p.location.name if p.location else None,
                "total": p.total,
                "refunded": p.refunded,
                "lines": [
                    {
                        "name": line.name,
                        "sku": line.product.sku if line.product else None,
                        "quantity": line.quantity,
                        "unit_price": line.unit_price,
                        "amount": line.amount,
                    }
                    for line in p.lines.all()
                ],
                "refunds": [
                    {
                        "code": r.code,
                        "amount": r.amount,
                        "reason": r.reason,
                        "at": _iso(r.occurred_at),
                    }
                    for r in p.refunds.all()
                ],
            }
            for p in purchases
        ],
        "loyalty": {
            "accounts": [
                {"program": a.program.name, "unit": a.unit, "balance": a.value} for a in accounts
            ],
            "ledger": [
                {
                    "code": e.code,
                    "at": _iso(e.at),
                    "program": e.account.program.name,
                    "unit": e.account.unit,
                    "kind": e.kind,
                    "amount": e.value,
                    "reason": e.reason,
                    "purchase": e.purchase.code if e.purchase else None,
                    "available_at": _iso(e.available_at),
                    "expires_at": _iso(e.expires_at),
                }
                for e in entries
            ],
            "tiers": [
                {"program": t.program.name, "tier": t.tier, "since": _iso(t.since)}
                for t in TierStatus.objects.filter(customer=customer).select_related("program")
            ],
        },
        "vouchers": [
            {
                "code": v.code,
                "name": v.name,
                "kind": v.kind,
                "value": v.value,
                "status": v.status,
                "issued_at": _iso(v.issued_at),
                "valid_until": _iso(v.valid_until),
                "used_at": _iso(v.used_at),
            }
            for v in Voucher.objects.filter(customer=customer).order_by("issued_at", "pk")
        ],
        "promo_cards": [
            {
                "code": c.code,
                "kind": c.kind,
                "value": c.value,
                "min_purchase": c.min_purchase,
                "reason": c.reason,
                "status": c.status,
                "issued_at": _iso(c.issued_at),
                "valid_until": _iso(c.valid_until),
                "used_at": _iso(c.used_at),
            }
            for c in PromoCard.objects.filter(customer=customer).order_by("issued_at", "pk")
        ],
    }


def customer_data_json(customer: Customer) -> str:
    return json.dumps(customer_data(customer), cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)


def erased_at(customer: Customer) -> datetime | None:
    found = Erasure.objects.filter(customer=customer).order_by("-erased_at").first()
    return found.erased_at if found else None


def _scrub(value: object, code: str) -> object:
    """The payload with the personal fields of any object carrying this customer's code emptied."""
    if isinstance(value, dict):
        mine = value.get("code") == code
        return {
            k: ("" if isinstance(v, str) else None)
            if mine and k in PERSONAL_KEYS
            else _scrub(v, code)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v, code) for v in value]
    return value


@transaction.atomic
def erase_customer(*, customer: Customer, staff) -> Erasure:
    """Anonymise the customer; the business's totals stay exactly as they were.

    Invariant: no purchase, refund, ledger entry or voucher is changed or deleted, so every
    sum over them is the same before and after; only data about the person goes.
    """
    business = customer.business
    locked = Customer.objects.select_for_update().get(pk=customer.pk, business=business)
    with translation.override(business.language):
        anonymous = _("Erased customer")
        note = _("Personal data erased on the customer's request.")
    locked.name = anonymous
    locked.email = locked.phone = locked.language = locked.external_id = locked.notes = ""
    locked.birthday = None
    locked.preferences = {}
    locked.marketing_consent = False
    locked.consent_at = None
    locked.card_code = new_card_code()
    locked.card_token = new_card_token()  # the old card link stops working
    locked.save()
    locked.tags.clear()
    # Free text written about them; the amounts stay.
    PromoCard.objects.filter(business=business, customer=locked).update(reason="")
    Refund.objects.filter(purchase__business=business, purchase__customer=locked).update(reason="")
    timeline = TimelineEntry.objects.filter(customer=locked)
    timeline.update(text="")
    timeline.exclude(kind__in=NEUTRAL_KINDS).update(data={})
    now = timezone.now()
    TimelineEntry.objects.create(
        business=business, customer=locked, kind=TimelineEntry.Kind.NOTE, at=now, text=note,
        staff=staff,
    )  # fmt: skip
    deliveries = (
        WebhookDelivery.objects.filter(business=business)
        .annotate(text=Cast("payload", TextField()))
        .filter(text__contains=locked.code)
    )
    for delivery in deliveries.iterator():
        delivery.payload = _scrub(delivery.payload, locked.code)
        delivery.save(update_fields=["payload"])
    erasure = Erasure.objects.create(
        business=business,
        customer=locked,
        customer_code=locked.code,
        erased_by=staff,
        erased_at=now,
    )
    logger.info(
        "customer %s of %s erased by %s", locked.code, business.slug, getattr(staff, "pk", None)
    )
    customer.refresh_from_db()
    return erasure
