"""Back-fill: run a business's past purchases through its programs, fast, exactly as if live.

`backfill` produces exactly the ledger that `replay_one_by_one` (the definition, below) writes
with the real service functions one call at a time:

    for each moment T at which a purchase or refund of these customers happened, in time order:
        expire_due(now=T) and review_tiers(now=T)        -- the nightly job, run "just in time"
        each purchase at T: accrue_purchase(key "accrue:<purchase code>"), then the optional
            redemption policy: ledger.redeem(now=T) for each reward it picks that is affordable
        each refund at T: reverse_purchase(key "refund:<refund code>")
    finally expire_due and review_tiers at `until` (default now)

Events at the same moment go purchases before refunds, each by primary key. The same entries
(amounts, waived, times, pending and expiry dates, lots, reversals, reasons, purchases, refunds,
operations and idempotency keys), the same balances, vouchers and tier statuses result; only
the random public codes and `created_at` differ. Keys are those `loyalty.sale` uses, so a later
retry of a back-filled sale finds its accrual instead of earning twice.

How it is fast: customers never affect one another's ledger, so each customer's history is
computed in memory (one query per table for a chunk of customers), with running state in place
of the queries the service functions make: FIFO lots with a moving "consumed up to" frontier
instead of re-reading the entries (`lots.book`), a heap of pending amounts instead of summing
them, prefix sums of spend for the rolling tier window. The program kinds' own `accrue` and
`keep_after_refund` compute what is earned and kept, so the rounding rules are the same code.
The only thing customers share is the schedule of job runs (every event moment), which is read
once up front.

Writing: rows go in with `lib.bulk.BulkWriter` (COPY on PostgreSQL, executemany on SQLite), with
primary keys allocated first so that reversals and expiries can name their lots and carry the
same idempotency keys as live ones. Ledger rows are only ever inserted (the append-only rule:
no entry is updated or deleted). `Account.balance`, the cache of the sum of an account's
entries, is written once, in the account's own INSERT, from the same in-memory entries that are
inserted after it, in the same transaction; `verify_ledger` proves the two agree.

Who is back-filled: customers without any loyalty history (no ledger entry, no tier status).
Customers who already have one are left alone and listed in the result: their history cannot
be recomputed from the start (entries are never rewritten); record their purchases through
`accrue_purchase` instead. Back-filling sends no events (no webhooks for years of history).
"""

from __future__ import annotations

import heapq
import time as clock
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from itertools import groupby
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, IntegerField, OuterRef
from django.db.models.functions import Cast, Round
from django.utils import timezone
from django.utils.translation import gettext as _

from regulars.accounts.models import Business
from regulars.customers.models import Customer, TimelineEntry
from regulars.lib.bulk import BulkWriter, random_codes
from regulars.lib.codes import new_code
from regulars.loyalty.errors import LoyaltyError
from regulars.loyalty.models import (
    Account,
    LedgerEntry,
    Program,
    RefundRule,
    Reward,
    TierStatus,
    Voucher,
)
from regulars.loyalty.programs.base import PurchaseContext
from regulars.sales.models import Product, Purchase, PurchaseLine, Refund

Kind = LedgerEntry.Kind
EARN = str(Kind.EARN)
ONE = Decimal(1)
CUSTOMERS_PER_CHUNK = 1000


# --- the public face ----------------------------------------------------------------------


@dataclass(frozen=True)
class RedeemChance:
    """What a redemption policy sees right after a purchase has accrued."""

    customer_id: int
    purchase_code: str
    at: datetime
    available: Mapping[int, int]  # program pk → units spendable now (pending ones are not)
    rewards: Sequence[Reward]  # active rewards of running programs, cheapest first


# Picks the rewards to redeem now, in order; one the customer cannot afford is skipped.
RedeemPolicy = Callable[[RedeemChance], Sequence[Reward]]


@dataclass
class BackfillResult:
    customers: int = 0
    purchases: int = 0
    refunds: int = 0
    entries: int = 0
    vouchers: int = 0
    tier_changes: int = 0
    skipped: list[int] = field(default_factory=list)  # customer pks with loyalty history
    seconds: float = 0.0


def backfill(
    *,
    business: Business,
    customers: Iterable[int] | None = None,
    until: datetime | None = None,
    redeem: RedeemPolicy | None = None,
    chunk: int = CUSTOMERS_PER_CHUNK,
    progress: Callable[[int], object] | None = None,
) -> BackfillResult:
    """Run the purchases and refunds of `customers` (pks; default: every customer of the
    business) through the business's running programs, as `replay_one_by_one` would.

    One transaction. `progress(n)` is called after each chunk with the customers done.
    """
    started = clock.monotonic()
    until = until or timezone.now()
    result = BackfillResult()
    programs = list(Program.objects.running_for(business).select_related("business"))
    chosen, result.skipped = _eligible(business, customers)
    if not programs or not chosen:
        result.seconds = clock.monotonic() - started
        return result
    rewards = _catalogue(programs) if redeem else []
    writer = BulkWriter()
    with transaction.atomic(using=writer.using):
        runs = _run_times(business, chosen, until)
        products = {p.pk: p for p in Product.objects.filter(business=business)}
        for start in range(0, len(chosen), chunk):
            ids = chosen[start : start + chunk]
            book = _Chunk(business, programs, runs, products, rewards, redeem)
            book.simulate(ids)
            book.write(writer)
            result.customers += len(ids)
            result.purchases += book.purchases
            result.refunds += book.refunds
            result.entries += len(book.entries)
            result.vouchers += len(book.vouchers)
            result.tier_changes += book.tier_changes
            if progress:
                progress(len(ids))
    result.seconds = clock.monotonic() - started
    return result


def replay_one_by_one(
    *,
    business: Business,
    customers: Iterable[int] | None = None,
    until: datetime | None = None,
    redeem: RedeemPolicy | None = None,
) -> None:
    """The definition of what `backfill` computes, with the service functions, one at a time.

    Slow (a few transactions per purchase): for tests and for a handful of purchases. It runs
    the expiry and the tier review for the whole business, so use it where every customer
    starts without loyalty history.
    """
    from regulars.loyalty import ledger
    from regulars.loyalty.expiry import expire_due
    from regulars.loyalty.programs.tiers import review_tiers

    until = until or timezone.now()
    chosen, _skipped = _eligible(business, customers)
    programs = list(Program.objects.running_for(business))
    rewards = _catalogue(programs) if redeem else []
    purchases = Purchase.objects.filter(business=business, customer_id__in=chosen)
    events = [(p.occurred_at, 0, p.pk, p) for p in purchases.select_related("customer")]
    events += [
        (r.occurred_at, 1, r.pk, r)
        for r in Refund.objects.filter(purchase__in=purchases).select_related("purchase")
    ]
    events.sort(key=lambda e: e[:3])

    def jobs(now: datetime) -> None:
        expire_due(business=business, now=now)
        review_tiers(business=business, now=now)

    for at, group in groupby(events, key=lambda e: e[0]):
        jobs(at)
        for _at, kind, _pk, obj in group:
            if kind == 1:
                ledger.reverse_purchase(
                    purchase=obj.purchase, refund=obj, idempotency_key=f"refund:{obj.code}"
                )
                continue
            ledger.accrue_purchase(purchase=obj, idempotency_key=f"accrue:{obj.code}")
            if redeem is None:
                continue
            accounts = Account.objects.filter(customer_id=obj.customer_id)
            chance = RedeemChance(
                customer_id=obj.customer_id,
                purchase_code=obj.code,
                at=at,
                available={a.program_id: ledger._available(a, at) for a in accounts},
                rewards=rewards,
            )
            for i, reward in enumerate(redeem(chance)):
                try:
                    ledger.redeem(
                        customer=obj.customer,
                        reward=reward,
                        idempotency_key=_redeem_key(obj.code, i),
                        now=at,
                    )
                except LoyaltyError:
                    pass  # not enough: the policy's wish is skipped, as in `backfill`
    last = events[-1][0] if events else until
    jobs(max(until, last))


# --- what both share ----------------------------------------------------------------------


def _redeem_key(purchase_code: str, i: int) -> str:
    return f"backfill:redeem:{purchase_code}:{i}"


def _eligible(business: Business, customers: Iterable[int] | None) -> tuple[list[int], list[int]]:
    """(customers to back-fill, customers skipped because they have loyalty history)."""
    qs = Customer.objects.filter(business=business)
    if customers is not None:
        qs = qs.filter(pk__in=list(customers))
    history = Exists(LedgerEntry.objects.filter(account__customer=OuterRef("pk"))) | Exists(
        TierStatus.objects.filter(customer=OuterRef("pk"))
    )
    rows = qs.annotate(has_history=history).order_by("pk").values_list("pk", "has_history")
    chosen, skipped = [], []
    for pk, has_history in rows:
        (skipped if has_history else chosen).append(pk)
    return chosen, skipped


def _catalogue(programs: list[Program]) -> list[Reward]:
    redeemable = {p.pk: p for p in programs if p.rules.redeemable}
    rewards = list(
        Reward.objects.filter(program_id__in=redeemable, active=True).order_by("cost", "name", "pk")
    )
    for reward in rewards:
        reward.program = redeemable[reward.program_id]
    return rewards


def _run_times(business: Business, customers: list[int], until: datetime) -> list[datetime]:
    """Every moment the job runs in the definition: each event moment, then `until`."""
    purchases = Purchase.objects.filter(business=business, customer_id__isnull=False)
    moments = set()
    for start in range(0, len(customers), 5000):
        ids = customers[start : start + 5000]
        moments.update(purchases.filter(customer_id__in=ids).values_list("occurred_at", flat=True))
        moments.update(
            Refund.objects.filter(purchase__customer_id__in=ids, business=business).values_list(
                "occurred_at", flat=True
            )
        )
    runs = sorted(moments)
    runs.append(max(until, runs[-1]) if runs else until)
    return runs


# --- the in-memory ledger -----------------------------------------------------------------


class _Sale:
    """A purchase as the program kinds read it (`PurchaseContext.purchase`)."""

    __slots__ = ("pk", "code", "customer_id", "occurred_at", "total", "refunded", "location_id")
    __slots__ += ("cashier_id", "earns")

    def __init__(self, row: tuple) -> None:
        (
            self.pk,
            self.code,
            self.customer_id,
            self.occurred_at,
            self.total,
            self.refunded,
            self.location_id,
            self.cashier_id,
        ) = row
        self.earns: list[_Entry] = []


class _Line:
    """A purchase line as the program kinds read it: amount, quantity and product."""

    __slots__ = ("amount", "quantity", "product")

    def __init__(self, amount: Decimal, quantity: int, product: Product | None) -> None:
        self.amount, self.quantity, self.product = amount, quantity, product


class _Entry:
    """A ledger row to insert. `id` is its place in the chunk until real keys are allocated."""

    __slots__ = ("id", "account", "kind", "amount", "waived", "at", "available_at")
    __slots__ += ("expires_at", "staff_id", "location_id", "reason", "purchase_id")
    __slots__ += ("refund_id", "reverses", "lot", "operation", "key", "own_lot")

    def __init__(
        self,
        id: int,
        account: _Account,
        kind: str,
        amount: int,
        at: datetime,
        operation: str,
        key: str | tuple,
        reason: Any = "",
        available_at: datetime | None = None,
        expires_at: datetime | None = None,
        staff_id: int | None = None,
        location_id: int | None = None,
        purchase_id: int | None = None,
        refund_id: int | None = None,
        reverses: _Entry | None = None,
        lot: _Entry | None = None,
        waived: int = 0,
    ) -> None:
        self.id, self.account, self.kind, self.amount, self.at = id, account, kind, amount, at
        self.operation, self.key, self.reason = operation, key, reason
        self.available_at, self.expires_at = available_at, expires_at
        self.staff_id, self.location_id = staff_id, location_id
        self.purchase_id, self.refund_id = purchase_id, refund_id
        self.reverses, self.lot, self.waived = reverses, lot, waived
        self.own_lot: _Lot | None = None


class _Lot:
    """A positive earn and what has happened to it (the fields of `lots.Lot`)."""

    __slots__ = ("entry", "index", "amount", "reversed", "waived", "expired", "expiries")

    def __init__(self, entry: _Entry, index: int) -> None:
        self.entry, self.index, self.amount = entry, index, entry.amount
        self.reversed = self.waived = self.expired = self.expiries = 0

    @property
    def cap(self) -> int:
        """What spending can take from it: `max(net − expired, 0)` in `lots.book`."""
        return max(self.amount - self.reversed - self.expired, 0)


class _Account:
    """One account's running state; `consumed`/`remaining` equal `lots.book` at every step.

    `lots.book` allocates the total spent (`debit`) to the lots oldest first. Lots before
    `frontier` are used up (their caps sum to `prefix` ≤ debit), the frontier lot holds the
    rest, later lots are untouched. Debits only grow and caps only shrink here (there is no undo
    in a back-fill), so the frontier only moves forward.
    """

    __slots__ = ("id", "code", "program", "rules", "unit", "balance", "lots", "debit")
    __slots__ += ("frontier", "prefix", "check", "pending", "pending_sum", "expired_through")

    def __init__(self, program: Program, unit: str) -> None:
        self.id: int | None = None
        self.code = new_code()
        self.program, self.rules, self.unit = program, program.rules, unit
        self.balance = self.debit = self.frontier = self.prefix = self.check = 0
        self.lots: list[_Lot] = []
        self.pending: list[tuple[datetime, int, int]] = []  # heap of (available_at, n, amount)
        self.pending_sum = 0
        self.expired_through: datetime | None = None

    def advance(self) -> None:
        lots = self.lots
        while self.frontier < len(lots):
            cap = lots[self.frontier].cap
            if self.prefix + cap > self.debit:
                break
            self.prefix += cap
            self.frontier += 1

    def consumed(self, lot: _Lot) -> int:
        if lot.index < self.frontier:
            return lot.cap
        return self.debit - self.prefix if lot.index == self.frontier else 0

    def remaining(self, lot: _Lot) -> int:
        return lot.amount - lot.reversed - lot.expired - self.consumed(lot)

    def shrink(self, lot: _Lot, reversed_: int = 0, expired: int = 0) -> None:
        """Take `reversed_` and `expired` units from a lot, keeping the frontier exact."""
        before = lot.cap
        lot.reversed += reversed_
        lot.expired += expired
        if lot.index < self.frontier:
            self.prefix -= before - lot.cap
        self.advance()

    def available(self, now: datetime) -> int:
        """`ledger._available`: the balance less what is still pending at `now`."""
        pending = self.pending
        while pending and pending[0][0] <= now:
            self.pending_sum -= heapq.heappop(pending)[2]
        return min(self.balance - self.pending_sum, self.balance)


class _TierState:
    __slots__ = ("tier", "since", "period_ends_at")

    def __init__(self, tier: str, since: datetime, period_ends_at: datetime) -> None:
        self.tier, self.since, self.period_ends_at = tier, since, period_ends_at


class _Customer:
    """One customer's purchases (for the tier window) and loyalty state."""

    __slots__ = ("pk", "times", "spend", "visits", "accounts", "tiers", "last")

    def __init__(self, pk: int, sales: list[_Sale]) -> None:
        self.pk = pk
        ordered = sorted(sales, key=lambda s: (s.occurred_at, s.pk))
        self.times = [s.occurred_at for s in ordered]
        # Prefix sums over time of net spend and of visits (purchases not wholly refunded).
        self.spend = [Decimal(0)]
        self.visits = [0]
        for s in ordered:
            self.spend.append(self.spend[-1] + (s.total - s.refunded))
            self.visits.append(self.visits[-1] + (s.total > s.refunded))
        self.accounts: dict[tuple[int, str], _Account] = {}
        self.tiers: dict[int, _TierState] = {}
        self.last: datetime | None = None  # the moment of the last event processed

    def measure(self, basis: str, window: timedelta, at: datetime) -> Decimal:
        """`TiersProgram.measure`: spend (net of refunds) or visits in (at − window, at]."""
        lo = bisect_right(self.times, at - window)
        hi = bisect_right(self.times, at)
        if basis == "visits":
            return Decimal(self.visits[hi] - self.visits[lo])
        return self.spend[hi] - self.spend[lo]


class _Chunk:
    """Simulate a chunk of customers, then write everything they produced."""

    def __init__(
        self,
        business: Business,
        programs: list[Program],
        runs: list[datetime],
        products: dict[int, Product],
        rewards: list[Reward],
        redeem: RedeemPolicy | None,
    ) -> None:
        self.business = business
        self.unit_programs = [p for p in programs if p.rules.unit]
        # What accrual needs of each program, looked up once: kinds without a unit (tiers,
        # discount) never post, so only the others are asked what a purchase earns.
        self.earning = [
            (
                p.rules,
                p.pk,
                f":{p.code}:",
                timedelta(days=p.pending_days) if p.pending_days else None,
                timedelta(days=p.expiry_days) if p.expiry_days else None,
            )
            for p in self.unit_programs
        ]
        self.tiered = [p for p in programs if p.kind == Program.Kind.TIERS]
        self.tier_rules = {
            p.pk: (
                p.rules,
                p.rules.config.basis,
                timedelta(days=p.rules.config.window_days),
                timedelta(days=p.rules.config.period_days),
            )
            for p in self.tiered
        }
        self.expiring = any(p.expiry_days for p in self.unit_programs)
        self.units = {p.pk: p.rules.unit for p in self.unit_programs}
        self.runs = runs
        self.products = products
        self.rewards = rewards
        self.redeem_policy = redeem
        self.entries: list[_Entry] = []
        self.accounts: list[tuple[_Customer, _Account]] = []
        self.vouchers: list[tuple] = []
        self.customers: list[_Customer] = []
        self.purchases = self.refunds = self.tier_changes = 0
        self._pending_n = 0
        self.texts: dict[int, str] = {}
        # Translated once: the service functions call gettext with the same active language.
        self.text_refund, self.text_expired = _("Refund"), _("Expired")

    # --- reading ---------------------------------------------------------------------------

    def simulate(self, customer_ids: list[int]) -> None:
        purchases = Purchase.objects.filter(business=self.business, customer_id__in=customer_ids)
        sales: dict[int, _Sale] = {}
        by_customer: dict[int, list[_Sale]] = defaultdict(list)
        for (
            pk,
            code,
            customer_id,
            at,
            total,
            refunded,
            location_id,
            cashier_id,
        ) in purchases.values_list(
            "pk",
            "code",
            "customer_id",
            "occurred_at",
            _cents("total"),
            _cents("refunded"),
            "location_id",
            "cashier_id",
        ):
            sale = _Sale(
                (
                    pk,
                    code,
                    customer_id,
                    at,
                    _money(total),
                    _money(refunded),
                    location_id,
                    cashier_id,
                )
            )
            sales[sale.pk] = sale
            by_customer[sale.customer_id].append(sale)
        lines: dict[int, list[_Line]] = defaultdict(list)
        products = self.products
        for purchase_id, product_id, quantity, amount in (
            PurchaseLine.objects.filter(purchase__in=purchases)
            .order_by("pk")
            .values_list("purchase_id", "product_id", "quantity", _cents("amount"))
        ):
            lines[purchase_id].append(_Line(_money(amount), quantity, products.get(product_id)))
        refunds: dict[int, list[tuple]] = defaultdict(list)
        for row in (
            Refund.objects.filter(purchase__in=purchases)
            .order_by("pk")
            .values_list("pk", "code", "purchase_id", _cents("amount"), "occurred_at", "staff_id")
        ):
            row = (*row[:3], _money(row[3]), *row[4:])
            refunds[sales[row[2]].customer_id].append(row)
        # Refunds of a purchase so far, by refund pk: what `reverse_purchase` sums.
        refunded_by: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
        for rows in refunds.values():
            for pk, _code, purchase_id, amount, _at, _staff in rows:
                done = refunded_by[purchase_id]
                done.append((pk, (done[-1][1] if done else Decimal(0)) + amount))
        self.refunded_by = refunded_by

        for pk in customer_ids:
            own = by_customer.get(pk)
            if not own:
                continue
            customer = _Customer(pk, own)
            self.customers.append(customer)
            events = [(s.occurred_at, 0, s.pk, s) for s in own]
            events += [(r[4], 1, r[0], r) for r in refunds.get(pk, ())]
            events.sort(key=lambda e: e[:3])
            for at, _kind, _pk, item in events:
                if customer.last is None or at > customer.last:
                    self.jobs(customer, customer.last, at)
                    customer.last = at
                if _kind == 0:
                    self.accrue(customer, item, lines.get(item.pk, []))
                    self.purchases += 1
                else:
                    self.reverse(customer, sales[item[2]], item)
                    self.refunds += 1
            self.jobs(customer, customer.last, self.runs[-1])

    # --- the nightly job, at the runs between two events -------------------------------------

    def _first_run(self, since: datetime | None, due: datetime, until: datetime) -> datetime | None:
        """The first run at or after `due`, later than `since` and not later than `until`."""
        runs = self.runs
        i = bisect_left(runs, due)
        if since is not None:
            i = max(i, bisect_right(runs, since))
        if i < len(runs) and runs[i] <= until:
            return runs[i]
        return None

    def jobs(self, customer: _Customer, since: datetime | None, until: datetime) -> None:
        """`expire_due` and `review_tiers` at every run in (since, until] that finds work."""
        if self.expiring:
            for account in customer.accounts.values():
                while account.balance > 0 and account.check < len(account.lots):
                    due = account.lots[account.check].entry.expires_at
                    if due is None:
                        break
                    run = self._first_run(since, due, until)
                    if run is None:
                        break
                    self.expire(account, run)
        for program in self.tiered:
            status = customer.tiers.get(program.pk)
            while status is not None and status.tier:
                run = self._first_run(since, status.period_ends_at, until)
                if run is None:
                    break
                due = status.period_ends_at
                self.evaluate(customer, program, run)
                if status.period_ends_at == due:
                    # Neither moved nor renewed: only a tier since removed from the config,
                    # measured as no tier. The window only loses purchases until the last run
                    # (the next event's moment), so that run is the only one that can differ.
                    last = self.runs[bisect_right(self.runs, until) - 1]
                    if last > run:
                        self.evaluate(customer, program, last)
                    break

    def expire(self, account: _Account, now: datetime) -> None:
        """`expire_due` for one account: what FIFO left in each due lot, oldest first."""
        lots = account.lots
        while account.check < len(lots) and lots[account.check].entry.expires_at <= now:
            lot = lots[account.check]
            account.check += 1
            left = account.remaining(lot)
            if left <= 0:
                continue
            self.post(
                account,
                kind=Kind.EXPIRE,
                amount=-left,
                at=lot.entry.expires_at,
                operation=f"expire:{account.code}:{now.isoformat()}",
                key=("expire:", lot.entry, f":{lot.expiries}"),
                lot=lot.entry,
                reason=self.text_expired,
            )
            lot.expiries += 1
            account.shrink(lot, expired=left)
        account.expired_through = now

    def evaluate(self, customer: _Customer, program: Program, at: datetime) -> None:
        """`TiersProgram.evaluate`: up at once, down only at the end of the period."""
        rules, basis, window, period = self.tier_rules[program.pk]
        reached = rules.reached(customer.measure(basis, window, at))
        new = reached.key if reached else ""
        status = customer.tiers.get(program.pk)
        if status is None:
            if reached is not None:
                customer.tiers[program.pk] = _TierState(new, at, at + period)
                self.tier_changes += 1
            return
        if rules.rank(new) > rules.rank(status.tier) or (
            at >= status.period_ends_at and rules.rank(new) < rules.rank(status.tier)
        ):
            status.tier, status.since, status.period_ends_at = new, at, at + period
            self.tier_changes += 1
        elif at >= status.period_ends_at and new:
            status.period_ends_at = at + period

    # --- the service functions, in memory ------------------------------------------------

    def post(self, account: _Account, **values: Any) -> _Entry:
        """`ledger._post`: append an entry and move the balance."""
        entry = _Entry(len(self.entries), account, **values)
        if type(entry.reason) is not str:  # isinstance() would evaluate a lazy text
            # The kinds' constant lazy texts: translated once (the language cannot change here).
            text = self.texts.get(id(entry.reason))
            if text is None:
                text = self.texts[id(entry.reason)] = str(entry.reason)
            entry.reason = text
        self.entries.append(entry)
        account.balance += entry.amount
        if entry.available_at is not None:
            self._pending_n += 1
            heapq.heappush(account.pending, (entry.available_at, self._pending_n, entry.amount))
            account.pending_sum += entry.amount
        return entry

    def accrue(self, customer: _Customer, sale: _Sale, lines: list[_Line]) -> None:
        """`ledger.accrue_purchase`, then the redemption policy."""
        if not customer.accounts:
            for program in self.unit_programs:
                account = _Account(program, program.rules.unit)
                customer.accounts[(program.pk, account.unit)] = account
                self.accounts.append((customer, account))
        multiplier = ONE
        for program_pk, (rules, *_rest) in self.tier_rules.items():
            status = customer.tiers.get(program_pk)
            if status is not None:
                multiplier = max(multiplier, rules.multiplier(status.tier))
        ctx = PurchaseContext(sale, lines, multiplier)
        at = sale.occurred_at
        operation = f"accrue:{sale.code}"
        accounts = customer.accounts
        for rules, program_pk, code, pending, expiry in self.earning:
            for posting in rules.accrue(ctx):
                account = accounts[(program_pk, posting.unit)]
                entry = self.post(
                    account,
                    kind=EARN,
                    amount=posting.amount,
                    at=at,
                    available_at=at + pending if pending and posting.pending else None,
                    expires_at=at + expiry if expiry else None,
                    staff_id=sale.cashier_id,
                    location_id=sale.location_id,
                    reason=posting.reason,
                    purchase_id=sale.pk,
                    operation=operation,
                    key=f"{operation}{code}{posting.unit}",
                )
                sale.earns.append(entry)
                entry.own_lot = _Lot(entry, len(account.lots))
                account.lots.append(entry.own_lot)
                account.advance()
        for program in self.tiered:
            self.evaluate(customer, program, at)
        if self.redeem_policy is not None:
            self.redeem(customer, sale)

    def redeem(self, customer: _Customer, sale: _Sale) -> None:
        """`ledger.redeem` at the purchase's moment for each reward the policy picks."""
        at = sale.occurred_at
        chance = RedeemChance(
            customer_id=customer.pk,
            purchase_code=sale.code,
            at=at,
            available={
                program_id: account.available(at)
                for (program_id, _unit), account in customer.accounts.items()
            },
            rewards=self.rewards,
        )
        for i, reward in enumerate(self.redeem_policy(chance)):
            account = customer.accounts.get((reward.program_id, self.units[reward.program_id]))
            if account is None or account.available(at) < reward.cost:
                continue
            key = _redeem_key(sale.code, i)
            entry = self.post(
                account,
                kind=Kind.REDEEM,
                amount=-reward.cost,
                at=at,
                operation=key,
                key=key,
                reason=reward.name,
            )
            account.debit += reward.cost
            account.advance()
            self.vouchers.append((customer.pk, reward, entry, at))

    def reverse(self, customer: _Customer, sale: _Sale, refund: tuple) -> None:
        """`ledger.reverse_purchase`: take back pro rata to what is refunded so far."""
        refund_pk, refund_code, _purchase, _amount, at, staff_id = refund
        if not sale.earns or sale.total <= 0:
            return
        refunded = next(
            total for pk, total in reversed(self.refunded_by[sale.pk]) if pk <= refund_pk
        )
        share = max(sale.total - refunded, Decimal(0)) / sale.total
        operation = f"refund:{refund_code}"
        for earn in sale.earns:
            account = earn.account
            lot = earn.own_lot
            want = earn.amount - account.rules.keep_after_refund(earn.amount, share)
            want -= lot.reversed + lot.waived
            if want <= 0:
                continue
            # `ledger._take_back`
            pending_until = earn.available_at
            if pending_until is not None and pending_until > at:
                take = want
            else:
                pending_until = None
                from_lot = min(want, max(account.remaining(lot), 0))
                take = from_lot + min(want - from_lot, account.consumed(lot))
                if account.program.refund_rule == RefundRule.CLAMP:
                    take = max(0, min(take, account.available(at)))
            waived = want - take
            if take == 0 and waived == 0:
                continue
            self.post(
                account,
                kind=Kind.REVERSE,
                amount=-take,
                waived=waived,
                at=at,
                reverses=earn,
                available_at=pending_until,
                staff_id=staff_id,
                reason=self.text_refund,
                purchase_id=sale.pk,
                refund_id=refund_pk,
                operation=operation,
                key=(f"{operation}:", earn, ""),
            )
            lot.waived += waived
            account.shrink(lot, reversed_=take)

    # --- writing ---------------------------------------------------------------------------

    def write(self, writer: BulkWriter) -> None:
        business = self.business.pk
        now = timezone.now()
        when = _Adapter(writer)
        account_ids = writer.allocate_ids(Account, len(self.accounts))
        for (_customer, account), pk in zip(self.accounts, sorted(account_ids), strict=True):
            account.id = pk
        writer.insert(
            Account,
            "id business code customer program unit balance expired_through created_at".split(),
            [
                (
                    account.id,
                    business,
                    account.code,
                    customer.pk,
                    account.program.pk,
                    account.unit,
                    account.balance,
                    when(account.expired_through),
                    when(now),
                )
                for customer, account in self.accounts
            ],
        )
        entry_ids = writer.allocate_ids(LedgerEntry, len(self.entries))
        for entry, pk in zip(self.entries, sorted(entry_ids), strict=True):
            entry.id = pk
        created = when(now)
        writer.insert(
            LedgerEntry,
            "id business code account kind amount waived at created_at available_at expires_at "
            "staff location reason purchase refund reverses lot operation "
            "idempotency_key".split(),
            [
                (
                    e.id,
                    business,
                    code,
                    e.account.id,
                    e.kind,
                    e.amount,
                    e.waived,
                    when(e.at),
                    created,
                    when(e.available_at),
                    when(e.expires_at),
                    e.staff_id,
                    e.location_id,
                    e.reason[:300],
                    e.purchase_id,
                    e.refund_id,
                    e.reverses.id if e.reverses is not None else None,
                    e.lot.id if e.lot is not None else None,
                    e.operation,
                    e.key if isinstance(e.key, str) else f"{e.key[0]}{e.key[1].id}{e.key[2]}",
                )
                for e, code in zip(self.entries, _codes(len(self.entries)), strict=True)
            ],
        )
        self._write_vouchers(writer, when)
        writer.insert(
            TierStatus,
            "business customer program tier since period_ends_at updated_at".split(),
            [
                (
                    business,
                    customer.pk,
                    program_id,
                    status.tier,
                    when(status.since),
                    when(status.period_ends_at),
                    created,
                )
                for customer in self.customers
                for program_id, status in customer.tiers.items()
            ],
        )

    def _write_vouchers(self, writer: BulkWriter, when: _Adapter) -> None:
        business = self.business.pk
        codes = _codes(len(self.vouchers))
        writer.insert(
            Voucher,
            "business code customer reward entry name kind value status issued_at "
            "valid_until".split(),
            [
                (
                    business,
                    code,
                    customer_id,
                    reward.pk,
                    entry.id,
                    reward.name,
                    reward.kind,
                    reward.value,
                    Voucher.Status.ISSUED,
                    when(at),
                    when(at + timedelta(days=reward.valid_days)),
                )
                for (customer_id, reward, entry, at), code in zip(self.vouchers, codes, strict=True)
            ],
        )
        writer.insert(
            TimelineEntry,
            "business customer kind at text data staff location".split(),
            [
                (
                    business,
                    customer_id,
                    TimelineEntry.Kind.REWARD,
                    when(at),
                    reward.name[:300],
                    writer.json(
                        {"voucher": code, "cost": reward.cost, "unit": reward.program.rules.unit}
                    ),
                    None,
                    None,
                )
                for (customer_id, reward, _entry, at), code in zip(
                    self.vouchers, codes, strict=True
                )
            ],
        )


class _Adapter:
    """Datetimes as the backend stores them, fast for the common case.

    PostgreSQL (COPY) takes aware datetimes as they are. Django's SQLite backend stores naive
    UTC text, `str()` of the naive datetime; for moments already in UTC that is done here
    directly instead of through `adapt_datetimefield_value` (a third of the writing time).
    """

    def __init__(self, writer: BulkWriter) -> None:
        self.writer = writer
        self.passthrough = writer.postgres
        self.utc_text = not writer.postgres and str(writer.connection.timezone) == "UTC"

    def __call__(self, value: datetime | None) -> object:
        if value is None or self.passthrough:
            return value
        if self.utc_text and value.tzinfo is UTC:
            return str(value.replace(tzinfo=None))
        return self.writer.when(value)


def _cents(name: str) -> Cast:
    """A money column read as whole cents: exact on every backend, with no Decimal converter
    per value (SQLite's costs more than the rest of reading a row)."""
    return Cast(Round(F(name) * 100), IntegerField())


@cache
def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _codes(n: int) -> list[str]:
    """n distinct random public codes (the code columns are unique)."""
    codes = random_codes(n)
    while len(set(codes)) < n:
        codes = list(dict.fromkeys(codes))
        codes += random_codes(n - len(codes))
    return codes


__all__ = ["BackfillResult", "RedeemChance", "RedeemPolicy", "backfill", "replay_one_by_one"]
