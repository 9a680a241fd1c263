"""Loyalty over the REST API: sales that earn, balances, rewards, redemptions, vouchers, promo
cards, programs and the ledger.

Recording a purchase and refunding one live here rather than in sales/api.py: a sale runs
through the programs in the same transaction (`loyalty.sale`), and sales, below loyalty, must not
import it. The reads of purchases stay in sales/api.py; regulars/api.py serves both on one path.

Every endpoint is a thin wrapper: resolve codes within the key's business (another business's
code in the path is 404, in the body a 422 naming the field), refuse read-only keys on writes,
call the domain function, render. Writes honour `Idempotency-Key` through `idempotent()`, and
the same key reaches the domain function, so a retry never counts twice at either level.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Response

from regulars.accounts.api_support import (
    ERRORS,
    Instant,
    Once,
    as_json,
    business_of,
    idempotent,
    paginate,
    request_key,
    require_write,
)
from regulars.accounts.models import Business, Location
from regulars.accounts.tenancy import get_for_business
from regulars.customers.models import Customer
from regulars.lib.codes import normalise_code
from regulars.lib.errors import DomainError
from regulars.loyalty import card
from regulars.loyalty.ledger import Accrual, adjust, redeem, spend_credit
from regulars.loyalty.models import (
    LedgerEntry,
    Program,
    PromoCard,
    Reward,
    Voucher,
    from_units,
)
from regulars.loyalty.programs.base import TierChange
from regulars.loyalty.programs.tiers import Tier
from regulars.loyalty.sale import Sale, record_sale, refund_sale
from regulars.loyalty.vouchers import issue_promo_card, use_promo_card, use_voucher
from regulars.sales.api import PurchaseIn, PurchaseOut, RefundIn, purchases_of
from regulars.sales.api import resolve_purchase_input as resolve_sale
from regulars.sales.models import Purchase

router = Router()
Money = Decimal
# Points and stamps are whole numbers; store credit is money, a decimal string like every amount.
Amount = int | Money


# --- shapes -------------------------------------------------------------------------------


class EarnedOut(Schema):
    program: str = Field(..., description="program code")
    program_name: str
    unit: str = Field(..., description="points, stamps or credit")
    amount: Amount
    pending_until: datetime | None = Field(None, description="spendable from then (return window)")
    expires_at: datetime | None


class TierChangeOut(Schema):
    program: str
    old: str = Field(..., description="tier key before; empty for no tier")
    new: str = Field(..., description="tier key now; empty for no tier")
    old_name: str
    new_name: str
    upgraded: bool
    at: datetime


class SaleOut(PurchaseOut):
    """A purchase as recorded, and what it earned in each program."""

    earned: list[EarnedOut]
    tier_changes: list[TierChangeOut]

    # A purchase just recorded is answered from what was written, without reading it back.
    @staticmethod
    def resolve_lines(obj: Purchase):
        written = getattr(obj, "lines_written", None)
        return written if written is not None else list(obj.lines.all())

    @staticmethod
    def resolve_refunds(obj: Purchase):
        return [] if getattr(obj, "lines_written", None) is not None else list(obj.refunds.all())


class TakenBackOut(Schema):
    program: str
    unit: str
    amount: Amount = Field(..., description="taken back from the balance")
    waived: Amount = Field(..., description="should have been taken back but was already spent")


class RefundedSaleOut(PurchaseOut):
    """The purchase after the refund, and what the refund took back of its points."""

    taken_back: list[TakenBackOut]


class TierOut(Schema):
    key: str
    name: str
    threshold: Decimal
    multiplier: Decimal
    perks: list[str]


class PointsOut(Schema):
    program: str
    name: str
    available: int
    pending: int
    expiring: int = Field(..., description="points that expire first, at expiring_at")
    expiring_at: datetime | None


class StampsOut(Schema):
    program: str
    name: str
    stamps: int
    needed: int
    ready: int = Field(..., description="full cards waiting to be redeemed")
    progress: int = Field(..., description="stamps on the card being filled")
    reward: str | None = Field(None, description="code of the reward a full card unlocks")


class CreditOut(Schema):
    program: str
    name: str
    available: Money
    pending: Money


class TierProgressOut(Schema):
    program: str
    name: str
    basis: str = Field(..., description="spend or visits")
    value: Decimal = Field(..., description="spend or visits in the current window")
    tier: TierOut | None
    next_tier: TierOut | None
    to_next: Decimal | None
    since: datetime | None
    period_ends_at: datetime | None


class RewardOptionOut(Schema):
    reward: str
    name: str
    kind: str
    program: str
    unit: str
    cost: int
    have: int
    affordable: bool
    short_by: int


class VoucherOut(Schema):
    code: str
    customer: str = Field(..., alias="customer.code")
    reward: str = Field(..., alias="reward.code")
    name: str
    kind: str
    value: Money | None
    status: str
    issued_at: datetime
    valid_until: datetime
    used_at: datetime | None
    used_purchase: str | None = Field(None, alias="used_purchase.code")


class PromoCardOut(Schema):
    code: str
    customer: str = Field(..., alias="customer.code")
    kind: str
    value: Money
    min_purchase: Money
    reason: str
    status: str
    issued_at: datetime
    valid_until: datetime
    used_at: datetime | None
    used_purchase: str | None = Field(None, alias="used_purchase.code")


class LoyaltyOut(Schema):
    """What the counter shows after a scan: balances, stamps, tier, rewards, vouchers, promos."""

    customer: str
    points: list[PointsOut]
    stamps: list[StampsOut]
    credit: list[CreditOut]
    tiers: list[TierProgressOut]
    discount_percent: Decimal
    perks: list[str]
    rewards: list[RewardOptionOut]
    vouchers: list[VoucherOut]
    promo_cards: list[PromoCardOut]


class RewardOut(Schema):
    code: str
    program: str = Field(..., alias="program.code")
    name: str
    description: str
    kind: str
    product: str | None = Field(None, alias="product.sku")
    value: Money | None
    cost: int
    unit: str | None = Field(..., alias="program.unit")
    valid_days: int


class ProgramOut(Schema):
    code: str
    kind: str
    name: str
    active: bool
    description: str
    unit: str | None
    pending_days: int
    expiry_days: int | None
    refund_rule: str
    config: dict[str, Any]
    rewards: list[str] = Field(..., description="codes of its active rewards")

    @staticmethod
    def resolve_description(obj: Program) -> str:
        return obj.rules.describe()

    @staticmethod
    def resolve_rewards(obj: Program) -> list[str]:
        return [r.code for r in obj.rewards.all() if r.active]


class EntryOut(Schema):
    code: str
    program: str = Field(..., alias="account.program.code")
    unit: str = Field(..., alias="account.unit")
    kind: str = Field(..., description="earn, redeem, expire, adjust or reverse")
    amount: Amount
    waived: Amount
    at: datetime
    available_at: datetime | None
    expires_at: datetime | None
    reason: str
    purchase: str | None = Field(None, alias="purchase.code")
    refund: str | None = Field(None, alias="refund.code")
    reverses: str | None = Field(None, alias="reverses.code")
    lot: str | None = Field(None, alias="lot.code")
    location: str | None = Field(None, alias="location.code")

    @staticmethod
    def resolve_amount(obj: LedgerEntry) -> int | Decimal:
        return from_units(obj.account.unit, obj.amount)

    @staticmethod
    def resolve_waived(obj: LedgerEntry) -> int | Decimal:
        return from_units(obj.account.unit, obj.waived)


class EntryPage(Schema):
    items: list[EntryOut]
    next_cursor: str | None


class PromoCardPage(Schema):
    items: list[PromoCardOut]
    next_cursor: str | None


class RedemptionIn(Schema):
    reward: str = Field(..., description="reward code")
    location: str | None = Field(None, description="location code")


class CreditPaymentIn(Schema):
    program: str = Field(..., description="code of the cashback program whose credit is spent")
    amount: Money = Field(..., gt=0, max_digits=10, decimal_places=2)
    purchase: str | None = Field(None, description="code of the purchase it pays for")
    location: str | None = Field(None, description="location code")


class AdjustmentIn(Schema):
    program: str = Field(..., description="program code")
    amount: Amount = Field(
        ..., description="+ adds, − takes away: whole points or stamps, or credit as money"
    )
    reason: str = Field(..., min_length=1, max_length=300, description="why, for the ledger")


class UseIn(Schema):
    purchase: str | None = Field(None, description="code of the purchase it paid for")


class PromoCardIn(Schema):
    kind: PromoCard.Kind = Field(..., description="percent or fixed")
    value: Money = Field(..., gt=0, max_digits=10, decimal_places=2)
    min_purchase: Money = Field(Decimal("0"), ge=0, max_digits=10, decimal_places=2)
    valid_until: Instant | None = Field(None, description="default: 30 days from now")
    reason: str = Field("", max_length=300)


# --- helpers ------------------------------------------------------------------------------


def _customer(request: HttpRequest, code: str, business: Business | None = None) -> Customer:
    return get_for_business(Customer, business or business_of(request), code=normalise_code(code))


def _in_body(model, business: Business, field: str, code: str | None, **filters):
    """An object of this business named in the request body, or a 422 naming the field."""
    if not code:
        return None
    found = model.objects.filter(business=business, code=normalise_code(code), **filters).first()
    if found is None:
        raise DomainError(field, f"no such {field} in this business", code="not_found")
    return found


def _tier_name(change: TierChange, key: str) -> str:
    tier = change.program.rules.tier(key)
    return tier.name if tier else ""


def accrual_body(accrual: Accrual) -> dict:
    """What a sale earned, as the API and the points.earned webhook show it."""
    return {
        "earned": [
            {
                "program": e.account.program.code,
                "program_name": e.account.program.name,
                "unit": e.account.unit,
                "amount": from_units(e.account.unit, e.amount),
                "pending_until": e.available_at,
                "expires_at": e.expires_at,
            }
            for e in accrual.entries
            if e.kind == LedgerEntry.Kind.EARN
        ],
        "tier_changes": [tier_change_body(c) for c in accrual.tier_changes],
    }


def tier_change_body(change: TierChange) -> dict:
    return {
        "program": change.program.code,
        "old": change.old,
        "new": change.new,
        "old_name": _tier_name(change, change.old),
        "new_name": _tier_name(change, change.new),
        "upgraded": change.upgraded,
        "at": change.at,
    }


def _tier(tier: Tier | None) -> dict | None:
    if tier is None:
        return None
    return {
        "key": tier.key,
        "name": tier.name,
        "threshold": tier.threshold,
        "multiplier": tier.multiplier,
        "perks": list(tier.perks),
    }


def loyalty_body(summary: card.CardSummary) -> dict:
    programs = {
        x.program.pk: x.program
        for group in (summary.points, summary.stamps, summary.credit)
        for x in group
    }
    return {
        "customer": summary.customer.code,
        "points": [
            {
                "program": p.program.code,
                "name": p.program.name,
                "available": p.available,
                "pending": p.pending,
                "expiring": p.expiring,
                "expiring_at": p.expiring_at,
            }
            for p in summary.points
        ],
        "stamps": [
            {
                "program": s.program.code,
                "name": s.program.name,
                "stamps": s.stamps,
                "needed": s.needed,
                "ready": s.ready,
                "progress": s.progress,
                "reward": s.reward.code if s.reward else None,
            }
            for s in summary.stamps
        ],
        "credit": [
            {
                "program": c.program.code,
                "name": c.program.name,
                "available": c.available,
                "pending": c.pending,
            }
            for c in summary.credit
        ],
        "tiers": [
            {
                "program": t.program.code,
                "name": t.program.name,
                "basis": t.basis,
                "value": t.value,
                "tier": _tier(t.tier),
                "next_tier": _tier(t.next_tier),
                "to_next": t.to_next,
                "since": t.since,
                "period_ends_at": t.period_ends_at,
            }
            for t in summary.tiers
        ],
        "discount_percent": summary.discount_percent,
        "perks": summary.perks,
        "rewards": [
            {
                "reward": o.reward.code,
                "name": o.reward.name,
                "kind": o.reward.kind,
                "program": programs[o.reward.program_id].code,
                "unit": o.unit,
                "cost": o.cost,
                "have": o.have,
                "affordable": o.affordable,
                "short_by": o.short_by,
            }
            for o in summary.rewards
        ],
        "vouchers": summary.vouchers,
        "promo_cards": summary.promo_cards,
    }


def _vouchers(business: Business) -> QuerySet[Voucher]:
    return Voucher.objects.filter(business=business).select_related(
        "customer", "reward", "used_purchase"
    )


def _promo_cards(business: Business) -> QuerySet[PromoCard]:
    return PromoCard.objects.filter(business=business).select_related("customer", "used_purchase")


# --- sales --------------------------------------------------------------------------------


@router.post(
    "purchases",
    response={201: SaleOut, 200: SaleOut, **ERRORS},
    summary="Record a purchase (and what it earns)",
    tags=["purchases"],
)
def create_purchase(request: HttpRequest, payload: PurchaseIn):
    """Record a purchase from line items or one amount and run it through the loyalty programs,
    in one transaction. The answer says what it earned in each program and any tier change.
    Send an `Idempotency-Key` header so that a retried request returns the first purchase instead
    of recording (and rewarding) a second one."""
    business = require_write(request)
    once = Once.of(request, endpoint="purchases.create", payload=payload.dict())
    answer: dict = {}

    def also(sale: Sale) -> list:
        # The answer is built from the sale before it is written, and stored in the same write.
        answer.update(status=201, body=as_json(_sale_out(sale.purchase, sale.accrual)))
        return [once.record(201, answer["body"])] if once else []

    try:
        sale = record_sale(
            business=business,
            idempotency_key=request_key(request, "api"),
            also=also,
            **resolve_sale(business, payload),
        )
    except IntegrityError:
        # The stored answer clashed without the purchase doing so first: answer as stored.
        if once is None or (replayed := once.replay()) is None:
            raise
        return replayed
    if sale.created:
        return Response(answer["body"], status=201)
    # A retry: the first answer, or a 409 for the same key with another body.
    if once is not None and (replayed := once.replay()) is not None:
        return replayed
    out = purchases_of(business).get(pk=sale.purchase.pk)
    return Response(as_json(_sale_out(out, sale.accrual)), status=200)


def _sale_out(purchase: Purchase, accrual: Accrual) -> SaleOut:
    for name, value in accrual_body(accrual).items():
        setattr(purchase, name, value)
    return SaleOut.from_orm(purchase)


@router.post(
    "purchases/{code}/refunds",
    response={201: RefundedSaleOut, 200: RefundedSaleOut, **ERRORS},
    summary="Refund a purchase, whole or in part (and take back its points)",
    tags=["purchases"],
)
def refund(request: HttpRequest, code: str, payload: RefundIn):
    """Refund all of a purchase or part of it; the points, stamps and credit it earned are taken
    back pro rata, following each program's refund rule when they were already spent."""
    business = require_write(request)
    purchase = get_for_business(Purchase, business, code=normalise_code(code))

    def run():
        done = refund_sale(
            purchase=purchase,
            amount=payload.amount,
            reason=payload.reason,
            idempotency_key=request_key(request, "api"),
        )
        out = purchases_of(business).get(pk=purchase.pk)
        taken = [
            {
                "program": e.account.program.code,
                "unit": e.account.unit,
                "amount": from_units(e.account.unit, -e.amount),
                "waived": from_units(e.account.unit, e.waived),
            }
            for e in done.reversed
        ]
        out.taken_back = taken
        return (201 if done.created else 200), RefundedSaleOut.from_orm(out)

    return idempotent(request, endpoint=f"purchases.refund.{code}", payload=payload.dict(), run=run)


# --- reading a customer's loyalty ---------------------------------------------------------


@router.get(
    "customers/{code}/loyalty",
    response={200: LoyaltyOut, **ERRORS},
    summary="A customer's balances, stamps, tier, rewards, vouchers and promo cards",
    tags=["loyalty"],
)
def customer_loyalty(request: HttpRequest, code: str):
    return loyalty_body(card.balances(_customer(request, code)))


class LedgerFilters(Schema):
    program: str | None = Field(None, description="program code")
    since: Instant | None = None
    until: Instant | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


@router.get(
    "customers/{code}/ledger",
    response={200: EntryPage, **ERRORS},
    summary="A customer's ledger entries, newest first",
    tags=["loyalty"],
)
def customer_ledger(request: HttpRequest, code: str, filters: Query[LedgerFilters]):
    customer = _customer(request, code)
    qs = LedgerEntry.objects.filter(business=customer.business_id, account__customer=customer)
    qs = qs.select_related("account__program", "purchase", "refund", "reverses", "lot", "location")
    if filters.program:
        qs = qs.filter(account__program__code=filters.program)
    if filters.since:
        qs = qs.filter(at__gte=filters.since)
    if filters.until:
        qs = qs.filter(at__lt=filters.until)
    items, next_cursor = paginate(qs, cursor=filters.cursor, limit=filters.limit)
    return {"items": items, "next_cursor": next_cursor}


# --- rewards and redemptions --------------------------------------------------------------


@router.get(
    "rewards",
    response={200: list[RewardOut], **ERRORS},
    summary="The rewards catalogue: what points and stamps buy",
    tags=["loyalty"],
)
def rewards(request: HttpRequest, program: str | None = None):
    """Active rewards of the running programs, cheapest first."""
    business = business_of(request)
    qs = Reward.objects.filter(
        business=business, active=True, program__in=Program.objects.running_for(business)
    ).select_related("program", "product")
    if program:
        qs = qs.filter(program__code=program)
    return list(qs.order_by("cost", "name"))


@router.post(
    "customers/{code}/redemptions",
    response={201: VoucherOut, 200: VoucherOut, **ERRORS},
    summary="Redeem a reward: spend points or stamps, get a voucher",
    tags=["loyalty"],
)
def create_redemption(request: HttpRequest, code: str, payload: RedemptionIn):
    """Spend the reward's cost from what the customer has available (pending points cannot be
    spent) and issue a voucher with a code and a valid-until date. Not enough → 422 on `reward`
    saying what is missing. With an `Idempotency-Key`, a retry returns the same voucher."""
    business = require_write(request)
    customer = _customer(request, code, business)

    def run():
        reward = _in_body(Reward, business, "reward", payload.reward)
        location = _in_body(Location, business, "location", payload.location)
        voucher = redeem(
            customer=customer,
            reward=reward,
            location=location,
            idempotency_key=request_key(request, "api:redeem", fresh=True),
        )
        return 201, VoucherOut.from_orm(_vouchers(business).get(pk=voucher.pk))

    return idempotent(
        request, endpoint=f"redemptions.create.{customer.code}", payload=payload.dict(), run=run
    )


def _entry_out(entry: LedgerEntry) -> LedgerEntry:
    return LedgerEntry.objects.select_related(
        "account__program", "purchase", "refund", "reverses", "lot", "location"
    ).get(pk=entry.pk)


@router.post(
    "customers/{code}/credit-payments",
    response={201: EntryOut, **ERRORS},
    summary="Pay with store credit (cashback)",
    tags=["loyalty"],
)
def pay_with_credit(request: HttpRequest, code: str, payload: CreditPaymentIn):
    """Spend part of the customer's available store credit on a purchase; more than is
    available is a 422 on `amount`. With an `Idempotency-Key`, a retry spends nothing more."""
    business = require_write(request)
    customer = _customer(request, code, business)

    def run():
        program = _in_body(Program, business, "program", payload.program)
        entry = spend_credit(
            customer=customer,
            program=program,
            amount=payload.amount,
            purchase=_in_body(Purchase, business, "purchase", payload.purchase),
            location=_in_body(Location, business, "location", payload.location),
            idempotency_key=request_key(request, "api:credit", fresh=True),
        )
        return 201, EntryOut.from_orm(_entry_out(entry))

    return idempotent(
        request, endpoint=f"credit.spend.{customer.code}", payload=payload.dict(), run=run
    )


@router.post(
    "customers/{code}/adjustments",
    response={201: EntryOut, **ERRORS},
    summary="Correct a balance by hand, with a reason",
    tags=["loyalty"],
)
def adjust_balance(request: HttpRequest, code: str, payload: AdjustmentIn):
    """A manual correction written to the ledger: + adds a lot (which expires like earned
    points), − takes from what is available and never below zero."""
    business = require_write(request)
    customer = _customer(request, code, business)

    def run():
        program = _in_body(Program, business, "program", payload.program)
        entry = adjust(
            customer=customer,
            program=program,
            amount=payload.amount,
            reason=payload.reason,
            staff=None,
            idempotency_key=request_key(request, "api:adjust", fresh=True),
        )
        return 201, EntryOut.from_orm(_entry_out(entry))

    return idempotent(
        request, endpoint=f"adjust.{customer.code}", payload=payload.dict(), run=run
    )


@router.post(
    "vouchers/{code}/use",
    response={200: VoucherOut, **ERRORS},
    summary="Use a voucher (single use)",
    tags=["loyalty"],
)
def use_a_voucher(request: HttpRequest, code: str, payload: UseIn):
    """Mark a voucher used, optionally on the purchase it paid for. A used voucher is 409, an
    expired or cancelled one 422."""
    business = require_write(request)
    voucher = get_for_business(Voucher, business, code=normalise_code(code))

    def run():
        purchase = _in_body(Purchase, business, "purchase", payload.purchase)
        use_voucher(business=business, code=voucher.code, purchase=purchase)
        return 200, VoucherOut.from_orm(_vouchers(business).get(pk=voucher.pk))

    return idempotent(
        request, endpoint=f"vouchers.use.{voucher.code}", payload=payload.dict(), run=run
    )


# --- promo cards --------------------------------------------------------------------------


@router.post(
    "customers/{code}/promo-cards",
    response={201: PromoCardOut, 200: PromoCardOut, **ERRORS},
    summary="Issue a promo card (a single-use discount code) to a customer",
    tags=["loyalty"],
)
def issue_a_promo_card(request: HttpRequest, code: str, payload: PromoCardIn):
    business = require_write(request)
    customer = _customer(request, code, business)

    def run():
        issued = issue_promo_card(
            customer=customer,
            kind=payload.kind,
            value=payload.value,
            min_purchase=payload.min_purchase,
            valid_until=payload.valid_until,
            reason=payload.reason,
            idempotency_key=request_key(request, "api:promo", fresh=True),
        )
        return 201, PromoCardOut.from_orm(_promo_cards(business).get(pk=issued.pk))

    return idempotent(
        request, endpoint=f"promo_cards.create.{customer.code}", payload=payload.dict(), run=run
    )


class PromoCardFilters(Schema):
    status: PromoCard.Status | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


@router.get(
    "customers/{code}/promo-cards",
    response={200: PromoCardPage, **ERRORS},
    summary="A customer's promo cards, newest first",
    tags=["loyalty"],
)
def list_promo_cards(request: HttpRequest, code: str, filters: Query[PromoCardFilters]):
    customer = _customer(request, code)
    qs = _promo_cards(customer.business).filter(customer=customer)
    if filters.status:
        qs = qs.filter(status=filters.status)
    items, next_cursor = paginate(qs, cursor=filters.cursor, limit=filters.limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post(
    "promo-cards/{code}/use",
    response={200: PromoCardOut, **ERRORS},
    summary="Use a promo card (single use)",
    tags=["loyalty"],
)
def use_a_promo_card(request: HttpRequest, code: str, payload: UseIn):
    business = require_write(request)
    promo = get_for_business(PromoCard, business, code=normalise_code(code))

    def run():
        purchase = _in_body(Purchase, business, "purchase", payload.purchase)
        use_promo_card(business=business, code=promo.code, purchase=purchase)
        return 200, PromoCardOut.from_orm(_promo_cards(business).get(pk=promo.pk))

    return idempotent(
        request, endpoint=f"promo_cards.use.{promo.code}", payload=payload.dict(), run=run
    )


# --- programs -----------------------------------------------------------------------------


@router.get(
    "programs",
    response={200: list[ProgramOut], **ERRORS},
    summary="The business's loyalty programs and their settings",
    tags=["loyalty"],
)
def programs(request: HttpRequest):
    return list(
        Program.objects.filter(business=business_of(request))
        .prefetch_related("rewards")
        .order_by("pk")
    )
