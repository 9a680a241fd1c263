"""Loyalty's refusals: a field, a plain message for the counter, and a stable code for the API."""

from regulars.lib.errors import Conflict, DomainError


class LoyaltyError(DomainError):
    """A loyalty operation was refused; nothing was written.

    Codes: invalid, not_found, insufficient, expired, unavailable, too_late.
    """


class LoyaltyConflict(Conflict, LoyaltyError):
    """Clashes with what exists: a reused idempotency key, a used voucher, an undone entry."""


__all__ = ["LoyaltyConflict", "LoyaltyError"]
