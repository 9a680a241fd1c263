"""Loyalty: programs, customers' accounts in them, the append-only ledger, rewards and vouchers.

Amounts in the ledger are integers in the account's smallest step (see `Unit`): a point, a stamp,
or a cent of store credit. Integers keep sums exact on every database (SQLite would otherwise sum
decimals as floats); money only becomes a `Decimal` at the edge, through `from_units`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from regulars.accounts.models import Business, BusinessOwned, BusinessQuerySet, Location
from regulars.customers.models import Customer
from regulars.lib.codes import new_code
from regulars.lib.money import CENT
from regulars.lib.ttlcache import BusinessCache
from regulars.sales.models import MONEY, Product, Purchase, Refund

if TYPE_CHECKING:
    from regulars.loyalty.programs.base import ProgramKind


class Unit(models.TextChoices):
    """What an account counts. Points and stamps are whole numbers; credit is stored in cents."""

    POINTS = "points", _("points")
    STAMPS = "stamps", _("stamps")
    CREDIT = "credit", _("store credit")


CENTS_PER_UNIT = 100


def to_units(unit: str, value: int | Decimal) -> int:
    """A human amount (12 points, Decimal('4.50') of credit) as the ledger's integer."""
    if isinstance(value, float):
        raise TypeError("amounts must not be floats")
    if unit == Unit.CREDIT:
        cents = Decimal(value) * CENTS_PER_UNIT
        if cents != cents.to_integral_value():
            raise ValueError(f"{value} has more than two decimal places")
        return int(cents)
    if isinstance(value, Decimal) and value != value.to_integral_value():
        raise ValueError(f"{unit} are whole numbers, not {value}")
    return int(value)


def from_units(unit: str, amount: int) -> int | Decimal:
    """The ledger's integer as a human amount: an int, or a Decimal with cents for credit."""
    if unit == Unit.CREDIT:
        return (Decimal(amount) / CENTS_PER_UNIT).quantize(CENT)
    return amount


class RefundRule(models.TextChoices):
    """What a refund does when the points it should take back were already spent."""

    NEGATIVE = "negative", _("Take the points back; the balance may go below zero")
    CLAMP = "clamp", _("Take back only what is left; record the rest as written off")


class ProgramQuerySet(BusinessQuerySet):
    def running_for(self, business: Business | int) -> ProgramQuerySet:
        """The programs a purchase of this business runs through.

        The one place to widen when partner (coalition) programs shared by several businesses
        arrive: they will be found here through a partner table, with no change to callers.
        """
        return self.filter(business=business, active=True).order_by("pk")


class Program(BusinessOwned):
    """One loyalty program a business runs; several can run at once (points + stamps + tiers).

    The ledger-wide rules are typed fields (pending window, expiry, refund rule); what differs by
    kind lives in `config`, parsed and validated by the kind's class in `programs/<kind>.py`.
    """

    class Kind(models.TextChoices):
        POINTS = "points", _("Points")
        STAMPS = "stamps", _("Stamp card")
        TIERS = "tiers", _("Tiers")
        DISCOUNT = "discount", _("Discount card")
        CASHBACK = "cashback", _("Cashback")

    code = models.CharField(max_length=12, default=new_code, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    active = models.BooleanField(_("active"), default=True)
    pending_days = models.PositiveIntegerField(
        _("pending days"),
        default=0,
        help_text=_(
            "Earned points wait this many days (the return window) before they can be spent."
        ),
    )
    expiry_days = models.PositiveIntegerField(
        _("expiry days"),
        null=True,
        blank=True,
        help_text=_("Each lot of earned points expires this many days after it was earned."),
    )
    refund_rule = models.CharField(
        _("refund of spent points"),
        max_length=16,
        choices=RefundRule.choices,
        default=RefundRule.CLAMP,
    )
    config = models.JSONField(_("settings"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProgramQuerySet.as_manager()

    class Meta:
        verbose_name = _("loyalty program")
        verbose_name_plural = _("loyalty programs")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @cached_property
    def rules(self) -> ProgramKind:
        """This program's kind class, with its config parsed (raises ValidationError if bad)."""
        from regulars.loyalty.programs import rules_for

        return rules_for(self)

    @property
    def unit(self) -> str | None:
        from regulars.loyalty.programs import kind_class

        return kind_class(self.kind).unit

    def clean(self) -> None:
        from regulars.loyalty.programs import kind_class

        if self.kind:
            kind_class(self.kind).parse(self.config or {})
        if self.expiry_days is not None and self.expiry_days <= self.pending_days:
            # A lot must become spendable before it can expire, or FIFO would expire points
            # the customer never could use.
            raise ValidationError({"expiry_days": _("Must be longer than the pending days.")})


# --- the running programs of a business, kept per process ---------------------------------
#
# Every sale runs through its business's programs; reading and parsing them on each sale was a
# good part of its cost. Each process keeps them for at most PROGRAMS_TTL_S seconds. A program
# saved or deleted in this process is seen at once (the entry is dropped on save and again on
# commit); one saved by another process (another web worker) is seen within the TTL. The
# cached instances are shared between threads: treat them as read-only.

PROGRAMS_TTL_S = 5.0
_running: BusinessCache[tuple[Program, ...]] = BusinessCache(PROGRAMS_TTL_S)


def running_programs(business_id: int) -> list[Program]:
    """`Program.objects.running_for(business_id)`, from the per-process cache when fresh."""
    return list(_running.get(business_id, lambda pk: tuple(Program.objects.running_for(pk))))


def forget_running_programs(business_id: int | None = None) -> None:
    """Drop the cached programs of one business (or of all): the next sale reads them again."""
    _running.forget(business_id)


_running.follow(Program, "loyalty.programs")


class Account(BusinessOwned):
    """A customer's balance in one program and unit: points, stamps or store credit.

    `balance` is a cache of the sum of the account's ledger entries (pending included), written
    only under this row's lock in the same transaction as the entries; `regulars ledger verify`
    proves it. `expired_through` is an expiry hint: every lot due by then has been settled.
    """

    code = models.CharField(max_length=12, default=new_code, unique=True, editable=False)
    customer = models.ForeignKey(
        Customer, on_delete=models.RESTRICT, related_name="loyalty_accounts"
    )
    program = models.ForeignKey(Program, on_delete=models.RESTRICT, related_name="accounts")
    unit = models.CharField(max_length=8, choices=Unit.choices)
    balance = models.BigIntegerField(default=0)
    expired_through = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("loyalty account")
        verbose_name_plural = _("loyalty accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "program", "unit"], name="one_account_per_unit"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer} · {self.program} ({self.unit})"

    @property
    def value(self) -> int | Decimal:
        return from_units(self.unit, self.balance)


class LedgerImmutable(Exception):
    """Raised on any attempt to change or delete a ledger entry: undo is a reversing entry."""


class LedgerEntryQuerySet(BusinessQuerySet):
    def update(self, **kwargs):
        raise LedgerImmutable("ledger entries are never updated; post a reversing entry")

    def delete(self):
        raise LedgerImmutable("ledger entries are never deleted; post a reversing entry")

    def lots(self) -> LedgerEntryQuerySet:
        """Entries that add to a balance and can expire: positive earns and adjustments."""
        return self.filter(kind__in=[LedgerEntry.Kind.EARN, LedgerEntry.Kind.ADJUST], amount__gt=0)


class LedgerEntry(BusinessOwned):
    """One change of one account: append-only, with who, where, why and what it belongs to.

    `amount` is signed, in the account's unit (points, stamps, or cents of credit). A balance is
    the sum of its entries. Positive earns and adjustments are lots: they may be pending until
    `available_at` and expire at `expires_at`, first earned first expired. A reversal points at
    the entry it takes back (`reverses`); an expiry points at its lot (`lot`). `waived` records
    what a reversal could not take back (already spent under the clamp rule, or already expired).

    `operation` is the caller's idempotency key shared by every entry one call wrote;
    `idempotency_key` is unique per business, so a retry can never post twice.
    """

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        REDEEM = "redeem", _("Redeemed")
        EXPIRE = "expire", _("Expired")
        ADJUST = "adjust", _("Adjusted")
        REVERSE = "reverse", _("Reversed")

    # business and account lead composite indexes below; indexes of their own would only slow
    # every posting.
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+", db_index=False)
    code = models.CharField(max_length=12, default=new_code, unique=True, editable=False)
    account = models.ForeignKey(
        Account, on_delete=models.RESTRICT, related_name="entries", db_index=False
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    amount = models.BigIntegerField()
    waived = models.BigIntegerField(default=0)
    at = models.DateTimeField(help_text="when it took effect (a purchase's time for accruals)")
    created_at = models.DateTimeField(auto_now_add=True)
    available_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.RESTRICT, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    purchase = models.ForeignKey(
        Purchase, null=True, blank=True, on_delete=models.RESTRICT, related_name="+"
    )
    refund = models.ForeignKey(
        Refund, null=True, blank=True, on_delete=models.RESTRICT, related_name="+"
    )
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.RESTRICT, related_name="reversals"
    )
    lot = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.RESTRICT, related_name="expiries"
    )
    operation = models.CharField(max_length=100)
    idempotency_key = models.CharField(max_length=160)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["business", "idempotency_key"], name="ledger_idempotency"
            ),
            models.CheckConstraint(
                name="ledger_amount_sign",
                condition=(
                    Q(kind="earn", amount__gt=0)
                    | Q(kind__in=["redeem", "expire"], amount__lt=0)
                    | (Q(kind__in=["adjust", "reverse"]) & ~Q(amount=0))
                    # a reversal that could take nothing back still records what it waived
                    | Q(kind="reverse", amount=0, waived__gt=0)
                ),
            ),
            models.CheckConstraint(
                name="ledger_reverse_has_target",
                condition=Q(kind="reverse", reverses__isnull=False)
                | (~Q(kind="reverse") & Q(reverses__isnull=True)),
            ),
            models.CheckConstraint(
                name="ledger_expire_has_lot",
                condition=Q(kind="expire", lot__isnull=False)
                | (~Q(kind="expire") & Q(lot__isnull=True)),
            ),
            models.CheckConstraint(name="ledger_waived_gte_0", condition=Q(waived__gte=0)),
        ]
        indexes = [
            models.Index(fields=["account", "at"]),
            models.Index(fields=["business", "operation"]),
            models.Index(
                fields=["business", "expires_at"],
                name="ledger_lot_expiry",
                condition=Q(expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+d} {self.account.unit}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise LedgerImmutable("ledger entries are never updated; post a reversing entry")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerImmutable("ledger entries are never deleted; post a reversing entry")

    @property
    def value(self) -> int | Decimal:
        return from_units(self.account.unit, self.amount)


class Reward(BusinessOwned):
    """An item of the rewards catalog: what points or stamps buy, and for how much.

    A stamp card's reward (the free 10th coffee) is a reward of that stamp program costing the
    card's stamps_needed; a points catalog has several.
    """

    class Kind(models.TextChoices):
        FREE_PRODUCT = "free_product", _("Free product")
        PERCENT_DISCOUNT = "percent", _("Percentage discount")
        FIXED_DISCOUNT = "fixed", _("Fixed discount")
        EXPERIENCE = "experience", _("Experience")

    code = models.CharField(max_length=12, default=new_code, unique=True, editable=False)
    program = models.ForeignKey(Program, on_delete=models.RESTRICT, related_name="rewards")
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    value = models.DecimalField(
        _("value"),
        null=True,
        blank=True,
        help_text=_("The percentage, or the amount off, for discount rewards."),
        **MONEY,
    )
    cost = models.PositiveIntegerField(_("cost"), help_text=_("In the program's points or stamps."))
    valid_days = models.PositiveIntegerField(
        _("voucher valid for days"), default=30, help_text=_("How long a voucher stays usable.")
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["cost", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(cost__gt=0), name="reward_cost_gt_0"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.program_id and not self.program.rules.redeemable:
            raise ValidationError({"program": _("This kind of program has no rewards catalog.")})
        if self.kind in (self.Kind.PERCENT_DISCOUNT, self.Kind.FIXED_DISCOUNT):
            if self.value is None or self.value <= 0:
                raise ValidationError({"value": _("A discount needs a value above zero.")})
            if self.kind == self.Kind.PERCENT_DISCOUNT and self.value > 100:
                raise ValidationError({"value": _("A percentage is at most 100.")})


def discount_on(kind: str, value: Decimal | None, amount: Decimal) -> Decimal:
    """What a percent or fixed discount takes off an amount, in cents, never more than the amount.

    Percentages round half up to the cent: the customer is not short-changed by a rounding.
    """
    if value is None:
        return Decimal("0.00")
    if kind in (Reward.Kind.PERCENT_DISCOUNT, PromoCard.Kind.PERCENT):
        off = (amount * value / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    elif kind in (Reward.Kind.FIXED_DISCOUNT, PromoCard.Kind.FIXED):
        off = value
    else:
        return Decimal("0.00")
    return min(off, amount).quantize(CENT)


class Voucher(BusinessOwned):
    """A redeemed reward waiting to be used: a code, a valid-until date and a status.

    The reward's name, kind and value are copied at issue, so a later catalog edit does not
    change what the customer was promised. The status changes (issued → used or void); the
    points it cost never do: voiding one is an undo of its redemption entry.
    """

    class Status(models.TextChoices):
        ISSUED = "issued", _("Ready to use")
        USED = "used", _("Used")
        VOID = "void", _("Cancelled")

    code = models.CharField(max_length=12, default=new_code, unique=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.RESTRICT, related_name="vouchers")
    reward = models.ForeignKey(Reward, on_delete=models.RESTRICT, related_name="vouchers")
    entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.RESTRICT, related_name="voucher"
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Reward.Kind.choices)
    value = models.DecimalField(null=True, blank=True, **MONEY)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ISSUED)
    issued_at = models.DateTimeField()
    valid_until = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_purchase = models.ForeignKey(
        Purchase, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        ordering = ["valid_until"]
        indexes = [models.Index(fields=["customer", "status"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def discount_on(self, amount: Decimal) -> Decimal:
        return discount_on(self.kind, self.value, amount)


class PromoCard(BusinessOwned):
    """A single-use discount code with an expiry, issued to one customer (e.g. to win them back)."""

    class Kind(models.TextChoices):
        PERCENT = "percent", _("Percentage discount")
        FIXED = "fixed", _("Fixed discount")

    class Status(models.TextChoices):
        ISSUED = "issued", _("Ready to use")
        USED = "used", _("Used")
        VOID = "void", _("Cancelled")

    code = models.CharField(max_length=12, default=new_code, unique=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="promo_cards")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    value = models.DecimalField(_("value"), **MONEY)
    min_purchase = models.DecimalField(_("minimum purchase"), default=Decimal("0"), **MONEY)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ISSUED)
    issued_at = models.DateTimeField()
    valid_until = models.DateTimeField(_("valid until"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    used_at = models.DateTimeField(null=True, blank=True)
    used_purchase = models.ForeignKey(
        Purchase, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)

    class Meta:
        verbose_name = _("promo card")
        verbose_name_plural = _("promo cards")
        ordering = ["valid_until"]
        constraints = [
            models.UniqueConstraint(
                fields=["business", "idempotency_key"], name="promo_card_idempotency"
            ),
            models.CheckConstraint(condition=Q(value__gt=0), name="promo_value_gt_0"),
        ]
        indexes = [models.Index(fields=["customer", "status"])]

    def __str__(self) -> str:
        return self.code

    def discount_on(self, amount: Decimal) -> Decimal:
        if amount < self.min_purchase:
            return Decimal("0.00")
        return discount_on(self.kind, self.value, amount)


class TierStatus(BusinessOwned):
    """The tier a customer holds in a tiers program, since when, and until when it is safe.

    Upgrades happen at once; a downgrade waits for `period_ends_at`, when the customer is
    measured again over the program's rolling window. An empty `tier` means no tier.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tier_statuses")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="tier_statuses")
    tier = models.CharField(max_length=40, blank=True)
    since = models.DateTimeField()
    period_ends_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("tier status")
        verbose_name_plural = _("tier statuses")
        constraints = [
            models.UniqueConstraint(fields=["customer", "program"], name="one_tier_per_program")
        ]
        indexes = [models.Index(fields=["business", "period_ends_at"])]

    def __str__(self) -> str:
        return f"{self.customer} · {self.tier or '—'}"
