"""The two passes of an import: check every line, then write the good ones in batches.

`check` streams the file once and finds every bad line (nothing is written). `run` streams it
again and writes orders (or people) a batch at a time, each batch in one transaction:
- customers are matched by customer id, e-mail, then phone (one query per batch for the
  identities not seen yet), and created once, never twice, however many rows name them;
- purchases whose idempotency key is already there are skipped (one query per batch), so a
  re-import adds nothing, and an import that stopped half-way resumes where it stopped;
- rows go in with COPY (PostgreSQL) or executemany (SQLite), primary keys taken up front.
Nothing here sends the per-sale signals (webhooks) that counter sales send: an import of years
of history is not a stream of new events.
"""

from __future__ import annotations

import gc
import queue
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from regulars.accounts.models import Business
from regulars.customers.models import Customer, Tag, TimelineEntry
from regulars.integrations.imports.fields import SALES
from regulars.integrations.imports.problems import Problem
from regulars.integrations.imports.rows import (
    KEY_PREFIX,
    Config,
    FileProblem,
    Person,
    Reader,
    Record,
)
from regulars.lib.bulk import BulkWriter, random_codes
from regulars.sales.models import Purchase, PurchaseLine

BATCH = 5000  # orders or people per transaction
# The secret of the link to a customer's card page; drawn in bulk like the other codes.
CARD_TOKEN = any(f.name == "card_token" for f in Customer._meta.concrete_fields)
SHOWN = 1000  # problems kept in memory (and on the job row); the report file has them all
PROGRESS_EVERY = 1.0  # seconds between progress callbacks
COLLECT_EVERY = 100_000  # records read between garbage collections (see `_collector_paused`)

Progress = Callable[[int, float], None]  # (rows read so far, fraction of the file)
Report = Callable[[Problem, list[str]], None]  # one problem and the cells of its row


@dataclass
class Checked:
    """What the check found: counts, problems, and what the import needs from it."""

    rows: int = 0
    records: int = 0
    items: int = 0
    ignored_rows: int = 0
    problem_count: int = 0
    bad_lines: int = 0
    problems: list[Problem] = field(default_factory=list)
    split_lines: list[int] = field(default_factory=list)
    copies: dict[int, int] = field(default_factory=dict)
    fatal: Problem | None = None
    first_at: datetime | None = None
    last_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.problem_count == 0 and self.fatal is None


def _ticker(on_progress: Progress | None, reader: Reader) -> Callable[[bool], None]:
    last = [time.monotonic()]

    def tick(force: bool = False) -> None:
        if on_progress is None:
            return
        now = time.monotonic()
        if force or now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            on_progress(reader.rows_read, reader.fraction)

    return tick


@contextmanager
def _collector_paused() -> Iterator[Callable[[], None]]:
    """Pause Python's cyclic garbage collector while a file is read; yields a per-record step.

    A pass keeps thousands of records, a batch in flight and the per-column memos alive at
    once, and allocates a few dozen objects a row: with the collector on, it walks all of that
    again every few hundred allocations, a third of the import's CPU time. Nearly everything
    is freed by reference counting anyway; what only a collection frees (a bad cell's exception
    and its traceback hold each other) is collected every COLLECT_EVERY records, and at the end.
    """
    enabled = gc.isenabled()
    gc.disable()
    count = [0]

    def step() -> None:
        count[0] += 1
        if count[0] >= COLLECT_EVERY:
            count[0] = 0
            gc.collect()

    try:
        yield step
    finally:
        if enabled:
            gc.enable()
        gc.collect()


def _cells(record: Record, line: int) -> list[str]:
    try:
        return record.cells[record.lines.index(line)]
    except ValueError:
        return []


def check(
    config: Config,
    path: str,
    *,
    on_problem: Report | None = None,
    on_progress: Progress | None = None,
) -> Checked:
    """Read the whole file and report every bad line; write nothing.

    Besides the problems of each line, two things need the whole file: an order id that comes
    back after other orders (its rows are not together), and rows repeated exactly, whose copy
    number goes into their idempotency key. Both are found from 64-bit hashes kept in arrays
    (16 bytes a row), not sets of strings, so a million rows cost megabytes, not hundreds.
    """
    result = Checked()
    reader = Reader(config, path)
    tick = _ticker(on_progress, reader)
    order_hashes, order_lines = array("q"), array("q")
    row_hashes, row_lines = array("q"), array("q")
    bad: set[int] = set()

    def problem(p: Problem, cells: list[str]) -> None:
        result.problem_count += 1
        bad.add(p.line)
        if len(result.problems) < SHOWN:
            result.problems.append(p)
        if on_problem is not None:
            on_problem(p, cells)

    with _collector_paused() as step:
        try:
            for record in reader.records():
                step()
                result.records += 1
                result.items += len(record.lines)
                for p in record.problems:
                    problem(p, _cells(record, p.line))
                if record.ignored and not record.problems:
                    result.ignored_rows += len(record.lines)
                if record.order_id:
                    order_hashes.append(hash(record.order_id))
                    order_lines.append(record.line)
                elif config.kind == SALES and not record.problems:
                    row_hashes.append(hash(Reader.fingerprint(record)))
                    row_lines.append(record.line)
                if record.at is not None:
                    if result.first_at is None or record.at < result.first_at:
                        result.first_at = record.at
                    if result.last_at is None or record.at > result.last_at:
                        result.last_at = record.at
                tick(False)
        except FileProblem as exc:
            result.fatal = exc.problem
            problem(exc.problem, [])
    result.rows = reader.rows_read
    for line, first in _repeats(order_hashes, order_lines):
        result.split_lines.append(line)
        problem(Problem(line, "order_id", "order_split", {"first": str(first)}), [])
    result.copies = {line: copy for line, copy in _copies(row_hashes, row_lines)}
    result.problems.sort(key=lambda p: p.line)
    result.bad_lines = len(bad)
    tick(True)
    return result


def _groups(hashes: array, lines: array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lines sorted by (hash, line), the index where each one's group starts, and its rank."""
    h = np.frombuffer(hashes, dtype=np.int64)
    ln = np.frombuffer(lines, dtype=np.int64)
    order = np.lexsort((ln, h))
    h, ln = h[order], ln[order]
    new_group = np.ones(len(h), dtype=bool)
    new_group[1:] = h[1:] != h[:-1]
    starts = np.flatnonzero(new_group)
    group_start = starts[np.cumsum(new_group) - 1]
    return ln, group_start, np.arange(len(h)) - group_start


def _repeats(hashes: array, lines: array) -> Iterator[tuple[int, int]]:
    """(line, first line) of every order id seen again after its first group of rows."""
    if not hashes:
        return
    ln, group_start, rank = _groups(hashes, lines)
    for i in np.flatnonzero(rank > 0).tolist():
        yield int(ln[i]), int(ln[group_start[i]])


def _copies(hashes: array, lines: array) -> Iterator[tuple[int, int]]:
    """(line, copy number from 2) of rows that repeat an earlier row exactly."""
    if not hashes:
        return
    ln, _starts, rank = _groups(hashes, lines)
    for i in np.flatnonzero(rank > 0).tolist():
        yield int(ln[i]), int(rank[i]) + 1


# --- the import ---------------------------------------------------------------------------


@dataclass
class Imported:
    """What an import wrote and left out."""

    rows: int = 0
    purchases_created: int = 0
    purchases_existing: int = 0
    lines_created: int = 0
    customers_created: int = 0
    customers_matched: int = 0
    skipped_rows: int = 0
    ignored_rows: int = 0
    accrued: int = 0
    stopped_at: Problem | None = None
    # (occurred_at epoch, purchase pk, customer pk) of the purchases created with a customer,
    # for back-filling points in time order; kept only when asked (`keep_created`).
    created: list[tuple[float, int, int]] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("created", "stopped_at")}


class Stop(Exception):
    """A bad line in an import that stops on the first error."""


def run(
    business: Business,
    config: Config,
    path: str,
    *,
    skip_bad: bool,
    keep_created: bool = False,
    on_skipped: Report | None = None,
    on_progress: Progress | None = None,
) -> Imported:
    """Write every good record of the file; bad ones are skipped (`skip_bad`) or stop it.

    Invariant: one purchase per idempotency key and one customer per identity, however often
    the same file (or an overlapping one) is imported; every batch is all or nothing.
    """
    result = Imported()
    reader = Reader(config, path)
    tick = _ticker(on_progress, reader)
    writer = (SalesWriter if config.kind == SALES else PeopleWriter)(business, config, result)
    writer.keep_created = keep_created
    background = _Background(writer)
    batch: list[Record] = []

    def skip(record: Record, reason: Problem | None = None) -> None:
        result.skipped_rows += len(record.lines)
        if on_skipped is None:
            return
        problems = list(record.problems) or ([reason] if reason else [])
        lines_with_problems = {p.line for p in problems}
        for p in problems:
            on_skipped(p, _cells(record, p.line))
        first = min(lines_with_problems) if lines_with_problems else record.line
        for line in record.lines:
            if line not in lines_with_problems:
                on_skipped(
                    Problem(line, "", "with_order", {"line": str(first)}), _cells(record, line)
                )

    with _collector_paused() as step:
        try:
            for record in reader.records():
                step()
                if record.line in config.split_lines:
                    record.problems.append(Problem(record.line, "order_id", "order_split"))
                if record.problems:
                    if not skip_bad:
                        result.stopped_at = record.problems[0]
                        raise Stop(str(record.problems[0]))
                    skip(record)
                    continue
                if record.ignored:
                    result.ignored_rows += len(record.lines)
                    if on_skipped is not None:
                        reason = Problem(
                            record.line, "status", "ignored_status", {"value": record.ignored}
                        )
                        for line in record.lines:
                            on_skipped(reason if line == record.line else
                                       Problem(line, "", "with_order", {"line": str(record.line)}),
                                       _cells(record, line))  # fmt: skip
                    continue
                batch.append(record)
                if len(batch) >= BATCH:
                    background.submit(batch)
                    batch = []
                    tick(False)
        except FileProblem as exc:
            result.stopped_at = exc.problem
        except Stop:
            pass
        finally:
            # What was read before a stop is written; an error in the writer is raised here.
            background.submit(batch)
            background.close()
    writer.finish()
    result.rows = reader.rows_read
    tick(True)
    return result


class _Background:
    """Writes batches on a second thread while the file is read on, on PostgreSQL.

    The database works on one batch (index updates, foreign-key checks at commit) while Python
    reads and checks the next: the two run on two cores instead of taking turns. The writer
    thread has its own connection (Django's are per thread). Inside a caller's transaction
    (tests) and on SQLite (one writer at a time anyway) batches are written in line instead.
    """

    def __init__(self, writer: _Writer) -> None:
        self.writer = writer
        main = connections[writer.bulk.using]
        self.threaded = writer.bulk.postgres and not main.in_atomic_block
        self.error: BaseException | None = None
        if self.threaded:
            self.queue: queue.Queue = queue.Queue(maxsize=2)
            self.thread = threading.Thread(target=self._work, name="import-writer", daemon=True)
            self.thread.start()

    def submit(self, batch: list[Record]) -> None:
        if not batch:
            return
        if not self.threaded:
            self.writer.write(batch)
            return
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.queue.put(batch, timeout=0.5)
                return
            except queue.Full:
                continue

    def _work(self) -> None:
        try:
            while (batch := self.queue.get()) is not None:
                if self.error is None:
                    try:
                        self.writer.write(batch)
                    except BaseException as exc:  # handed to the reading thread
                        self.error = exc
        finally:
            connections.close_all()  # this thread's connections only

    def close(self) -> None:
        if self.threaded:
            self.queue.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error


class _Writer:
    """Matching and creating customers, shared by sales and customer imports."""

    def __init__(self, business: Business, config: Config, result: Imported) -> None:
        self.business = business
        self.config = config
        self.result = result
        self.bulk = BulkWriter()
        self.now = timezone.now()
        self.known: dict[tuple[str, str], int] = {}  # ("x"|"e"|"p", value) → customer pk
        self.asked: set[tuple[str, str]] = set()
        self.tags: dict[str, int] = {}
        self.matched: set[int] = set()
        self.keep_created = False
        # Customers this import created: the joined time written, and the earliest purchase.
        self.created_joined: dict[int, datetime] = {}
        self.created_first: dict[int, datetime] = {}

    @staticmethod
    def identity(person: Person) -> list[tuple[str, str]]:
        keys = []
        if person.external_id:
            keys.append(("x", person.external_id))
        if person.email:
            keys.append(("e", person.email))
        if person.phone:
            keys.append(("p", person.phone))
        return keys

    def match(self, person: Person) -> int | None:
        for key in self.identity(person):
            found = self.known.get(key)
            if found is not None:
                return found
        return None

    def look_up(self, people: list[Person]) -> None:
        """One query for every identity of these people not asked about before."""
        wanted = {k for p in people for k in self.identity(p)} - self.asked
        if not wanted:
            return
        self.asked |= wanted
        values = {kind: [v for k, v in wanted if k == kind] for kind in ("x", "e", "p")}
        found = self.bulk.rows_matching(
            Customer,
            ["pk", "external_id", "email", "phone"],
            {"external_id": values["x"], "email": values["e"], "phone": values["p"]},
            business_id=self.business.pk,
        )
        # Lowest primary key first: when two records share an e-mail, the older one wins.
        for pk, external_id, email, phone in sorted(found):
            for key in (("x", external_id), ("e", email), ("p", phone)):
                if key[1] and key in wanted:
                    self.known.setdefault(key, pk)

    def tag_ids(self, names: set[str]) -> dict[str, int]:
        missing = names - set(self.tags)
        for name in sorted(missing):
            tag, _created = Tag.objects.get_or_create(business=self.business, name=name)
            self.tags[name] = tag.pk
        return {n: self.tags[n] for n in names}

    def create_people(
        self, people: list[tuple[Person, datetime, int | None]]
    ) -> tuple[dict[tuple[str, str], int], dict[int, datetime]]:
        """Insert new customers (person, joined at, home location); returns their keys → pk.

        Call inside the batch's transaction. Two rows naming the same person in one batch make
        one customer: the first row's data wins, as it would had they come in two batches.
        """
        fresh: dict[tuple[str, str], int] = {}
        chosen: list[tuple[Person, datetime, int | None]] = []
        for person, joined, home in people:
            keys = self.identity(person)
            if any(k in fresh for k in keys):
                index = next(fresh[k] for k in keys if k in fresh)
                for k in keys:
                    fresh.setdefault(k, index)
                continue
            for k in keys:
                fresh[k] = len(chosen)
            chosen.append((person, joined, home))
        if not chosen:
            return {}, {}
        bulk = self.bulk
        pks = bulk.allocate_ids(Customer, len(chosen))
        codes = random_codes(len(chosen), 10)
        cards = random_codes(len(chosen), 12)
        tokens = random_codes(len(chosen), 20) if CARD_TOKEN else []
        empty = bulk.json({})
        customers, joins, tags = [], [], []
        tag_ids = self.tag_ids({t for p, _j, _h in chosen for t in p.tags})
        for i, (person, joined, home) in enumerate(chosen):
            at = bulk.when(joined)
            consent = bool(person.consent)
            customers.append(
                (
                    pks[i], self.business.pk, codes[i], cards[i], person.display_name[:200],
                    person.email, person.phone, bulk.day(person.birthday), person.language,
                    consent, at if consent else None, empty, person.notes, person.external_id,
                    home, at, bulk.when(self.now), *tokens[i : i + 1],
                )
            )  # fmt: skip
            joins.append(
                (
                    self.business.pk,
                    pks[i],
                    TimelineEntry.Kind.JOINED.value,
                    at,
                    "",
                    empty,
                    None,
                    home,
                )
            )
            tags.extend((pks[i], tag_ids[name]) for name in dict.fromkeys(person.tags))
        bulk.insert(
            Customer,
            "id business code card_code name email phone birthday language marketing_consent "
            "consent_at preferences notes external_id home_location joined_at created_at".split()
            + (["card_token"] if CARD_TOKEN else []),
            customers,
        )
        bulk.insert(Customer.tags.through, ["customer", "tag"], tags)
        bulk.insert(
            TimelineEntry, "business customer kind at text data staff location".split(), joins
        )
        joined_at = {pks[i]: joined for i, (_p, joined, _h) in enumerate(chosen)}
        return {k: pks[i] for k, i in fresh.items()}, joined_at

    def write(self, records: list[Record]) -> None:
        """Write one batch in one transaction; on a clash with a concurrent writer (or, once
        in a blue moon, a random code already taken), look again and retry."""
        if not records:
            return
        for attempt in range(3):
            try:
                with transaction.atomic(using=self.bulk.using):
                    if self.bulk.postgres:
                        # Batches are idempotent (a crash loses nothing a re-run would not
                        # redo), and the job's own synchronous commit at the end makes all
                        # of them durable: no need to wait for the disk at every batch.
                        with self.bulk.connection.cursor() as cursor:
                            cursor.execute("SET LOCAL synchronous_commit = off")
                    commit = self._write(records)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
                # Someone else wrote (or a code was taken): forget what may be stale, try again.
                self.asked.clear()
                self.tags.clear()
                self.may_exist = True
        commit()

    def _write(self, records: list[Record]) -> Callable[[], None]:
        raise NotImplementedError

    def finish(self) -> None:
        """Work after the last batch: fix joined dates of customers created along the way."""
        moved = [
            (first, pk)
            for pk, first in self.created_first.items()
            if first < self.created_joined.get(pk, first)
        ]
        if not moved:
            return
        bulk = self.bulk
        with transaction.atomic(using=bulk.using), bulk.connection.cursor() as cursor:
            quote = bulk.ops.quote_name
            customers = quote(Customer._meta.db_table)
            timeline = quote(TimelineEntry._meta.db_table)
            rows = [(bulk.when(first), pk) for first, pk in moved]
            cursor.executemany(f"UPDATE {customers} SET joined_at = %s WHERE id = %s", rows)
            cursor.executemany(
                f"UPDATE {customers} SET consent_at = %s WHERE id = %s AND consent_at IS NOT NULL",
                rows,
            )
            cursor.executemany(
                f"UPDATE {timeline} SET at = %s WHERE customer_id = %s AND kind = 'joined'", rows
            )


class PeopleWriter(_Writer):
    """A customer list: new people are created, known ones are left as they are."""

    def _write(self, records: list[Record]) -> Callable[[], None]:
        people = [r.person for r in records if r.person is not None]
        self.look_up(people)
        new, matched = [], set()
        for person in people:
            found = self.match(person)
            if found is None:
                new.append((person, person.joined or self.now, None))
            else:
                matched.add(found)
        fresh, created = self.create_people(new)

        def commit() -> None:
            for key, pk in fresh.items():
                self.known.setdefault(key, pk)
            self.result.customers_created += len(created)
            self.created_joined.update(created)
            new_matches = matched - self.matched - self.created_joined.keys()
            self.matched |= new_matches
            self.result.customers_matched += len(new_matches)

        return commit


class SalesWriter(_Writer):
    """Purchases with their lines; their customers matched or created on the way."""

    # Whether a purchase of this file can already be there; None until the first batch asks.
    may_exist: bool | None = None

    def _write(self, records: list[Record]) -> Callable[[], None]:
        bulk, business = self.bulk, self.business.pk
        if self.may_exist is None:
            # When the business has no imported purchase at all (a first import), no key of
            # this file can be there: the look-up per batch, which gets slower as the table
            # grows, is skipped. A re-import, or one resuming after a stop, looks every batch
            # up; a clash with a concurrent writer is still caught by the unique constraint,
            # and the retry (see `write`) looks up from then on.
            self.may_exist = (
                Purchase._base_manager.using(bulk.using)
                .filter(business_id=business, idempotency_key__startswith=KEY_PREFIX)
                .exists()
            )
        existing = (
            bulk.existing(
                Purchase, "idempotency_key", {r.key for r in records}, business_id=business
            )
            if self.may_exist
            else set()
        )
        orders: list[Record] = []
        seen: set[str] = set()
        for record in records:
            if record.key in existing or record.key in seen:
                continue
            seen.add(record.key)
            orders.append(record)
        skipped_existing = len(records) - len(orders)
        people = [r.person for r in orders if r.person is not None]
        self.look_up(people)
        customer_of: list[int | None] = []
        new = []
        for record in orders:
            person = record.person
            found = self.match(person) if person is not None else None
            customer_of.append(found)
            if person is not None and found is None:
                new.append((person, record.at, record.location))
        fresh, created = self.create_people(new)
        matched = set()
        for i, record in enumerate(orders):
            if record.person is not None and customer_of[i] is None:
                customer_of[i] = next(fresh[k] for k in self.identity(record.person) if k in fresh)
            elif customer_of[i] is not None:
                matched.add(customer_of[i])
        pks = bulk.allocate_ids(Purchase, len(orders))
        codes = random_codes(len(orders), 10)
        now = bulk.when(self.now)
        purchases, lines, timeline = [], [], []
        purchase_kind = TimelineEntry.Kind.PURCHASE.value
        for i, record in enumerate(orders):
            at = bulk.when(record.at)
            customer = customer_of[i]
            total = record.total
            purchases.append(
                (pks[i], business, codes[i], record.location, customer, at, total, 0, None,
                 record.order_id, record.key, now)
            )  # fmt: skip
            pk = pks[i]
            for item in record.items:
                lines.append(
                    (pk, item.product, item.name, item.quantity, item.unit_price, item.amount)
                )
            if customer is not None:
                data = f'{{"purchase": "{codes[i]}", "total": "{total}"}}'
                timeline.append(
                    (business, customer, purchase_kind, at, "", data, None, record.location)
                )
        bulk.insert(
            Purchase,
            "id business code location customer occurred_at total refunded cashier external_id "
            "idempotency_key created_at".split(),
            purchases,
        )
        bulk.insert(PurchaseLine, "purchase product name quantity unit_price amount".split(), lines)
        bulk.insert(
            TimelineEntry, "business customer kind at text data staff location".split(), timeline
        )

        def commit() -> None:
            result = self.result
            for key, pk in fresh.items():
                self.known.setdefault(key, pk)
            self.created_joined.update(created)
            self.created_first.update(created)
            first = self.created_first
            for i, record in enumerate(orders):
                customer = customer_of[i]
                if customer in first and record.at < first[customer]:
                    first[customer] = record.at
            result.purchases_created += len(orders)
            result.purchases_existing += skipped_existing
            result.lines_created += len(lines)
            result.customers_created += len(created)
            new_matches = matched - self.matched - self.created_joined.keys()
            self.matched |= new_matches
            result.customers_matched += len(new_matches)
            if self.keep_created:
                result.created.extend(
                    (record.at.timestamp(), pks[i], customer_of[i])
                    for i, record in enumerate(orders)
                    if customer_of[i] is not None
                )

        return commit
