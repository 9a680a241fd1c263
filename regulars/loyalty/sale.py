"""A sale at the counter or from a POS: the purchase and what it earns, in one transaction.

The money path reads top to bottom here: record the purchase (sales), then accrue it (ledger).
Both are idempotent under derived keys, so a retried request returns the first sale and the
first accrual, and a crash between the two cannot leave a purchase that earned nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from regulars.accounts.models import Business, Location
from regulars.customers.models import Customer
from regulars.loyalty.ledger import Accrual, accrue_purchase, reverse_purchase
from regulars.loyalty.models import LedgerEntry
from regulars.sales.models import Purchase, Refund
from regulars.sales.purchases import Line, record_purchase, refund_purchase


@dataclass
class Sale:
    purchase: Purchase
    accrual: Accrual
    created: bool


@dataclass
class SaleRefund:
    refund: Refund
    reversed: list[LedgerEntry]
    created: bool


def record_sale(
    *,
    business: Business,
    customer: Customer | None,
    idempotency_key: str,
    lines: list[Line] | None = None,
    amount: Decimal | None = None,
    location: Location | None = None,
    cashier=None,
    occurred_at: datetime | None = None,
    external_id: str = "",
) -> Sale:
    """Record a purchase and run it through the business's loyalty programs, atomically.

    Invariant: one idempotency key, one purchase, one accrual — however often it is retried.
    """
    with transaction.atomic():
        purchase, created = record_purchase(
            business=business,
            customer=customer,
            lines=lines,
            amount=amount,
            location=location,
            cashier=cashier,
            occurred_at=occurred_at,
            idempotency_key=idempotency_key,
            external_id=external_id,
        )
        accrual = accrue_purchase(
            purchase=purchase,
            idempotency_key=f"accrue:{purchase.code}",
            staff=cashier,
            lines=getattr(purchase, "lines_written", None),
            just_recorded=created,
        )
    return Sale(purchase=purchase, accrual=accrual, created=created)


def refund_sale(
    *,
    purchase: Purchase,
    idempotency_key: str,
    amount: Decimal | None = None,
    reason: str = "",
    staff=None,
) -> SaleRefund:
    """Refund a purchase (all or part) and take back its points pro rata, atomically."""
    with transaction.atomic():
        refund, created = refund_purchase(
            purchase=purchase,
            amount=amount,
            reason=reason,
            staff=staff,
            idempotency_key=idempotency_key,
        )
        reversed_entries = reverse_purchase(
            purchase=purchase, refund=refund, idempotency_key=f"refund:{refund.code}"
        )
    return SaleRefund(refund=refund, reversed=reversed_entries, created=created)
