"""Customers over the REST API: create, update, find by phone/e-mail/card, list with a cursor."""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from regulars.accounts.api_support import (
    ERRORS,
    Instant,
    business_of,
    idempotent,
    paginate,
    require_write,
)
from regulars.accounts.tenancy import get_for_business
from regulars.customers.models import Customer
from regulars.customers.records import CustomerInput, create_customer, update_customer

router = Router()


class CustomerOut(Schema):
    code: str
    card_code: str
    name: str
    email: str
    phone: str
    birthday: date | None
    language: str
    marketing_consent: bool
    external_id: str
    tags: list[str]
    joined_at: datetime

    @staticmethod
    def resolve_tags(obj: Customer) -> list[str]:
        return sorted(t.name for t in obj.tags.all())


class CustomerIn(Schema):
    name: str = Field(..., min_length=1, max_length=200)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=32)
    birthday: date | None = None
    language: str = Field("", max_length=8)
    marketing_consent: bool = False
    external_id: str = Field("", max_length=100)
    notes: str = ""
    tags: list[str] = []


class CustomerPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32)
    birthday: date | None = None
    language: str | None = Field(None, max_length=8)
    marketing_consent: bool | None = None
    external_id: str | None = Field(None, max_length=100)
    notes: str | None = None
    tags: list[str] | None = None


class CustomerPage(Schema):
    items: list[CustomerOut]
    next_cursor: str | None


class CustomerFilters(Schema):
    q: str | None = Field(None, description="name, phone, e-mail or card code")
    phone: str | None = None
    email: str | None = None
    card_code: str | None = None
    external_id: str | None = None
    joined_after: Instant | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


@router.get("", response={200: CustomerPage, **ERRORS}, summary="List or search customers")
def list_customers(request: HttpRequest, filters: Query[CustomerFilters]):
    business = business_of(request)
    qs = Customer.objects.for_business(business).prefetch_related("tags")
    if filters.q:
        qs = qs.search(filters.q)
    if filters.phone:
        from regulars.lib.phone import normalise_phone

        qs = qs.filter(phone=normalise_phone(filters.phone))
    if filters.email:
        qs = qs.filter(email__iexact=filters.email.strip())
    if filters.card_code:
        from regulars.lib.codes import normalise_code

        qs = qs.filter(card_code=normalise_code(filters.card_code))
    if filters.external_id:
        qs = qs.filter(external_id=filters.external_id)
    if filters.joined_after:
        qs = qs.filter(joined_at__gte=filters.joined_after)
    items, next_cursor = paginate(qs, cursor=filters.cursor, limit=filters.limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post(
    "", response={201: CustomerOut, 200: CustomerOut, **ERRORS}, summary="Create a customer"
)
def create(request: HttpRequest, payload: CustomerIn):
    """Create a customer; an existing customer with the same e-mail or phone is returned (200)."""
    business = require_write(request)

    def run():
        customer, created = create_customer(
            business=business, data=CustomerInput(**payload.dict()), joined_at=timezone.now()
        )
        return (201 if created else 200), CustomerOut.from_orm(customer)

    return idempotent(request, endpoint="customers.create", payload=payload.dict(), run=run)


@router.get("/{code}", response={200: CustomerOut, **ERRORS}, summary="One customer")
def get_customer(request: HttpRequest, code: str):
    return get_for_business(
        Customer.objects.prefetch_related("tags"), business_of(request), code=code
    )


@router.patch("/{code}", response={200: CustomerOut, **ERRORS}, summary="Update a customer")
def patch_customer(request: HttpRequest, code: str, payload: CustomerPatch):
    business = require_write(request)
    with transaction.atomic():
        customer = get_for_business(Customer.objects.select_for_update(), business, code=code)
        update_customer(customer=customer, changes=payload.dict(exclude_unset=True))
    return Customer.objects.prefetch_related("tags").get(pk=customer.pk)
