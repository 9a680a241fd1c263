"""A sale at the counter or from a POS: the purchase and what it earns, in one transaction.

The money path reads top to bottom here: record the purchase (sales), then accrue it (ledger).
Both are idempotent under derived keys, so a retried request returns the first sale and the
first accrual, and a crash between the two cannot leave a purchase that earned nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Model

from regulars.lib.rows import Batch
from regulars.loyalty.ledger import Accrual, accrue_new, accrue_purchase, reverse_purchase
from regulars.loyalty.models import LedgerEntry
from regulars.sales.models import Purchase, Refund
from regulars.sales.purchases import earlier_purchase, new_purchase, refund_purchase


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
    *, idempotency_key: str, also: Callable[[Sale], list[Model]] | None = None, **fields
) -> Sale:
    """Record a purchase and run it through the business's loyalty programs, atomically.

    Takes `sales.purchases.new_purchase`'s keywords (business, customer, lines or amount,
    location, cashier, occurred_at, external_id). Invariant: one idempotency key, one purchase,
    one accrual — however often it is retried. A retry returns the first sale with
    `created=False`.

    The sale reads what it needs in one round trip (the customer's accounts, locked; tiers)
    and writes everything in one more (`regulars.lib.rows.Batch`): purchase, lines, timeline,
    ledger entries, balances. `also(sale)` may add rows of its own to that write, built from
    the sale before it is written (the API's stored answer for its Idempotency-Key); they
    commit with the sale or not at all.
    """
    new = new_purchase(idempotency_key=idempotency_key, **fields)
    business, cashier = fields["business"], fields.get("cashier")
    purchase = new.purchase
    try:
        with transaction.atomic():
            batch = Batch()
            new.add_to(batch)
            accrual = accrue_new(batch, purchase, new.lines, staff=cashier)
            sale = Sale(purchase=purchase, accrual=accrual, created=True)
            if also is not None:
                for rows in _by_model(also(sale)):
                    batch.insert(rows)
            batch.run()
            new.written()
    except IntegrityError:
        # The key was used before (a retry), or by a concurrent retry that won the race: answer
        # with that purchase and its accrual. Trying the INSERT first saves every sale a look-up.
        found = earlier_purchase(business.pk, idempotency_key)
        if found is None:
            raise
        accrual = accrue_purchase(
            purchase=found, idempotency_key=f"accrue:{found.code}", staff=cashier
        )
        return Sale(purchase=found, accrual=accrual, created=False)
    return sale


def _by_model(rows: list[Model]) -> list[list[Model]]:
    groups: dict[type, list[Model]] = {}
    for row in rows:
        groups.setdefault(type(row), []).append(row)
    return list(groups.values())


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
