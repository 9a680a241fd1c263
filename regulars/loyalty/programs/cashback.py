"""Cashback: a percentage of each purchase back as store credit, spent as money at the counter.

Config keys:
    percent        share of the purchase total paid back (e.g. 3 for 3 %)
    min_purchase   purchases below this total earn nothing (default 0)
    bonuses        {"joined" | "birthday" | "review": amount of credit, e.g. "5.00"}

Credit is rounded down to the cent: the business never pays back more than the stated percent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from regulars.loyalty.models import CENTS_PER_UNIT, Program, Unit
from regulars.loyalty.programs import register
from regulars.loyalty.programs.base import (
    Posting,
    ProgramKind,
    PurchaseContext,
    bonuses_of,
    config_error,
    decimal_of,
    known_keys,
)

CASHBACK = gettext_lazy("Cashback")


@dataclass(frozen=True)
class CashbackConfig:
    percent: Decimal = Decimal(0)
    min_purchase: Decimal = Decimal(0)
    bonuses: Mapping[str, Decimal] = field(default_factory=dict)


@register
class CashbackProgram(ProgramKind):
    kind = Program.Kind.CASHBACK
    unit = Unit.CREDIT
    Config = CashbackConfig

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> CashbackConfig:
        known_keys(raw, set(CashbackConfig.__dataclass_fields__))
        config = CashbackConfig(
            percent=decimal_of(raw, "percent", 0),
            min_purchase=decimal_of(raw, "min_purchase", 0),
            bonuses=bonuses_of(raw),
        )
        if config.percent > 100:
            raise config_error("percent", "must be at most 100")
        return config

    def accrue(self, ctx: PurchaseContext) -> list[Posting]:
        total = ctx.purchase.total
        if total <= 0 or total < self.config.min_purchase:
            return []
        # total × percent / 100 in currency = total × percent in cents; floor to a whole cent.
        cents = int((total * self.config.percent).to_integral_value(rounding=ROUND_FLOOR))
        return [Posting(Unit.CREDIT, cents, CASHBACK)] if cents > 0 else []

    def bonus(self, action: str) -> list[Posting]:
        amount = self.config.bonuses.get(action, Decimal(0))
        cents = int((amount * CENTS_PER_UNIT).to_integral_value(rounding=ROUND_FLOOR))
        return [Posting(Unit.CREDIT, cents, action, pending=False)] if cents > 0 else []

    def describe(self) -> str:
        return _("%(percent)s%% back as store credit") % {
            "percent": self.config.percent.normalize()
        }
