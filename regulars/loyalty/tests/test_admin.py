"""The admin lists every loyalty model; the ledger and balances there are read-only."""

import pytest
from django.urls import reverse

from regulars.loyalty.ledger import adjust

pytestmark = pytest.mark.django_db

MODELS = ["program", "reward", "account", "ledgerentry", "voucher", "promocard", "tierstatus"]


def test_every_loyalty_model_is_registered_and_its_admin_passes_the_checks():
    from django.apps import apps
    from django.contrib import admin
    from django.core import checks

    for name in MODELS:
        assert admin.site.is_registered(apps.get_model("loyalty", name)), name
    assert [e for e in checks.run_checks(tags=[checks.Tags.admin]) if "loyalty" in str(e)] == []


def test_the_ledger_list_and_a_program_page_render(admin_client, points, dora, alice):
    adjust(customer=dora, program=points, amount=5, reason="x", staff=alice, idempotency_key="a")
    response = admin_client.get(reverse("admin:loyalty_ledgerentry_changelist"), {"q": "Dora"})
    assert response.status_code == 200 and "Dora" in response.text
    page = reverse("admin:loyalty_program_change", args=[points.pk])
    assert admin_client.get(page).status_code == 200


def test_ledger_entries_cannot_be_added_or_deleted_in_the_admin(admin_client, points, dora, alice):
    entry = adjust(
        customer=dora, program=points, amount=5, reason="x", staff=alice, idempotency_key="a"
    )
    assert admin_client.get(reverse("admin:loyalty_ledgerentry_add")).status_code == 403
    delete = reverse("admin:loyalty_ledgerentry_delete", args=[entry.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
