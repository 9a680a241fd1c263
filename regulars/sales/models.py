"""Products, purchases with line items, and refunds. Amounts are Decimal in the business currency."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from regulars.accounts.models import Business, BusinessOwned, Location
from regulars.customers.models import Customer
from regulars.lib.codes import new_code
from regulars.lib.ttlcache import BusinessCache

MONEY = {"max_digits": 12, "decimal_places": 2}


class Product(BusinessOwned):
    """An item on the menu or shelf, with its current price."""

    sku = models.CharField(_("SKU"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=100, blank=True)
    price = models.DecimalField(_("price"), **MONEY)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["category", "name"]
        constraints = [models.UniqueConstraint(fields=["business", "sku"], name="sku_unique")]

    def __str__(self) -> str:
        return self.name


# --- products by SKU, kept per process ------------------------------------------------------
#
# Every sale over the API turns its SKUs into products. Each process keeps the products it has
# looked up, per business, for at most PRODUCTS_TTL_S seconds (regulars.lib.ttlcache). A product
# saved or deleted in this process is seen by the next sale; one created elsewhere is seen at
# once too (an unknown SKU is always looked up); one renamed, recategorised or deleted by
# another process is seen within the TTL. The cached instances are shared between threads:
# treat them as read-only.

PRODUCTS_TTL_S = 5.0
_products: BusinessCache[dict[str, Product]] = BusinessCache(PRODUCTS_TTL_S)


def products_by_sku(business_id: int, skus) -> dict[str, Product]:
    """The business's products with these SKUs, by SKU; unknown SKUs are left out."""
    known = _products.get(business_id, lambda _: {})
    missing = [sku for sku in skus if sku not in known]
    if missing:
        for product in Product.objects.filter(business_id=business_id, sku__in=missing):
            known[product.sku] = product
    return {sku: known[sku] for sku in skus if sku in known}


def forget_products(business_id: int | None = None) -> None:
    _products.forget(business_id)


_products.follow(Product, "sales.products")


class Purchase(BusinessOwned):
    """One sale at a location, optionally to a known customer. `total` is the sum of its lines.

    `idempotency_key` is unique per business: a POS or counter retry finds the first purchase
    instead of recording a second one.
    """

    # business, customer and occurred_at lead composite indexes below (every query is scoped by
    # business or customer); indexes of their own would only slow every sale and import.
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+", db_index=False)
    code = models.CharField(max_length=12, default=new_code, unique=True, editable=False)
    location = models.ForeignKey(Location, null=True, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="purchases",
        db_index=False,
    )  # fmt: skip
    occurred_at = models.DateTimeField(_("date"))
    total = models.DecimalField(_("total"), **MONEY)
    refunded = models.DecimalField(_("refunded"), default=Decimal("0"), **MONEY)
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    external_id = models.CharField(max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        constraints = [
            models.UniqueConstraint(
                fields=["business", "idempotency_key"], name="purchase_idempotency"
            ),
            models.CheckConstraint(condition=models.Q(total__gte=0), name="purchase_total_gte_0"),
            models.CheckConstraint(
                condition=models.Q(refunded__lte=models.F("total")), name="refund_lte_total"
            ),
        ]
        indexes = [
            models.Index(fields=["business", "occurred_at"]),
            models.Index(fields=["customer", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def net_total(self) -> Decimal:
        return self.total - self.refunded


class PurchaseLine(models.Model):
    """One line of a purchase: a product (or free text), quantity and amount."""

    purchase = models.ForeignKey(Purchase, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(**MONEY)
    amount = models.DecimalField(**MONEY)


class Refund(BusinessOwned):
    """Money given back on a purchase, whole or in part. Never more than was paid."""

    code = models.CharField(max_length=12, default=new_code, unique=True, editable=False)
    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(**MONEY)
    reason = models.CharField(max_length=300, blank=True)
    occurred_at = models.DateTimeField()
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["business", "idempotency_key"], name="refund_idempotency"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_gt_0"),
        ]
