"""Load the living demo business: a Budapest café with two locations and two years of history.

`load_demo` replaces any previous demo business with a fresh one drawn from the behaviour model
in `behaviour.py`. Everything random comes from numpy Generators seeded with (seed, stream,
batch), public codes included, so the same seed and end date give the same café row for row.
Customers are drawn and written a batch at a time, so memory stays flat from 2,000 customers to
100,000; rows go in as executemany (SQLite) or COPY (PostgreSQL), never one `save()` each.
"""

from __future__ import annotations

import sys
import time as clock
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from decimal import Decimal
from functools import cache
from typing import TextIO
from zoneinfo import ZoneInfo

import numpy as np
from django.apps import apps
from django.db import connections, models, router, transaction
from django.db.models import Max
from django.utils import timezone as django_timezone
from tqdm import tqdm

from regulars.accounts.models import Business, Location, Membership, Role, User
from regulars.customers.models import Customer, Tag, TimelineEntry
from regulars.demo import behaviour, menu
from regulars.demo import loyalty as demo_loyalty
from regulars.demo.behaviour import Baskets, Calendar, Visits
from regulars.demo.people import NOTES, STUDENT, TAGS, VEGAN, ContactBook
from regulars.lib.bulk import random_codes
from regulars.lib.codes import ALPHABET
from regulars.sales.models import Product, Purchase, PurchaseLine, Refund

SLUG = "demo"
NAME = "Café Regulars Demo"
TIMEZONE = "Europe/Budapest"
PASSWORD = "demo"
LOGINS = {"owner": Role.OWNER, "cashier": Role.CASHIER}
_STAFF_NAMES = {"owner": ("Eszter", "Varga"), "cashier": ("Máté", "Kiss")}
LOCATIONS = [
    ("Andrássy út", "Andrássy út 41, 1061 Budapest"),
    ("Bartók Béla út", "Bartók Béla út 29, 1114 Budapest"),
]
# Customers drawn together from one random stream. Changing it changes what a seed produces.
CUSTOMER_BATCH = 1000
CARD_TOKEN_LENGTH = 20  # as customers.models.new_card_token
GUEST_DAYS_PER_CHUNK = 61
ROWS_PER_INSERT = 5000
# Random streams: (seed, stream, batch) seeds each Generator, so streams never overlap.
_PEOPLE, _GUEST_DAYS, _GUESTS, _CODES = range(1, 5)


class DemoError(ValueError):
    """The demo cannot be loaded as asked (bad numbers, or its logins belong to a real business)."""


@dataclass(frozen=True)
class DemoSummary:
    business: Business
    customers: int
    purchases: int
    lines: int
    refunds: int
    seconds: float
    ledger_entries: int = 0
    redemptions: int = 0


def _generator(seed: int, stream: int, batch: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64([seed, stream, batch]))


class CodeSequence:
    """Unique public codes drawn from the seeded generator, without remembering past codes.

    A code is a keyed Feistel permutation of a running counter, cycle-walked into the 31^length
    code space and spelled in the codes alphabet: random-looking, reproducible from the seed, and
    never the same twice in one load (a plain random draw would collide now and then at 10⁶ rows).
    """

    _MULTIPLIERS = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9))

    def __init__(self, rng: np.random.Generator, length: int) -> None:
        self.length = length
        self.size = len(ALPHABET) ** length
        bits = (self.size - 1).bit_length()
        self.half = np.uint64((bits + 1) // 2)
        self.mask = np.uint64((1 << int(self.half)) - 1)
        self.keys = rng.integers(0, 2**63, size=4, dtype=np.uint64)
        self.counter = 0
        self.alphabet = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)

    def take(self, n: int) -> list[str]:
        x = np.arange(self.counter, self.counter + n, dtype=np.uint64)
        self.counter += n
        x = self._permute(x)
        while (outside := x >= self.size).any():
            x[outside] = self._permute(x[outside])
        digits = np.empty((n, self.length), dtype=np.uint8)
        for position in range(self.length - 1, -1, -1):
            digits[:, position] = self.alphabet[(x % np.uint64(len(ALPHABET))).astype(np.int64)]
            x //= np.uint64(len(ALPHABET))
        return digits.view(f"S{self.length}").ravel().astype(str).tolist()

    def _permute(self, x: np.ndarray) -> np.ndarray:
        left, right = x >> self.half, x & self.mask
        for key in self.keys:
            mixed = (right ^ key) * self._MULTIPLIERS[0]
            mixed ^= mixed >> np.uint64(29)
            mixed *= self._MULTIPLIERS[1]
            left, right = right, left ^ ((mixed >> np.uint64(64 - int(self.half))) & self.mask)
        return (left << self.half) | right


class _Writer:
    """Insert many rows of a table at once, with values prepared the way Django would.

    `bulk_create` spends about 80 µs a row building model instances and compiling SQL, ten times
    the database's own work: 2,000 customers took 28 s. Here rows are plain tuples, each column
    converted once per batch (timestamps as vectors), sent with executemany on SQLite and COPY
    on PostgreSQL. New customers and purchases are found again by their unique codes, which
    works on every backend without guessing primary keys.
    """

    def __init__(self, using: str) -> None:
        self.connection = connections[using]
        self.ops = self.connection.ops
        self.now = self.ops.adapt_datetimefield_value(django_timezone.now())
        # Django's SQLite backend stores naive UTC text; vectorised, that is 100× faster.
        self.text_timestamps = (
            self.connection.vendor == "sqlite" and str(self.connection.timezone) == "UTC"
        )
        self.json_is_text = isinstance(self.ops.adapt_json_value({}, None), str)

    def insert(self, model: type[models.Model], columns: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        quote = self.ops.quote_name
        names = ", ".join(quote(model._meta.get_field(c).column) for c in columns)
        table = quote(model._meta.db_table)
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
        with self.connection.cursor() as cursor:
            driver_cursor = cursor.cursor
            if self.connection.vendor == "postgresql" and hasattr(driver_cursor, "copy"):
                # psycopg 3's COPY: a stream, no statement per row and no SQL text to parse.
                with driver_cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                return
            # SQLite runs executemany in-process at C speed.
            for start in range(0, len(rows), ROWS_PER_INSERT):
                cursor.executemany(sql, rows[start : start + ROWS_PER_INSERT])

    def timestamps(self, stamps: np.ndarray) -> list:
        if len(stamps) == 0:
            return []
        if self.text_timestamps:
            text = np.datetime_as_string(stamps.astype("datetime64[s]"), unit="s")
            return np.char.replace(text, "T", " ").tolist()
        return [
            self.ops.adapt_datetimefield_value(datetime.fromtimestamp(s, UTC))
            for s in stamps.tolist()
        ]

    def new_rows(self, model: type[models.Model], business: int, after: int) -> dict[str, int]:
        """{code: pk} of the business's rows inserted after primary key `after`.

        A primary-key range scan; filtering on the business in SQL could walk its whole history.
        """
        rows = model._base_manager.filter(pk__gt=after).values_list("code", "pk", "business_id")
        return {code: pk for code, pk, owner in rows if owner == business}

    def json(self, value: dict) -> object:
        return self.ops.adapt_json_value(value, None)

    def sale_json(self, code: str, key: str, amount: Decimal) -> object:
        """{"purchase": code, key: "12.30"}, as `record_purchase` writes it, for a timeline entry."""
        if self.json_is_text:
            # Exactly what json.dumps gives for these plain ASCII values, at a fifth of the cost.
            return f'{{"purchase": "{code}", "{key}": "{amount}"}}'
        return self.ops.adapt_json_value({"purchase": code, key: str(amount)}, None)

    def date(self, value: date | None) -> object:
        return self.ops.adapt_datefield_value(value)


@dataclass
class _Context:
    """What every batch writes against: the business, its rows, and the running code counters."""

    business: Business
    cal: Calendar
    cutoff: int  # epoch seconds: nothing happens after this
    writer: _Writer
    locations: list[int]
    products: list[int]
    tags: list[int]
    owner: int
    cashier: int
    customer_codes: CodeSequence
    card_codes: CodeSequence
    purchase_codes: CodeSequence
    refund_codes: CodeSequence
    contacts: ContactBook
    last_customer_pk: int  # rows after these primary keys are the ones this load wrote
    last_purchase_pk: int
    purchases: int = 0
    lines: int = 0
    refunds: int = 0


def load_demo(
    *,
    customers: int = 2000,
    seed: int = 42,
    years: int = 2,
    end_date: date | None = None,
    progress: TextIO | None = sys.stderr,
) -> DemoSummary:
    """Replace the demo business with a fresh one: `customers` members, `years` of sales, run
    through its loyalty programs (`demo.loyalty`).

    The history ends on `end_date` (default: today in the café's time zone, up to this minute).
    Invariant: every purchase's total is the sum of its lines, and `refunded` the sum of its
    refunds; every row belongs to the demo business. `progress` gets a tqdm bar (None: silent).
    """
    if customers < 1:
        raise DemoError("customers: must be at least 1")
    if not 1 <= years <= 10:
        raise DemoError("years: must be between 1 and 10")
    started = clock.monotonic()
    zone = ZoneInfo(TIMEZONE)
    now = django_timezone.now()
    end = end_date or now.astimezone(zone).date()
    end_of_day = datetime.combine(end + timedelta(days=1), day_time(0), tzinfo=zone)
    cutoff = int(min(now, end_of_day).timestamp()) - 1
    cal = Calendar.build(end=end, years=years, timezone=TIMEZONE)
    using = router.db_for_write(Purchase)
    # Walk-in guests come after the members and take about as long per sale; running the
    # members' history through the loyalty programs takes about as long again.
    guest_work = customers * behaviour.GUEST_SHARE / (1 - behaviour.GUEST_SHARE)
    bar = tqdm(
        total=2 * customers + guest_work,
        file=progress,
        disable=progress is None,
        desc="Loading the demo café",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
    )
    with bar, transaction.atomic(using=using), _roomy_sqlite_cache(using):
        delete_demo()
        ctx = _set_up(seed=seed, cal=cal, cutoff=cutoff, writer=_Writer(using))
        for batch, first in enumerate(range(0, customers, CUSTOMER_BATCH)):
            size = min(CUSTOMER_BATCH, customers - first)
            _load_customer_batch(ctx, _generator(seed, _PEOPLE, batch), size, end)
            bar.update(size)
        _load_guests(ctx, seed, lambda days: bar.update(guest_work * days / cal.days))
        demo_loyalty.set_up_programs(ctx.business)
        history = demo_loyalty.run_history(
            ctx.business,
            seed=seed,
            until=datetime.fromtimestamp(cutoff + 1, UTC),
            progress=bar.update,
        )
    return DemoSummary(
        business=ctx.business,
        customers=customers,
        purchases=ctx.purchases,
        lines=ctx.lines,
        refunds=ctx.refunds,
        seconds=clock.monotonic() - started,
        ledger_entries=history.entries,
        redemptions=history.vouchers,
    )


def delete_demo() -> bool:
    """Delete the demo business and everything it owns, fast. Returns whether there was one.

    Rows go with one DELETE per table instead of Django's collector, which would load every
    purchase to cascade. Tables are found by following foreign keys down from Business, so
    models added later (loyalty, campaigns…) are removed too, referencing tables first so that
    PROTECT and database constraints hold. The demo's logins are kept.
    """
    business = Business.objects.filter(slug=SLUG).first()
    if business is None:
        return False
    using = router.db_for_write(Business)
    existing = set(connections[using].introspection.table_names())
    with transaction.atomic(using=using):
        for model, lookup in owned_tables():
            if model._meta.db_table not in existing:
                continue  # a model whose migration has not run yet owns no rows
            queryset = model._base_manager.filter(**{lookup: business.pk})
            # _raw_delete: a plain DELETE … WHERE, no signals, no per-row collection.
            queryset._raw_delete(using)
    return True


def owned_tables() -> list[tuple[type[models.Model], str]]:
    """(model, lookup to the business pk) for every table reachable from Business, children first."""
    path: dict[type[models.Model], str] = {Business: "pk"}
    queue = [Business]
    all_models = apps.get_models(include_auto_created=True)
    while queue:
        parent = queue.pop(0)
        for model in all_models:
            if model in path:
                continue
            for field in model._meta.concrete_fields:
                if (field.many_to_one or field.one_to_one) and field.related_model is parent:
                    upward = path[parent]
                    path[model] = field.name if upward == "pk" else f"{field.name}__{upward}"
                    queue.append(model)
                    break
    referencing = {
        model: [
            other
            for other in path
            if other is not model
            and any(
                (f.many_to_one or f.one_to_one) and f.related_model is model
                for f in other._meta.concrete_fields
            )
        ]
        for model in path
    }
    order: list[type[models.Model]] = []
    seen: set[type[models.Model]] = set()

    def visit(model: type[models.Model]) -> None:
        # Post-order: every table pointing at this one comes before it.
        if model in seen:
            return
        seen.add(model)
        for other in referencing[model]:
            visit(other)
        order.append(model)

    visit(Business)
    return [(model, path[model]) for model in order]


def _set_up(*, seed: int, cal: Calendar, cutoff: int, writer: _Writer) -> _Context:
    """The business, its locations, staff logins, menu and tags: a few rows, through the ORM."""
    business = Business.objects.create(
        slug=SLUG, name=NAME, currency="EUR", language="en", timezone=TIMEZONE
    )
    staff = {}
    for username, role in LOGINS.items():
        user = User.objects.filter(username=username).first()
        if user is None:
            first, last = _STAFF_NAMES[username]
            user = User(username=username, first_name=first, last_name=last, language="en")
            user.email = f"{username}@example.com"
        elif Membership.objects.filter(user=user).exclude(business=business).exists():
            raise DemoError(
                f"user {username!r} belongs to another business; the demo would reset its password"
            )
        user.set_password(PASSWORD)
        user.save()
        Membership.objects.create(user=user, business=business, role=role)
        staff[username] = user.pk
    location_codes = CodeSequence(_generator(seed, _CODES, 0), 10).take(len(LOCATIONS))
    locations = Location.objects.bulk_create(
        Location(business=business, name=name, address=address, code=code)
        for (name, address), code in zip(LOCATIONS, location_codes, strict=True)
    )
    products = Product.objects.bulk_create(
        Product(
            business=business,
            sku=item.sku,
            name=item.name,
            category=item.category,
            price=_money(item.cents),
        )
        for item in menu.MENU
    )
    tags = Tag.objects.bulk_create(Tag(business=business, name=name) for name in TAGS)
    return _Context(
        business=business,
        cal=cal,
        cutoff=cutoff,
        writer=writer,
        locations=[location.pk for location in locations],
        products=[product.pk for product in products],
        tags=[tag.pk for tag in tags],
        owner=staff["owner"],
        cashier=staff["cashier"],
        customer_codes=CodeSequence(_generator(seed, _CODES, 1), 10),
        card_codes=CodeSequence(_generator(seed, _CODES, 2), 12),
        purchase_codes=CodeSequence(_generator(seed, _CODES, 3), 10),
        refund_codes=CodeSequence(_generator(seed, _CODES, 4), 10),
        contacts=ContactBook(),
        last_customer_pk=Customer.objects.aggregate(last=Max("pk"))["last"] or 0,
        last_purchase_pk=Purchase.objects.aggregate(last=Max("pk"))["last"] or 0,
    )


def _load_customer_batch(ctx: _Context, rng: np.random.Generator, n: int, end: date) -> None:
    """Draw n customers with all their purchases and write them."""
    cal, writer = ctx.cal, ctx.writer
    people = behaviour.draw_people(rng, n, cal)
    contacts = ctx.contacts.draw(
        rng, n, student=people.tags[:, STUDENT], today_ordinal=end.toordinal()
    )
    visits = behaviour.draw_member_visits(rng, people, cal)
    who = visits.customer
    baskets = behaviour.fill_baskets(
        rng,
        budget=behaviour.spend_targets(rng, people.spend_rate[who]),
        month=cal.month[visits.day],
        minute=visits.minute,
        fav_drink=people.fav_drink[who],
        fav_pastry=people.fav_pastry[who],
        vegan=people.tags[who, VEGAN],
        oat=people.oat[who],
    )
    staff = np.where(rng.random(len(who)) < 0.85, ctx.cashier, ctx.owner)
    refunds = behaviour.draw_refunds(rng, baskets, len(who))

    stamps = cal.timestamps(visits.day, visits.minute)
    # Someone "joining" later today than now joined a day earlier instead: no future rows.
    late = stamps[:n] > ctx.cutoff
    stamps[:n] -= np.where(late, ((stamps[:n] - ctx.cutoff) // 86400 + 1) * 86400, 0)
    joined_at = writer.timestamps(stamps[:n])
    consent_at = writer.timestamps(
        np.minimum(stamps[:n] + people.consent_delay_days * 86400, ctx.cutoff)
    )
    codes = ctx.customer_codes.take(n)
    cards = ctx.card_codes.take(n)
    # The secret of each card page's link: never drawn from the seed, so never reproducible.
    tokens = random_codes(n, CARD_TOKEN_LENGTH)
    home = [ctx.locations[h] for h in people.home.tolist()]
    consent = people.consent.tolist()
    oat = people.oat.tolist()
    notes = np.where(people.has_note, people.note % len(NOTES), -1).tolist()
    birthdays = [
        writer.date(date.fromordinal(b) if b else None) for b in contacts.birthday_ordinal.tolist()
    ]
    no_preferences, oat_milk = writer.json({}), writer.json({"milk": "oat"})
    business = ctx.business.pk
    writer.insert(
        Customer,
        "business code card_code card_token name email phone birthday language "
        "marketing_consent consent_at preferences notes external_id home_location joined_at "
        "created_at".split(),
        [
            (
                business,
                codes[i],
                cards[i],
                tokens[i],
                contacts.name[i],
                contacts.email[i],
                contacts.phone[i],
                birthdays[i],
                contacts.language[i],
                consent[i],
                consent_at[i] if consent[i] else None,
                oat_milk if oat[i] else no_preferences,
                NOTES[notes[i]] if notes[i] >= 0 else "",
                "",
                home[i],
                joined_at[i],
                writer.now,
            )
            for i in range(n)
        ],
    )
    by_code = writer.new_rows(Customer, ctx.business.pk, ctx.last_customer_pk)
    customer_pks = [by_code[code] for code in codes]
    ctx.last_customer_pk = max(customer_pks)
    writer.insert(
        Customer.tags.through,
        ["customer", "tag"],
        [(customer_pks[i], ctx.tags[t]) for i, t in np.argwhere(people.tags).tolist()],
    )
    joined_by = staff[:n].tolist()
    no_data = writer.json({})
    writer.insert(
        TimelineEntry,
        "business customer kind at text data staff location".split(),
        [
            (
                business,
                customer_pks[i],
                TimelineEntry.Kind.JOINED.value,
                joined_at[i],
                "",
                no_data,
                joined_by[i],
                home[i],
            )
            for i in range(n)
        ],
    )
    _write_purchases(ctx, visits, baskets, refunds, stamps, staff, customer_pks)


def _load_guests(ctx: _Context, seed: int, done: Callable[[int], object]) -> None:
    """Walk-in sales without a customer, about GUEST_SHARE of all sales, a few weeks at a time."""
    cal = ctx.cal
    total = round(ctx.purchases * behaviour.GUEST_SHARE / (1 - behaviour.GUEST_SHARE))
    per_day = behaviour.guest_day_counts(_generator(seed, _GUEST_DAYS), cal, total)
    for chunk, first in enumerate(range(0, cal.days, GUEST_DAYS_PER_CHUNK)):
        rng = _generator(seed, _GUESTS, chunk)
        days = np.arange(first, min(first + GUEST_DAYS_PER_CHUNK, cal.days))
        visits = behaviour.draw_guest_visits(rng, cal, days, per_day[days])
        n = len(visits.day)
        baskets = behaviour.fill_baskets(
            rng,
            budget=behaviour.spend_targets(rng, behaviour.guest_spend_rates(rng, n)),
            month=cal.month[visits.day],
            minute=visits.minute,
            fav_drink=np.full(n, -1),
            fav_pastry=np.full(n, -1),
            vegan=np.zeros(n, dtype=bool),
            oat=rng.random(n) < 0.05,
        )
        staff = np.where(rng.random(n) < 0.85, ctx.cashier, ctx.owner)
        refunds = behaviour.draw_refunds(rng, baskets, n)
        stamps = cal.timestamps(visits.day, visits.minute)
        _write_purchases(ctx, visits, baskets, refunds, stamps, staff, [])
        done(len(days))


def _write_purchases(
    ctx: _Context,
    visits: Visits,
    baskets: Baskets,
    refunds: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    stamps: np.ndarray,
    staff: np.ndarray,
    customer_pks: list[int],
) -> None:
    """Write purchases (in time order, none after the cutoff), lines, refunds and timeline."""
    writer, business = ctx.writer, ctx.business.pk
    kept = np.flatnonzero(stamps <= ctx.cutoff)
    kept = kept[np.argsort(stamps[kept], kind="stable")]
    position = np.full(len(stamps), -1)
    position[kept] = np.arange(len(kept))
    refunded_rows, refund_cents, reason, delay = refunds
    refunded_cents = np.zeros(len(stamps), dtype=np.int64)
    refunded_cents[refunded_rows] = refund_cents

    codes = ctx.purchase_codes.take(len(kept))
    at = writer.timestamps(stamps[kept])
    who = visits.customer[kept].tolist()
    where = [ctx.locations[w] for w in visits.location[kept].tolist()]
    by = staff[kept].tolist()
    totals = [_money(c) for c in baskets.total_cents[kept].tolist()]
    refunded = [_money(c) for c in refunded_cents[kept].tolist()]
    writer.insert(
        Purchase,
        "business code location customer occurred_at total refunded cashier external_id "
        "idempotency_key created_at".split(),
        [
            (
                business,
                codes[k],
                where[k],
                customer_pks[who[k]] if who[k] >= 0 else None,
                at[k],
                totals[k],
                refunded[k],
                by[k],
                "",
                None,
                writer.now,
            )
            for k in range(len(kept))
        ],
    )
    by_code = writer.new_rows(Purchase, ctx.business.pk, ctx.last_purchase_pk)
    pks = [by_code[code] for code in codes]
    if pks:
        ctx.last_purchase_pk = max(pks)

    line_position = position[baskets.purchase]
    lines = np.flatnonzero(line_position >= 0)
    lines = lines[np.argsort(line_position[lines], kind="stable")]
    writer.insert(
        PurchaseLine,
        "purchase product name quantity unit_price amount".split(),
        [
            (
                pks[p],
                ctx.products[item],
                menu.MENU[item].name,
                qty,
                _money(menu.MENU[item].cents),
                _money(menu.MENU[item].cents * qty),
            )
            for p, item, qty in zip(
                line_position[lines].tolist(),
                baskets.item[lines].tolist(),
                baskets.quantity[lines].tolist(),
                strict=True,
            )
        ],
    )

    timeline = [
        (
            business,
            customer_pks[who[k]],
            TimelineEntry.Kind.PURCHASE.value,
            at[k],
            "",
            writer.sale_json(codes[k], "total", totals[k]),
            by[k],
            where[k],
        )
        for k in range(len(kept))
        if who[k] >= 0
    ]

    keep = position[refunded_rows] >= 0
    rows = position[refunded_rows[keep]].tolist()
    refund_stamps = np.minimum(
        stamps[refunded_rows[keep]] + (delay[keep] * 60).astype(np.int64), ctx.cutoff
    )
    refund_at = writer.timestamps(refund_stamps)
    refund_codes = ctx.refund_codes.take(len(rows))
    amounts = [_money(c) for c in refund_cents[keep].tolist()]
    reasons = [behaviour.REFUND_REASONS[r] for r in reason[keep].tolist()]
    writer.insert(
        Refund,
        "business code purchase amount reason occurred_at staff idempotency_key".split(),
        [
            (
                business,
                refund_codes[j],
                pks[k],
                amounts[j],
                reasons[j],
                refund_at[j],
                ctx.owner,
                None,
            )
            for j, k in enumerate(rows)
        ],
    )
    timeline += [
        (
            business,
            customer_pks[who[k]],
            TimelineEntry.Kind.REFUND.value,
            refund_at[j],
            "",
            writer.sale_json(codes[k], "amount", amounts[j]),
            ctx.owner,
            None,
        )
        for j, k in enumerate(rows)
        if who[k] >= 0
    ]
    writer.insert(
        TimelineEntry, "business customer kind at text data staff location".split(), timeline
    )
    ctx.purchases += len(kept)
    ctx.lines += len(lines)
    ctx.refunds += len(rows)


@contextmanager
def _roomy_sqlite_cache(using: str, kib: int = 256 * 1024) -> Iterator[None]:
    """Give SQLite a 256 MB page cache while loading, then restore its own.

    With the default 2 MB, every insert into an index in random order (the purchase codes, the
    purchase times of a batch spanning two years) reads pages back from the file: 100,000
    customers took minutes longer.
    """
    connection = connections[using]
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{kib}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


@cache
def _money(cents: int) -> Decimal:
    return Decimal(int(cents)).scaleb(-2)
