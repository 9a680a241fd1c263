"""Points: earn per currency unit, with product/category and tier multipliers, spend on rewards.

Config keys:
    points_per_unit       points per 1 unit of the business currency (default 1; "0.01" = 1 per 100)
    rounding              "floor" (default) or "half_up", applied once to the whole purchase
    min_purchase          purchases below this total earn nothing (default 0)
    product_multipliers   {sku: multiplier}; wins over a category multiplier
    category_multipliers  {category: multiplier}
    bonuses               {"joined" | "birthday" | "review": points}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
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
    known_keys,
    multipliers_of,
    round_to_int,
)
from regulars.sales.models import PurchaseLine


@dataclass(frozen=True)
class PointsConfig:
    points_per_unit: Decimal = Decimal(1)
    rounding: str = "floor"
    min_purchase: Decimal = Decimal(0)
    product_multipliers: Mapping[str, Decimal] = field(default_factory=dict)
    category_multipliers: Mapping[str, Decimal] = field(default_factory=dict)
    bonuses: Mapping[str, Decimal] = field(default_factory=dict)


@register
class PointsProgram(ProgramKind):
    kind = Program.Kind.POINTS
    unit = Unit.POINTS
    redeemable = True
    Config = PointsConfig

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> PointsConfig:
        known_keys(raw, set(PointsConfig.__dataclass_fields__))
        return PointsConfig(
            points_per_unit=decimal_of(raw, "points_per_unit", 1),
            rounding=choice_of(raw, "rounding", "floor", ("floor", "half_up")),
            min_purchase=decimal_of(raw, "min_purchase", 0),
            product_multipliers=multipliers_of(raw, "product_multipliers"),
            category_multipliers=multipliers_of(raw, "category_multipliers"),
            bonuses=bonuses_of(raw, whole=True),
        )

    def multiplier(self, line: PurchaseLine) -> Decimal:
        product = line.product
        if product is None:
            return Decimal(1)
        if product.sku in self.config.product_multipliers:
            return self.config.product_multipliers[product.sku]
        return self.config.category_multipliers.get(product.category, Decimal(1))

    def accrue(self, ctx: PurchaseContext) -> list[Posting]:
        purchase = ctx.purchase
        if purchase.total <= 0 or purchase.total < self.config.min_purchase:
            return []
        if ctx.lines:
            base = sum((line.amount * self.multiplier(line) for line in ctx.lines), Decimal(0))
        else:
            base = purchase.total
        # Round once, on the whole purchase: rounding each line would lose a fraction per line.
        raw = base * self.config.points_per_unit * ctx.tier_multiplier
        points = round_to_int(raw, self.config.rounding)
        if points <= 0:
            return []
        return [Posting(Unit.POINTS, points, PURCHASE)]

    def bonus(self, action: str) -> list[Posting]:
        points = int(self.config.bonuses.get(action, 0))
        return [Posting(Unit.POINTS, points, action, pending=False)] if points > 0 else []

    def keep_after_refund(self, earned: int, share: Decimal) -> int:
        # The same rule as earning: a customer keeps what their remaining share would round to.
        return round_to_int(earned * share, self.config.rounding)

    def describe(self) -> str:
        rule = _("rounded down") if self.config.rounding == "floor" else _("rounded to nearest")
        return _("Points per 1 %(currency)s spent: %(rate)s, %(rule)s") % {
            "rate": self.config.points_per_unit.normalize(),
            "currency": self.program.business.currency,
            "rule": rule,
        }
