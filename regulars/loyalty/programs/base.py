"""The interface every program kind implements, and helpers to read its config.

A kind is one small class: it parses its `Program.config` into a frozen dataclass, and turns a
purchase (or a bonus action) into `Posting`s that the ledger writes. Kinds never write to the
database themselves during `accrue`, so the ledger decides locks, order and idempotency in one
place. A later kind (paid membership, referral, coalition, donation) is one more file here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

if TYPE_CHECKING:
    from regulars.loyalty.models import Program
    from regulars.sales.models import Purchase, PurchaseLine


class Bonus:
    """Actions that can earn a bonus. Stored as plain strings in configs."""

    JOINED = "joined"
    BIRTHDAY = "birthday"
    REVIEW = "review"
    ALL = (JOINED, BIRTHDAY, REVIEW)


# The reason of every purchase's earn: one lazy text, translated when the entry is written (a
# back-fill of a hundred thousand purchases translates it once, not once a purchase).
PURCHASE = gettext_lazy("Purchase")


@dataclass(frozen=True)
class Posting:
    """What a kind wants written: `amount` in the unit's integer step (points, stamps, cents)."""

    unit: str
    amount: int
    reason: str | Promise
    # Bonuses are not bought, so nothing can be returned: they skip the return window.
    pending: bool = True


@dataclass(frozen=True)
class PurchaseContext:
    """A purchase as the kinds see it: its lines (with products) and the customer's standing."""

    purchase: Purchase
    lines: Sequence[PurchaseLine]
    # The best multiplier of the tiers the customer held when they paid.
    tier_multiplier: Decimal = Decimal(1)

    @property
    def at(self) -> datetime:
        return self.purchase.occurred_at


@dataclass(frozen=True)
class TierChange:
    """A customer moved between tiers of a program ('' is no tier; ranks start at 0)."""

    program: Program
    customer_id: int
    old: str
    new: str
    old_rank: int
    new_rank: int
    at: datetime

    @property
    def upgraded(self) -> bool:
        return self.new_rank > self.old_rank


class ProgramKind:
    """Base of every program kind. Subclasses set `kind`, `unit`, `Config` and override hooks."""

    kind: ClassVar[str]
    # The account unit this kind posts to; None for kinds with no balance (tiers, discount).
    unit: ClassVar[str | None] = None
    # Whether rewards can be bought with this program's unit.
    redeemable: ClassVar[bool] = False
    Config: ClassVar[type]

    def __init__(self, program: Program) -> None:
        self.program = program
        self.config = self.parse(program.config or {})

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Any:
        """Validate a config dict into the kind's Config; raise ValidationError naming the key."""
        raise NotImplementedError

    def accrue(self, ctx: PurchaseContext) -> list[Posting]:
        """What a purchase earns. Pure: reads the context, writes nothing."""
        return []

    def bonus(self, action: str) -> list[Posting]:
        """What an action (joined, birthday, review…) earns."""
        return []

    def keep_after_refund(self, earned: int, share: Decimal) -> int:
        """How much of `earned` the customer keeps when `share` (0..1) of the purchase stands.

        The default rounds down: nobody keeps more than their share.
        """
        return int((earned * share).to_integral_value(rounding=ROUND_FLOOR))

    def describe(self) -> str:
        """One plain sentence for the owner and the card."""
        return self.program.name


# --- config helpers -----------------------------------------------------------------------


def config_error(key: str, message: str) -> ValidationError:
    return ValidationError({"config": f"{key}: {message}"})


def known_keys(raw: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = set(raw) - allowed
    if unknown:
        raise config_error(
            ", ".join(sorted(unknown)), f"unknown setting; use {', '.join(sorted(allowed))}"
        )


def decimal_of(
    raw: Mapping[str, Any], key: str, default: Decimal | str | int, *, minimum: Decimal = Decimal(0)
) -> Decimal:
    # JSON numbers arrive as floats; str() gives back what the owner typed, so no float error
    # creeps into a rate. Nothing here is money arithmetic yet.
    value = raw.get(key, default)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise config_error(key, f"{value!r} is not a number") from None
    if not number.is_finite() or number < minimum:
        raise config_error(key, f"must be at least {minimum}")
    return number


def int_of(
    raw: Mapping[str, Any], key: str, default: int | None, *, minimum: int = 0
) -> int | None:
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise config_error(key, f"{value!r} is not a whole number")
    try:
        number = int(value)
    except ValueError:
        raise config_error(key, f"{value!r} is not a whole number") from None
    if number < minimum:
        raise config_error(key, f"must be at least {minimum}")
    return number


def choice_of(raw: Mapping[str, Any], key: str, default: str, choices: Sequence[str]) -> str:
    value = raw.get(key, default)
    if value not in choices:
        raise config_error(key, f"must be one of {', '.join(choices)}")
    return value


def strings_of(raw: Mapping[str, Any], key: str) -> frozenset[str]:
    value = raw.get(key, [])
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise config_error(key, "must be a list of names")
    return frozenset(value)


def multipliers_of(raw: Mapping[str, Any], key: str) -> Mapping[str, Decimal]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise config_error(key, "must map a name to a multiplier")
    return {str(name): decimal_of(value, str(name), 1) for name in value}


def bonuses_of(
    raw: Mapping[str, Any], key: str = "bonuses", *, whole: bool = False
) -> Mapping[str, Decimal]:
    """Action → amount. `whole`: points and stamps, so 2.5 is refused rather than cut to 2."""
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise config_error(key, "must map an action to an amount")
    for action in value:
        if action not in Bonus.ALL:
            raise config_error(key, f"unknown action {action!r}; use {', '.join(Bonus.ALL)}")
    amounts = {action: decimal_of(value, action, 0) for action in value}
    for action, amount in amounts.items():
        if whole and amount != amount.to_integral_value():
            raise config_error(key, f"{action}: must be a whole number, not {amount}")
    return amounts


def round_to_int(value: Decimal, rule: str) -> int:
    """Round by a program's stated rule: 'floor' (down) or 'half_up' (nearest, .5 up)."""
    mode = ROUND_HALF_UP if rule == "half_up" else ROUND_FLOOR
    return int(value.to_integral_value(rounding=mode))
