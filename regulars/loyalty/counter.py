"""What the counter (the cashier's page) needs beyond the ledger: finding a customer from one
field, the products for its quick buttons, and undoing its last action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from regulars.accounts.models import Business
from regulars.customers.models import Customer
from regulars.lib.codes import normalise_code
from regulars.lib.rows import columns, from_rows, read_all
from regulars.loyalty.errors import LoyaltyConflict, LoyaltyError
from regulars.loyalty.ledger import UNDO_WINDOW, undo
from regulars.loyalty.models import LedgerEntry
from regulars.loyalty.sale import refund_sale
from regulars.sales.models import Product, Purchase, PurchaseLine, Refund

# The shortest input tried as a card code: card codes are 12 symbols, people type shorter things.
CARD_CODE_MIN = 8
RESULTS = 8
QUICK_PRODUCTS = 8
QUICK_PRODUCTS_DAYS = 90
QUICK_PRODUCTS_CACHE = 600  # seconds


def find_customers(business: Business, term: str, *, limit: int = RESULTS) -> list[Customer]:
    """Who the counter's one field means: a scanned card code, a phone, an e-mail or a name.

    A card code is tried first as one hit on the unique card_code index (the scanner path must
    stay fast with 100,000 customers); only when that finds no one does the broader search run.
    """
    term = (term or "").strip()
    if not term:
        return []
    code = normalise_code(term)
    if len(code) >= CARD_CODE_MIN:
        # Plain SQL: the scanner's path, where compiling the ORM query cost more than the
        # database's answer.
        [found] = read_all([(_CARD_SQL, [business.pk, code])])
        if found:
            return from_rows(Customer, found)
    return list(Customer.objects.for_business(business).search(term).order_by("name", "pk")[:limit])


_CARD_SQL = (
    f"SELECT {columns(Customer)} FROM {Customer._meta.db_table} "
    "WHERE business_id = %s AND card_code = %s"
)


@dataclass(frozen=True)
class QuickProduct:
    sku: str
    name: str
    price: str  # Decimal as text: the cached value must survive any cache backend


def quick_products(business: Business, *, limit: int = QUICK_PRODUCTS) -> list[QuickProduct]:
    """The business's most sold products of the last 90 days (topped up with other active
    products), for the counter's quick buttons.

    Cached for ten minutes: counting sold lines is the one heavy query the counter would
    otherwise run on every scan. The sale itself reads the current price, never the cache.
    """
    key = f"counter:quick:{business.pk}:{business.created_at.timestamp()}:{limit}"
    found = cache.get(key)
    if found is not None:
        return found
    since = timezone.now() - timedelta(days=QUICK_PRODUCTS_DAYS)
    top = list(
        PurchaseLine.objects.filter(
            purchase__business=business,
            purchase__occurred_at__gte=since,
            product__isnull=False,
            product__active=True,
        )
        .values("product")
        .annotate(n=Count("id"))
        .order_by("-n", "product")
        .values_list("product", flat=True)[:limit]
    )
    products = {p.pk: p for p in Product.objects.filter(business=business, pk__in=top)}
    chosen = [products[pk] for pk in top if pk in products]
    if len(chosen) < limit:
        chosen += Product.objects.filter(business=business, active=True).exclude(pk__in=top)[
            : limit - len(chosen)
        ]
    found = [QuickProduct(p.sku, p.name, str(p.price)) for p in chosen]
    cache.set(key, found, QUICK_PRODUCTS_CACHE)
    return found


def is_sale(entry: LedgerEntry) -> bool:
    """An accrual entry: what a purchase earned (refunds and undos post reversals, not earns)."""
    return entry.kind == LedgerEntry.Kind.EARN and entry.purchase_id is not None


@dataclass
class Undone:
    entries: list[LedgerEntry] = field(default_factory=list)
    purchase: Purchase | None = None  # set when a sale was undone
    refund: Refund | None = None
    created: bool = True  # False on a retry


def undo_action(
    *,
    entry: LedgerEntry,
    staff,
    idempotency_key: str,
    now: datetime | None = None,
    window: timedelta = UNDO_WINDOW,
) -> Undone:
    """Undo the counter's action that wrote `entry`: a sale, a redemption or an adjustment.

    A sale is undone as a full refund of its purchase (`refund_sale`), not by reversing its
    ledger entries alone. Reversing only the points would leave a purchase in the sales that
    earned nothing: revenue, visits, tiers and the customer's timeline would count a sale that
    the ledger says never happened, and a later refund of it would find nothing to take back.
    The refund takes the purchase out of the sales (net zero, with the reason on record) and,
    through `reverse_purchase`, takes back exactly what it earned, so sales and ledger agree.
    A redemption or an adjustment is undone by `ledger.undo` (the points come back, the
    voucher is voided; refused once the voucher was used).

    Only within `window` of when the entry was written. A retry with the same key returns the
    first result with `created=False`.
    """
    now = now or timezone.now()
    if not is_sale(entry):
        retry = LedgerEntry.objects.filter(
            business_id=entry.business_id, operation=idempotency_key
        ).exists()
        entries = undo(
            entry=entry, staff=staff, idempotency_key=idempotency_key, now=now, window=window
        )
        return Undone(entries=entries, created=not retry)
    purchase = Purchase.objects.get(pk=entry.purchase_id)
    retry = Refund.objects.filter(
        business_id=entry.business_id, idempotency_key=idempotency_key
    ).exists()
    if not retry:
        if now - entry.created_at > window:
            raise LoyaltyError(
                "entry",
                _("can only be undone within %(minutes)d minutes")
                % {"minutes": window.total_seconds() // 60},
                code="too_late",
            )
        if purchase.refunded >= purchase.total:
            raise LoyaltyConflict("entry", _("was already undone"))
    result = refund_sale(
        purchase=purchase,
        idempotency_key=idempotency_key,
        reason=_("Undone at the counter"),
        staff=staff,
    )
    return Undone(
        entries=result.reversed, purchase=purchase, refund=result.refund, created=result.created
    )
