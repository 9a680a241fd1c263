"""Phone numbers as typed at a counter, normalised so that one person is found one way."""

import re


def normalise_phone(raw: str) -> str:
    """Keep digits and a leading +; '00' becomes '+'. '+36 30 123-4567' -> '+36301234567'."""
    raw = (raw or "").strip()
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return digits
