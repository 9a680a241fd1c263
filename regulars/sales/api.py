"""Purchases over the REST API: the reads, and the shapes and input resolution the writes share.

Recording a purchase and refunding one are in regulars/loyalty/api.py: a sale earns points in the
same transaction (loyalty.sale), and sales, below loyalty, must not import it. regulars/api.py
serves both apps' operations on the same paths.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from regulars.accounts.api_support import ERRORS, Instant, business_of, paginate
from regulars.accounts.models import Location
from regulars.accounts.tenancy import get_for_business
from regulars.customers.models import Customer
from regulars.lib.errors import DomainError
from regulars.lib.rows import columns, from_rows, read_all
from regulars.sales.models import Purchase, products_by_sku
from regulars.sales.purchases import Line

router = Router()
Money = Decimal


class LineIn(Schema):
    sku: str | None = Field(None, description="a product of the business; its name is used")
    name: str = Field("", max_length=200)
    quantity: int = Field(1, ge=1, le=10000)
    unit_price: Money = Field(..., ge=0, max_digits=10, decimal_places=2)


class PurchaseIn(Schema):
    customer: str | None = Field(None, description="customer code, or null for a guest sale")
    location: str | None = Field(None, description="location code")
    occurred_at: Instant | None = None
    external_id: str = Field("", max_length=100)
    amount: Money | None = Field(None, ge=0, max_digits=10, decimal_places=2)
    lines: list[LineIn] = Field([], max_length=500)


class LineOut(Schema):
    name: str
    quantity: int
    unit_price: Money
    amount: Money


class RefundOut(Schema):
    code: str
    amount: Money
    reason: str
    occurred_at: datetime


class PurchaseOut(Schema):
    code: str
    customer: str | None = Field(None, alias="customer.code")
    location: str | None = Field(None, alias="location.code")
    occurred_at: datetime
    total: Money
    refunded: Money
    currency: str = Field(..., alias="business.currency")
    external_id: str
    lines: list[LineOut]
    refunds: list[RefundOut]

    @staticmethod
    def resolve_lines(obj: Purchase):
        return list(obj.lines.all())

    @staticmethod
    def resolve_refunds(obj: Purchase):
        return list(obj.refunds.all())


class PurchasePage(Schema):
    items: list[PurchaseOut]
    next_cursor: str | None


class RefundIn(Schema):
    amount: Money | None = Field(
        None, gt=0, max_digits=10, decimal_places=2, description="omit for all"
    )
    reason: str = Field("", max_length=300)


def purchases_of(business):
    return (
        Purchase.objects.for_business(business)
        .select_related("customer", "location", "business")
        .prefetch_related("lines", "refunds")
    )


_CUSTOMER_SQL = (
    f"SELECT {columns(Customer)} FROM {Customer._meta.db_table} WHERE business_id = %s AND code = %s"
)


def resolve_purchase_input(business, payload: PurchaseIn) -> dict:
    """Turn codes and SKUs into objects of this business; unknown ones name their field."""
    customer = location = None
    if payload.customer:
        # Plain SQL, like the other per-sale lookups: compiling the ORM query (or a raw query's
        # model mapping) cost more than the database's answer. `code` is unique; the business
        # scopes it to this tenant.
        [found] = read_all([(_CUSTOMER_SQL, [business.pk, payload.customer])])
        customer = from_rows(Customer, found)[0] if found else None
        if customer is None:
            raise DomainError("customer", "no such customer in this business", code="not_found")
    if payload.location:
        location = Location.objects.for_business(business).filter(code=payload.location).first()
        if location is None:
            raise DomainError("location", "no such location in this business", code="not_found")
    lines = []
    products = products_by_sku(business.pk, {line.sku for line in payload.lines if line.sku})
    for i, line in enumerate(payload.lines):
        product = None
        if line.sku:
            product = products.get(line.sku)
            if product is None:
                raise DomainError(f"lines.{i}.sku", f"no product {line.sku!r} in this business")
        lines.append(
            Line(
                name=line.name, unit_price=line.unit_price, quantity=line.quantity, product=product
            )
        )
    return {
        "customer": customer,
        "location": location,
        "lines": lines,
        "amount": payload.amount,
        "occurred_at": payload.occurred_at,
        "external_id": payload.external_id,
    }


class PurchaseFilters(Schema):
    customer: str | None = None
    since: Instant | None = None
    until: Instant | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


@router.get("purchases", response={200: PurchasePage, **ERRORS}, summary="List purchases")
def list_purchases(request: HttpRequest, filters: Query[PurchaseFilters]):
    qs = purchases_of(business_of(request))
    if filters.customer:
        qs = qs.filter(customer__code=filters.customer)
    if filters.since:
        qs = qs.filter(occurred_at__gte=filters.since)
    if filters.until:
        qs = qs.filter(occurred_at__lt=filters.until)
    items, next_cursor = paginate(qs, cursor=filters.cursor, limit=filters.limit)
    return {"items": items, "next_cursor": next_cursor}


@router.get("purchases/{code}", response={200: PurchaseOut, **ERRORS}, summary="One purchase")
def get_purchase(request: HttpRequest, code: str):
    return get_for_business(purchases_of(business_of(request)), business_of(request), code=code)
