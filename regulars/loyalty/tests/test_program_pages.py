"""The owner's pages for programs and rewards: set up through the pages, validated by the models,
then earned by at the counter; only managers and owners, and only the business's own objects."""

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from regulars.accounts.models import Membership, Role, User
from regulars.loyalty.models import Account, Program, Reward
from regulars.loyalty.sale import record_sale
from regulars.sales.models import Product
from regulars.sales.purchases import Line

pytestmark = pytest.mark.django_db


def url(business, name, *args):
    return reverse(name, args=[business.slug, *args])


def program_data(**fields):
    data = {
        "kind": "points",
        "name": "Café points",
        "active": "on",
        "pending_days": "0",
        "expiry_days": "",
        "refund_rule": "clamp",
        "config": json.dumps({"points_per_unit": "1"}),
    }
    data.update(fields)
    return data


def reward_data(**fields):
    data = {
        "name": "Free coffee",
        "description": "",
        "kind": "free_product",
        "product": "",
        "value": "",
        "cost": "9",
        "valid_days": "30",
        "active": "on",
    }
    data.update(fields)
    return data


@pytest.fixture
def owner(client, alice):
    client.force_login(alice)
    return client


def test_owner_sets_up_points_and_a_stamp_card_then_a_sale_earns_by_them(
    owner, alice_cafe, menu, dora
):
    response = owner.post(
        url(alice_cafe, "program_create"),
        program_data(config='{"points_per_unit": "2", "rounding": "floor"}'),
    )
    assert response.status_code == 302
    assert response["Location"] == url(alice_cafe, "program_list")
    stamps_config = {"stamps_needed": 9, "per": "item", "qualifying_categories": ["coffee"]}
    response = owner.post(
        url(alice_cafe, "program_create"),
        program_data(kind="stamps", name="Coffee card", config=json.dumps(stamps_config)),
    )
    assert response.status_code == 302
    points = Program.objects.get(business=alice_cafe, kind="points")
    card = Program.objects.get(business=alice_cafe, kind="stamps")
    assert points.config == {"points_per_unit": "2", "rounding": "floor"}
    assert card.config == stamps_config and card.name == "Coffee card"

    response = owner.post(
        url(alice_cafe, "reward_create", card.code), reward_data(product=str(menu.coffee.pk))
    )
    assert response.status_code == 302
    reward = Reward.objects.get(program=card)
    assert (reward.business, reward.product, reward.cost) == (alice_cafe, menu.coffee, 9)

    page = owner.get(url(alice_cafe, "program_list")).text
    for text in ("Café points", "Coffee card", "Free coffee", points.rules.describe()):
        assert text in page

    record_sale(
        business=alice_cafe,
        customer=dora,
        lines=[Line(name="", unit_price=menu.coffee.price, quantity=2, product=menu.coffee)],
        idempotency_key="pages-sale-1",
    )
    balances = {a.program.kind: a.balance for a in Account.objects.filter(customer=dora)}
    assert balances == {"points": 12, "stamps": 2}


def test_the_new_program_form_is_prefilled_with_the_kinds_example(owner, alice_cafe):
    page = owner.get(url(alice_cafe, "program_create"), {"kind": "stamps"})
    form = page.context["form"]
    assert form["kind"].value() == "stamps"
    assert json.loads(form["config"].value())["stamps_needed"] == 9
    for kind in Program.Kind.values:
        form = owner.get(url(alice_cafe, "program_create"), {"kind": kind}).context["form"]
        example = json.loads(form["config"].value())
        # Every example is a valid config of its kind.
        Program(business=alice_cafe, kind=kind, name="x", config=example).full_clean()


@pytest.mark.parametrize(
    "config, error",
    [
        ("{points_per_unit: 1", "This is not valid JSON"),
        ('["points_per_unit"]', "must be a JSON object"),
        ('{"points_per_unt": 1}', "points_per_unt: unknown setting"),
        ('{"points_per_unit": "many"}', "points_per_unit: &#x27;many&#x27; is not a number"),
    ],
)
def test_a_bad_config_is_shown_next_to_the_field_and_nothing_is_saved(
    owner, alice_cafe, config, error
):
    response = owner.post(url(alice_cafe, "program_create"), program_data(config=config))
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"config"}
    assert error in response.text
    kept = response.context["form"]["config"].value()  # what was typed is shown again
    assert kept == config if error.startswith("This") else json.loads(kept) == json.loads(config)
    assert not Program.objects.filter(business=alice_cafe).exists()


def test_a_bad_config_on_edit_keeps_the_stored_one(owner, alice_cafe, points):
    response = owner.post(
        url(alice_cafe, "program_edit", points.code),
        program_data(name="Renamed", config='{"stamps_needed": 3}'),
    )
    assert response.status_code == 200
    assert "stamps_needed: unknown setting" in response.text
    points.refresh_from_db()
    assert (points.name, points.config) == ("Points", {"points_per_unit": "1"})


def test_expiry_must_outlast_the_pending_days(owner, alice_cafe):
    data = program_data(pending_days="14", expiry_days="14")
    response = owner.post(url(alice_cafe, "program_create"), data)
    assert response.context["form"].errors.keys() == {"expiry_days"}
    assert not Program.objects.exists()


def test_editing_keeps_the_kind_and_the_business(owner, alice_cafe, charlie_bakery, points):
    data = program_data(
        kind="stamps", name="Points+", business=str(charlie_bakery.pk), pending_days="3"
    )
    response = owner.post(url(alice_cafe, "program_edit", points.code), data)
    assert response.status_code == 302
    points.refresh_from_db()
    assert (points.kind, points.business, points.name, points.pending_days) == (
        "points",
        alice_cafe,
        "Points+",
        3,
    )
    assert "kind" not in owner.get(url(alice_cafe, "program_edit", points.code)).context["form"]


def test_a_new_program_belongs_to_the_business_of_the_url(owner, alice_cafe, charlie_bakery):
    data = program_data(business=str(charlie_bakery.pk))
    assert owner.post(url(alice_cafe, "program_create"), data).status_code == 302
    assert Program.objects.get().business == alice_cafe


def test_editing_a_reward(owner, alice_cafe, stamp_card, free_coffee):
    response = owner.post(
        url(alice_cafe, "reward_edit", stamp_card.code, free_coffee.code),
        reward_data(name="10% off", kind="percent", value="10", cost="9", active=""),
    )
    assert response.status_code == 302
    free_coffee.refresh_from_db()
    assert (free_coffee.name, free_coffee.value, free_coffee.active) == (
        "10% off",
        Decimal("10.00"),
        False,
    )


def test_a_reward_is_checked_by_the_model(owner, alice_cafe, stamp_card):
    response = owner.post(
        url(alice_cafe, "reward_create", stamp_card.code),
        reward_data(kind="percent", value="150"),
    )
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"value"}
    assert not Reward.objects.exists()


def test_programs_without_a_catalog_take_no_rewards(owner, alice_cafe):
    tiers = Program.objects.create(
        business=alice_cafe,
        kind=Program.Kind.DISCOUNT,
        name="Members",
        config={"percent": 5},
    )
    assert owner.get(url(alice_cafe, "reward_create", tiers.code)).status_code == 404
    assert "Add a reward" not in owner.get(url(alice_cafe, "program_list")).text


def test_a_reward_offers_only_the_business_products(owner, alice_cafe, charlie_bakery, stamp_card):
    theirs = Product.objects.create(
        business=charlie_bakery, sku="BRD", name="Charlie's bread", price=Decimal("500")
    )
    page = owner.get(url(alice_cafe, "reward_create", stamp_card.code))
    assert "Charlie's bread" not in page.text
    response = owner.post(
        url(alice_cafe, "reward_create", stamp_card.code), reward_data(product=str(theirs.pk))
    )
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"product"}
    assert not Reward.objects.exists()


def test_another_business_program_or_reward_gives_404(owner, alice_cafe, charlie_bakery, points):
    theirs = Program.objects.create(
        business=charlie_bakery, kind=Program.Kind.STAMPS, name="Bread card", config={}
    )
    their_reward = Reward.objects.create(
        business=charlie_bakery, program=theirs, name="Free bread", kind="free_product", cost=5
    )
    for target in (
        url(alice_cafe, "program_edit", theirs.code),
        url(alice_cafe, "reward_create", theirs.code),
        url(alice_cafe, "reward_edit", theirs.code, their_reward.code),
        # Their reward under one of our programs.
        url(alice_cafe, "reward_edit", points.code, their_reward.code),
    ):
        for method in ("get", "post"):
            assert getattr(owner, method)(target, program_data()).status_code == 404, target
    theirs.refresh_from_db()
    assert theirs.name == "Bread card"
    assert Reward.objects.count() == 1


def test_a_reward_of_another_program_of_the_business_gives_404(
    owner, alice_cafe, points, stamp_card, free_coffee
):
    response = owner.get(url(alice_cafe, "reward_edit", points.code, free_coffee.code))
    assert response.status_code == 404


def test_a_cashier_gets_403(client, alice_cafe, bob, stamp_card, free_coffee):
    client.force_login(bob)
    for target in (
        url(alice_cafe, "program_list"),
        url(alice_cafe, "program_create"),
        url(alice_cafe, "program_edit", stamp_card.code),
        url(alice_cafe, "reward_create", stamp_card.code),
        url(alice_cafe, "reward_edit", stamp_card.code, free_coffee.code),
    ):
        assert client.get(target).status_code == 403, target
        assert client.post(target, program_data()).status_code == 403, target
    assert Program.objects.count() == 1
    assert url(alice_cafe, "program_list") not in client.get(url(alice_cafe, "counter")).text


def test_a_manager_sets_up_programs_and_finds_them_in_the_menu(client, alice_cafe):
    manager = User.objects.create_user("maria", "maria@example.com", "x")
    Membership.objects.create(user=manager, business=alice_cafe, role=Role.MANAGER)
    client.force_login(manager)
    assert url(alice_cafe, "program_list") in client.get(url(alice_cafe, "business_home")).text
    response = client.post(url(alice_cafe, "program_create"), program_data())
    assert response.status_code == 302
    assert Program.objects.get().business == alice_cafe


def test_a_program_with_broken_stored_settings_still_lists(owner, alice_cafe, points):
    Program.objects.filter(pk=points.pk).update(config={"nonsense": 1})
    page = owner.get(url(alice_cafe, "program_list"))
    assert page.status_code == 200
    assert "settings are not valid" in page.text
    response = owner.get(url(alice_cafe, "reward_create", points.code))
    assert response.status_code == 302
    assert response["Location"] == url(alice_cafe, "program_edit", points.code)
