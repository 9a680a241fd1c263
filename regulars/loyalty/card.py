"""What a customer has, in one read: for the counter after a scan and for the customer's card.

`balances(customer)` runs a fixed number of queries (about eight plus one per tiers program),
whatever the customer's history, so a lookup stays fast for a business of any size.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from regulars.customers.models import Customer
from regulars.loyalty import lots as lotbook
from regulars.loyalty.models import (
    Account,
    LedgerEntry,
    Program,
    PromoCard,
    Reward,
    TierStatus,
    Unit,
    Voucher,
    from_units,
    running_programs,
)
from regulars.loyalty.programs.tiers import Tier


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
    """
    now = now or timezone.now()
    summary = CardSummary(customer=customer)
    # The per-process cache the sale path reads too: the counter looks a customer up as often.
    programs = running_programs(customer.business_id)
    if not programs:
        return summary
    by_pk = {p.pk: p for p in programs}
    accounts = {
        (a.program_id, a.unit): a
        for a in Account.objects.filter(customer=customer, program_id__in=by_pk)
    }
    pending = dict(
        LedgerEntry.objects.filter(account__in=accounts.values(), available_at__gt=now)
        .values_list("account_id")
        .annotate(s=Sum("amount"))
    )
    expiring_accounts = [
        a.pk for a in accounts.values() if by_pk[a.program_id].expiry_days is not None
    ]
    entries: dict[int, list[LedgerEntry]] = defaultdict(list)
    if expiring_accounts:
        for entry in LedgerEntry.objects.filter(account_id__in=expiring_accounts).only(
            "pk",
            "account_id",
            "kind",
            "amount",
            "waived",
            "at",
            "expires_at",
            "reverses_id",
            "lot_id",
        ):
            entries[entry.account_id].append(entry)

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

    tiered = [p for p in programs if p.kind == Program.Kind.TIERS]
    if tiered:
        statuses = {
            s.program_id: s
            for s in TierStatus.objects.filter(customer=customer, program__in=tiered)
        }
        for program in tiered:
            rules = program.rules
            status = statuses.get(program.pk)
            key = status.tier if status else ""
            summary.tiers.append(
                TierProgress(
                    program=program,
                    basis=rules.config.basis,
                    value=rules.measure(customer.pk, now),
                    tier=rules.tier(key),
                    next_tier=rules.next_tier(key),
                    since=status.since if status and key else None,
                    period_ends_at=status.period_ends_at if status and key else None,
                )
            )

    rewards = Reward.objects.filter(program_id__in=have, active=True).order_by("cost", "name")
    for reward in rewards:
        program = by_pk[reward.program_id]
        summary.rewards.append(
            RewardOption(reward, program.rules.unit, reward.cost, have[program.pk])
        )
    # A stamp card shows the cheapest reward of its program as the one a full card unlocks.
    for i, card in enumerate(summary.stamps):
        reward = next(
            (o.reward for o in summary.rewards if o.reward.program_id == card.program.pk), None
        )
        summary.stamps[i] = StampCard(card.program, card.stamps, card.needed, reward)

    summary.vouchers = list(
        Voucher.objects.filter(
            customer=customer, status=Voucher.Status.ISSUED, valid_until__gte=now
        )
        .select_related("customer", "reward")
        .order_by("valid_until")
    )
    summary.promo_cards = list(
        PromoCard.objects.filter(
            customer=customer, status=PromoCard.Status.ISSUED, valid_until__gte=now
        )
        .select_related("customer")
        .order_by("valid_until")
    )
    return summary


def recent_activity(customer: Customer, *, limit: int = 10) -> list[LedgerEntry]:
    """The customer's latest ledger entries, newest first, with their program."""
    return list(
        LedgerEntry.objects.filter(account__customer=customer)
        .filter(~Q(kind=LedgerEntry.Kind.REVERSE, amount=0))
        .select_related("account__program")
        .order_by("-at", "-pk")[:limit]
    )
