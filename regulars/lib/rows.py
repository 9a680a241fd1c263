"""Lean writes and reads for the sale path: plain SQL, and on PostgreSQL one round trip for many.

A purchase over the API costs a handful of statements. On a small machine each round trip to
the database costs more (a send, a wait, the driver's and Django's bookkeeping) than the
database's own work for it, so the sale path sends its statements together:

- `insert_rows(objs)`: one INSERT … RETURNING for several new rows of one model, without
  compiling an ORM query.
- `read_all([(sql, params), …])`: several SELECTs; their rows, statement by statement.
- `Batch`: INSERTs (rows may point at rows inserted before them in the same batch) and plain
  statements (UPDATEs), written by `run()`.

On PostgreSQL `Batch.run` writes everything in one statement of data-modifying WITH queries (a
row pointing at a row inserted before it takes that row's id from its WITH query), and
`read_all` sends its SELECTs in one psycopg pipeline (with DATABASE_PREPARED, server-side
binding) or as one query string (client-side binding, read back with `nextset()`). Elsewhere
the statements run one by one, in order, with the same results. Either way the caller's
transaction makes them atomic: a failing statement fails the whole call. The steps of a batch
must not depend on each other's effects but through those ids, and must not update one row
twice: PostgreSQL runs them as one statement, on one snapshot.
"""

from __future__ import annotations

from django.db import connections, models, router
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models.fields import AutoFieldMixin

try:  # psycopg 3, the PostgreSQL driver; absent where only SQLite is used
    from psycopg import _queries as _psycopg_queries
except ImportError:  # pragma: no cover
    _psycopg_queries = None

if _psycopg_queries is not None:
    # psycopg turns a statement's %s placeholders into $n once per statement text and caches
    # that (128 texts), except for statements over 50 parameters or 4 KB: an ORM's INSERTs of
    # varying row counts would fill its cache. A sale's one write is such a statement, of a
    # handful of shapes, and converting it again on every sale cost about 0.5 ms of CPU (a
    # tenth of the web process's work for a purchase). The cache keeps its size; only larger
    # texts may enter it.
    _psycopg_queries.MAX_CACHED_STATEMENT_LENGTH = max(
        _psycopg_queries.MAX_CACHED_STATEMENT_LENGTH, 32_768
    )
    _psycopg_queries.MAX_CACHED_STATEMENT_PARAMS = max(
        _psycopg_queries.MAX_CACHED_STATEMENT_PARAMS, 1_000
    )

_INSERT_SQL: dict[tuple[type[models.Model], str, int, bool], str] = {}


def _fields(meta) -> list:
    return [f for f in meta.concrete_fields if f is not meta.pk]


# The Python types a field's value is saved as, unchanged, when it already is one: a field
# whose conversion for the database (Django's `get_db_prep_save`) is one of these classes'
# and nothing else's. Django's generic conversion of every value of every row was a third of
# the time spent building a sale's write.
_AS_IS_BY_PREP_VALUE = {
    models.CharField.get_prep_value: (str,),
    models.TextField.get_prep_value: (str,),
    models.IntegerField.get_prep_value: (int,),
    models.BooleanField.get_prep_value: (bool,),
}
_SAVE_PLANS: dict[tuple[type[models.Model], str], list[tuple]] = {}


def _save_plan(meta, connection) -> list[tuple]:
    """Per field: (field, attname, types saved without Django's conversion, what to apply to
    them instead (or None), whether `pre_save` must run)."""
    plan = _SAVE_PLANS.get((meta.model, connection.alias))
    if plan is None:
        plan = [(f, f.attname, *_fast_save(f, connection), _overrides(f, "pre_save"))
                for f in _fields(meta)]  # fmt: skip
        _SAVE_PLANS[(meta.model, connection.alias)] = plan
    return plan


def _overrides(field, method: str) -> bool:
    return getattr(type(field), method) is not getattr(models.Field, method)


def _fast_save(field, connection) -> tuple[tuple, object]:
    """The types whose values this field saves as they are, and the wrapper it saves them in
    (psycopg's Int8 for a bigint on PostgreSQL, which keeps prepared statements' types stable)."""
    if field.is_relation:
        if type(field).get_db_prep_save is not models.ForeignKey.get_db_prep_save:
            return (), None
        field = field.target_field
    cls = type(field)
    as_is = _AS_IS_BY_PREP_VALUE.get(cls.get_prep_value, ())
    if isinstance(field, AutoFieldMixin):  # the key a foreign key points at
        plain = (
            cls.get_db_prep_save is AutoFieldMixin.get_db_prep_save
            and cls.get_db_prep_value is AutoFieldMixin.get_db_prep_value
            and type(connection.ops).validate_autopk_value
            is BaseDatabaseOperations.validate_autopk_value
        )
        return (as_is, None) if plain else ((), None)
    if not as_is or _overrides(field, "get_db_prep_save"):
        return (), None
    if cls.get_db_prep_value is models.Field.get_db_prep_value:
        return as_is, None
    if cls.get_db_prep_value is not models.IntegerField.get_db_prep_value:
        return (), None
    ops = connection.ops
    adapt = type(ops).adapt_integerfield_value
    if adapt is BaseDatabaseOperations.adapt_integerfield_value:
        return as_is, None
    if adapt is getattr(_pg_ops(), "adapt_integerfield_value", None):
        return as_is, ops.integerfield_type_map[field.get_internal_type()]
    return (), None


def _pg_ops():
    try:
        from django.db.backends.postgresql.operations import DatabaseOperations
    except ImportError:  # pragma: no cover (no PostgreSQL driver)
        return None
    return DatabaseOperations


def _db_value(obj: models.Model, entry: tuple, connection):
    """What Django would save for this field of this new row."""
    field, attname, as_is, wrap, pre_save = entry
    value = field.pre_save(obj, True) if pre_save else getattr(obj, attname)
    if value is None:
        return None
    if type(value) in as_is:
        return value if wrap is None else wrap(value)
    return field.get_db_prep_save(value, connection)


def marks(values) -> str:
    """One `%s` placeholder per value, comma-separated: for `IN (…)` and `VALUES (…)`."""
    return ", ".join(["%s"] * len(values))


def _connection(model: type[models.Model]):
    return connections[router.db_for_write(model)]


def insert_rows[M: models.Model](objs: list[M], *, ignore_conflicts: bool = False) -> list[M]:
    """INSERT new instances of one model in one statement and set their primary keys.

    What `bulk_create` does (field defaults, `auto_now_add`, no signals, no `save()`), without
    compiling an ORM query each time: on the purchase path that compiling cost more than the
    database's work. The statement's text is built once per model and row count. With
    `ignore_conflicts` rows that clash with a unique constraint are skipped (ON CONFLICT DO
    NOTHING) and no primary key is set: read the rows back.
    """
    if not objs:
        return objs
    model = type(objs[0])
    meta = model._meta
    connection = _connection(model)
    fields = _fields(meta)
    sql = _INSERT_SQL.get((model, connection.alias, len(objs), ignore_conflicts))
    if sql is None:
        quote = connection.ops.quote_name
        row = f"({marks(fields)})"
        sql = _INSERT_SQL[(model, connection.alias, len(objs), ignore_conflicts)] = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES {', '.join([row] * len(objs))} "
            + (
                "ON CONFLICT DO NOTHING"
                if ignore_conflicts
                else f"RETURNING {quote(meta.pk.column)}"
            )
        )
    params = []
    plan = _save_plan(meta, connection)
    for obj in objs:
        if obj.pk is not None:
            raise ValueError("insert_rows: only new rows without a primary key")
        _point_at_saved(obj, meta)
        params.extend(_db_value(obj, entry, connection) for entry in plan)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if ignore_conflicts:
            return objs
        _set_pks(objs, [row[0] for row in cursor.fetchall()], connection.alias)
    return objs


def _point_at_saved(obj: models.Model, meta) -> None:
    """Copy the primary key of a related object saved since it was assigned (as `save()` does)."""
    for field in meta.concrete_fields:
        if field.is_relation and getattr(obj, field.attname) is None:
            related = field.get_cached_value(obj, None)
            if related is not None and related.pk is not None:
                setattr(obj, field.attname, related.pk)


def _set_pks(objs: list[models.Model], ids: list, alias: str) -> None:
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = alias


def _joins_statements(connection) -> bool:
    """Whether statements can travel as one query string: PostgreSQL with client-side binding."""
    return connection.vendor == "postgresql" and not _server_side(connection)


def _pipelines(connection) -> bool:
    """Whether statements can travel in one pipeline: PostgreSQL with server-side binding."""
    return connection.vendor == "postgresql" and _server_side(connection)


def _server_side(connection) -> bool:
    return connection.settings_dict.get("OPTIONS", {}).get("server_side_binding") is True


def _pipeline(connection, statements: list[tuple[str, list]]) -> list:
    """Send the statements in one psycopg pipeline (one round trip; each statement prepared
    once it has been seen `prepare_threshold` times) and return their cursors, results read.

    Errors come out as Django's database errors, as from any Django cursor.
    """
    connection.ensure_connection()
    raw = connection.connection
    cursors = []
    with connection.wrap_database_errors:
        with raw.pipeline():
            for sql, params in statements:
                cursor = raw.cursor()
                cursor.execute(sql, params)
                cursors.append(cursor)
    return cursors


def read_all(statements: list[tuple[str, list]], *, using: str = "default") -> list[list[tuple]]:
    """Run SELECTs (in the caller's transaction) and return each one's rows, in order."""
    connection = connections[using]
    results: list[list[tuple]] = []
    if _pipelines(connection) and len(statements) > 1:
        for cursor in _pipeline(connection, statements):
            with cursor:
                results.append(cursor.fetchall())
        return results
    with connection.cursor() as cursor:
        if _joins_statements(connection) and len(statements) > 1:
            cursor.execute("; ".join(sql for sql, _params in statements),
                           [p for _sql, params in statements for p in params])  # fmt: skip
            results.append(cursor.fetchall())
            while cursor.nextset():
                results.append(cursor.fetchall())
        else:
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(cursor.fetchall())
    return results


class Batch:
    """Writes collected, then sent by `run()`: INSERTs of new rows and plain statements.

    A row may point (a foreign key, assigned as an object) at a row inserted earlier in the same
    batch, inserted alone. Call `run()` inside a transaction.
    """

    def __init__(self, using: str = "default") -> None:
        self.using = using
        self._steps: list[tuple[str, object, list]] = []

    def insert(self, objs: list[models.Model]) -> None:
        if objs:
            self._steps.append(("insert", objs, []))

    def execute(self, sql: str, params: list) -> None:
        self._steps.append(("sql", sql, params))

    def run(self) -> None:
        connection = connections[self.using]
        if connection.vendor != "postgresql" or len(self._steps) < 2:
            for kind, what, params in self._steps:
                if kind == "insert":
                    insert_rows(what)
                else:
                    with connection.cursor() as cursor:
                        cursor.execute(what, params)
            self._steps = []
            return
        sql, params, pending = self._as_one_statement(connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        ids: dict[int, list] = {}
        for step, pk in rows:
            ids.setdefault(step, []).append(pk)
        for n, (kind, what, _params) in enumerate(self._steps):
            if kind == "insert":
                _set_pks(what, ids.get(n, []), connection.alias)
        for obj, attname, related in pending:
            setattr(obj, attname, related.pk)
        self._steps = []

    def _as_one_statement(self, connection) -> tuple[str, list, list]:
        """PostgreSQL: every step as a data-modifying WITH query of one statement, which
        answers (step, id) for each inserted row, in order. A row pointing at a row inserted
        earlier takes its id from that step (`(SELECT id FROM w0)`). One statement: one round
        trip, and with DATABASE_PREPARED one prepared statement per shape of sale.

        The foreign keys to fill in afterwards come back too.
        """
        quote = connection.ops.quote_name
        inserted: dict[int, str] = {}  # id() of a row inserted alone → SQL for its new id
        parts: list[str] = []
        answers: list[str] = []
        params: list = []
        pending: list[tuple[models.Model, str, models.Model]] = []
        for n, (kind, what, step_params) in enumerate(self._steps):
            if kind == "sql":
                parts.append(f"w{n} AS ({what})")
                params.extend(step_params)
                continue
            meta = what[0]._meta
            fields = _fields(meta)
            plan = _save_plan(meta, connection)
            pk = quote(meta.pk.column)
            rows = []
            for obj in what:
                if obj.pk is not None:
                    raise ValueError("Batch.insert: only new rows without a primary key")
                _point_at_saved(obj, meta)
                values = []
                for entry in plan:
                    f = entry[0]
                    related = (
                        f.get_cached_value(obj, None)
                        if f.is_relation and getattr(obj, f.attname) is None
                        else None
                    )
                    if related is not None and id(related) in inserted:
                        values.append(inserted[id(related)])
                        pending.append((obj, f.attname, related))
                    else:
                        values.append("%s")
                        params.append(_db_value(obj, entry, connection))
                rows.append("(" + ", ".join(values) + ")")
            if len(what) == 1:
                inserted[id(what[0])] = f"(SELECT {pk} FROM w{n})"
            parts.append(
                f"w{n} AS (INSERT INTO {quote(meta.db_table)} "
                f"({', '.join(quote(f.column) for f in fields)}) VALUES {', '.join(rows)} "
                f"RETURNING {pk})"
            )
            answers.append(f"SELECT {n}, {pk} FROM w{n}")
        return f"WITH {', '.join(parts)} {' UNION ALL '.join(answers)}", params, pending


_CONVERTERS: dict[tuple, list] = {}


def columns(model: type[models.Model], names: list[str] | None = None, *, alias: str = "") -> str:
    """The SELECT list that `from_rows` reads: every concrete column, in field order; or, for
    `converted`, the columns of the fields named (attnames: `account_id`). `alias` qualifies
    them, for a join (`from_rows` of each model's slice of the row)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + f.column for f in _selected(model, names))


def _selected(model: type[models.Model], names: list[str] | None) -> list:
    fields = model._meta.concrete_fields
    if names is None:
        return list(fields)
    return [next(f for f in fields if name in (f.attname, f.name)) for name in names]


def _converted(
    model: type[models.Model], names: list[str] | None, rows: list[tuple], using: str
) -> list[list]:
    """Each row's values (of `SELECT columns(model, names)`) converted as the ORM would."""
    connection = connections[using]
    key = (model, None if names is None else tuple(names), using)
    converters = _CONVERTERS.get(key)
    if converters is None:
        table = model._meta.db_table
        converters = _CONVERTERS[key] = [
            (i, col, found)
            for i, f in enumerate(_selected(model, names))
            if (col := f.get_col(table))
            and (found := connection.ops.get_db_converters(col) + f.get_db_converters(connection))
        ]
    out = []
    for row in rows:
        values = list(row)
        for i, col, found in converters:
            value = values[i]
            for convert in found:
                value = convert(value, col, connection)
            values[i] = value
        out.append(values)
    return out


def converted(
    model: type[models.Model], names: list[str], rows: list[tuple], *, using: str = "default"
) -> list[tuple]:
    """Rows of `SELECT columns(model, names) …` as tuples, each value converted as the ORM
    would (SQLite's dates and decimals, JSON, …), without building model instances: for reads
    of many rows where instances would cost more than the read."""
    return [tuple(values) for values in _converted(model, names, rows, using)]


def from_rows[M: models.Model](
    model: type[M], rows: list[tuple], *, using: str = "default"
) -> list[M]:
    """Instances from plain rows of `SELECT columns(model) …`, converted as the ORM would
    (SQLite's dates and decimals, JSON, …)."""
    attnames = [f.attname for f in model._meta.concrete_fields]
    return [model.from_db(using, attnames, values)
            for values in _converted(model, None, rows, using)]  # fmt: skip
