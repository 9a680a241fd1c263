"""Presets: the column layouts of exports we know, so that most files map themselves.

A preset names the headers each field goes by in one system's export; everything it does not
name falls back to the generic header spellings of `fields.FIELDS`. Where each layout comes
from, and how sure we are of it, is written down in docs/import-export.md. The guess is only a start:
the owner sees the mapping and the first rows as they will be read, and can change both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from regulars.integrations.imports.fields import CUSTOMERS, SALES, fields_for, normalise_header


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    kind: str
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""
    # Fields never guessed from generic header names (a same-named column means something else).
    skip: tuple[str, ...] = ()


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "generic",
            _("Sales: generic CSV (one row per line item or per receipt)"),
            SALES,
            {
                # What `regulars export purchases` writes, so an export imports back as it was.
                "order_id": ("purchase",),
                "date": ("occurred at",),
                "customer_id": ("customer code",),
                "email": ("customer email",),
                "phone": ("customer phone",),
                "line_total": ("line total",),
                "order_total": ("total",),
            },
            _(
                "Any file with a date and an amount per row; headers are recognised in five languages."
            ),
        ),
        Preset(
            "generic-customers",
            _("Customers: generic CSV"),
            CUSTOMERS,
            {"customer_id": ("customer code", "code"), "joined": ("joined at",)},
            _("One row per customer with an e-mail, a phone or a customer id."),
        ),
        Preset(
            "shopify-orders",
            _("Shopify: orders export"),
            SALES,
            {
                "order_id": ("name",),
                "date": ("created at", "paid at"),
                "email": ("email",),
                "phone": ("phone", "billing phone"),
                "customer_name": ("billing name",),
                "marketing_consent": ("accepts marketing", "accepts email marketing"),
                "item": ("lineitem name",),
                "sku": ("lineitem sku",),
                "quantity": ("lineitem quantity",),
                "unit_price": ("lineitem price",),
                "order_total": ("total",),
                "currency": ("currency",),
                "status": ("financial status",),
                "location": ("location",),
            },
            _(
                "Orders → Export → CSV. One row per line item; the order's total and status are on its first row."
            ),
            skip=("tags",),  # the order's tags, not the customer's
        ),
        Preset(
            "shopify-customers",
            _("Shopify: customers export"),
            CUSTOMERS,
            {
                "customer_id": ("customer id", "id"),
                "first_name": ("first name",),
                "last_name": ("last name",),
                "email": ("email",),
                "phone": ("phone", "default address phone"),
                "marketing_consent": ("accepts email marketing", "accepts marketing"),
                "tags": ("tags",),
                "notes": ("note",),
            },
            _("Customers → Export → CSV."),
        ),
        Preset(
            "square-items",
            _("Square: item details export"),
            SALES,
            {
                "order_id": ("transaction id",),
                "date": ("date",),
                "time": ("time",),
                "item": ("item",),
                "sku": ("sku",),
                "quantity": ("qty",),
                "line_total": ("net sales",),
                "status": ("event type",),
                "location": ("location",),
                "customer_id": ("customer id",),
                "customer_name": ("customer name",),
            },
            _(
                "Dashboard → Items → Item sales, exported as item details. One row per item; refund rows are left out."
            ),
        ),
        Preset(
            "woocommerce-orders",
            _("WooCommerce: orders (Customer/Order CSV Export, default format)"),
            SALES,
            {
                "order_id": ("order id", "order number"),
                "date": ("date", "order date"),
                "status": ("status",),
                "order_total": ("order total",),
                "currency": ("order currency", "currency"),
                "first_name": ("billing first name",),
                "last_name": ("billing last name",),
                "email": ("billing email",),
                "phone": ("billing phone",),
            },
            _("One row per order; line items are not read, the order total is kept as one line."),
        ),
    ]
}

DEFAULT_PRESET = "generic"


def preset_choices(kind: str | None = None) -> list[tuple[str, str]]:
    return [(p.name, p.label) for p in PRESETS.values() if kind is None or p.kind == kind]


def guess_mapping(headers: list[str], preset: Preset) -> dict[str, int]:
    """{field: column index} from the headers: the preset's names first, then generic ones.

    Each column is used once, fields in the order of `FIELDS`; a field nothing matches stays
    unmapped. Exact matches of normalised headers only: a wrong guess is worse than none.
    """
    normalised = [normalise_header(h) for h in headers]
    used: set[int] = set()
    mapping: dict[str, int] = {}
    fields = fields_for(preset.kind)
    # Two rounds: every field's preset name before any generic alias, so that a generic
    # alias of one field ("total") cannot take the column a preset names for another.
    for source in ("preset", "generic"):
        for f in fields:
            if f.name in mapping or (source == "generic" and f.name in preset.skip):
                continue
            names = preset.columns.get(f.name, ()) if source == "preset" else f.aliases
            for name in names:
                target = normalise_header(name)
                hit = next(
                    (i for i, h in enumerate(normalised) if h == target and i not in used), None
                )
                if hit is not None:
                    mapping[f.name] = hit
                    used.add(hit)
                    break
    return mapping
