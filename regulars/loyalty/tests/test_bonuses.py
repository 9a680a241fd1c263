"""Bonuses paid without a purchase: joining (however the customer was added) and birthdays."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from regulars.customers.records import CustomerInput
from regulars.loyalty.enrolment import enrol
from regulars.loyalty.models import Account, LedgerEntry
from regulars.loyalty.tasks import birthday_bonuses, run_birthday_bonuses
from regulars.loyalty.tests.conftest import points_program

pytestmark = pytest.mark.django_db


@pytest.fixture
def generous(alice_cafe):
    return points_program(
        alice_cafe, config={"points_per_unit": "1", "bonuses": {"joined": 25, "birthday": 100}}
    )


def balance(customer, program) -> int:
    account = Account.objects.filter(customer=customer, program=program).first()
    return account.balance if account else 0


def test_a_customer_added_through_the_api_gets_the_joined_bonus_once(
    api, alice_cafe, generous, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        body = api(alice_cafe).post("/customers", {"name": "Ana", "phone": "+36301234567"}).json()
    from regulars.customers.models import Customer

    ana = Customer.objects.get(code=body["code"])
    assert balance(ana, generous) == 25
    with django_capture_on_commit_callbacks(execute=True):  # found again: no second bonus
        api(alice_cafe).post("/customers", {"name": "Ana", "phone": "+36301234567"})
    assert balance(ana, generous) == 25


def test_joining_at_the_counter_pays_once_although_the_signal_comes_too(
    alice_cafe, generous, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        joined = enrol(business=alice_cafe, data=CustomerInput(name="Bea", email="bea@example.com"))
    assert callbacks  # the customer_created signal was sent and ran
    assert joined.created and balance(joined.customer, generous) == 25
    assert LedgerEntry.objects.filter(account__customer=joined.customer).count() == 1


def test_birthdays_are_paid_on_the_day_in_the_business_time_zone_once_a_year(
    alice_cafe, generous, make
):
    alice_cafe.timezone = "Pacific/Auckland"  # UTC+13 in November
    alice_cafe.save()
    today = make.customer(alice_cafe, name="Today", birthday=date(1990, 11, 24))
    tomorrow = make.customer(alice_cafe, name="Tomorrow", birthday=date(1985, 11, 25))
    nobody = make.customer(alice_cafe, name="No birthday")
    # 23 November 12:00 UTC is already 24 November in Auckland.
    noon = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert run_birthday_bonuses(alice_cafe, now=noon) == 1
    assert run_birthday_bonuses(alice_cafe, now=noon) == 0  # the next hourly run pays nothing
    assert (balance(today, generous), balance(tomorrow, generous)) == (100, 0)
    assert balance(nobody, generous) == 0
    next_year = datetime(2027, 11, 23, 12, 0, tzinfo=UTC)
    assert run_birthday_bonuses(alice_cafe, now=next_year) == 1
    assert balance(today, generous) == 200


def test_a_leap_day_birthday_is_kept_on_the_28th(alice_cafe, generous, make):
    leap = make.customer(alice_cafe, name="Leap", birthday=date(2000, 2, 29))
    assert run_birthday_bonuses(alice_cafe, now=datetime(2027, 2, 28, 12, tzinfo=UTC)) == 1
    assert balance(leap, generous) == 100


def test_no_birthday_bonus_no_work(alice_cafe, points, make):
    make.customer(alice_cafe, name="Today", birthday=date(1990, 11, 23))
    assert birthday_bonuses.call() == {alice_cafe.slug: 0}
    assert not LedgerEntry.objects.exists()
