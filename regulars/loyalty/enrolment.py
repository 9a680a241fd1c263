"""Becoming a member: one path for the counter and the join page.

Finds the person by e-mail or phone or creates them (customers.records.create_customer), and
pays the programs' "joined" bonus once, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from regulars.accounts.models import Business, Location
from regulars.customers.models import Customer
from regulars.customers.records import CustomerInput, create_customer
from regulars.lib.errors import DomainError
from regulars.loyalty.ledger import award_bonus
from regulars.loyalty.models import LedgerEntry
from regulars.loyalty.programs.base import Bonus


@dataclass
class Enrolment:
    customer: Customer
    created: bool  # False: they were a member already, found by e-mail or phone
    bonus: list[LedgerEntry] = field(default_factory=list)


def enrol(
    *,
    business: Business,
    data: CustomerInput,
    staff=None,
    location: Location | None = None,
) -> Enrolment:
    """Make someone a member of the business, or find them if they are one already.

    Invariant: one person, one record per business, even when two requests race (a double tap,
    the join page and the counter at once): the business row is locked around the
    find-or-create, so the second request waits and then finds the first one's customer. The
    joined bonus is keyed by the customer, so it is paid once, and only to a new member.
    """
    if not ((data.email or "").strip() or (data.phone or "").strip()):
        raise DomainError("phone", _("Enter a phone number or an e-mail address."))
    with transaction.atomic():
        # SQLite needs no lock (its write transactions already run one at a time).
        Business.objects.select_for_update().filter(pk=business.pk).values_list("pk").first()
        customer, created = create_customer(business=business, data=data, staff=staff)
        bonus = []
        if created:
            bonus = award_bonus(
                customer=customer,
                action=Bonus.JOINED,
                idempotency_key=f"joined:{customer.code}",
                staff=staff,
                location=location,
            )
    return Enrolment(customer=customer, created=created, bonus=bonus)


def pay_joined_bonus(sender, customer: Customer, **kwargs) -> None:
    """customer_created receiver (sent after commit): the joined bonus, once per customer."""
    award_bonus(customer=customer, action=Bonus.JOINED, idempotency_key=f"joined:{customer.code}")
