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
