"""Write many rows at once: COPY on PostgreSQL, executemany on SQLite, never one save() a row.

`bulk_create` costs about 80 µs a row building model instances and SQL; a loader that writes
hundreds of thousands of rows sends plain tuples instead (the demo generator does the same).
Primary keys are taken before the insert (`allocate_ids`), so child rows (purchase lines, a
customer's timeline) can point at their parents without reading anything back.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime

import numpy as np
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, models, router
from django.utils import timezone as django_timezone

from regulars.lib.codes import ALPHABET

ROWS_PER_EXECUTEMANY = 5000
_SYMBOLS = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
# Bytes at or above 248 = 31 × 8 are dropped so that every symbol is equally likely.
_UNBIASED_BELOW = len(ALPHABET) * (256 // len(ALPHABET))


def random_codes(n: int, length: int = 10) -> list[str]:
    """n public codes like `lib.codes.new_code`, from the OS's CSPRNG, about 50× faster.

    Uniqueness is the database's job (the code columns are unique); at 10 symbols two codes
    collide about once in 10⁹ million-row loads, and a loader retries its batch when they do.
    """
    if n <= 0:
        return []
    need = n * length
    taken: list[np.ndarray] = []
    have = 0
    while have < need:
        raw = np.frombuffer(secrets.token_bytes(int((need - have) * 1.05) + 32), dtype=np.uint8)
        kept = raw[raw < _UNBIASED_BELOW] % len(ALPHABET)
        taken.append(kept)
        have += len(kept)
    symbols = _SYMBOLS[np.concatenate(taken)[:need]].reshape(n, length)
    return symbols.view(f"S{length}").ravel().astype(str).tolist()


class BulkWriter:
    """Insert rows of one database connection fast; call inside `transaction.atomic()`.

    Values go in as Python objects; `when` and `day` turn datetimes and dates into what the
    backend stores, `json` a dict into JSON text (COPY and SQLite both take text for JSON).
    """

    def __init__(self, using: str | None = None) -> None:
        self.using = using or router.db_for_write(models.Model)
        self.postgres = connections[self.using].vendor == "postgresql"
        self._next_id: dict[str, int] = {}
        self._sequences: dict[str, str] = {}

    @property
    def connection(self):
        # Looked up on each use: Django's connections are per thread, and a loader may hand
        # its writing to another thread.
        return connections[self.using]

    @property
    def ops(self):
        return self.connection.ops

    def insert(self, model: type[models.Model], columns: Sequence[str], rows: list[tuple]) -> None:
        """Insert rows (tuples in the order of `columns`, which are field names).

        Columns not given get the model's default (a callable default is called per row, as
        `save()` would), so a field added to the model later does not break a loader that
        does not know it yet.
        """
        if not rows:
            return
        extra = self._defaults(model, columns)
        if extra:
            columns = [*columns, *(f.name for f, _make in extra)]
            rows = [(*row, *(make() for _f, make in extra)) for row in rows]
        quote = self.ops.quote_name
        names = ", ".join(quote(model._meta.get_field(c).column) for c in columns)
        table = quote(model._meta.db_table)
        with self.connection.cursor() as cursor:
            driver_cursor = cursor.cursor
            if self.postgres and hasattr(driver_cursor, "copy"):
                # psycopg 3's COPY: one stream, no statement to parse per row. On the driver's
                # cursor errors come as psycopg's own: wrapped, a clash on a unique key is the
                # IntegrityError that callers retry on, as with executemany.
                with (
                    self.connection.wrap_database_errors,
                    driver_cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
                return
            marks = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
            for start in range(0, len(rows), ROWS_PER_EXECUTEMANY):
                cursor.executemany(sql, rows[start : start + ROWS_PER_EXECUTEMANY])

    def _defaults(self, model: type[models.Model], given: Sequence[str]) -> list[tuple]:
        """(field, value maker) for each column the caller left out that needs a value."""
        extra = []
        names = set(given)
        for f in model._meta.concrete_fields:
            if f.name in names or f.primary_key or f.db_default is not models.NOT_PROVIDED:
                continue
            if f.has_default():
                default = f.get_default

                def make(f=f, default=default):
                    return f.get_db_prep_save(default(), self.connection)

            elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):

                def make(f=f):
                    return f.get_db_prep_save(django_timezone.now(), self.connection)

            else:
                continue  # nullable, or the database will say what is missing
            extra.append((f, make))
        return extra

    def allocate_ids(self, model: type[models.Model], n: int) -> list[int]:
        """n primary keys nobody else will use, for rows this writer inserts next.

        PostgreSQL hands them out from the table's sequence (safe under concurrency). SQLite
        has one writer at a time and our transactions take the write lock at BEGIN (see
        `lib.env.SQLITE_OPTIONS`), so the keys after the highest one in use are ours until
        commit; AUTOINCREMENT's high-water mark is respected so deleted keys are not reused.
        """
        if n <= 0:
            return []
        table = model._meta.db_table
        pk = model._meta.pk.column
        with self.connection.cursor() as cursor:
            if self.postgres:
                sequence = self._sequences.get(table)
                if sequence is None:
                    # Looked up once: called in the select list it would run for every row,
                    # and cost eight times what the nextval() calls cost.
                    cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, pk])
                    sequence = self._sequences[table] = cursor.fetchone()[0]
                cursor.execute(
                    "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, n]
                )
                return [row[0] for row in cursor.fetchall()]
            cursor.execute(
                f"SELECT MAX({self.ops.quote_name(pk)}) FROM {self.ops.quote_name(table)}"
            )
            highest = cursor.fetchone()[0] or 0
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
        start = max(highest, row[0] if row else 0, self._next_id.get(table, 0)) + 1
        self._next_id[table] = start + n - 1
        return list(range(start, start + n))

    def when(self, value: datetime | None) -> object:
        if value is None or self.postgres:
            return value
        return self.ops.adapt_datetimefield_value(value)

    def day(self, value: date | None) -> object:
        if value is None or self.postgres:
            return value
        return self.ops.adapt_datefield_value(value)

    @staticmethod
    def json(value: dict | list) -> str:
        return json.dumps(value, ensure_ascii=False)

    def column(self, model: type[models.Model], name: str) -> str:
        if name == "pk":
            return self.ops.quote_name(model._meta.pk.column)
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            field = model._meta.get_field(name.removesuffix("_id"))
        return self.ops.quote_name(field.column)

    def existing(
        self, model: type[models.Model], column: str, values: Iterable[str], **scope
    ) -> set[str]:
        """Which of `values` are already in `column` (within `scope`), in one query.

        On PostgreSQL the values go as one array parameter (`= ANY(%s)`): a few thousand
        placeholders cost more to build and plan than the lookup itself.
        """
        values = list(values)
        if not values:
            return set()
        if self.postgres:
            where = " AND ".join(f"{self.column(model, k)} = %s" for k in scope)
            target = self.column(model, column)
            sql = (
                f"SELECT {target} FROM {self.ops.quote_name(model._meta.db_table)} "
                f"WHERE {where + ' AND ' if where else ''}{target} = ANY(%s)"
            )
            with self.connection.cursor() as cursor:
                cursor.execute(sql, [*scope.values(), values])
                return {row[0] for row in cursor.fetchall()}
        found = model._base_manager.using(self.using).filter(**scope, **{f"{column}__in": values})
        return set(found.values_list(column, flat=True))

    def rows_matching(
        self, model: type[models.Model], columns: Sequence[str], any_of: dict[str, list], **scope
    ) -> list[tuple]:
        """`columns` of the rows (within `scope`) whose column k is in any_of[k] for some k."""
        any_of = {k: v for k, v in any_of.items() if v}
        if not any_of:
            return []
        if not self.postgres:
            q = models.Q()
            for k, v in any_of.items():
                q |= models.Q(**{f"{k}__in": v})
            qs = model._base_manager.using(self.using).filter(**scope).filter(q)
            return list(qs.values_list(*columns))
        table = self.ops.quote_name(model._meta.db_table)
        names = ", ".join(self.column(model, c) for c in columns)
        where = " AND ".join(f"{self.column(model, k)} = %s" for k in scope)
        parts, params = [], []
        for k, v in any_of.items():
            parts.append(
                f"SELECT {names} FROM {table} WHERE {where + ' AND ' if where else ''}"
                f"{self.column(model, k)} = ANY(%s)"
            )
            params += [*scope.values(), v]
        with self.connection.cursor() as cursor:
            cursor.execute(" UNION ".join(parts), params)
            return cursor.fetchall()
