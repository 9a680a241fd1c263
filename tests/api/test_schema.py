"""The REST API tested against its own OpenAPI schema with schemathesis.

For every operation schemathesis generates requests (valid ones and, in its negative phase,
invalid ones) and sends them to the Django app in process (WSGI), with a read-write key of a
café that has a customer, a product, a purchase and a running points program. Every check it
has must pass but two (see below): no 5xx, every status and response body as the schema says,
bad input refused
with a documented 4xx in the one error shape.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from regulars.accounts.apikeys import create_key
from regulars.loyalty.models import Program
from regulars.sales.models import Product
from regulars.wsgi import application


@pytest.fixture
def keep_the_test_connection():
    """As Django's test client does: a request must not close the test's database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(keep_the_test_connection, alice_cafe, make):
    Program.objects.create(
        business=alice_cafe, kind=Program.Kind.POINTS, code="points", name="Points",
        config={"points_per_unit": "1"},
    )  # fmt: skip
    Product.objects.create(business=alice_cafe, sku="FW1", name="Flat white", price=Decimal("3.2"))
    make.purchase(alice_cafe, make.customer(alice_cafe), amount="5.00")
    _key, secret = create_key(business=alice_cafe, name="schemathesis", scope="write")
    return secret


# Loaded at collection: serving the schema touches no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_keeps_to_its_schema(case, token):
    cache.clear()  # the per-key rate limit is not what is under test here
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        # Whether schema-valid data is accepted and schema-invalid data refused is left out: the
        # API knows more than a schema can say (a cursor must be one it gave out, a code must
        # name an object of this business) and, like pydantic, reads a number as a timestamp.
        excluded_checks=[
            schemathesis.checks.negative_data_rejection,
            schemathesis.checks.positive_data_acceptance,
        ],
    )
