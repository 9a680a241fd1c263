"""A sale records the purchase and its points together; a refund takes the points back."""

from decimal import Decimal

import pytest

from regulars.loyalty.card import balances
from regulars.loyalty.models import Program
from regulars.loyalty.sale import record_sale, refund_sale
from regulars.sales.models import Purchase

pytestmark = pytest.mark.django_db


@pytest.fixture
def points(alice_cafe):
    return Program.objects.create(
        business=alice_cafe, kind=Program.Kind.POINTS, name="Points", config={"points_per_unit": 1}
    )


def test_a_retried_sale_records_one_purchase_and_earns_once(alice_cafe, points, make):
    dora = make.customer(alice_cafe)
    first = record_sale(
        business=alice_cafe, customer=dora, amount=Decimal("12.30"), idempotency_key="till:1"
    )
    again = record_sale(
        business=alice_cafe, customer=dora, amount=Decimal("12.30"), idempotency_key="till:1"
    )
    assert first.created and not again.created
    assert again.purchase.pk == first.purchase.pk
    assert Purchase.objects.filter(business=alice_cafe).count() == 1
    assert balances(dora).points[0].available == 12


def test_a_partial_refund_takes_back_points_pro_rata(alice_cafe, points, make):
    dora = make.customer(alice_cafe)
    sale = record_sale(
        business=alice_cafe, customer=dora, amount=Decimal("20.00"), idempotency_key="till:2"
    )
    refund_sale(purchase=sale.purchase, amount=Decimal("5.00"), idempotency_key="r:1")
    refund_sale(purchase=sale.purchase, amount=Decimal("5.00"), idempotency_key="r:1")
    assert balances(dora).points[0].available == 15


# The running programs are kept per process (models.running_programs): a change must reach the
# very next sale.


def test_a_program_created_after_a_sale_is_used_by_the_next_sale(alice_cafe, points, make):
    dora = make.customer(alice_cafe)
    first = record_sale(
        business=alice_cafe, customer=dora, amount=Decimal("10.00"), idempotency_key="till:c1"
    )
    assert len(first.accrual.entries) == 1
    Program.objects.create(
        business=alice_cafe,
        kind=Program.Kind.STAMPS,
        name="Card",
        config={"stamps_needed": 5, "per": "visit"},
    )
    second = record_sale(
        business=alice_cafe, customer=dora, amount=Decimal("10.00"), idempotency_key="till:c2"
    )
    assert sorted(e.account.unit for e in second.accrual.entries) == ["points", "stamps"]


def test_an_edited_or_stopped_program_is_seen_by_the_next_sale(alice_cafe, points, make):
    dora = make.customer(alice_cafe)
    record_sale(
        business=alice_cafe, customer=dora, amount=Decimal("10.00"), idempotency_key="till:e1"
    )
    points.config = {"points_per_unit": 3}
    points.save()
    edited = record_sale(
        business=alice_cafe, customer=dora, amount=Decimal("10.00"), idempotency_key="till:e2"
    )
    assert [e.amount for e in edited.accrual.entries] == [30]
    points.active = False
    points.save()
    stopped = record_sale(
        business=alice_cafe, customer=dora, amount=Decimal("10.00"), idempotency_key="till:e3"
    )
    assert stopped.accrual.entries == []


def test_the_program_cache_is_per_business(alice_cafe, charlie_bakery, points, make):
    dora, eve = make.customer(alice_cafe), make.customer(charlie_bakery)
    record_sale(
        business=alice_cafe, customer=dora, amount=Decimal("10.00"), idempotency_key="till:t1"
    )
    sale = record_sale(
        business=charlie_bakery, customer=eve, amount=Decimal("10.00"), idempotency_key="till:t1"
    )
    assert sale.accrual.entries == []  # Charlie's bakery runs no program of Alice's


def test_a_retried_sale_after_a_failed_insert_writes_nothing_more(alice_cafe, points, make):
    dora = make.customer(alice_cafe)
    kwargs = dict(business=alice_cafe, customer=dora, amount=Decimal("5.00"))
    first = record_sale(idempotency_key="till:r1", **kwargs)
    again = record_sale(idempotency_key="till:r1", **kwargs)
    assert not again.created and again.purchase.pk == first.purchase.pk
    assert dora.timeline.count() == 1
    assert balances(dora).points[0].available == 5


def test_a_program_changed_by_another_process_is_seen_once_the_cache_expires(
    alice_cafe, points, make, monkeypatch
):
    from regulars.lib import ttlcache
    from regulars.loyalty import models

    dora = make.customer(alice_cafe)
    record_sale(
        business=alice_cafe, customer=dora, amount=Decimal("10.00"), idempotency_key="till:p1"
    )
    Program.objects.filter(pk=points.pk).update(config={"points_per_unit": 2})  # no signal
    later = ttlcache.time.monotonic() + models.PROGRAMS_TTL_S + 1
    monkeypatch.setattr(ttlcache.time, "monotonic", lambda: later)
    sale = record_sale(
        business=alice_cafe, customer=dora, amount=Decimal("10.00"), idempotency_key="till:p2"
    )
    assert [e.amount for e in sale.accrual.entries] == [20]
