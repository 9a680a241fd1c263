"""CSV exports of a business's data, streamed: memory stays flat whatever the size.

Each export is a header and a generator of rows over `queryset.iterator(chunk_size=…)` (a
server-side cursor on PostgreSQL; prefetches run per chunk), written through a csv writer into
chunks of text that a StreamingHttpResponse or a file takes one at a time. Nothing builds the
whole file. The same generator serves the owner's download and `regulars export`.

Columns are stable snake_case names (not translated): files are read by other programs, and the
purchases export reads back in with the generic import preset. Times are ISO 8601 in the
business's time zone; amounts are plain decimals with a dot; store credit in currency units.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _

from regulars.accounts.models import Business
from regulars.customers.models import Customer
from regulars.loyalty.models import LedgerEntry, Voucher, from_units
from regulars.sales.models import Purchase, PurchaseLine

CHUNK_SIZE = 2000  # rows fetched per round trip
ROWS_PER_PIECE = 500  # CSV rows per piece of text handed to the response


class _Line:
    """A file-like object whose write returns the text: csv.writer then yields lines."""

    def write(self, value: str) -> str:
        return value


def _spreadsheet_safe(value: str) -> str:
    """Text a spreadsheet would run as a formula (=, +, @, or - not followed by a number)
    gets a leading apostrophe. Phones and amounts are not passed through here."""
    if value and (value[0] in "=+@\t\r" or (value[0] == "-" and not value[1:2].isdigit())):
        return "'" + value
    return value


@dataclass(frozen=True)
class Export:
    name: str
    label: str
    header: list[str]
    rows: Callable[[Business, datetime | None, datetime | None, int], Iterable[list]]
    date_field: str = ""


def _when(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat() if value else ""


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _window(qs: QuerySet, field: str, since: datetime | None, until: datetime | None) -> QuerySet:
    if since is not None:
        qs = qs.filter(**{f"{field}__gte": since})
    if until is not None:
        qs = qs.filter(**{f"{field}__lt": until})
    return qs


def customer_rows(business: Business, since, until, chunk_size: int) -> Iterator[list]:
    zone = ZoneInfo(business.timezone)
    qs = (
        Customer.objects.for_business(business)
        .select_related("home_location")
        .prefetch_related("tags")
        .order_by("pk")
    )
    for c in _window(qs, "joined_at", since, until).iterator(chunk_size=chunk_size):
        yield [
            c.code, c.card_code, _spreadsheet_safe(c.name), c.email, c.phone, _day(c.birthday),
            c.language, "yes" if c.marketing_consent else "no", _when(c.consent_at, zone),
            _when(c.joined_at, zone), _spreadsheet_safe(c.external_id),
            c.home_location.name if c.home_location else "",
            _spreadsheet_safe(", ".join(sorted(t.name for t in c.tags.all()))),
            _spreadsheet_safe(c.notes),
        ]  # fmt: skip


def purchase_rows(business: Business, since, until, chunk_size: int) -> Iterator[list]:
    zone = ZoneInfo(business.timezone)
    qs = (
        Purchase.objects.for_business(business)
        .select_related("customer", "location")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=PurchaseLine.objects.select_related("product").order_by("pk"),
            )
        )
        .order_by("occurred_at", "pk")
    )
    for p in _window(qs, "occurred_at", since, until).iterator(chunk_size=chunk_size):
        c = p.customer
        head = [
            p.code, _when(p.occurred_at, zone), p.location.name if p.location else "",
            c.code if c else "", _spreadsheet_safe(c.name) if c else "", c.email if c else "",
            c.phone if c else "",
        ]  # fmt: skip
        tail = [p.total, p.refunded, _spreadsheet_safe(p.external_id)]
        lines = list(p.lines.all()) or [None]
        for line in lines:
            if line is None:
                yield [*head, "", "", "", "", "", *tail]
                continue
            sku = line.product.sku if line.product else ""
            name = _spreadsheet_safe(line.name)
            yield [*head, name, sku, line.quantity, line.unit_price, line.amount, *tail]


def ledger_rows(business: Business, since, until, chunk_size: int) -> Iterator[list]:
    zone = ZoneInfo(business.timezone)
    qs = (
        LedgerEntry.objects.for_business(business)
        .select_related(
            "account__customer", "account__program", "purchase", "refund", "staff", "location"
        )
        .order_by("at", "pk")
    )
    for e in _window(qs, "at", since, until).iterator(chunk_size=chunk_size):
        unit = e.account.unit
        yield [
            e.code, _when(e.at, zone), e.account.customer.code,
            _spreadsheet_safe(e.account.customer.name), _spreadsheet_safe(e.account.program.name),
            unit, e.kind, from_units(unit, e.amount), from_units(unit, e.waived),
            _when(e.available_at, zone), _when(e.expires_at, zone),
            e.purchase.code if e.purchase else "", e.refund.code if e.refund else "",
            _spreadsheet_safe(e.reason), e.staff.get_username() if e.staff else "",
            e.location.name if e.location else "", e.operation,
        ]  # fmt: skip


def redemption_rows(business: Business, since, until, chunk_size: int) -> Iterator[list]:
    zone = ZoneInfo(business.timezone)
    qs = (
        Voucher.objects.for_business(business)
        .select_related("customer", "reward__program", "entry__account", "used_purchase")
        .order_by("issued_at", "pk")
    )
    for v in _window(qs, "issued_at", since, until).iterator(chunk_size=chunk_size):
        entry = v.entry
        cost = from_units(entry.account.unit, -entry.amount) if entry else ""
        yield [
            v.code, _when(v.issued_at, zone), v.customer.code, _spreadsheet_safe(v.customer.name),
            _spreadsheet_safe(v.reward.program.name), _spreadsheet_safe(v.name), v.kind,
            v.value if v.value is not None else "", cost, entry.account.unit if entry else "",
            v.status, _when(v.valid_until, zone), _when(v.used_at, zone),
            v.used_purchase.code if v.used_purchase else "",
        ]  # fmt: skip


def survey_rows(business: Business, since, until, chunk_size: int) -> Iterator[list]:
    """No surveys exist yet: the export has its header only, so integrations can rely on it."""
    return iter(())


EXPORTS: dict[str, Export] = {
    e.name: e
    for e in [
        Export(
            "customers",
            _("Customers"),
            "code card_code name email phone birthday language marketing_consent consent_at "
            "joined_at external_id home_location tags notes".split(),
            customer_rows,
            "joined_at",
        ),
        Export(
            "purchases",
            _("Purchases, one row per line item"),
            "purchase occurred_at location customer_code customer_name customer_email "
            "customer_phone item sku quantity unit_price line_total total refunded "
            "external_id".split(),
            purchase_rows,
            "occurred_at",
        ),
        Export(
            "ledger",
            _("Ledger entries (points, stamps, store credit)"),
            "entry at customer_code customer_name program unit kind amount waived available_at "
            "expires_at purchase refund reason staff location operation".split(),
            ledger_rows,
            "at",
        ),
        Export(
            "redemptions",
            _("Redemptions (vouchers)"),
            "voucher issued_at customer_code customer_name program reward kind value cost unit "
            "status valid_until used_at used_purchase".split(),
            redemption_rows,
            "issued_at",
        ),
        Export(
            "surveys",
            _("Survey answers (none yet)"),
            "survey question customer_code answered_at score answer".split(),
            survey_rows,
        ),
    ]
}


def window(
    business: Business, since: date | None, until: date | None
) -> tuple[datetime | None, datetime | None]:
    """Days in the business's time zone → [start of `since`, end of `until`)."""
    zone = ZoneInfo(business.timezone)
    start = datetime.combine(since, time(0), zone) if since else None
    end = datetime.combine(until + timedelta(days=1), time(0), zone) if until else None
    return start, end


def stream(
    kind: str,
    business: Business,
    *,
    since: date | None = None,
    until: date | None = None,
    chunk_size: int = CHUNK_SIZE,
    bom: bool = True,
) -> Iterator[str]:
    """The CSV text of one export, piece by piece. `bom` starts it with the UTF-8 byte-order
    mark that spreadsheet programs need to read UTF-8 (the importer reads both)."""
    export = EXPORTS[kind]
    start, end = window(business, since, until)
    writer = csv.writer(_Line())
    yield ("\ufeff" if bom else "") + writer.writerow(export.header)
    piece: list[str] = []
    for row in export.rows(business, start, end, chunk_size):
        piece.append(writer.writerow(_cell(v) for v in row))
        if len(piece) >= ROWS_PER_PIECE:
            yield "".join(piece)
            piece = []
    if piece:
        yield "".join(piece)


def _cell(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def filename(kind: str, business: Business, since: date | None, until: date | None) -> str:
    span = "".join(f"-{d.isoformat()}" for d in (since, until) if d)
    return f"{business.slug}-{kind}{span}.csv"
