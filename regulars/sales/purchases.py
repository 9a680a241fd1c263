"""Recording purchases and refunds: the one place that writes sales, atomically and idempotently."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from regulars.accounts.models import Business, Location
from regulars.customers.models import Customer, TimelineEntry
from regulars.lib.errors import DomainError
from regulars.lib.money import CENT, to_decimal
from regulars.lib.rows import Batch
from regulars.sales.models import Product, Purchase, PurchaseLine, Refund
from regulars.sales.signals import purchase_recorded, purchase_refunded


class SaleError(DomainError):
    """Bad input for a sale; `field` names what was wrong."""


@dataclass(frozen=True)
class Line:
    name: str
    unit_price: Decimal
    quantity: int = 1
    product: Product | None = None


@dataclass
class NewPurchase:
    """A purchase and the rows that come with it, built and checked but not written yet."""

    purchase: Purchase
    lines: list[PurchaseLine]
    timeline: TimelineEntry | None

    def add_to(self, batch: Batch) -> None:
        """Queue the rows in `batch`, the purchase first (its lines and timeline entry point at it)."""
        batch.insert([self.purchase])
        batch.insert(self.lines)
        if self.timeline is not None:
            batch.insert([self.timeline])

    def written(self) -> Purchase:
        """The purchase once the batch has run, announced on commit."""
        purchase = self.purchase
        transaction.on_commit(lambda: purchase_recorded.send(sender=Purchase, purchase=purchase))
        return purchase


def new_purchase(
    *,
    business: Business,
    customer: Customer | None,
    lines: list[Line] | None = None,
    amount: Decimal | None = None,
    location: Location | None = None,
    cashier=None,
    occurred_at: datetime | None = None,
    idempotency_key: str | None = None,
    external_id: str = "",
) -> NewPurchase:
    """Check a purchase's input and build its rows (purchase, lines, timeline); nothing is written.

    Bad input raises SaleError naming the field. A purchase's total is the sum of its lines;
    amounts are in cents, as the database keeps them, so the objects say what it will say.
    """
    if customer is not None and customer.business_id != business.pk:
        raise SaleError("customer", "belongs to another business")
    if location is not None and location.business_id != business.pk:
        raise SaleError("location", "belongs to another business")
    if not lines:
        if amount is None:
            raise SaleError("amount", "enter an amount or at least one item")
        lines = [Line(name="", unit_price=to_decimal(amount))]
    for i, line in enumerate(lines):
        if line.quantity < 1:
            raise SaleError(f"lines[{i}].quantity", "must be at least 1")
        if line.unit_price < 0:
            raise SaleError(f"lines[{i}].unit_price", "must not be negative")
        if line.product is not None and line.product.business_id != business.pk:
            raise SaleError(f"lines[{i}].product", "belongs to another business")
    lines = [replace(line, unit_price=line.unit_price.quantize(CENT)) for line in lines]
    total = sum((line.unit_price * line.quantity for line in lines), Decimal("0.00"))
    when = occurred_at or timezone.now()
    purchase = Purchase(
        business=business,
        customer=customer,
        location=location,
        cashier=cashier,
        occurred_at=when,
        total=total,
        refunded=Decimal("0.00"),
        idempotency_key=idempotency_key or None,
        external_id=external_id,
    )
    rows = [
        PurchaseLine(
            purchase=purchase,
            product=line.product,
            name=line.name or (line.product.name if line.product else ""),
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.unit_price * line.quantity,
        )
        for line in lines
    ]
    timeline = None
    if customer is not None:
        timeline = TimelineEntry(
            business=business,
            customer=customer,
            kind=TimelineEntry.Kind.PURCHASE,
            at=when,
            data={"purchase": purchase.code, "total": str(total)},
            staff=cashier,
            location=location,
        )
    # The lines travel with the purchase, so a caller that reads them next (loyalty's accrual,
    # the API's answer) needs no query for them.
    purchase.lines_written = rows
    return NewPurchase(purchase, rows, timeline)


def earlier_purchase(business_id: int, idempotency_key: str | None) -> Purchase | None:
    """The purchase recorded before under this key, if any."""
    if not idempotency_key:
        return None
    return Purchase.objects.filter(business_id=business_id, idempotency_key=idempotency_key).first()


def record_purchase(**kwargs) -> tuple[Purchase, bool]:
    """Record a purchase from line items (or one plain amount). Returns (purchase, created).

    Takes `new_purchase`'s keywords. Invariant: the same idempotency key returns the first
    purchase and writes nothing (the purchase's unique key refuses the second INSERT). A
    purchase this call created carries `lines_written`, the lines it wrote (with their
    products), so a caller that reads them next needs no query for them.
    """
    new = new_purchase(**kwargs)
    try:
        with transaction.atomic():
            batch = Batch()
            new.add_to(batch)
            batch.run()
            purchase = new.written()
    except IntegrityError:
        # The key was used before (a retry), or by a concurrent retry that won the race: return
        # that purchase. Trying the INSERT first saves the hot path a look-up per sale.
        if found := earlier_purchase(new.purchase.business_id, new.purchase.idempotency_key):
            return found, False
        raise
    return purchase, True


def refund_purchase(
    *,
    purchase: Purchase,
    amount: Decimal | None = None,
    reason: str = "",
    staff=None,
    idempotency_key: str | None = None,
) -> tuple[Refund, bool]:
    """Refund all of a purchase or part of it. Returns (refund, created).

    The purchase row is locked so two refunds racing cannot give back more than was paid.
    """
    if idempotency_key:
        found = Refund.objects.filter(
            business_id=purchase.business_id, idempotency_key=idempotency_key
        ).first()
        if found is not None:
            return found, False
    with transaction.atomic():
        locked = Purchase.objects.select_for_update().get(pk=purchase.pk)
        remaining = locked.total - locked.refunded
        value = remaining if amount is None else to_decimal(amount)
        if value <= 0:
            raise SaleError("amount", "must be more than zero")
        if value > remaining:
            raise SaleError("amount", f"at most {remaining} can still be refunded")
        refund = Refund.objects.create(
            business_id=locked.business_id,
            purchase=locked,
            amount=value,
            reason=reason,
            staff=staff,
            occurred_at=timezone.now(),
            idempotency_key=idempotency_key or None,
        )
        locked.refunded = locked.refunded + value
        locked.save(update_fields=["refunded"])
        if locked.customer_id:
            TimelineEntry.objects.create(
                business_id=locked.business_id,
                customer_id=locked.customer_id,
                kind=TimelineEntry.Kind.REFUND,
                at=refund.occurred_at,
                data={"purchase": locked.code, "amount": str(value)},
                staff=staff,
            )
        transaction.on_commit(lambda: purchase_refunded.send(sender=Refund, refund=refund))
    purchase.refunded = locked.refunded
    return refund, True
