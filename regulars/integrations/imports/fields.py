"""What a column of an imported file can mean: the target fields and the headers they go by.

A sales file has one row per line item (or per order); rows with the same order id that follow
each other are one purchase. Order-level fields (date, customer, order total, …) are read from
the order's rows in file order, the first non-empty value winning, because exports such as
Shopify's fill them in on the first line of an order only.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

SALES = "sales"
CUSTOMERS = "customers"
BOTH = frozenset({SALES, CUSTOMERS})


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(";") if name.strip())


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    help: str
    kinds: frozenset[str]
    # One value per order: read from the first row of the order that has it.
    order_level: bool = True
    # Header spellings recognised by every preset, compared after `normalise_header`.
    aliases: tuple[str, ...] = ()


FIELDS: dict[str, Field] = {
    f.name: f
    for f in [
        Field(
            "order_id",
            _("Order / receipt id"),
            _(
                "Rows with the same id one after another are one purchase; re-importing skips ids already imported."
            ),
            frozenset({SALES}),
            aliases=_names(
                "order id; order; order number; order no; receipt; receipt id; "
                "receipt number; receipt no; transaction id; transaction; invoice; "
                "invoice number; ticket; check number; purchase; purchase code; számla; "
                "nyugta; чек; номер чека; račun"
            ),
        ),
        Field(
            "date",
            _("Date"),
            _("When the sale happened; with a time, or with the time in its own column."),
            frozenset({SALES}),
            aliases=_names(
                "date; datetime; date time; created at; created; occurred at; timestamp; "
                "sale date; order date; purchase date; paid at; dátum; дата; datum"
            ),
        ),
        Field(
            "time",
            _("Time"),
            _("The time of day, when the date column has none."),
            frozenset({SALES}),
            aliases=_names("time; time of day; idő; время; час; vrijeme"),
        ),
        Field(
            "item",
            _("Item"),
            _("The name of what was sold on this line."),
            frozenset({SALES}),
            order_level=False,
            aliases=_names(
                "item; item name; product; product name; description; article; "
                "line item; lineitem name; termék; товар; proizvod; artikl"
            ),
        ),
        Field(
            "sku",
            _("SKU"),
            _("Links the line to your product with this SKU."),
            frozenset({SALES}),
            order_level=False,
            aliases=_names("sku; item sku; product sku; article number; cikkszám; артикул"),
        ),
        Field(
            "quantity",
            _("Quantity"),
            _("How many; 1 when empty."),
            frozenset({SALES}),
            order_level=False,
            aliases=_names(
                "quantity; qty; count; units; mennyiség; количество; кількість; količina"
            ),
        ),
        Field(
            "unit_price",
            _("Unit price"),
            _("The price of one; the line is quantity × unit price unless a line total is given."),
            frozenset({SALES}),
            order_level=False,
            aliases=_names("unit price; price; item price; egységár; цена; ціна; cijena"),
        ),
        Field(
            "line_total",
            _("Line total"),
            _("What the line cost in all; wins over quantity × unit price."),
            frozenset({SALES}),
            order_level=False,
            aliases=_names("line total; amount; line amount; sum; összeg; сумма; сума; iznos"),
        ),
        Field(
            "order_total",
            _("Order total"),
            _("What the whole order cost; a difference to its lines is kept as one extra line."),
            frozenset({SALES}),
            aliases=_names(
                "total; order total; grand total; receipt total; total amount; "
                "total paid; végösszeg; итого; разом; ukupno"
            ),
        ),
        Field(
            "currency",
            _("Currency"),
            _("Checked against the business's currency; rows in another currency are refused."),
            frozenset({SALES}),
            aliases=_names("currency; pénznem; валюта; valuta"),
        ),
        Field(
            "status",
            _("Status"),
            _("Cancelled, refunded, voided, failed and unpaid orders are left out."),
            frozenset({SALES}),
            aliases=_names("status; order status; financial status; state; event type"),
        ),
        Field(
            "location",
            _("Location"),
            _("The name of one of your locations."),
            frozenset({SALES}),
            aliases=_names("location; store; shop; outlet; branch; venue; üzlet; магазин"),
        ),
        Field(
            "customer_id",
            _("Customer id"),
            _("The customer's id in the other system; matched against customers imported before."),
            BOTH,
            aliases=_names(
                "customer id; customer code; customer number; customer reference; "
                "client id; member id; loyalty id"
            ),
        ),
        Field(
            "customer_name",
            _("Customer name"),
            _("Full name; or map first and last name."),
            BOTH,
            aliases=_names(
                "customer name; customer; name; full name; client; client name; "
                "billing name; név; имя; ім'я"
            ),
        ),
        Field(
            "first_name",
            _("First name"),
            "",
            BOTH,
            aliases=_names("first name; given name; billing first name; keresztnév; ime"),
        ),
        Field(
            "last_name",
            _("Last name"),
            "",
            BOTH,
            aliases=_names(
                "last name; family name; surname; billing last name; vezetéknév; "
                "фамилия; прізвище; prezime"
            ),
        ),
        Field(
            "email",
            _("E-mail"),
            _("Matches the customer you already have with this e-mail."),
            BOTH,
            aliases=_names(
                "email; e mail; email address; e mail address; customer email; customer e mail; "
                "billing email; billing e mail; mail; "
                "e mail cím; почта; пошта"
            ),
        ),
        Field(
            "phone",
            _("Phone"),
            _("Matches the customer you already have with this phone."),
            BOTH,
            aliases=_names(
                "phone; phone number; mobile; telephone; tel; customer phone; "
                "billing phone; telefon; телефон; mobitel"
            ),
        ),
        Field(
            "birthday",
            _("Birthday"),
            "",
            BOTH,
            aliases=_names(
                "birthday; birth date; date of birth; dob; születésnap; день рождения; "
                "день народження; rođendan"
            ),
        ),
        Field(
            "marketing_consent",
            _("Marketing consent"),
            _("yes/no, true/false, 1/0 or subscribed/unsubscribed."),
            BOTH,
            aliases=_names(
                "marketing consent; accepts marketing; accepts email marketing; "
                "newsletter; opt in; subscribed; email subscription status"
            ),
        ),
        Field(
            "language",
            _("Language"),
            "",
            frozenset({CUSTOMERS}),
            aliases=_names("language; lang; nyelv; язык; мова; jezik"),
        ),
        Field(
            "joined",
            _("Joined"),
            _("When the person became a customer; today when empty."),
            frozenset({CUSTOMERS}),
            aliases=_names(
                "joined; joined at; member since; created at; first visit; signup date; "
                "date created; created"
            ),
        ),
        Field(
            "tags",
            _("Tags"),
            _("Separated by commas or semicolons."),
            BOTH,
            aliases=_names("tags; labels; címkék; теги; oznake"),
        ),
        Field(
            "notes",
            _("Notes"),
            "",
            frozenset({CUSTOMERS}),
            aliases=_names("notes; note; comment; memo; megjegyzés; заметки; bilješke"),
        ),
    ]
}

# The fields that say who the customer is; a row needs one of them to be matched.
IDENTITY = ("customer_id", "email", "phone")
CUSTOMER_FIELDS = (
    "customer_id", "customer_name", "first_name", "last_name", "email", "phone", "birthday",
    "marketing_consent", "language", "joined", "tags", "notes",
)  # fmt: skip


def fields_for(kind: str) -> list[Field]:
    return [f for f in FIELDS.values() if kind in f.kinds]


def normalise_header(text: str) -> str:
    """'Lineitem_Price ' -> 'lineitem price': case, separators and spacing do not matter."""
    cleaned = "".join(ch if ch.isalnum() or ch == "'" else " " for ch in text.strip().lower())
    return " ".join(cleaned.split())
