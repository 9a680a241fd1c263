"""Money: Decimal amounts with a currency code, formatted through Babel in one place."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from babel import Locale
from babel.numbers import format_currency
from django.utils import translation

CENT = Decimal("0.01")

# Babel locales for our UI languages; Croatian and Hungarian format money their own way.
LOCALES = {"en": "en_GB", "ru": "ru_RU", "uk": "uk_UA", "hu": "hu_HU", "hr": "hr_HR"}


def to_decimal(value: object, *, field: str = "amount") -> Decimal:
    """Parse a user- or API-supplied amount into a Decimal rounded to cents; never a float."""
    if isinstance(value, float):
        raise TypeError(f"{field}: money must not be a float")
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{field}: {value!r} is not an amount") from exc
    if not amount.is_finite():
        raise ValueError(f"{field}: {value!r} is not an amount")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def locale_for(language: str | None = None) -> str:
    lang = (language or translation.get_language() or "en").split("-")[0]
    return LOCALES.get(lang, "en_GB")


def format_money(amount: Decimal | int, currency: str, language: str | None = None) -> str:
    """Format an amount in the currency's own precision for the active (or given) language."""
    return format_currency(Decimal(amount), currency, locale=_locale(locale_for(language)))


@cache
def _locale(code: str) -> Locale:
    # Parsed once: Babel parses a locale given by name on every call, which was 40 % of the
    # time a page spends formatting money.
    return Locale.parse(code)
