"""The domain error every layer understands: a field, a human message and a stable code.

Forms show it beside the field, the API returns it as its one error shape, commands print it.
"""


class DomainError(ValueError):
    """Bad input or a refused operation; nothing was written."""

    code = "invalid"
    status = 422

    def __init__(self, field: str, message: str, *, code: str | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        if code:
            self.code = code


class Conflict(DomainError):
    """The request clashes with what already exists (a reused idempotency key, a used voucher)."""

    code = "conflict"
    status = 409
