"""regulars.lib.rows: the sale path's lean writes and reads, on SQLite and on PostgreSQL.

On PostgreSQL a batch is one statement and the reads travel together (one pipeline with
prepared statements, or one query string with DATABASE_PREPARED off); elsewhere one by one. Either way the results must be the
ORM's, and a failing statement must leave nothing behind.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from conftest import make_customer
from regulars.customers.models import Customer, TimelineEntry
from regulars.lib.rows import Batch, columns, from_rows, read_all
from regulars.sales.models import Purchase, PurchaseLine


def _purchase(business, customer, key: str) -> tuple[Purchase, list[PurchaseLine]]:
    purchase = Purchase(
        business=business,
        customer=customer,
        occurred_at=timezone.now() - timedelta(hours=1),
        total=Decimal("9.20"),
        refunded=Decimal("0.00"),
        idempotency_key=key,
    )
    lines = [
        PurchaseLine(purchase=purchase, name="Cappuccino", quantity=2, unit_price=Decimal("3.40"),
                     amount=Decimal("6.80")),
        PurchaseLine(purchase=purchase, name="Croissant", quantity=1, unit_price=Decimal("2.40"),
                     amount=Decimal("2.40")),
    ]  # fmt: skip
    return purchase, lines


def test_a_batch_writes_rows_that_point_at_rows_written_before_them(alice_cafe):
    dora = make_customer(alice_cafe)
    purchase, lines = _purchase(alice_cafe, dora, "k1")
    entry = TimelineEntry(
        business=alice_cafe, customer=dora, kind=TimelineEntry.Kind.PURCHASE, at=purchase.occurred_at
    )
    with transaction.atomic():
        batch = Batch()
        batch.insert([purchase])
        batch.insert(lines)
        batch.insert([entry])
        batch.execute(
            f"UPDATE {Customer._meta.db_table} SET notes = %s WHERE id = %s", ["regular", dora.pk]
        )
        batch.run()
    assert purchase.pk and all(line.pk for line in lines) and entry.pk
    # The objects say what the database says.
    assert [line.purchase_id for line in lines] == [purchase.pk, purchase.pk]
    stored = Purchase.objects.get(pk=purchase.pk)
    assert stored.total == Decimal("9.20") and stored.customer_id == dora.pk
    assert Customer.objects.get(pk=dora.pk).notes == "regular"
    assert sorted(stored.lines.values_list("pk", "name")) == sorted(
        (line.pk, line.name) for line in lines
    )
    assert TimelineEntry.objects.get(pk=entry.pk).customer_id == dora.pk


def test_a_failing_statement_fails_the_batch_and_leaves_nothing(alice_cafe):
    dora = make_customer(alice_cafe)
    first, first_lines = _purchase(alice_cafe, dora, "same-key")
    with transaction.atomic():
        batch = Batch()
        batch.insert([first])
        batch.insert(first_lines)
        batch.run()
    again, again_lines = _purchase(alice_cafe, dora, "same-key")
    extra = TimelineEntry(business=alice_cafe, customer=dora, kind="note", at=timezone.now())
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            batch = Batch()
            batch.insert([extra])  # fine on its own; rolled back with the rest
            batch.insert([again])  # the purchase's idempotency key is taken
            batch.insert(again_lines)
            batch.run()
    assert Purchase.objects.count() == 1 and PurchaseLine.objects.count() == 2
    assert not TimelineEntry.objects.filter(kind="note").exists()


def test_read_all_answers_each_statement_and_from_rows_converts_as_the_orm(alice_cafe):
    dora = make_customer(alice_cafe, birthday=timezone.now().date().replace(year=1990))
    make_customer(alice_cafe, name="Eve")
    table = Customer._meta.db_table
    one, none, count = read_all(
        [
            (f"SELECT {columns(Customer)} FROM {table} WHERE id = %s", [dora.pk]),
            (f"SELECT {columns(Customer)} FROM {table} WHERE id = %s", [-1]),
            (f"SELECT COUNT(*) FROM {table} WHERE business_id = %s", [alice_cafe.pk]),
        ]
    )
    assert none == [] and count == [(2,)]
    [found] = from_rows(Customer, one)
    orm = Customer.objects.get(pk=dora.pk)
    for field in Customer._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(orm, field.attname), field.name
    assert not found._state.adding


def test_values_are_saved_as_django_would_save_them(alice_cafe):
    """The fast conversion of a row's values gives what Django's `get_db_prep_save` gives, for
    every field of the rows a sale writes, including values of an unexpected type (a lazy
    translation in a text field, a bool in an integer field) that must take Django's way."""
    from django.db import connection
    from django.utils.translation import gettext_lazy

    from regulars.accounts.models import IdempotentRequest
    from regulars.lib.rows import _db_value, _save_plan
    from regulars.loyalty.models import Account, LedgerEntry, Program

    business = alice_cafe
    customer = make_customer(business, name="Ann")
    purchase, lines = _purchase(business, customer, "prep")
    purchase.save()
    program = Program.objects.create(business=business, kind="points", name="Points")
    account = Account.objects.create(business=business, customer=customer, program=program,
                                     unit="points")  # fmt: skip
    rows = [
        purchase, *lines,
        LedgerEntry(business=business, account=account, kind="earn", amount=True, at=timezone.now(),
                    reason=gettext_lazy("Joined"), purchase=purchase, operation="op",
                    idempotency_key="k"),
        TimelineEntry(business=business, customer=customer, kind="purchase", at=timezone.now(),
                      text=gettext_lazy("Purchase"), data={"total": "9.20"}),
        IdempotentRequest(business=business, key="k", endpoint="e", request_hash="h", status=201,
                          body={"a": 1}),
    ]  # fmt: skip
    fast_paths = 0
    for row in rows:
        for entry in _save_plan(row._meta, connection):
            field = entry[0]
            expected = field.get_db_prep_save(field.pre_save(row, True), connection)
            got = _db_value(row, entry, connection)
            assert type(got) is type(expected), (type(row).__name__, field.name)
            if not entry[4]:  # auto_now_add: a new now each time
                assert repr(got) == repr(expected), (type(row).__name__, field.name)
            fast_paths += bool(entry[2])
    assert fast_paths >= 10  # most plain fields do take the fast way
    entry = next(r for r in rows if isinstance(r, LedgerEntry))
    amount = next(e for e in _save_plan(LedgerEntry._meta, connection) if e[1] == "amount")
    assert _db_value(entry, amount, connection) == 1  # a bool in an integer field: Django's int
