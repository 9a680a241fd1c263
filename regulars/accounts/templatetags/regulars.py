"""Template helpers shared by every page: money in the business currency, dates by locale."""

from decimal import Decimal

from babel.dates import format_date, format_datetime
from django import template
from django.utils import timezone

from regulars.lib.money import format_money, locale_for

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """{{ purchase.total|money:business.currency }} → '€4.50', '1 200,00 Ft'."""
    if amount is None:
        amount = Decimal("0")
    return format_money(amount, currency)


@register.filter
def localdate(value, fmt: str = "medium") -> str:
    if value is None:
        return ""
    if hasattr(value, "hour"):
        return format_date(timezone.localtime(value).date(), format=fmt, locale=locale_for())
    return format_date(value, format=fmt, locale=locale_for())


@register.filter
def localdatetime(value, fmt: str = "short") -> str:
    if value is None:
        return ""
    return format_datetime(timezone.localtime(value), format=fmt, locale=locale_for())
