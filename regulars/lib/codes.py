"""Opaque public codes: what URLs, QR cards and the API show instead of primary keys."""

import secrets

# Crockford-style alphabet without look-alikes (0/O, 1/I/L) so a code read aloud or typed survives.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_code(length: int = 10) -> str:
    """A random code; 10 characters of a 31-symbol alphabet is ~49 bits: unguessable, short."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalise_code(raw: str) -> str:
    """Upper-case and strip what a scanner or a person adds (spaces, dashes)."""
    return "".join(ch for ch in raw.upper() if ch.isalnum())
