"""From CSV rows to orders and people, with every problem found on the way.

Both passes of an import read the file through here: the check (find every bad line) and the
import (write the good ones), so what the check accepts is exactly what the import writes. The
file is streamed; only one order's rows are held at a time.

Purchases get an idempotency key that is the same every time the same file is read:
- with an order id: ``import:<id>`` (``import:<source>:<id>`` when a source label is set), so a
  later export that repeats old orders adds only the new ones;
- without one: ``import:r:<hash>`` of the row as read (time, customer, location, items and
  amounts), and when the very same row appears n times in the file, the 2nd… nth copies get
  ``:2``… ``:n``: two identical coffees at the same minute stay two sales, and a re-import
  still finds both.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as day_time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from regulars.integrations.imports import parsing
from regulars.integrations.imports.fields import CUSTOMERS, FIELDS, SALES
from regulars.integrations.imports.parsing import CellError
from regulars.integrations.imports.problems import FILE, Problem
from regulars.lib.money import CENT

ZERO = Decimal("0.00")
KEY_PREFIX = "import:"
MAX_KEY = 100
# Order statuses that are not a sale (Shopify financial status, WooCommerce order status,
# Square event type), compared lower-case without a "wc-" prefix.
NOT_SALES = frozenset(
    {
        "cancelled",
        "canceled",
        "refunded",
        "refund",
        "voided",
        "void",
        "failed",
        "pending",
        "trash",
        "draft",
        "checkout-draft",
    }  # fmt: skip
)


@dataclass
class Config:
    """How to read one file for one business; built from an ImportJob by `jobs.config_for`."""

    kind: str
    mapping: dict[str, int]
    encoding: str = "utf-8"
    delimiter: str = ","
    date_format: str = "iso"
    decimal: str = "auto"
    timezone: str = "UTC"
    currency: str = "EUR"
    source: str = ""
    # Normalised location names and codes → pk; the pk used when no location is mapped.
    locations: dict[str, int] = field(default_factory=dict)
    default_location: int | None = None
    products: dict[str, int] = field(default_factory=dict)  # sku → pk
    adjustment_name: str = "Other charges and discounts"
    # From the check, for the import: first lines of orders that repeat an earlier order id,
    # and the copy number of rows that repeat an earlier row exactly (see the module doc).
    split_lines: frozenset[int] = frozenset()
    copies: dict[int, int] = field(default_factory=dict)


class FileProblem(Exception):
    """The file cannot be read on from here (bad encoding, broken CSV)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(slots=True)
class Person:
    """Who a row is about: the identity to match on and what a new record would hold."""

    external_id: str = ""
    name: str = ""
    email: str = ""
    phone: str = ""
    birthday: object = None
    consent: bool | None = None
    language: str = ""
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    joined: datetime | None = None

    @property
    def identified(self) -> bool:
        return bool(self.external_id or self.email or self.phone)

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.phone or self.external_id


@dataclass(slots=True)
class Item:
    """One purchase line as it will be written."""

    name: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    product: int | None = None


class Record:
    """One order (sales) or one person (customers), built from consecutive rows of the file.

    A plain class with slots: one is made per order, a million times per big import.
    """

    __slots__ = ("line", "lines", "cells", "head", "rows", "problems", "order_id", "at",
                 "person", "location", "items", "total", "ignored", "key")  # fmt: skip

    def __init__(self, line: int, order_id: str = "", problems: list[Problem] | None = None):
        self.line = line
        self.lines: list[int] = []
        self.cells: list[list[str]] = []
        self.head: dict = {}  # order-level values, the first non-empty one wins
        self.rows: list[dict] = []  # line-level values, one dict per row
        self.problems: list[Problem] = problems if problems is not None else []
        self.order_id = order_id
        self.at: datetime | None = None
        self.person: Person | None = None
        self.location: int | None = None
        self.items: list[Item] = []
        self.total = Decimal("0")
        self.ignored = ""
        self.key = ""

    @property
    def ok(self) -> bool:
        return not self.problems and not self.ignored


_MISS = object()
MEMO_SIZE = 50_000  # distinct values remembered per column (menus, prices, customers' e-mails)
# Columns whose values repeat from row to row: each distinct text is parsed once.
MEMOISED = {"item", "sku", "quantity", "unit_price", "line_total", "order_total", "currency",
            "status", "location", "customer_id", "customer_name", "first_name", "last_name",
            "email", "phone", "birthday", "marketing_consent", "language", "tags"}  # fmt: skip


def _read(parse: Callable[[str], object], text: str) -> object:
    try:
        return parse(text)
    except CellError as exc:
        return exc


def _text(limit: int) -> Callable[[str], str]:
    return parsing.text_of(limit)


class Reader:
    """Reads a file as configured and yields `Record`s, problems attached."""

    def __init__(self, config: Config, path: str) -> None:
        self.config = config
        self.path = path
        self.zone = ZoneInfo(config.timezone)
        self.now = timezone.now()
        self.bytes_read = 0
        self.size = 0
        self.rows_read = 0
        decimal, fmt = config.decimal, config.date_format
        parsers: dict[str, Callable[[str], object]] = {
            "order_id": _text(100),
            "date": lambda text: parsing.parse_moment(text, fmt),
            "time": parsing.parse_time,
            "item": _text(200),
            "sku": _text(40),
            "quantity": parsing.parse_quantity,
            "unit_price": lambda text: parsing.parse_amount(text, decimal),
            "line_total": lambda text: parsing.parse_amount(text, decimal),
            "order_total": lambda text: parsing.parse_amount(text, decimal),
            "currency": lambda text: text.upper(),
            "status": str.lower,
            "location": _text(200),
            "customer_id": _text(100),
            "customer_name": _text(200),
            "first_name": _text(100),
            "last_name": _text(100),
            "email": parsing.parse_email,
            "phone": parsing.parse_phone,
            "birthday": lambda text: parsing.parse_date(text, fmt),
            "marketing_consent": parsing.parse_bool,
            "language": parsing.parse_language,
            "joined": lambda text: parsing.parse_moment(text, fmt),
            "tags": parsing.parse_tags,
            "notes": _text(5000),
        }
        plan = [
            (name, index, parsers[name], {} if name in MEMOISED else None, FIELDS[name].order_level)
            for name, index in sorted(config.mapping.items(), key=lambda item: item[1])
            if name in FIELDS and config.kind in FIELDS[name].kinds
        ]
        self.head_plan = [(n, i, p, m) for n, i, p, m, order_level in plan if order_level]
        self.line_plan = [(n, i, p, m) for n, i, p, m, order_level in plan if not order_level]
        self.order_index = config.mapping.get("order_id") if config.kind == SALES else None

    # --- raw rows ------------------------------------------------------------------------

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, cells) of every non-empty data row; the header is line 1."""
        with open(self.path, "rb") as raw:
            raw.seek(0, io.SEEK_END)
            self.size = raw.tell()
            raw.seek(0)
            text = io.TextIOWrapper(
                raw, encoding=parsing.codec_for(self.config.encoding), newline=""
            )
            reader = csv.reader(text, delimiter=self.config.delimiter)
            line = 1
            try:
                next(reader, None)  # the header
                for line, cells in enumerate(reader, start=2):
                    if line % 4096 == 0:
                        self.bytes_read = raw.tell()
                    if not any(cells):
                        continue
                    self.rows_read += 1
                    yield line, cells
            except UnicodeDecodeError as exc:
                raise FileProblem(
                    Problem(line + 1, FILE, "encoding", {"encoding": self.config.encoding})
                ) from exc
            except csv.Error as exc:
                raise FileProblem(Problem(line + 1, FILE, "csv", {"error": str(exc)})) from exc
            self.bytes_read = self.size

    # --- records -------------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        """Orders (sales) or people (customers), in file order, each with its problems."""
        head_plan, line_plan, order_index = self.head_plan, self.line_plan, self.order_index
        current: Record | None = None
        for line, cells in self.rows():
            order_id = ""
            width = len(cells)
            if order_index is not None and order_index < width:
                order_id = cells[order_index].strip()
            if current is not None and order_id and order_id == current.order_id:
                record = current
            else:
                if current is not None:
                    yield self._finish(current)
                record = current = Record(line, order_id)
            record.lines.append(line)
            record.cells.append(cells)
            head = record.head
            for name, index, parse, memo in head_plan:
                if index >= width or name in head:
                    continue
                text = cells[index].strip()
                if not text:
                    continue
                if memo is None:
                    value = _read(parse, text)
                else:
                    value = memo.get(text, _MISS)
                    if value is _MISS:
                        value = _read(parse, text)
                        if len(memo) < MEMO_SIZE:
                            memo[text] = value
                if value.__class__ is CellError:
                    record.problems.append(Problem(line, name, value.code, value.params))
                else:
                    head[name] = value
            values = {"line": line}
            for name, index, parse, memo in line_plan:
                if index >= width:
                    continue
                text = cells[index].strip()
                if not text:
                    continue
                if memo is None:
                    value = _read(parse, text)
                else:
                    value = memo.get(text, _MISS)
                    if value is _MISS:
                        value = _read(parse, text)
                        if len(memo) < MEMO_SIZE:
                            memo[text] = value
                if value.__class__ is CellError:
                    record.problems.append(Problem(line, name, value.code, value.params))
                else:
                    values[name] = value
            record.rows.append(values)
        if current is not None:
            yield self._finish(current)

    def _finish(self, record: Record) -> Record:
        record.person = self._person(record)
        if self.config.kind == CUSTOMERS:
            if record.person is None or not record.person.identified:
                record.problems.append(Problem(record.line, "email", "no_identity"))
            return record
        self._sale(record)
        if record.ignored:
            record.problems = []  # a cancelled or refunded order is left out, valid or not
        return record

    def _person(self, record: Record) -> Person | None:
        head = record.head
        name = head.get("customer_name") or " ".join(
            part for part in (head.get("first_name"), head.get("last_name")) if part
        )
        person = Person(
            external_id=head.get("customer_id", ""),
            name=name[:200],
            email=head.get("email", ""),
            phone=head.get("phone", ""),
            birthday=head.get("birthday"),
            consent=head.get("marketing_consent"),
            language=head.get("language", ""),
            tags=head.get("tags", []),
            notes=head.get("notes", ""),
            joined=self._moment(head["joined"]) if "joined" in head else None,
        )
        if not (person.identified or person.name):
            return None
        return person

    def _moment(self, value: datetime | date, clock: day_time | None = None) -> datetime:
        """An aware datetime: a date alone is taken at noon (no time zone moves it a day)."""
        if not isinstance(value, datetime):
            value = datetime.combine(value, clock or day_time(12))
        elif clock is not None:
            value = datetime.combine(value.date(), clock, value.tzinfo)
        if value.tzinfo is None:
            return value.replace(tzinfo=self.zone)
        return value

    def _sale(self, record: Record) -> None:
        config, head, first = self.config, record.head, record.line
        status = head.get("status", "")
        if status and status.removeprefix("wc-") in NOT_SALES:
            record.ignored = status
        at = head.get("date")
        if at is None:
            if not any(p.field == "date" for p in record.problems):
                record.problems.append(Problem(first, "date", "required"))
        else:
            at = self._moment(at, head.get("time"))
            if at > self.now:
                record.problems.append(
                    Problem(first, "date", "future", {"value": at.isoformat(sep=" ")})
                )
            record.at = at
        currency = head.get("currency")
        if currency and currency != config.currency:
            record.problems.append(
                Problem(
                    first, "currency", "currency", {"value": currency, "currency": config.currency}
                )
            )
        if "location" in head:
            found = config.locations.get(head["location"].casefold())
            if found is None:
                record.problems.append(
                    Problem(first, "location", "no_location", {"value": head["location"]})
                )
            record.location = found
        else:
            record.location = config.default_location
        if record.person is not None and not record.person.identified:
            record.person = None  # a name alone cannot be matched: a sale without a customer
        self._items(record)
        if record.order_id:
            key = f"{config.source}:{record.order_id}" if config.source else record.order_id
            record.key = KEY_PREFIX + key
            if len(record.key) > MAX_KEY:
                digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
                record.key = f"{KEY_PREFIX}h:{digest}"
        else:
            digest = hashlib.blake2b(self.fingerprint(record).encode(), digest_size=12)
            record.key = f"{KEY_PREFIX}r:{digest.hexdigest()}"
            copy = config.copies.get(first)
            if copy:
                record.key += f":{copy}"

    def _items(self, record: Record) -> None:
        items: list[Item] = []
        priced = False
        products = self.config.products
        for values in record.rows:
            quantity = values.get("quantity", 1)
            name = values.get("item", "")
            if quantity.__class__ is Decimal:
                # A weight or a fraction: one line for the lot, the quantity in its name.
                name = f"{name} × {quantity.normalize()}".strip()[:200]
                quantity = 1
            amount = values.get("line_total")
            unit = values.get("unit_price")
            if amount is not None:
                priced = True
                if amount < 0:
                    record.problems.append(
                        Problem(values["line"], "line_total", "negative", {"value": str(amount)})
                    )
                unit = amount if quantity == 1 else (amount / quantity).quantize(CENT)
            elif unit is not None:
                priced = True
                if unit < 0:
                    record.problems.append(
                        Problem(values["line"], "unit_price", "negative", {"value": str(unit)})
                    )
                amount = unit if quantity == 1 else unit * quantity
            else:
                unit = amount = ZERO
            sku = values.get("sku")
            items.append(Item(name, quantity, unit, amount, products.get(sku) if sku else None))
        order_total = record.head.get("order_total")
        if order_total is not None and order_total < 0:
            record.problems.append(
                Problem(record.line, "order_total", "negative", {"value": str(order_total)})
            )
        if not priced:
            if order_total is None:
                amounts = ("line_total", "unit_price", "order_total")
                if not any(p.field in amounts for p in record.problems):
                    record.problems.append(Problem(record.line, "line_total", "no_amount"))
                return
            # Lines without prices (an order-per-row export): one line for the whole order.
            names = ", ".join(i.name for i in items if i.name)[:200]
            items = [Item(names, 1, order_total, order_total)]
        total = sum((i.amount for i in items), Decimal("0.00"))
        if order_total is not None and order_total != total:
            difference = order_total - total
            items.append(Item(self.config.adjustment_name, 1, difference, difference))
            total = order_total
        if total > parsing.MAX_AMOUNT:
            record.problems.append(
                Problem(record.line, "order_total", "too_large", {"value": str(total)})
            )
        record.items = items
        record.total = total

    @staticmethod
    def fingerprint(record: Record) -> str:
        """The row as read, for the key of a row without an order id (see the module doc)."""
        person = record.person
        who = f"{person.external_id}|{person.email}|{person.phone}" if person else ""
        at = record.at.isoformat() if record.at else ""
        items = ";".join(
            f"{i.name}|{i.quantity}|{i.amount}|{i.product or ''}" for i in record.items
        )
        return f"{at}\x1f{who}\x1f{record.location or ''}\x1f{items}"

    @property
    def fraction(self) -> float:
        return self.bytes_read / self.size if self.size else 0.0
