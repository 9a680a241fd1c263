"""Template helpers for loyalty figures, shared by the counter and the customer's card."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from regulars.lib.money import format_money
from regulars.loyalty.card import StampCard
from regulars.loyalty.models import Unit

register = template.Library()


def amount_text(value: int | Decimal, unit: str, currency: str) -> str:
    """A human amount in its unit: '12 points', '1 stamp', '€0.45' (store credit is money)."""
    if unit == Unit.CREDIT:
        return format_money(Decimal(value), currency)
    n = int(value)
    if unit == Unit.STAMPS:
        return ngettext("%(n)s stamp", "%(n)s stamps", abs(n)) % {"n": n}
    return ngettext("%(n)s point", "%(n)s points", abs(n)) % {"n": n}


@register.simple_tag
def units(value, unit: str, currency: str) -> str:
    """{% units entry.value entry.account.unit business.currency %} → '12 points'."""
    return amount_text(value or 0, unit, currency)


@register.simple_tag
def signed_units(value, unit: str, currency: str) -> str:
    """Like `units`, with a sign: '+12 points', '−9 stamps'."""
    value = value or 0
    sign = "+" if value > 0 else "\u2212" if value < 0 else ""
    return sign + amount_text(abs(value), unit, currency)


@register.filter
def stamp_dots(card: StampCard) -> list[bool]:
    """The dots of the card being filled: True for a stamp. A full card waiting to be redeemed
    shows full; stamps beyond it are told apart (see `carried`)."""
    filled = card.needed if card.ready else card.progress
    return [i < filled for i in range(card.needed)]


@register.filter
def carried(card: StampCard) -> int:
    """Stamps already on the next card while a full one waits to be redeemed."""
    return card.progress if card.ready else 0


@register.filter
def stamps_left(card: StampCard) -> int:
    """Stamps still to collect for the next reward."""
    return card.needed - card.progress


@register.simple_tag
def tier_to_next(progress, currency: str) -> str:
    """'€37.00 more to Gold' or '3 more visits to Gold'; '' at the top tier."""
    if progress.next_tier is None:
        return ""
    if progress.basis == "visits":
        n = int(progress.to_next)
        return ngettext("%(n)s more visit to %(tier)s", "%(n)s more visits to %(tier)s", n) % {
            "n": n,
            "tier": progress.next_tier.name,
        }
    return _("%(amount)s more to %(tier)s") % {
        "amount": format_money(progress.to_next, currency),
        "tier": progress.next_tier.name,
    }
