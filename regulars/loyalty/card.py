"""What a customer has, in one read: for the counter after a scan and for the customer's card.

`balances(customer)` reads everything in one round trip of plain SELECTs, whatever the
customer's history, so a lookup stays fast for a business of any size and a regular of years.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from regulars.customers.models import Customer
from regulars.lib.rows import columns, from_rows, marks, read_all
from regulars.loyalty import lots as lotbook
from regulars.loyalty.models import (
    Account,
    LedgerEntry,
    Program,
    PromoCard,
    Reward,
    Unit,
    Voucher,
    from_units,
    running_programs,
)
from regulars.loyalty.programs.tiers import Tier, status_query, statuses_from


@dataclass(frozen=True)
class PointsBalance:
    program: Program
    available: int
    pending: int
    expiring: int = 0  # how many of the available points expire first…
    expiring_at: datetime | None = None  # …and when

    @property
    def total(self) -> int:
        return self.available + self.pending


@dataclass(frozen=True)
class StampCard:
    program: Program
    stamps: int
    needed: int
    reward: Reward | None  # what a full card unlocks

    @property
    def ready(self) -> int:
        """Full cards waiting to be redeemed."""
        return max(self.stamps, 0) // self.needed

    @property
    def progress(self) -> int:
        """Stamps on the card being filled."""
        return max(self.stamps, 0) % self.needed


@dataclass(frozen=True)
class CreditBalance:
    program: Program
    available: Decimal
    pending: Decimal


@dataclass(frozen=True)
class TierProgress:
    program: Program
    basis: str  # "spend" or "visits"
    value: Decimal  # spend or visits in the current window
    tier: Tier | None
    next_tier: Tier | None
    since: datetime | None
    period_ends_at: datetime | None

    @property
    def to_next(self) -> Decimal | None:
        """How much more spend (or how many more visits) reach the next tier."""
        if self.next_tier is None:
            return None
        return max(self.next_tier.threshold - self.value, Decimal(0))

    @property
    def percent(self) -> int:
        """Progress towards the next tier, 0–100, for a progress bar."""
        if self.next_tier is None or self.next_tier.threshold <= 0:
            return 100
        return min(int(self.value * 100 / self.next_tier.threshold), 100)


@dataclass(frozen=True)
class RewardOption:
    reward: Reward
    unit: str
    cost: int
    have: int

    @property
    def affordable(self) -> bool:
        return self.have >= self.cost

    @property
    def short_by(self) -> int:
        return max(self.cost - self.have, 0)


@dataclass
class CardSummary:
    customer: Customer
    points: list[PointsBalance] = field(default_factory=list)
    stamps: list[StampCard] = field(default_factory=list)
    credit: list[CreditBalance] = field(default_factory=list)
    tiers: list[TierProgress] = field(default_factory=list)
    discount_percent: Decimal = Decimal(0)
    rewards: list[RewardOption] = field(default_factory=list)
    vouchers: list[Voucher] = field(default_factory=list)
    promo_cards: list[PromoCard] = field(default_factory=list)

    @property
    def rewards_ready(self) -> list[RewardOption]:
        return [r for r in self.rewards if r.affordable]

    @property
    def perks(self) -> list[str]:
        return [perk for t in self.tiers if t.tier for perk in t.tier.perks]


def balances(customer: Customer, *, now: datetime | None = None) -> CardSummary:
    """Everything the counter and the card show about a customer's loyalty, as of `now`.

    Available = the balance minus lots still pending; what a redemption may spend.

    One round trip of plain SELECTs (`regulars.lib.rows.read_all`), whatever the customer's
    history: the counter runs this on every scan. The entries behind the next expiry (every
    entry of an account whose points expire, a regular's hundreds) come back as plain tuples,
    not model instances: building those cost more than the rest of the lookup.
    """
    now = now or timezone.now()
    summary = CardSummary(customer=customer)
    # The per-process cache the sale path reads too: the counter looks a customer up as often.
    programs = running_programs(customer.business_id)
    if not programs:
        return summary
    by_pk = {p.pk: p for p in programs}
    tiered = [p for p in programs if p.kind == Program.Kind.TIERS]
    expiring_programs = [p.pk for p in programs if p.expiry_days is not None]
    spendable = [p.pk for p in programs if p.kind in (Program.Kind.POINTS, Program.Kind.STAMPS)]
    at = connection.ops.adapt_datetimefield_value(now)
    statements = [
        (_ACCOUNTS_SQL.format(marks=marks(by_pk)), [customer.pk, *by_pk]),
        (_PENDING_SQL.format(marks=marks(by_pk)), [customer.pk, *by_pk, at]),
    ]
    if expiring_programs:
        statements.append(
            lotbook.entries_query(
                f"SELECT id FROM {_ACCOUNT_TABLE} WHERE customer_id = %s "
                f"AND program_id IN ({marks(expiring_programs)})",
                [customer.pk, *expiring_programs],
            )
        )
    if spendable:
        statements.append(
            (_REWARDS_SQL.format(marks=marks(spendable)), [customer.business_id, *spendable])
        )
    statements.append((_VOUCHERS_SQL, [customer.pk, Voucher.Status.ISSUED, at]))
    statements.append((_PROMO_CARDS_SQL, [customer.pk, PromoCard.Status.ISSUED, at]))
    if tiered:
        statements.append(status_query(tiered, customer.pk, lock=False))
        statements.extend(p.rules.measure_query(customer.pk, now) for p in tiered)
    results = iter(read_all(statements))

    accounts = {(a.program_id, a.unit): a for a in from_rows(Account, next(results))}
    pending = dict(next(results))
    entries: dict[int, list[lotbook.LotEntry]] = defaultdict(list)
    if expiring_programs:
        for entry in lotbook.entries_from(next(results)):
            entries[entry.account_id].append(entry)
    rewards = from_rows(Reward, next(results)) if spendable else []
    vouchers = from_rows(Voucher, next(results))
    promo_cards = from_rows(PromoCard, next(results))
    statuses = statuses_from(next(results)) if tiered else {}
    measured = {p.pk: p.rules.measured(next(results)) for p in tiered}

    def held(program: Program, unit: str) -> tuple[int, int]:
        account = accounts.get((program.pk, unit))
        if account is None:
            return 0, 0
        waiting = pending.get(account.pk, 0)
        return account.balance - waiting, waiting

    have: dict[int, int] = {}
    for program in programs:
        rules = program.rules
        if program.kind == Program.Kind.POINTS:
            available, waiting = held(program, Unit.POINTS)
            have[program.pk] = available
            expiring, expiring_at = 0, None
            account = accounts.get((program.pk, Unit.POINTS))
            if account is not None and account.pk in entries:
                expiring, expiring_at = lotbook.book(entries[account.pk]).next_expiring(now)
            summary.points.append(PointsBalance(program, available, waiting, expiring, expiring_at))
        elif program.kind == Program.Kind.STAMPS:
            available, _waiting = held(program, Unit.STAMPS)
            have[program.pk] = available
            summary.stamps.append(
                StampCard(program, available, rules.config.stamps_needed, reward=None)
            )
        elif program.kind == Program.Kind.CASHBACK:
            available, waiting = held(program, Unit.CREDIT)
            summary.credit.append(
                CreditBalance(
                    program, from_units(Unit.CREDIT, available), from_units(Unit.CREDIT, waiting)
                )
            )
        elif program.kind == Program.Kind.DISCOUNT:
            summary.discount_percent = max(summary.discount_percent, rules.config.percent)

    for program in tiered:
        rules = program.rules
        status = statuses.get(program.pk)
        key = status.tier if status else ""
        summary.tiers.append(
            TierProgress(
                program=program,
                basis=rules.config.basis,
                value=measured[program.pk],
                tier=rules.tier(key),
                next_tier=rules.next_tier(key),
                since=status.since if status and key else None,
                period_ends_at=status.period_ends_at if status and key else None,
            )
        )

    for reward in rewards:
        program = by_pk[reward.program_id]
        reward.program = program
        summary.rewards.append(
            RewardOption(reward, program.rules.unit, reward.cost, have[program.pk])
        )
    # A stamp card shows the cheapest reward of its program as the one a full card unlocks.
    for i, card in enumerate(summary.stamps):
        reward = next(
            (o.reward for o in summary.rewards if o.reward.program_id == card.program.pk), None
        )
        summary.stamps[i] = StampCard(card.program, card.stamps, card.needed, reward)

    # A voucher may be for a reward no longer offered: those few are read on their own.
    offered = {r.pk: r for r in rewards}
    missing = {v.reward_id for v in vouchers} - offered.keys()
    if missing:
        offered.update((r.pk, r) for r in Reward.objects.filter(pk__in=missing))
    for voucher in vouchers:
        voucher.customer = customer
        voucher.reward = offered[voucher.reward_id]
    for card in promo_cards:
        card.customer = customer
    summary.vouchers = vouchers
    summary.promo_cards = promo_cards
    return summary


_ACCOUNT_TABLE = Account._meta.db_table
_ACCOUNTS_SQL = (
    f"SELECT {columns(Account)} FROM {_ACCOUNT_TABLE} "
    "WHERE customer_id = %s AND program_id IN ({marks})"
)
# Lots not yet spendable (the return window), by account.
_PENDING_SQL = (
    f"SELECT account_id, SUM(amount) FROM {LedgerEntry._meta.db_table} WHERE account_id IN "
    f"(SELECT id FROM {_ACCOUNT_TABLE} WHERE customer_id = %s AND program_id IN ({{marks}})) "
    "AND available_at > %s GROUP BY account_id"
)
_REWARDS_SQL = (
    f"SELECT {columns(Reward)} FROM {Reward._meta.db_table} WHERE business_id = %s "
    "AND program_id IN ({marks}) AND active ORDER BY cost, name, id"
)
_VOUCHERS_SQL = (
    f"SELECT {columns(Voucher)} FROM {Voucher._meta.db_table} WHERE customer_id = %s "
    "AND status = %s AND valid_until >= %s ORDER BY valid_until, id"
)
_PROMO_CARDS_SQL = (
    f"SELECT {columns(PromoCard)} FROM {PromoCard._meta.db_table} WHERE customer_id = %s "
    "AND status = %s AND valid_until >= %s ORDER BY valid_until, id"
)


def recent_activity(customer: Customer, *, limit: int = 10) -> list[LedgerEntry]:
    """The customer's latest ledger entries, newest first, with their program."""
    return list(
        LedgerEntry.objects.filter(account__customer=customer)
        .filter(~Q(kind=LedgerEntry.Kind.REVERSE, amount=0))
        .select_related("account__program")
        .order_by("-at", "-pk")[:limit]
    )
