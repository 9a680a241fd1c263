"""Bad lines: what is stored (line, field, code, parameters) and how it reads in each language.

Problems are found in a background task that has no reader yet, so they are stored as codes and
rendered when someone looks: the page in the owner's language, the CLI in English, the CSV
report in the business's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from regulars.integrations.imports.fields import FIELDS

MESSAGES = {
    "required": _("is required"),
    "not_amount": _("“%(value)s” is not an amount"),
    "ambiguous_amount": _(
        "“%(value)s” can be read two ways; choose the decimal separator of the file"
    ),
    "too_precise": _("“%(value)s” has more than two decimals"),
    "too_large": _("“%(value)s” is too large"),
    "negative": _("“%(value)s” is negative: returns and refunds are not imported"),
    "not_quantity": _("“%(value)s” is not a quantity"),
    "zero_quantity": _("“%(value)s”: the quantity must be more than zero"),
    "not_date": _("“%(value)s” is not a date in the format %(format)s"),
    "not_time": _("“%(value)s” is not a time of day"),
    "future": _("%(value)s is in the future"),
    "not_yes_no": _("“%(value)s” is not yes or no"),
    "not_email": _("“%(value)s” is not an e-mail address"),
    "not_phone": _("“%(value)s” is not a phone number"),
    "not_language": _("“%(value)s” is not one of the languages %(choices)s"),
    "too_long": _("is longer than %(limit)s characters"),
    "currency": _("is %(value)s, but this business counts in %(currency)s"),
    "no_location": _("there is no location named “%(value)s”"),
    "no_amount": _("has no amount: map a line total, a unit price or an order total"),
    "no_identity": _("needs an e-mail, a phone or a customer id"),
    "order_split": _(
        "this order already appeared at line %(first)s; the rows of one order must follow each other"
    ),
    "encoding": _("cannot be read as %(encoding)s; choose the file's encoding"),
    "csv": _("is not valid CSV (%(error)s)"),
    # Not errors: why a line was left out of an import that went ahead.
    "ignored_status": _("left out: the order's status is “%(value)s”"),
    "with_order": _("left out with its order (see line %(line)s)"),
}

FILE = "file"  # the "field" of problems with the file itself


@dataclass(slots=True)
class Problem:
    line: int
    field: str
    code: str
    params: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"line": self.line, "field": self.field, "code": self.code, "params": self.params}

    @classmethod
    def from_dict(cls, data: dict) -> Problem:
        return cls(data["line"], data["field"], data["code"], data.get("params") or {})

    @property
    def field_label(self) -> str:
        if self.field == FILE:
            return str(_("File"))
        found = FIELDS.get(self.field)
        return str(found.label) if found else self.field

    @property
    def message(self) -> str:
        template = MESSAGES.get(self.code)
        if template is None:
            return self.code
        try:
            return str(template) % self.params if self.params else str(template)
        except (KeyError, TypeError, ValueError):
            return str(template)

    def __str__(self) -> str:
        return f"line {self.line}: {self.field_label}: {self.message}"
