"""Stamp card: N stamps unlock the program's reward; redeeming it takes N stamps, the card restarts.

Config keys:
    stamps_needed          stamps for one reward (e.g. 9 for "buy 9, the 10th is free")
    per                    "visit" (one stamp per qualifying purchase) or "item" (per qualifying item)
    qualifying_products    SKUs that earn stamps; with qualifying_categories empty too, everything does
    qualifying_categories  product categories that earn stamps
    min_purchase           purchases below this total earn nothing (default 0)
    max_per_purchase       a cap on stamps from one purchase (optional)
    bonuses                {"joined" | "birthday" | "review": stamps}

The reward a full card unlocks is the program's Reward (normally one, costing stamps_needed);
stamps beyond a full card carry over to the next card.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext as _

from regulars.loyalty.models import Program, Unit
from regulars.loyalty.programs import register
from regulars.loyalty.programs.base import (
    PURCHASE,
    Posting,
    ProgramKind,
    PurchaseContext,
    bonuses_of,
    choice_of,
    decimal_of,
    int_of,
    known_keys,
    strings_of,
)
from regulars.sales.models import PurchaseLine


@dataclass(frozen=True)
class StampsConfig:
    stamps_needed: int = 10
    per: str = "visit"
    qualifying_products: frozenset[str] = frozenset()
    qualifying_categories: frozenset[str] = frozenset()
    min_purchase: Decimal = Decimal(0)
    max_per_purchase: int | None = None
    bonuses: Mapping[str, Decimal] = field(default_factory=dict)


@register
class StampsProgram(ProgramKind):
    kind = Program.Kind.STAMPS
    unit = Unit.STAMPS
    redeemable = True
    Config = StampsConfig

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> StampsConfig:
        known_keys(raw, set(StampsConfig.__dataclass_fields__))
        return StampsConfig(
            stamps_needed=int_of(raw, "stamps_needed", 10, minimum=1),
            per=choice_of(raw, "per", "visit", ("visit", "item")),
            qualifying_products=strings_of(raw, "qualifying_products"),
            qualifying_categories=strings_of(raw, "qualifying_categories"),
            min_purchase=decimal_of(raw, "min_purchase", 0),
            max_per_purchase=int_of(raw, "max_per_purchase", None, minimum=1),
            bonuses=bonuses_of(raw, whole=True),
        )

    def qualifies(self, line: PurchaseLine) -> bool:
        # A free line (a redeemed voucher's coffee) never earns the stamp for the next one.
        if line.amount <= 0:
            return False
        cfg = self.config
        if not cfg.qualifying_products and not cfg.qualifying_categories:
            return True
        product = line.product
        if product is None:
            return False
        return (
            product.sku in cfg.qualifying_products or product.category in cfg.qualifying_categories
        )

    def accrue(self, ctx: PurchaseContext) -> list[Posting]:
        purchase = ctx.purchase
        if purchase.total <= 0 or purchase.total < self.config.min_purchase:
            return []
        qualifying = [line for line in ctx.lines if self.qualifies(line)]
        if not ctx.lines and not (
            self.config.qualifying_products or self.config.qualifying_categories
        ):
            stamps = 1
        elif self.config.per == "visit":
            stamps = 1 if qualifying else 0
        else:
            stamps = sum(line.quantity for line in qualifying)
        if self.config.max_per_purchase is not None:
            stamps = min(stamps, self.config.max_per_purchase)
        return [Posting(Unit.STAMPS, stamps, PURCHASE)] if stamps > 0 else []

    def bonus(self, action: str) -> list[Posting]:
        stamps = int(self.config.bonuses.get(action, 0))
        return [Posting(Unit.STAMPS, stamps, action, pending=False)] if stamps > 0 else []

    def keep_after_refund(self, earned: int, share: Decimal) -> int:
        # A visit mostly paid for keeps its stamp; one mostly refunded loses it.
        return int((earned * share).to_integral_value(rounding=ROUND_HALF_UP))

    def describe(self) -> str:
        if self.config.per == "visit":
            return _("One stamp per visit; %(n)s stamps unlock the reward") % {
                "n": self.config.stamps_needed
            }
        return _("One stamp per item; %(n)s stamps unlock the reward") % {
            "n": self.config.stamps_needed
        }
