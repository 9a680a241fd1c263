"""Discount card: members get a fixed percentage off; it earns nothing into the ledger.

Config keys:
    percent   the members' discount (e.g. 5 for 5 %)

The counter asks `discount_on(amount)` (or `CardSummary.discount_percent`) and records the
purchase at the discounted price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext as _

from regulars.lib.money import CENT
from regulars.loyalty.models import Program
from regulars.loyalty.programs import register
from regulars.loyalty.programs.base import ProgramKind, config_error, decimal_of, known_keys


@dataclass(frozen=True)
class DiscountConfig:
    percent: Decimal = Decimal(0)


@register
class DiscountProgram(ProgramKind):
    kind = Program.Kind.DISCOUNT
    Config = DiscountConfig

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> DiscountConfig:
        known_keys(raw, set(DiscountConfig.__dataclass_fields__))
        percent = decimal_of(raw, "percent", 0)
        if percent > 100:
            raise config_error("percent", "must be at most 100")
        return DiscountConfig(percent=percent)

    def discount_on(self, amount: Decimal) -> Decimal:
        """The members' discount on an amount, half up to the cent."""
        return (amount * self.config.percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)

    def describe(self) -> str:
        return _("%(percent)s%% off for members") % {"percent": self.config.percent.normalize()}
