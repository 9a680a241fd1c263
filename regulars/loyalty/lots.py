"""Lots: which earned points are still there, spent, taken back or expired — first in, first out.

A lot is a positive earn or adjustment. Spending (redemptions and downward adjustments, net of
their undos) is not tied to lots in the ledger; it is allocated here to lots in the order they
were earned, so the oldest points are the first spent and, when due, the first expired.
Refunds and undos reverse one lot by name; an expiry entry names its lot.

Everything is computed from the entries, so the allocation can never drift from the ledger:
for any account, balance = Σ lot.remaining − book.uncovered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from regulars.lib.rows import columns, converted
from regulars.loyalty.models import LedgerEntry

Kind = LedgerEntry.Kind


class LotEntry(NamedTuple):
    """What the lot book reads of an entry: for a reader of many entries (the card of a regular
    of years), who only needs the book's figures, not entries to write against."""

    pk: int
    account_id: int
    kind: str
    amount: int
    waived: int
    at: datetime
    expires_at: datetime | None
    reverses_id: int | None
    lot_id: int | None


_LOT_FIELDS = ["id", "account_id", "kind", "amount", "waived", "at", "expires_at",
               "reverses_id", "lot_id"]  # fmt: skip


def entries_query(accounts_sql: str, params: list) -> tuple[str, list]:
    """Every entry of the accounts `accounts_sql` selects (their ids), for `entries_from`."""
    return (
        f"SELECT {columns(LedgerEntry, _LOT_FIELDS)} FROM {LedgerEntry._meta.db_table} "
        f"WHERE account_id IN ({accounts_sql})",
        params,
    )


def entries_from(rows: list[tuple]) -> list[LotEntry]:
    return [LotEntry._make(row) for row in converted(LedgerEntry, _LOT_FIELDS, rows)]


@dataclass(slots=True)
class Lot:
    entry: LedgerEntry | LotEntry
    reversed: int = 0  # taken back by refunds or undo
    waived: int = 0  # should have been taken back but was not (see RefundRule)
    expired: int = 0
    consumed: int = 0  # spent, by FIFO allocation

    @property
    def pk(self) -> int:
        return self.entry.pk

    @property
    def amount(self) -> int:
        return self.entry.amount

    @property
    def net(self) -> int:
        return self.amount - self.reversed

    @property
    def remaining(self) -> int:
        return self.net - self.expired - self.consumed

    @property
    def settled(self) -> int:
        """What refunds and undos have already dealt with, taken back or waived."""
        return self.reversed + self.waived


@dataclass
class Book:
    lots: list[Lot]
    debit: int  # spent, net of undone spending
    uncovered: int  # spending no lot covers: how far the balance is below zero
    reversals: dict[int, int] = field(default_factory=dict)  # entry pk → signed sum reversed

    def lot(self, pk: int) -> Lot:
        for lot in self.lots:
            if lot.pk == pk:
                return lot
        raise KeyError(pk)

    def due(self, now: datetime) -> list[Lot]:
        """Lots whose expiry has come that still hold points."""
        return [
            lot
            for lot in self.lots
            if lot.entry.expires_at is not None
            and lot.entry.expires_at <= now
            and lot.remaining > 0
        ]

    def next_expiring(self, after: datetime) -> tuple[int, datetime | None]:
        """How much expires first after `after`, and when: (0, None) if nothing will."""
        dates = [
            lot.entry.expires_at
            for lot in self.lots
            if lot.entry.expires_at is not None
            and lot.entry.expires_at > after
            and lot.remaining > 0
        ]
        if not dates:
            return 0, None
        first = min(dates)
        return sum(lot.remaining for lot in self.lots if lot.entry.expires_at == first), first

    def expiring(self, after: datetime, until: datetime) -> list[Lot]:
        return [
            lot
            for lot in self.lots
            if lot.entry.expires_at is not None
            and after < lot.entry.expires_at <= until
            and lot.remaining > 0
        ]


def book(entries: Iterable[LedgerEntry | LotEntry]) -> Book:
    """Allocate an account's spending to its lots, oldest first. `entries` are one account's."""
    entries = list(entries)
    reversed_by: dict[int, int] = defaultdict(int)
    waived_by: dict[int, int] = defaultdict(int)
    for e in entries:
        if e.kind == Kind.REVERSE:
            reversed_by[e.reverses_id] += e.amount
            waived_by[e.reverses_id] += e.waived
    lots = [
        Lot(entry=e, reversed=-reversed_by[e.pk], waived=waived_by[e.pk])
        for e in sorted(entries, key=lambda e: (e.at, e.pk))
        if e.kind in (Kind.EARN, Kind.ADJUST) and e.amount > 0
    ]
    by_pk = {lot.pk: lot for lot in lots}
    debit = 0
    for e in entries:
        if e.kind == Kind.EXPIRE and e.lot_id in by_pk:
            by_pk[e.lot_id].expired -= e.amount
        elif e.kind in (Kind.REDEEM, Kind.ADJUST) and e.amount < 0:
            debit += -e.amount - reversed_by[e.pk]
    left = debit
    for lot in lots:
        # lot.net - lot.expired, without the properties: this runs for every lot of a regular
        # of years on each scan at the counter.
        take = min(max(lot.entry.amount - lot.reversed - lot.expired, 0), left)
        lot.consumed = take
        left -= take
    return Book(lots=lots, debit=debit, uncovered=left, reversals=dict(reversed_by))
