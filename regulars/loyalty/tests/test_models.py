"""Models and program kinds: configs validated by their kind, amounts in exact integers."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from regulars.loyalty.models import Program, Reward, Unit, from_units, to_units
from regulars.loyalty.programs import REGISTRY, kind_class

pytestmark = pytest.mark.django_db


def test_every_program_kind_has_a_class():
    kind_class("points")
    assert set(REGISTRY) == set(Program.Kind.values)


def test_an_unknown_kind_is_a_clear_error():
    with pytest.raises(LookupError, match="no program kind 'lottery'"):
        kind_class("lottery")


@pytest.mark.parametrize(
    "kind,config,message",
    [
        ("points", {"points_per_unit": "-1"}, "points_per_unit: must be at least 0"),
        ("points", {"rounding": "banker"}, "rounding: must be one of floor, half_up"),
        ("points", {"pointz": 1}, "pointz: unknown setting"),
        ("points", {"bonuses": {"lottery": 5}}, "unknown action 'lottery'"),
        ("points", {"category_multipliers": {"coffee": "x"}}, "coffee: 'x' is not a number"),
        ("stamps", {"stamps_needed": 0}, "stamps_needed: must be at least 1"),
        ("stamps", {"per": "hour"}, "per: must be one of visit, item"),
        ("stamps", {"qualifying_products": "COF"}, "qualifying_products: must be a list"),
        ("tiers", {"tiers": []}, "tiers: list at least one tier"),
        (
            "tiers",
            {"tiers": [{"name": "Gold", "threshold": 5}, {"name": "Silver", "threshold": 1}]},
            "thresholds must rise",
        ),
        ("cashback", {"percent": "101"}, "percent: must be at most 100"),
        ("discount", {"percent": "150"}, "percent: must be at most 100"),
    ],
)
def test_bad_configs_are_refused_naming_the_setting(alice_cafe, kind, config, message):
    program = Program(business=alice_cafe, kind=kind, name="X", config=config)
    with pytest.raises(ValidationError) as err:
        program.full_clean()
    assert message in str(err.value)


def test_expiry_must_outlast_the_pending_window(alice_cafe):
    program = Program(business=alice_cafe, kind="points", name="X", pending_days=14, expiry_days=7)
    with pytest.raises(ValidationError, match="longer than the pending days"):
        program.full_clean()


def test_a_good_config_parses_to_typed_values(alice_cafe):
    program = Program(
        business=alice_cafe,
        kind="tiers",
        name="Levels",
        config={"tiers": [{"name": "Gold Club", "threshold": 250.5, "multiplier": 1.1}]},
    )
    program.full_clean()
    [gold] = program.rules.config.tiers
    assert (gold.key, gold.threshold, gold.multiplier) == (
        "gold-club",
        Decimal("250.5"),
        Decimal("1.1"),
    )
    assert program.rules.config.period_days == 365


def test_rewards_only_belong_to_programs_with_a_balance(tiers):
    reward = Reward(business=tiers.business, program=tiers, name="X", kind="free_product", cost=5)
    with pytest.raises(ValidationError, match="no rewards catalog"):
        reward.full_clean()


def test_a_discount_reward_needs_a_value(points):
    reward = Reward(business=points.business, program=points, name="X", kind="percent", cost=5)
    with pytest.raises(ValidationError, match="needs a value"):
        reward.full_clean()


def test_credit_is_stored_in_cents_and_never_as_a_float():
    assert to_units(Unit.CREDIT, Decimal("4.50")) == 450
    assert from_units(Unit.CREDIT, 450) == Decimal("4.50")
    assert to_units(Unit.POINTS, 12) == 12 and from_units(Unit.POINTS, 12) == 12
    with pytest.raises(TypeError):
        to_units(Unit.CREDIT, 4.5)
    with pytest.raises(ValueError):
        to_units(Unit.CREDIT, Decimal("4.505"))


def test_each_kind_describes_itself(alice_cafe, points, stamp_card, tiers):
    cashback = Program.objects.create(
        business=alice_cafe, kind="cashback", name="C", config={"percent": "2.5"}
    )
    discount = Program.objects.create(
        business=alice_cafe, kind="discount", name="D", config={"percent": 5}
    )
    assert points.rules.describe() == "Points per 1 EUR spent: 1, rounded down"
    assert stamp_card.rules.describe() == "One stamp per item; 9 stamps unlock the reward"
    assert tiers.rules.describe() == "Silver / Gold by spend over 365 days"
    assert cashback.rules.describe() == "2.5% back as store credit"
    assert discount.rules.describe() == "5% off for members"
    assert discount.rules.discount_on(Decimal("9.99")) == Decimal("0.50")


def test_a_whole_business_can_still_be_removed_with_its_ledger(
    alice_cafe, points, cake_reward, tiers, dora, buy, bob
):
    from regulars.loyalty.expiry import expire_due
    from regulars.loyalty.ledger import adjust, redeem, undo
    from regulars.loyalty.models import LedgerEntry, Voucher
    from regulars.loyalty.vouchers import issue_promo_card

    buy(dora, "400", days_ago=5)
    voucher = redeem(customer=dora, reward=cake_reward, idempotency_key="r")
    undo(entry=voucher.entry, staff=bob, idempotency_key="u")
    adjust(customer=dora, program=points, amount=-3, reason="x", staff=bob, idempotency_key="a")
    issue_promo_card(customer=dora, kind="fixed", value=Decimal(1), idempotency_key="p")
    expire_due(business=alice_cafe)
    alice_cafe.delete()
    assert not LedgerEntry.objects.exists() and not Voucher.objects.exists()


def test_points_and_stamps_bonuses_must_be_whole(alice_cafe):
    from django.core.exceptions import ValidationError

    for kind, extra in (("points", {}), ("stamps", {"stamps_needed": 9})):
        program = Program(
            business=alice_cafe, kind=kind, name="x", config={**extra, "bonuses": {"joined": "2.5"}}
        )
        with pytest.raises(ValidationError, match="joined: must be a whole number"):
            program.full_clean()
    cashback = Program(
        business=alice_cafe, kind="cashback", name="x",
        config={"percent": "5", "bonuses": {"joined": "2.5"}},
    )  # fmt: skip
    cashback.full_clean()  # credit is money: 2.50 is fine
