"""Creating and changing customer records: one path for the counter, the join page and the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from regulars.accounts.models import Business
from regulars.customers.models import Customer, Tag, TimelineEntry
from regulars.customers.signals import customer_created
from regulars.lib.errors import DomainError
from regulars.lib.phone import normalise_phone

LANGUAGE_CODES = {code for code, _ in settings.LANGUAGES}


@dataclass
class CustomerInput:
    name: str
    email: str = ""
    phone: str = ""
    birthday: date | None = None
    language: str = ""
    marketing_consent: bool = False
    external_id: str = ""
    notes: str = ""
    tags: list[str] = field(default_factory=list)


def _clean_contact(email: str, phone: str) -> tuple[str, str]:
    email = (email or "").strip().lower()
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise DomainError("email", f"{email!r} is not an e-mail address") from exc
    raw_phone = (phone or "").strip()
    phone = normalise_phone(raw_phone)
    if raw_phone and not 6 <= len(phone.lstrip("+")) <= 15:
        raise DomainError("phone", f"{raw_phone!r} is not a phone number")
    return email, phone


def _check_language(language: str) -> str:
    language = (language or "").strip().lower()
    if language and language not in LANGUAGE_CODES:
        raise DomainError("language", f"must be one of {', '.join(sorted(LANGUAGE_CODES))}")
    return language


def find_existing(business: Business, *, email: str, phone: str) -> Customer | None:
    """The customer of this business with this e-mail or phone, if any (e-mail wins)."""
    q = Q()
    if email:
        q |= Q(email=email)
    if phone:
        q |= Q(phone=phone)
    if not q:
        return None
    matches = list(Customer.objects.for_business(business).filter(q).order_by("pk")[:5])
    by_email = [c for c in matches if email and c.email == email]
    return (by_email or matches or [None])[0]


def _set_tags(customer: Customer, names: list[str]) -> None:
    tags = []
    for name in {n.strip() for n in names if n and n.strip()}:
        tag, _ = Tag.objects.get_or_create(business_id=customer.business_id, name=name[:60])
        tags.append(tag)
    customer.tags.set(tags)


def create_customer(
    *, business: Business, data: CustomerInput, joined_at: datetime | None = None, staff=None
) -> tuple[Customer, bool]:
    """Create a customer, or return the existing one with the same e-mail or phone.

    Invariant: one person, one record per business, whichever door they come in by.
    """
    name = (data.name or "").strip()
    if not name:
        raise DomainError("name", "is required")
    email, phone = _clean_contact(data.email, data.phone)
    language = _check_language(data.language)
    with transaction.atomic():
        existing = find_existing(business, email=email, phone=phone)
        if existing is not None:
            return existing, False
        now = joined_at or timezone.now()
        customer = Customer.objects.create(
            business=business,
            name=name,
            email=email,
            phone=phone,
            birthday=data.birthday,
            language=language,
            marketing_consent=data.marketing_consent,
            consent_at=now if data.marketing_consent else None,
            external_id=data.external_id.strip(),
            notes=data.notes,
            joined_at=now,
        )
        if data.tags:
            _set_tags(customer, data.tags)
        TimelineEntry.objects.create(
            business=business,
            customer=customer,
            kind=TimelineEntry.Kind.JOINED,
            at=now,
            staff=staff,
        )
        transaction.on_commit(lambda: customer_created.send(sender=Customer, customer=customer))
    return customer, True


def update_customer(*, customer: Customer, changes: dict[str, Any]) -> Customer:
    """Apply validated changes; e-mail or phone may not collide with another customer."""
    if "name" in changes:
        if not (changes["name"] or "").strip():
            raise DomainError("name", "is required")
        customer.name = changes["name"].strip()
    if "email" in changes or "phone" in changes:
        email, phone = _clean_contact(
            changes.get("email", customer.email) or "", changes.get("phone", customer.phone) or ""
        )
        others = Customer.objects.for_business(customer.business).exclude(pk=customer.pk)
        if email and others.filter(email=email).exists():
            raise DomainError("email", "another customer has this e-mail", code="duplicate")
        if phone and others.filter(phone=phone).exists():
            raise DomainError("phone", "another customer has this phone", code="duplicate")
        customer.email, customer.phone = email, phone
    if "language" in changes:
        customer.language = _check_language(changes["language"] or "")
    if "marketing_consent" in changes and changes["marketing_consent"] is not None:
        if changes["marketing_consent"] and not customer.marketing_consent:
            customer.consent_at = timezone.now()
        customer.marketing_consent = changes["marketing_consent"]
    for name in ("birthday", "external_id", "notes"):
        if name in changes and changes[name] is not None:
            setattr(customer, name, changes[name])
    customer.save()
    if changes.get("tags") is not None:
        _set_tags(customer, changes["tags"])
    return customer
