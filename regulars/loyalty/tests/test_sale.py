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
