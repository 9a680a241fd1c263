"""The ledger: every change of points, stamps or store credit, written one way.

Rules every function here keeps:
- One transaction per call. The customer's accounts are locked (SELECT … FOR UPDATE) before
  anything is read for a decision, always in primary-key order, so two writers touching the
  same accounts queue instead of deadlocking.
- Every write carries the caller's idempotency key. It is checked under the lock (a
  concurrent duplicate has then either committed or not begun), and each entry's key is
  unique per business as the last guard, so a retry (a double click, a dropped connection, a
  concurrent duplicate) returns the first result and never posts twice.
- Entries are never changed or deleted; undo and refunds post reversing entries.
- A balance is the sum of its entries; `Account.balance` caches it under the same lock.
- Nothing spends points that are pending or not there: the floor is zero. Only a refund of
  points already spent may go below it, when the program's refund rule says so.

Amounts cross this module's boundary as human amounts (int points/stamps, Decimal credit) and
live in the ledger as integers (cents for credit); see `models.to_units`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from regulars.accounts.models import Location, Membership
from regulars.customers.models import Customer, TimelineEntry
from regulars.lib.rows import Batch, columns, from_rows, insert_rows, marks, read_all
from regulars.loyalty import lots as lotbook
from regulars.loyalty.errors import LoyaltyConflict, LoyaltyError
from regulars.loyalty.models import (
    Account,
    LedgerEntry,
    Program,
    RefundRule,
    Reward,
    Unit,
    Voucher,
    from_units,
    running_programs,
    to_units,
)
from regulars.loyalty.programs.base import Bonus, PurchaseContext, TierChange
from regulars.loyalty.programs.tiers import status_query, statuses_from, tier_multiplier
from regulars.loyalty.signals import purchase_accrued, reward_redeemed, tier_changed
from regulars.sales.models import Purchase, PurchaseLine, Refund

Kind = LedgerEntry.Kind

_ACCOUNT_TABLE = Account._meta.db_table
_ACCOUNT_COLUMNS = columns(Account)

# How long the counter may undo its last action with `undo`.
UNDO_WINDOW = timedelta(minutes=5)


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Earned:
    """One line of "what the purchase earned", for the counter's confirmation."""

    program: Program
    unit: str
    amount: int  # in ledger units (cents for credit)
    available_at: datetime | None

    @property
    def value(self) -> int | Decimal:
        return from_units(self.unit, self.amount)

    @property
    def pending(self) -> bool:
        return self.available_at is not None


@dataclass
class Accrual:
    """The result of running a purchase through the programs. `created` is False on a retry."""

    purchase: Purchase
    entries: list[LedgerEntry] = field(default_factory=list)
    tier_changes: list[TierChange] = field(default_factory=list)
    created: bool = True

    @property
    def earned(self) -> list[Earned]:
        return [
            Earned(e.account.program, e.account.unit, e.amount, e.available_at)
            for e in self.entries
            if e.kind == Kind.EARN
        ]


# --- internals ----------------------------------------------------------------------------


def _check_key(idempotency_key: str) -> str:
    key = (idempotency_key or "").strip()
    if not key:
        raise LoyaltyError("idempotency_key", _("is required"))
    if len(key) > 100:
        raise LoyaltyError("idempotency_key", _("must be at most 100 characters"))
    return key


def _pk(obj) -> int | None:
    return obj.pk if obj is not None else None


def _same_business(business_id: int, *, staff=None, **objects: object) -> None:
    """Refuse another tenant's object, naming the argument; reads as "not found" on purpose.

    `staff` must be a member of the business: the person recorded as "who" has to work there.
    """
    for name, obj in objects.items():
        if obj is not None and getattr(obj, "business_id", None) != business_id:
            raise LoyaltyError(name, _("not found"), code="not_found")
    if (
        staff is not None
        and not Membership.objects.filter(user=staff, business_id=business_id).exists()
    ):
        raise LoyaltyError("staff", _("does not work for this business"), code="not_found")


def _operation(business_id: int, key: str) -> list[LedgerEntry]:
    return list(
        LedgerEntry.objects.filter(business_id=business_id, operation=key)
        .select_related("account__program", "reverses")
        .order_by("pk")
    )


def _lock_accounts(
    customer: Customer, wanted: Iterable[tuple[Program, str | None]]
) -> dict[tuple[int, str], Account]:
    """Lock (creating if needed) the customer's accounts for these (program, unit) pairs.

    Existing rows are locked in one query in primary-key order; missing ones are created in one
    INSERT that skips any a concurrent writer created meanwhile (it waits for that writer to
    finish), then locked in one more query. Call inside a transaction.
    """
    wanted = sorted({(p.pk, unit) for p, unit in wanted})
    found = _select_accounts(customer, {pk for pk, _unit in wanted})
    for _attempt in range(3):
        missing = [pair for pair in wanted if pair not in found]
        if not missing:
            return found
        insert_rows(
            [
                Account(
                    business_id=customer.business_id,
                    customer=customer,
                    program_id=program_id,
                    unit=unit,
                )
                for program_id, unit in missing
            ],
            ignore_conflicts=True,
        )
        created = _select_accounts(customer, {pk for pk, _unit in missing})
        found.update((pair, account) for pair, account in created.items() if pair in missing)
    # Only a clash of random account codes, three times over, could leave one missing.
    raise IntegrityError(f"could not create the accounts {missing}")


def _select_accounts(customer: Customer, program_ids: set[int]) -> dict[tuple[int, str], Account]:
    """The customer's accounts in these programs, locked in primary-key order."""
    if not program_ids:
        return {}
    return _accounts_from(read_all([_accounts_query(customer.pk, program_ids)])[0])


def _lock_by_pk(account_ids: Iterable[int]) -> dict[int, Account]:
    # Primary-key order: the same order every other writer uses (see the module docstring).
    return {
        a.pk: a
        # of=self: lock the account rows only, never the joined program or customer.
        for a in Account.objects.select_for_update(of=("self",))
        .filter(pk__in=set(account_ids))
        .select_related("program", "customer")
        .order_by("pk")
    }


def _available(account: Account, now: datetime) -> int:
    """Spendable units: everything but the lots still pending. Never more than the balance."""
    total = (
        LedgerEntry.objects.filter(account=account)
        .filter(Q(available_at__isnull=True) | Q(available_at__lte=now))
        .aggregate(s=Sum("amount"))["s"]
        or 0
    )
    return min(total, account.balance)


def _post(account: Account, **fields) -> LedgerEntry:
    """Append one entry and move the cached balance. The account must be locked by the caller.

    `fields` are `_entry`'s keywords (kind, amount, at, operation, key, …).
    """
    return _post_all([(account, fields)])[0]


def _post_all(
    postings: list[tuple[Account, dict]], batch: Batch | None = None
) -> list[LedgerEntry]:
    """Append entries (one INSERT) and move each account's cached balance (one UPDATE).

    The accounts must be locked by the caller. With a `batch` the writes are queued there (the
    sale's one round trip) and the entries get their keys when it runs; without one they are
    written now, together.
    """
    if not postings:
        return []
    # Plain INSERT and UPDATE: this runs on every sale, and compiling ORM queries cost more
    # than the database's work.
    entries = [_entry(account, **fields) for account, fields in postings]
    moves, resets = {}, []
    for (account, _fields), entry in zip(postings, entries, strict=True):
        account.balance += entry.amount
        moves[account.pk] = moves.get(account.pk, 0) + entry.amount
        # Units that reappear in a period expiry already settled (a late-recorded old purchase,
        # an undone redemption) must be looked at again by the next expiry run.
        if account.expired_through is not None and (
            (entry.expires_at is not None and entry.expires_at <= account.expired_through)
            or (entry.kind == Kind.REVERSE and entry.amount > 0)
        ):
            account.expired_through = None
            resets.append(account.pk)
    now = batch is None
    batch = batch or Batch()
    batch.insert(entries)
    # One UPDATE for every account: in PostgreSQL's one-statement batch a row must not be
    # updated twice.
    cases = " ".join(["WHEN %s THEN %s"] * len(moves))
    ids = marks(moves)
    reset = ""
    if resets:
        reset = (
            f", expired_through = CASE WHEN id IN ({marks(resets)}) "
            "THEN NULL ELSE expired_through END"
        )
    batch.execute(
        f"UPDATE {_ACCOUNT_TABLE} SET balance = balance + CASE id {cases} END{reset} "
        f"WHERE id IN ({ids})",
        [x for move in moves.items() for x in move] + resets + list(moves),
    )
    if now:
        batch.run()
    return entries


def _entry(  # the one list of what an entry is made of; _post and _post_all pass these on
    account: Account,
    *,
    kind: str,
    amount: int,
    at: datetime,
    operation: str,
    key: str,
    staff_id: int | None = None,
    location_id: int | None = None,
    reason: str | Promise = "",
    purchase_id: int | None = None,
    purchase: Purchase | None = None,
    refund_id: int | None = None,
    reverses: LedgerEntry | None = None,
    lot: LedgerEntry | None = None,
    available_at: datetime | None = None,
    expires_at: datetime | None = None,
    waived: int = 0,
) -> LedgerEntry:
    return LedgerEntry(
        business_id=account.business_id,
        account=account,
        kind=kind,
        amount=amount,
        waived=waived,
        at=at,
        available_at=available_at,
        expires_at=expires_at,
        staff_id=staff_id,
        location_id=location_id,
        reason=str(reason)[:300],
        # A purchase being recorded has no key yet: its object, for `Batch` to point at.
        **({"purchase": purchase} if purchase is not None else {"purchase_id": purchase_id}),
        refund_id=refund_id,
        reverses=reverses,
        lot=lot,
        operation=operation,
        idempotency_key=key,
    )


def _lot_dates(program: Program, at: datetime, *, pending: bool) -> dict[str, datetime | None]:
    return {
        "available_at": at + timedelta(days=program.pending_days)
        if pending and program.pending_days
        else None,
        "expires_at": at + timedelta(days=program.expiry_days) if program.expiry_days else None,
    }


def _take_back(
    account: Account,
    lot_entry: LedgerEntry,
    want: int,
    book: lotbook.Book,
    *,
    at: datetime,
    **post,
) -> LedgerEntry | None:
    """Reverse `want` units of one lot, following the program's refund rule.

    A lot still pending cannot have been spent: all of it is cancelled, and the reversal stays
    pending until the same date, so what the customer can spend now does not move. From a lot
    already available, units still in it are taken back; units of it already spent are taken
    too under the NEGATIVE rule (the balance may go below zero), and under CLAMP only as far
    as what is available goes, the rest recorded as `waived`. Units of it that already expired
    are never taken twice: they are waived.
    """
    pending_until = lot_entry.available_at
    if pending_until is not None and pending_until > at:
        take = want
    else:
        pending_until = None
        lot = book.lot(lot_entry.pk)
        from_lot = min(want, max(lot.remaining, 0))
        take = from_lot + min(want - from_lot, lot.consumed)
        if account.program.refund_rule == RefundRule.CLAMP:
            take = max(0, min(take, _available(account, at)))
    waived = want - take
    if take == 0 and waived == 0:
        return None
    return _post(
        account,
        kind=Kind.REVERSE,
        amount=-take,
        waived=waived,
        at=at,
        reverses=lot_entry,
        available_at=pending_until,
        **post,
    )


def _on_commit(send, **kwargs) -> None:
    transaction.on_commit(lambda: send(sender=LedgerEntry, **kwargs))


# --- accrual ------------------------------------------------------------------------------


def _earlier_accrual(purchase: Purchase, key: str) -> Accrual | None:
    """The accrual this key, or any key, already wrote for this purchase."""
    # A narrow first query: on the hot path it finds nothing, and then it is all we pay.
    seen = list(
        LedgerEntry.objects.filter(
            Q(business_id=purchase.business_id, operation=key)
            | Q(purchase=purchase, kind=Kind.EARN)
        ).values_list("operation", "purchase_id")
    )
    if not seen:
        return None
    if any(operation == key and purchase_id != purchase.pk for operation, purchase_id in seen):
        raise LoyaltyConflict("idempotency_key", _("was already used for another operation"))
    # A purchase accrues once, whatever key a second caller brings.
    earns = LedgerEntry.objects.filter(purchase=purchase, kind=Kind.EARN)
    return Accrual(
        purchase, list(earns.select_related("account__program").order_by("pk")), created=False
    )


def accrue_purchase(
    *,
    purchase: Purchase,
    idempotency_key: str,
    staff=None,
    lines: list[PurchaseLine] | None = None,
) -> Accrual:
    """Run a recorded purchase through every running program of its business.

    Points (rate × product/category multiplier × the tier the customer held when paying, rounded
    by the program's rule, nothing under the minimum purchase), stamps (per visit or per
    qualifying item), cashback credit; then tiers are measured again and upgraded at once.
    Entries take effect at the purchase's time, so a back-dated purchase gets back-dated
    pending and expiry dates.

    Invariant: a purchase accrues at most once; a retry with the same key, or any key once the
    purchase has accrued, returns the first accrual with `created=False`. A purchase without a
    customer earns nothing. `lines` are the purchase's lines when the caller has them at hand,
    read otherwise. A sale being recorded accrues with `accrue_new` instead, in its own batch.
    """
    key = _check_key(idempotency_key)
    if purchase.customer_id is None:
        return Accrual(purchase, created=False)
    _same_business(purchase.business_id, customer=purchase.customer, staff=staff)
    if lines is None:
        lines = list(purchase.lines.select_related("product"))
    try:
        with transaction.atomic():
            batch = Batch()
            accrual = _accrue(batch, purchase, lines, key=key, staff=staff, earlier=True)
            batch.run()
            return accrual
    except IntegrityError:
        # A concurrent duplicate won the unique key; hand back what it wrote.
        if (found := _earlier_accrual(purchase, key)) is not None:
            return found
        raise


def accrue_new(
    batch: Batch, purchase: Purchase, lines: list[PurchaseLine], *, staff=None
) -> Accrual:
    """What a purchase being recorded earns, queued in the sale's `batch` after the purchase.

    For `record_sale`, inside its transaction: the purchase is new there, so nothing else can
    have accrued it and no earlier accrual is looked for. The key is `accrue:<purchase code>`,
    as for every other accrual of a purchase.
    """
    if purchase.customer_id is None:
        return Accrual(purchase, created=False)
    _same_business(purchase.business_id, customer=purchase.customer, staff=staff)
    return _accrue(
        batch, purchase, lines, key=f"accrue:{purchase.code}", staff=staff, earlier=False
    )


def _accrue(
    batch: Batch,
    purchase: Purchase,
    lines: list[PurchaseLine],
    *,
    key: str,
    staff,
    earlier: bool,
) -> Accrual:
    """The accrual, inside the caller's transaction: lock, decide, queue the writes in `batch`.

    One round trip reads what the decision needs: the customer's accounts (locked), their tier
    statuses and each tier's measure. A tier measured here does not hold the purchase yet (it
    may not be written), so the purchase's own share is added (`TiersProgram.counted`). Tier
    rows are locked only when a tier moves, after the accounts, as every writer does.
    """
    customer = purchase.customer
    programs = running_programs(purchase.business_id)
    at = purchase.occurred_at
    tiers = [p for p in programs if p.kind == Program.Kind.TIERS]
    units = sorted({(p.pk, p.rules.unit) for p in programs if p.rules.unit})
    reads = [_accounts_query(customer.pk, {pk for pk, _unit in units})] if units else []
    if tiers:
        reads.append(status_query(tiers, customer.pk, lock=False))
        reads.extend(p.rules.measure_query(customer.pk, at) for p in tiers)
    results = read_all(reads)
    accounts = _accounts_from(results.pop(0)) if units else {}
    if any(pair not in accounts for pair in units):
        accounts = _lock_accounts(customer, [(p, p.rules.unit) for p in programs if p.rules.unit])
    statuses = statuses_from(results.pop(0)) if tiers else {}
    measured = {p.pk: p.rules.measured(row) for p, row in zip(tiers, results, strict=True)}
    if earlier and (found := _earlier_accrual(purchase, key)) is not None:
        return found
    ctx = PurchaseContext(purchase, lines, tier_multiplier(programs, customer.pk, statuses))
    accrual = Accrual(purchase)
    postings = []
    for program in programs:
        for posting in program.rules.accrue(ctx):
            account = accounts[(program.pk, posting.unit)]
            account.program = program  # for the caller's "what was earned"
            postings.append(
                (
                    account,
                    dict(
                        kind=Kind.EARN,
                        amount=posting.amount,
                        at=at,
                        operation=key,
                        key=f"{key}:{program.code}:{posting.unit}",
                        staff_id=staff.pk if staff else purchase.cashier_id,
                        location_id=purchase.location_id,
                        reason=posting.reason,
                        purchase=purchase,
                        **_lot_dates(program, at, pending=posting.pending),
                    ),
                )
            )
    accrual.entries = _post_all(postings, batch)
    for program in tiers:
        # Measured before this purchase was written (when it is new) or after (when not).
        value = measured[program.pk] + (0 if earlier else program.rules.counted(purchase))
        change = program.rules.evaluate(
            customer_id=customer.pk, at=at, status=statuses.get(program.pk), value=value
        )
        if change is not None:
            accrual.tier_changes.append(change)
            _on_commit(tier_changed.send, change=change)
    if accrual.entries:
        _on_commit(purchase_accrued.send, accrual=accrual)
    return accrual


def _accounts_query(customer_id: int, program_ids: set[int]) -> tuple[str, list]:
    """The customer's accounts in these programs, locked in primary-key order (plain SQL)."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return (
        f"SELECT {_ACCOUNT_COLUMNS} FROM {_ACCOUNT_TABLE} WHERE customer_id = %s AND program_id IN "
        f"({marks(program_ids)}) ORDER BY id{lock}",
        [customer_id, *sorted(program_ids)],
    )


def _accounts_from(rows: list[tuple]) -> dict[tuple[int, str], Account]:
    return {(a.program_id, a.unit): a for a in from_rows(Account, rows)}


# --- spending -----------------------------------------------------------------------------


def _earlier_redemption(customer: Customer, reward: Reward, key: str) -> Voucher | None:
    entries = _operation(customer.business_id, key)
    if not entries:
        return None
    voucher = Voucher.objects.filter(entry=entries[0]).first()
    if voucher is None or voucher.customer_id != customer.pk or voucher.reward_id != reward.pk:
        raise LoyaltyConflict("idempotency_key", _("was already used for another operation"))
    return voucher


def _shortfall(unit: str, need: int, available: int, balance: int) -> str:
    message = _("needs %(need)s %(unit)s; %(have)s available") % {
        "need": from_units(unit, need),
        "unit": Unit(unit).label,
        "have": from_units(unit, max(available, 0)),
    }
    if balance > available:
        message += " " + _("(%(pending)s more pending)") % {
            "pending": from_units(unit, balance - max(available, 0))
        }
    return message


def redeem(
    *,
    customer: Customer,
    reward: Reward,
    idempotency_key: str,
    staff=None,
    location: Location | None = None,
    now: datetime | None = None,
) -> Voucher:
    """Spend points or stamps on a catalog reward and issue its voucher.

    Invariant: never spends more than is available now (pending points are not spendable); on
    a shortfall nothing is written and LoyaltyError(field="reward", code="insufficient") says
    what is missing. A retry with the same key returns the same voucher.
    """
    key = _check_key(idempotency_key)
    _same_business(customer.business_id, reward=reward, location=location, staff=staff)
    program = reward.program
    unit = program.rules.unit
    if not program.rules.redeemable:
        raise LoyaltyError("reward", _("is not available now"), code="unavailable")
    now = now or timezone.now()
    try:
        with transaction.atomic():
            account = _lock_accounts(customer, [(program, unit)])[(program.pk, unit)]
            account.program = program
            # Checked under the lock: a concurrent duplicate has either committed or not started.
            if (found := _earlier_redemption(customer, reward, key)) is not None:
                return found
            if not (reward.active and program.active):
                raise LoyaltyError("reward", _("is not available now"), code="unavailable")
            available = _available(account, now)
            if available < reward.cost:
                raise LoyaltyError(
                    "reward",
                    _shortfall(unit, reward.cost, available, account.balance),
                    code="insufficient",
                )
            entry = _post(
                account,
                kind=Kind.REDEEM,
                amount=-reward.cost,
                at=now,
                operation=key,
                key=key,
                staff_id=_pk(staff),
                location_id=_pk(location),
                reason=reward.name,
            )
            voucher = Voucher.objects.create(
                business_id=customer.business_id,
                customer=customer,
                reward=reward,
                entry=entry,
                name=reward.name,
                kind=reward.kind,
                value=reward.value,
                issued_at=now,
                valid_until=now + timedelta(days=reward.valid_days),
            )
            TimelineEntry.objects.create(
                business_id=customer.business_id,
                customer=customer,
                kind=TimelineEntry.Kind.REWARD,
                at=now,
                text=reward.name,
                data={"voucher": voucher.code, "cost": reward.cost, "unit": unit},
                staff=staff,
                location=location,
            )
            _on_commit(reward_redeemed.send, voucher=voucher)
            return voucher
    except IntegrityError:
        if (found := _earlier_redemption(customer, reward, key)) is not None:
            return found
        raise


def spend_credit(
    *,
    customer: Customer,
    program: Program,
    amount: Decimal,
    idempotency_key: str,
    purchase: Purchase | None = None,
    staff=None,
    location: Location | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Pay part of a purchase with store credit (cashback). Never more than is available.

    A retry with the same key returns the first entry.
    """
    key = _check_key(idempotency_key)
    _same_business(
        customer.business_id, program=program, purchase=purchase, location=location, staff=staff
    )
    if program.rules.unit != Unit.CREDIT:
        raise LoyaltyError("program", _("has no store credit"))
    try:
        cents = to_units(Unit.CREDIT, amount)
    except (TypeError, ValueError) as exc:
        raise LoyaltyError("amount", str(exc)) from None
    if cents <= 0:
        raise LoyaltyError("amount", _("must be more than zero"))
    now = now or timezone.now()

    def earlier() -> LedgerEntry | None:
        entries = _operation(customer.business_id, key)
        if entries and (
            entries[0].account.customer_id != customer.pk or entries[0].amount != -cents
        ):
            raise LoyaltyConflict("idempotency_key", _("was already used for another operation"))
        return entries[0] if entries else None

    with transaction.atomic():
        account = _lock_accounts(customer, [(program, Unit.CREDIT)])[(program.pk, Unit.CREDIT)]
        if (found := earlier()) is not None:
            return found
        available = _available(account, now)
        if available < cents:
            raise LoyaltyError(
                "amount",
                _shortfall(Unit.CREDIT, cents, available, account.balance),
                code="insufficient",
            )
        return _post(
            account,
            kind=Kind.REDEEM,
            amount=-cents,
            at=now,
            operation=key,
            key=key,
            staff_id=_pk(staff),
            location_id=_pk(location),
            reason=_("Paid with store credit"),
            purchase_id=_pk(purchase),
        )


# --- taking back --------------------------------------------------------------------------


def reverse_purchase(
    *, purchase: Purchase, refund: Refund, idempotency_key: str
) -> list[LedgerEntry]:
    """Take back what a purchase earned, pro rata to what has been refunded of it so far.

    After refunds totalling R of a purchase of total T, each earn of the purchase keeps
    keep(E × (T − R) / T), rounded by its kind (points: the program's rounding rule; stamps:
    half up; credit: down to the cent); the rest is taken back by a reversing entry. Working
    from the cumulative share means two partial refunds take back exactly what one refund of
    their sum would. Pending points are cancelled inside their pending window; points already
    spent follow the program's refund rule (see `_take_back`).

    Invariant: over all refunds of a purchase, taken back + waived never exceeds what it
    earned. A retry with the same key returns the first result.
    """
    key = _check_key(idempotency_key)
    _same_business(purchase.business_id, refund=refund)
    if refund.purchase_id != purchase.pk:
        raise LoyaltyError("refund", _("belongs to another purchase"))

    def earlier() -> list[LedgerEntry] | None:
        entries = _operation(purchase.business_id, key)
        if entries and any(e.refund_id != refund.pk for e in entries):
            raise LoyaltyConflict("idempotency_key", _("was already used for another operation"))
        return entries or None

    if (found := earlier()) is not None:
        return found
    earns = list(LedgerEntry.objects.filter(purchase=purchase, kind=Kind.EARN).order_by("pk"))
    if not earns or purchase.total <= 0:
        return []
    with transaction.atomic():
        accounts = _lock_by_pk(e.account_id for e in earns)
        if (found := earlier()) is not None:
            return found
        refunded = Refund.objects.filter(purchase=purchase, pk__lte=refund.pk).aggregate(
            s=Sum("amount")
        )["s"] or Decimal(0)
        share = max(purchase.total - refunded, Decimal(0)) / purchase.total
        out = []
        for earn in earns:
            account = accounts[earn.account_id]
            rules = account.program.rules
            book = lotbook.book(LedgerEntry.objects.filter(account=account))
            want = earn.amount - rules.keep_after_refund(earn.amount, share)
            want -= book.lot(earn.pk).settled
            if want <= 0:
                continue
            entry = _take_back(
                account,
                earn,
                want,
                book,
                at=refund.occurred_at,
                operation=key,
                key=f"{key}:{earn.pk}",
                staff_id=refund.staff_id,
                reason=_("Refund"),
                purchase_id=purchase.pk,
                refund_id=refund.pk,
            )
            if entry is not None:
                out.append(entry)
        return out


def undo(
    *,
    entry: LedgerEntry,
    staff,
    idempotency_key: str,
    now: datetime | None = None,
    window: timedelta | None = UNDO_WINDOW,
) -> list[LedgerEntry]:
    """Undo the action `entry` belongs to — every entry written by the same call — by reversal.

    A purchase's points, stamps and credit go back together; a redemption gives its points
    back and voids its voucher (refused once the voucher was used). Earned points already spent
    follow the refund rule, as for a refund. Only within `window` of when the entry was written
    (None: any time, for owners' corrections). Expiries and reversals cannot be undone.

    A retry with the same key returns the first result.
    """
    key = _check_key(idempotency_key)
    now = now or timezone.now()

    def earlier() -> list[LedgerEntry] | None:
        entries = _operation(entry.business_id, key)
        if entries and any(
            e.reverses_id is None or e.reverses.operation != entry.operation for e in entries
        ):
            raise LoyaltyConflict("idempotency_key", _("was already used for another operation"))
        return entries or None

    if (found := earlier()) is not None:
        return found
    _same_business(entry.business_id, staff=staff)
    if entry.kind in (Kind.REVERSE, Kind.EXPIRE):
        raise LoyaltyError("entry", _("a reversal or an expiry cannot be undone"))
    if window is not None and now - entry.created_at > window:
        raise LoyaltyError(
            "entry",
            _("can only be undone within %(minutes)d minutes")
            % {"minutes": window.total_seconds() // 60},
            code="too_late",
        )
    group = list(
        LedgerEntry.objects.filter(business_id=entry.business_id, operation=entry.operation)
        .exclude(kind__in=[Kind.REVERSE, Kind.EXPIRE])
        .order_by("pk")
    )
    with transaction.atomic():
        accounts = _lock_by_pk(e.account_id for e in group)
        if (found := earlier()) is not None:
            return found
        out = []
        for original in group:
            account = accounts[original.account_id]
            book = lotbook.book(LedgerEntry.objects.filter(account=account))
            post = {
                "at": now,
                "operation": key,
                "key": f"{key}:{original.pk}",
                "staff_id": _pk(staff),
                "reason": _("Undo"),
                "purchase_id": original.purchase_id,
            }
            if original.amount > 0:
                want = original.amount - book.lot(original.pk).settled
                if want > 0 and (reversal := _take_back(account, original, want, book, **post)):
                    out.append(reversal)
                continue
            give = -original.amount - book.reversals.get(original.pk, 0)
            if give <= 0:
                continue
            voucher = Voucher.objects.select_for_update().filter(entry=original).first()
            if voucher is not None:
                voided = Voucher.objects.filter(pk=voucher.pk, status=Voucher.Status.ISSUED).update(
                    status=Voucher.Status.VOID
                )
                if not voided:
                    raise LoyaltyConflict("entry", _("the voucher was already used"))
            out.append(_post(account, kind=Kind.REVERSE, amount=give, reverses=original, **post))
        if not out:
            raise LoyaltyConflict("entry", _("was already undone"))
        return out


def last_undoable(
    *, customer: Customer, now: datetime | None = None, window: timedelta = UNDO_WINDOW
) -> LedgerEntry | None:
    """The newest entry of the customer the counter may still undo: written within `window`,
    an earn, redemption or adjustment, not reversed yet. Pass it to `undo`.

    Plain SQL, on every scan at the counter: the customer's accounts, then their entries by
    the account index, named by id. Given the accounts as a join or a subquery instead,
    PostgreSQL's planner took the time filter for the selective one and read the whole ledger
    (nothing indexes the time an entry was written).
    """
    now = now or timezone.now()
    [rows] = read_all([(f"SELECT {_ACCOUNT_COLUMNS} FROM {_ACCOUNT_TABLE} WHERE customer_id = %s",
                        [customer.pk])])  # fmt: skip
    accounts = {a.pk: a for a in from_rows(Account, rows)}
    if not accounts:
        return None
    kinds = [Kind.EARN, Kind.REDEEM, Kind.ADJUST]
    since = connection.ops.adapt_datetimefield_value(now - window)
    [found] = read_all(
        [(_LAST_UNDOABLE_SQL.format(marks=marks(accounts)),
          [*accounts, *kinds, since])]
    )  # fmt: skip
    if not found:
        return None
    [entry] = from_rows(LedgerEntry, found)
    entry.account = account = accounts[entry.account_id]
    running = {p.pk: p for p in running_programs(customer.business_id)}
    account.program = running.get(account.program_id) or Program.objects.get(
        pk=account.program_id
    )
    account.customer = customer
    return entry


_LEDGER_TABLE = LedgerEntry._meta.db_table
_LAST_UNDOABLE_SQL = (
    f"SELECT {columns(LedgerEntry)} FROM {_LEDGER_TABLE} e WHERE account_id IN ({{marks}}) "
    "AND kind IN (%s, %s, %s) AND created_at >= %s AND NOT EXISTS "
    f"(SELECT 1 FROM {_LEDGER_TABLE} r WHERE r.reverses_id = e.id) "
    "ORDER BY created_at DESC, id DESC LIMIT 1"
)


# --- bonuses and corrections --------------------------------------------------------------


def award_bonus(
    *,
    customer: Customer,
    action: str,
    idempotency_key: str,
    staff=None,
    location: Location | None = None,
    now: datetime | None = None,
) -> list[LedgerEntry]:
    """Give every running program's bonus for an action (joined, birthday, review).

    Bonuses are available at once (no return window) and expire like any lot. Pass a key that
    names the occasion, e.g. f"joined:{customer.code}" or f"birthday:{customer.code}:{year}",
    so that the same occasion never pays twice. Returns [] when no program has that bonus.
    """
    key = _check_key(idempotency_key)
    _same_business(customer.business_id, location=location, staff=staff)
    if action not in Bonus.ALL:
        raise LoyaltyError(
            "action", _("must be one of %(actions)s") % {"actions": ", ".join(Bonus.ALL)}
        )
    if entries := _operation(customer.business_id, key):
        if any(e.account.customer_id != customer.pk for e in entries):
            raise LoyaltyConflict("idempotency_key", _("was already used for another operation"))
        return entries
    now = now or timezone.now()
    postings = [
        (program, posting)
        for program in Program.objects.running_for(customer.business)
        for posting in program.rules.bonus(action)
    ]
    if not postings:
        return []
    try:
        with transaction.atomic():
            accounts = _lock_accounts(customer, [(p, posting.unit) for p, posting in postings])
            if entries := _operation(customer.business_id, key):
                return entries
            return [
                _post(
                    accounts[(program.pk, posting.unit)],
                    kind=Kind.EARN,
                    amount=posting.amount,
                    at=now,
                    operation=key,
                    key=f"{key}:{program.code}:{posting.unit}",
                    staff_id=_pk(staff),
                    location_id=_pk(location),
                    reason=_("Bonus: %(action)s") % {"action": action},
                    **_lot_dates(program, now, pending=posting.pending),
                )
                for program, posting in postings
            ]
    except IntegrityError:
        if entries := _operation(customer.business_id, key):
            return entries
        raise


def adjust(
    *,
    customer: Customer,
    program: Program,
    amount: int | Decimal,
    reason: str,
    staff,
    idempotency_key: str,
    location: Location | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """A manual correction with a reason: + adds a lot (which expires like earned points), −
    takes from what is available and never below zero.

    `amount` is in the program's unit: whole points/stamps, or a Decimal of credit.
    A retry with the same key returns the first entry.
    """
    key = _check_key(idempotency_key)
    _same_business(customer.business_id, program=program, location=location, staff=staff)
    unit = program.rules.unit
    if unit is None:
        raise LoyaltyError("program", _("has no balance to adjust"))
    if not (reason or "").strip():
        raise LoyaltyError("reason", _("say why the balance changes"))
    try:
        units = to_units(unit, amount)
    except (TypeError, ValueError) as exc:
        raise LoyaltyError("amount", str(exc)) from None
    if units == 0:
        raise LoyaltyError("amount", _("must not be zero"))
    now = now or timezone.now()

    def earlier() -> LedgerEntry | None:
        entries = _operation(customer.business_id, key)
        if entries and (
            entries[0].account.customer_id != customer.pk or entries[0].amount != units
        ):
            raise LoyaltyConflict("idempotency_key", _("was already used for another operation"))
        return entries[0] if entries else None

    with transaction.atomic():
        account = _lock_accounts(customer, [(program, unit)])[(program.pk, unit)]
        if (found := earlier()) is not None:
            return found
        if units < 0:
            available = _available(account, now)
            if available + units < 0:
                raise LoyaltyError(
                    "amount",
                    _shortfall(unit, -units, available, account.balance),
                    code="insufficient",
                )
        return _post(
            account,
            kind=Kind.ADJUST,
            amount=units,
            at=now,
            operation=key,
            key=key,
            staff_id=_pk(staff),
            location_id=_pk(location),
            reason=reason.strip(),
            **(_lot_dates(program, now, pending=False) if units > 0 else {}),
        )
