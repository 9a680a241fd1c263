"""Using vouchers, and issuing and using promo cards: single-use codes, found by code per business.

Codes are looked up within the business given, so another business's code is simply "not
found". A use is a conditional update (status issued → used) under a row lock: two cashiers
scanning the same code at once get one success and one "already used".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from regulars.accounts.models import Business
from regulars.customers.models import Customer, TimelineEntry
from regulars.lib.codes import normalise_code
from regulars.lib.money import to_decimal
from regulars.loyalty.errors import LoyaltyConflict, LoyaltyError
from regulars.loyalty.ledger import _check_key, _same_business
from regulars.loyalty.models import PromoCard, Voucher
from regulars.sales.models import Purchase

PROMO_VALID_DAYS = 30


def _use(model, *, business: Business, code: str, purchase, staff, now, field: str):
    _same_business(business.pk, purchase=purchase, staff=staff)
    now = now or timezone.now()
    with transaction.atomic():
        item = (
            model.objects.select_for_update()
            .filter(business=business, code=normalise_code(code))
            .first()
        )
        if item is None:
            raise LoyaltyError(field, _("no such code"), code="not_found")
        if item.status == model.Status.USED:
            if purchase is not None and item.used_purchase_id == purchase.pk:
                return item  # a retry of the same use
            raise LoyaltyConflict(
                field,
                _("was already used on %(date)s") % {"date": item.used_at.date().isoformat()},
            )
        if item.status == model.Status.VOID:
            raise LoyaltyError(field, _("was cancelled"), code="unavailable")
        if item.valid_until < now:
            raise LoyaltyError(
                field,
                _("expired on %(date)s") % {"date": item.valid_until.date().isoformat()},
                code="expired",
            )
        if (
            purchase is not None
            and purchase.customer_id is not None
            and purchase.customer_id != item.customer_id
        ):
            raise LoyaltyError(field, _("belongs to another customer"))
        item.status = model.Status.USED
        item.used_at = now
        item.used_purchase = purchase
        item.used_by = staff
        item.save(update_fields=["status", "used_at", "used_purchase", "used_by"])
        return item


def use_voucher(
    *,
    business: Business,
    code: str,
    purchase: Purchase | None = None,
    staff=None,
    now: datetime | None = None,
) -> Voucher:
    """Mark a voucher used (optionally on the purchase it paid for). Single use.

    Invariant: a voucher is used at most once; using it again with the same purchase returns
    it (a retry), with another purchase raises LoyaltyConflict. Refused when expired or void.
    """
    return _use(
        Voucher,
        business=business,
        code=code,
        purchase=purchase,
        staff=staff,
        now=now,
        field="voucher",
    )


def issue_promo_card(
    *,
    customer: Customer,
    kind: str,
    value: Decimal,
    idempotency_key: str,
    reason: str = "",
    valid_until: datetime | None = None,
    min_purchase: Decimal = Decimal("0"),
    staff=None,
    now: datetime | None = None,
) -> PromoCard:
    """Issue a single-use discount code to a customer, e.g. to win them back.

    `kind` is PromoCard.Kind.PERCENT or FIXED; `valid_until` defaults to 30 days from now.
    A retry with the same key returns the first card.
    """
    key = _check_key(idempotency_key)
    _same_business(customer.business_id, staff=staff)
    if kind not in PromoCard.Kind.values:
        raise LoyaltyError("kind", _("must be percent or fixed"))
    try:
        value = to_decimal(value, field="value")
        min_purchase = to_decimal(min_purchase, field="min_purchase")
    except (TypeError, ValueError) as exc:
        raise LoyaltyError("value", str(exc)) from None
    if value <= 0 or (kind == PromoCard.Kind.PERCENT and value > 100):
        raise LoyaltyError("value", _("must be above zero (and at most 100 for a percentage)"))
    now = now or timezone.now()
    valid_until = valid_until or now + timedelta(days=PROMO_VALID_DAYS)
    if valid_until <= now:
        raise LoyaltyError("valid_until", _("must be in the future"))

    def earlier() -> PromoCard | None:
        card = PromoCard.objects.filter(
            business_id=customer.business_id, idempotency_key=key
        ).first()
        if card is not None and card.customer_id != customer.pk:
            raise LoyaltyConflict("idempotency_key", _("was already used for another operation"))
        return card

    if (found := earlier()) is not None:
        return found
    try:
        with transaction.atomic():
            card = PromoCard.objects.create(
                business_id=customer.business_id,
                customer=customer,
                kind=kind,
                value=value,
                min_purchase=min_purchase,
                reason=reason[:300],
                issued_at=now,
                valid_until=valid_until,
                issued_by=staff,
                idempotency_key=key,
            )
            TimelineEntry.objects.create(
                business_id=customer.business_id,
                customer=customer,
                kind=TimelineEntry.Kind.REWARD,
                at=now,
                text=reason[:300] or _("Promo card"),
                data={"promo_card": card.code, "kind": kind, "value": str(value)},
                staff=staff,
            )
            return card
    except IntegrityError:
        if (found := earlier()) is not None:
            return found
        raise


def use_promo_card(
    *,
    business: Business,
    code: str,
    purchase: Purchase | None = None,
    staff=None,
    now: datetime | None = None,
) -> PromoCard:
    """Mark a promo card used. Same rules as `use_voucher`; also refused under its minimum
    purchase when a purchase is given."""
    if purchase is not None:
        card = PromoCard.objects.filter(business=business, code=normalise_code(code)).first()
        if card is not None and purchase.total < card.min_purchase:
            raise LoyaltyError(
                "promo_card",
                _("needs a purchase of at least %(amount)s") % {"amount": card.min_purchase},
            )
    return _use(
        PromoCard,
        business=business,
        code=code,
        purchase=purchase,
        staff=staff,
        now=now,
        field="promo_card",
    )
