import pytest
from django.urls import reverse

from conftest import PASSWORD


@pytest.mark.django_db
def test_owner_lands_on_business_home_after_login(client, alice, alice_cafe, make):
    customer = make.customer(alice_cafe, name="Dora")
    make.purchase(alice_cafe, customer, amount="12.30")
    response = client.post(
        reverse("login"), {"username": "alice", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("business_home", args=["alice-cafe"])
    assert "€12.30" in response.text
    assert "Dora" in response.text


@pytest.mark.django_db
def test_cashier_cannot_open_owner_settings(client, bob, alice_cafe):
    client.force_login(bob)
    assert client.get(reverse("business_settings", args=["alice-cafe"])).status_code == 403
    assert client.get(reverse("customer_list", args=["alice-cafe"])).status_code == 200
