"""Expiry by lots: first earned, first expired; and the "expiring soon" query and event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from regulars.accounts.models import Business
from regulars.customers.models import Customer
from regulars.loyalty import lots as lotbook
from regulars.loyalty.ledger import _lock_by_pk, _post
from regulars.loyalty.models import Account, LedgerEntry, Program, from_units
from regulars.loyalty.signals import points_expired, points_expiring

Kind = LedgerEntry.Kind


def _accounts_with_lots(business: Business, **lot_filter) -> list[int]:
    """Accounts holding something (balance > 0) with a lot matching `lot_filter`.

    A balance of zero or less means every lot is spent or gone (balance = Σ remaining −
    uncovered), so those accounts are skipped without reading their entries.
    """
    lots = LedgerEntry.objects.lots().filter(account=OuterRef("pk"), **lot_filter)
    return list(
        Account.objects.filter(business=business, balance__gt=0)
        .filter(Exists(lots))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def expire_due(*, business: Business, now: datetime | None = None) -> list[LedgerEntry]:
    """Expire what is left of every lot whose expiry has come, oldest lot first.

    The amount expired from a lot is what FIFO spending left in it, so points spent count
    against the oldest lots and never expire twice. One short transaction per account (under
    its lock), so the nightly run never holds a business-wide lock and can stop and resume.

    Invariant: idempotent — running it again at the same `now` (or twice at once) expires
    nothing more; an expiry entry takes effect at its lot's expiry time.
    """
    now = now or timezone.now()
    written: list[LedgerEntry] = []
    for account_id in _candidates(business, now):
        with transaction.atomic():
            account = _lock_by_pk([account_id])[account_id]
            book = lotbook.book(LedgerEntry.objects.filter(account=account))
            entries = []
            for lot in book.due(now):
                seq = LedgerEntry.objects.filter(lot=lot.entry).count()
                entries.append(
                    _post(
                        account,
                        kind=Kind.EXPIRE,
                        amount=-lot.remaining,
                        at=lot.entry.expires_at,
                        operation=f"expire:{account.code}:{now.isoformat()}",
                        key=f"expire:{lot.pk}:{seq}",
                        lot=lot.entry,
                        reason=_("Expired"),
                    )
                )
            account.expired_through = now
            Account.objects.filter(pk=account.pk).update(expired_through=now)
            if entries:
                written.extend(entries)
                transaction.on_commit(
                    lambda e=entries: points_expired.send(
                        sender=LedgerEntry, business=business, entries=e
                    )
                )
    return written


def _candidates(business: Business, now: datetime) -> list[int]:
    # `expired_through` says an account was settled up to then: only accounts never settled,
    # or with a lot due since, need their entries read.
    due = LedgerEntry.objects.lots().filter(account=OuterRef("pk"), expires_at__lte=now)
    return list(
        Account.objects.filter(business=business, balance__gt=0)
        .alias(
            due=Exists(due),
            due_since=Exists(due.filter(expires_at__gt=OuterRef("expired_through"))),
        )
        .filter(Q(expired_through__isnull=True, due=True) | Q(due_since=True))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class Expiring:
    """Units of one account that will expire at one moment unless spent first."""

    customer: Customer
    program: Program
    account: Account
    amount: int  # ledger units (cents for credit)
    expires_at: datetime

    @property
    def value(self) -> int:
        return from_units(self.account.unit, self.amount)

    @property
    def key(self) -> str:
        """Stable per account and day: lets a receiver tell a reminder it already sent."""
        return f"{self.account.code}:{self.expires_at.date().isoformat()}"


def expiring_soon(
    *, business: Business, within_days: int, now: datetime | None = None
) -> list[Expiring]:
    """What will expire within `within_days` if the customer does not spend it, soonest first.

    Counts only what FIFO spending leaves in each lot, the same amount `expire_due` would take.
    """
    now = now or timezone.now()
    until = now + timedelta(days=within_days)
    account_ids = _accounts_with_lots(business, expires_at__gt=now, expires_at__lte=until)
    accounts = {
        a.pk: a
        for a in Account.objects.filter(pk__in=account_ids).select_related("customer", "program")
    }
    entries: dict[int, list[LedgerEntry]] = {pk: [] for pk in accounts}
    for entry in LedgerEntry.objects.filter(account_id__in=accounts):
        entries[entry.account_id].append(entry)
    found: list[Expiring] = []
    for pk, account in accounts.items():
        for lot in lotbook.book(entries[pk]).expiring(now, until):
            found.append(
                Expiring(
                    customer=account.customer,
                    program=account.program,
                    account=account,
                    amount=lot.remaining,
                    expires_at=lot.entry.expires_at,
                )
            )
    found.sort(key=lambda e: (e.expires_at, e.account.pk))
    return found


def announce_expiring(
    *, business: Business, within_days: int, now: datetime | None = None
) -> list[Expiring]:
    """Send `points_expiring` for everything `expiring_soon` finds. Receivers de-duplicate by
    `key`, so announcing every night is safe; the messaging issue decides what to send."""
    found = expiring_soon(business=business, within_days=within_days, now=now)
    for item in found:
        points_expiring.send(
            sender=Program,
            business=business,
            customer=item.customer,
            program=item.program,
            amount=item.amount,
            value=item.value,
            expires_at=item.expires_at,
            key=item.key,
        )
    return found
