"""The counter: find a customer from one field, record sales, redeem, undo, enrol.

Every write is a POST with the idempotency key its form was rendered with; a resubmitted form
(the same key) must never count twice.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from regulars.customers.models import Customer
from regulars.loyalty.card import balances
from regulars.loyalty.counter import find_customers
from regulars.loyalty.ledger import adjust, redeem
from regulars.loyalty.models import LedgerEntry, Program, Reward, Voucher
from regulars.loyalty.tests.conftest import key
from regulars.sales.models import Purchase, Refund

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # the quick products are cached per business
    yield
    cache.clear()


@pytest.fixture
def cashier(client, bob):
    client.force_login(bob)
    return client


def url(name, business, *args):
    return reverse(name, args=[business.slug, *args])


def form_key(html: str, action: str) -> str:
    """The idempotency key of the form posting to `action`, as the page rendered it."""
    pattern = r'<form[^>]*action="' + re.escape(action) + r'"(.*?)</form>'
    form = re.search(pattern, html, re.S)
    assert form, f"no form posting to {action}"
    return re.search(r'name="key" value="([^"]+)"', form.group(1)).group(1)


def give(customer, program, amount):
    adjust(
        customer=customer,
        program=program,
        amount=amount,
        reason="opening balance",
        staff=None,
        idempotency_key=key("give"),
    )


# --- who may use it -------------------------------------------------------------------------


def test_a_cashier_may_use_the_counter_and_sees_it_first_in_the_menu(cashier, alice_cafe):
    response = cashier.get(url("counter", alice_cafe))
    assert response.status_code == 200
    nav = re.search(r'<nav class="mainnav">(.*?)</nav>', response.text, re.S).group(1)
    first = re.search(r'<a href="([^"]+)"', nav).group(1)
    assert first == url("counter", alice_cafe)
    assert 'id="lookup"' in response.text and "autofocus" in response.text


def test_anonymous_visitors_are_sent_to_login(client, alice_cafe, dora):
    for target in (url("counter", alice_cafe), url("counter_panel", alice_cafe, dora.code)):
        response = client.get(target)
        assert response.status_code == 302 and "/login/" in response["Location"]
    response = client.post(url("counter_sale", alice_cafe, dora.code), {"amount": "4"})
    assert response.status_code == 302 and not Purchase.objects.exists()


def test_another_business_customer_is_not_found(cashier, alice_cafe, eve, charlie):
    assert cashier.get(url("counter_panel", alice_cafe, eve.code)).status_code == 404
    response = cashier.post(
        url("counter_sale", alice_cafe, eve.code), {"key": "k" * 32, "amount": "5"}
    )
    assert response.status_code == 404
    assert not Purchase.objects.exists()
    # Scanning Charlie's customer's card at Alice's counter finds no one.
    response = cashier.get(url("counter", alice_cafe), {"q": eve.card_code})
    assert response.status_code == 200 and "Eve" not in response.text


# --- finding the customer -------------------------------------------------------------------


def test_scanning_a_card_code_opens_the_customer(cashier, alice_cafe, dora):
    scanned = f" {dora.card_code.lower()} "  # what a scanner in a lower-case layout may type
    response = cashier.get(url("counter", alice_cafe), {"q": scanned})
    assert response.status_code == 302
    assert response["Location"] == url("counter_panel", alice_cafe, dora.code)


def test_with_htmx_a_scan_answers_with_the_panel_and_its_address(cashier, alice_cafe, dora):
    response = cashier.get(url("counter", alice_cafe), {"q": dora.card_code}, headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Push-Url"] == url("counter_panel", alice_cafe, dora.code)
    assert "Dora Regular" in response.text and "<html" not in response.text


def test_a_card_code_is_found_with_one_query(alice_cafe, dora, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert find_customers(alice_cafe, dora.card_code) == [dora]


def test_a_phone_finds_the_customer(cashier, alice_cafe, dora):
    response = cashier.get(url("counter", alice_cafe), {"q": "+36 30 111 2222"})
    assert response["Location"] == url("counter_panel", alice_cafe, dora.code)


def test_a_name_with_several_matches_gives_a_list_to_pick_from(cashier, alice_cafe, dora, make):
    make.customer(alice_cafe, name="Dora Second", phone="+36305556666")
    make.customer(alice_cafe, name="Someone Else", phone="+36307778888")
    response = cashier.get(url("counter", alice_cafe), {"q": "dora"})
    assert response.status_code == 200
    found = re.findall(r'class="result" href="([^"]+)"', response.text)
    assert len(found) == 2
    assert url("counter_panel", alice_cafe, dora.code) in found
    assert "Someone Else" not in response.text


def test_no_match_offers_to_enrol_with_what_was_typed(cashier, alice_cafe):
    response = cashier.get(url("counter", alice_cafe), {"q": "+36 20 999 0000"})
    assert response.status_code == 200
    assert "No one found" in response.text
    assert 'name="phone" type="tel" inputmode="tel" value="+36 20 999 0000"' in response.text


# --- the panel ------------------------------------------------------------------------------


def test_the_panel_shows_balance_stamps_tier_rewards_and_vouchers(
    cashier, alice_cafe, dora, points, cake_reward, stamp_card, free_coffee, tiers, buy, menu
):
    buy(dora, lines=[(menu.coffee, 4)])  # 12.00: 12 points, 4 stamps
    give(dora, points, 110)
    redeem(customer=dora, reward=cake_reward, idempotency_key="r-1")
    response = cashier.get(url("counter_panel", alice_cafe, dora.code))
    page = response.text
    assert response.status_code == 200
    assert re.search(r"data-points>72<", page)  # 12 + 110 − 50
    assert page.count('class="dot on"') == 4 and page.count('class="dot"') == 5
    assert "€88.00 more to Silver" in page
    assert "Free coffee" in page and "5 more needed" in page  # 4 of 9 stamps
    assert "Free cake" in page and 'data-confirm="Tap again to redeem"' in page
    voucher = Voucher.objects.get(customer=dora)
    assert voucher.code in page
    assert "Flat white" in page  # a quick button


def test_the_panel_takes_a_bounded_number_of_queries(
    cashier,
    alice_cafe,
    dora,
    points,
    cake_reward,
    stamp_card,
    free_coffee,
    tiers,
    buy,
    menu,
    django_assert_max_num_queries,
):
    for _ in range(5):
        buy(dora, lines=[(menu.coffee, 2), (menu.cake, 1)])
    cashier.get(url("counter_panel", alice_cafe, dora.code))  # fills the quick-product cache
    # Session, user, membership, the card-code hit, balances (8), last action (2), locations:
    # the same count for a customer with 5 purchases or 5,000.
    with django_assert_max_num_queries(15):
        response = cashier.get(url("counter", alice_cafe), {"q": dora.card_code}, headers=HTMX)
    assert response.status_code == 200


# --- sales ----------------------------------------------------------------------------------


def test_recording_a_sale_earns_and_says_what_was_earned(
    cashier, alice_cafe, dora, bob, points, stamp_card
):
    page = cashier.get(url("counter_panel", alice_cafe, dora.code)).text
    action = url("counter_sale", alice_cafe, dora.code)
    response = cashier.post(action, {"key": form_key(page, action), "amount": "4,50"}, headers=HTMX)
    assert response.status_code == 200
    assert "Recorded €4.50" in response.text
    assert "Earned 4 points" in response.text
    assert "stamp" not in response.text.split("</div>")[0]  # coffee stamps need coffee
    purchase = Purchase.objects.get()
    assert purchase.total == Decimal("4.50") and purchase.cashier == bob
    assert purchase.customer == dora and purchase.location is not None
    assert balances(dora).points[0].available == 4


def test_a_double_submitted_sale_counts_once(cashier, alice_cafe, dora, points):
    page = cashier.get(url("counter_panel", alice_cafe, dora.code)).text
    action = url("counter_sale", alice_cafe, dora.code)
    data = {"key": form_key(page, action), "amount": "10.00"}
    first = cashier.post(action, data)
    second = cashier.post(action, data)
    assert first.status_code == second.status_code == 302
    assert Purchase.objects.count() == 1
    assert balances(dora).points[0].available == 10
    follow = cashier.get(second["Location"])
    assert "Already recorded: €10.00" in follow.text
    # A fresh form is a new sale.
    fresh = form_key(follow.text, action)
    assert fresh != data["key"]
    cashier.post(action, {"key": fresh, "amount": "10.00"})
    assert Purchase.objects.count() == 2


def test_items_from_the_quick_buttons_make_the_lines(cashier, alice_cafe, dora, stamp_card, menu):
    page = cashier.get(url("counter_panel", alice_cafe, dora.code)).text
    assert 'name="qty-COF"' in page
    action = url("counter_sale", alice_cafe, dora.code)
    response = cashier.post(
        action,
        {"key": form_key(page, action), "amount": "", "qty-COF": "2", "qty-CAK": "1"},
        headers=HTMX,
    )
    assert "Recorded €10.50" in response.text and "Earned 2 stamps" in response.text
    lines = {line.product.sku: line.quantity for line in Purchase.objects.get().lines.all()}
    assert lines == {"COF": 2, "CAK": 1}


def test_a_sale_is_refused_in_plain_words(cashier, alice_cafe, dora, charlie_bakery):
    action = url("counter_sale", alice_cafe, dora.code)
    for data, said in [
        ({"amount": ""}, "Enter an amount or pick an item."),
        ({"amount": "lots"}, "Enter an amount like 4.50."),
        ({"amount": "-3"}, "Enter an amount above zero."),
        ({"amount": "3", "qty-NOPE": "1"}, "An item is no longer on sale"),
    ]:
        response = cashier.post(action, {"key": key("sale") + "-abcdefgh", **data}, headers=HTMX)
        assert response.status_code == 422
        assert said in response.text and "Traceback" not in response.text
    response = cashier.post(action, {"amount": "3"})
    assert response.status_code == 422 and "This form has expired" in response.text
    assert not Purchase.objects.exists()


def test_a_tier_upgrade_is_announced(cashier, alice_cafe, dora, tiers, points):
    page = cashier.get(url("counter_panel", alice_cafe, dora.code)).text
    action = url("counter_sale", alice_cafe, dora.code)
    response = cashier.post(action, {"key": form_key(page, action), "amount": "120"}, headers=HTMX)
    assert "Upgraded to Silver!" in response.text


# --- redeeming ------------------------------------------------------------------------------


def test_redeeming_issues_a_voucher_once(cashier, alice_cafe, dora, points, cake_reward, bob):
    give(dora, points, 120)
    page = cashier.get(url("counter_panel", alice_cafe, dora.code)).text
    action = url("counter_redeem", alice_cafe, dora.code)
    data = {"key": form_key(page, action), "reward": cake_reward.code}
    response = cashier.post(action, data, headers=HTMX)
    assert response.status_code == 200 and "Redeemed: Free cake" in response.text
    cashier.post(action, data, headers=HTMX)  # a double click
    voucher = Voucher.objects.get()
    assert voucher.code in response.text
    assert voucher.entry.staff == bob
    assert balances(dora).points[0].available == 70


def test_not_enough_points_is_said_in_plain_words(cashier, alice_cafe, dora, points, cake_reward):
    give(dora, points, 40)
    page = cashier.get(url("counter_panel", alice_cafe, dora.code)).text
    assert "10 more needed" in page and 'name="reward"' not in page
    response = cashier.post(
        url("counter_redeem", alice_cafe, dora.code),
        {"key": key("redeem") + "-abcdefgh", "reward": cake_reward.code},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert "Could not redeem Free cake: needs 50 points; 40 available" in response.text
    assert not Voucher.objects.exists()


def test_another_business_reward_cannot_be_redeemed(
    cashier, alice_cafe, charlie_bakery, dora, points
):
    give(dora, points, 500)
    bakery_points = Program.objects.create(
        business=charlie_bakery, kind="points", name="Bakery points", config={}
    )
    bread = Reward.objects.create(
        business=charlie_bakery, program=bakery_points, name="Bread", kind="free_product", cost=1
    )
    response = cashier.post(
        url("counter_redeem", alice_cafe, dora.code),
        {"key": key("redeem") + "-abcdefgh", "reward": bread.code},
    )
    assert response.status_code == 422 and "This reward is not available." in response.text
    assert not Voucher.objects.exists()


def test_a_voucher_is_used_from_the_panel(cashier, alice_cafe, dora, points, cake_reward, bob):
    give(dora, points, 60)
    voucher = redeem(customer=dora, reward=cake_reward, idempotency_key="r-1")
    page = cashier.get(url("counter_panel", alice_cafe, dora.code)).text
    action = url("counter_use", alice_cafe, dora.code)
    data = {"key": form_key(page, action), "voucher": voucher.code}
    first = cashier.post(action, data)
    second = cashier.post(action, data)  # a resubmitted form
    assert first.status_code == second.status_code == 302
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.USED and voucher.used_by == bob


# --- undo -----------------------------------------------------------------------------------


def test_undoing_a_sale_refunds_the_purchase_and_takes_back_what_it_earned(
    cashier, alice_cafe, dora, points, stamp_card, bob, menu
):
    page = cashier.get(url("counter_panel", alice_cafe, dora.code)).text
    sale = url("counter_sale", alice_cafe, dora.code)
    data = {"key": form_key(page, sale), "amount": "5", "qty-COF": "1"}
    page = cashier.post(sale, data, headers=HTMX).text
    assert "Last action" in page and "Sale (8 points, 1 stamp)" in page
    undo = url("counter_undo", alice_cafe, dora.code)
    entry = re.search(r'name="entry" value="([^"]+)"', page).group(1)
    data = {"key": form_key(page, undo), "entry": entry}
    response = cashier.post(undo, data, headers=HTMX)
    assert response.status_code == 200
    assert "the sale of €8.00 was refunded" in response.text
    cashier.post(undo, data, headers=HTMX)  # a double click
    purchase = Purchase.objects.get()
    assert purchase.refunded == purchase.total
    assert Refund.objects.get().staff == bob
    card = balances(dora)
    assert card.points[0].total == 0 and card.stamps[0].stamps == 0
    assert "Last action" not in response.text


def test_undoing_a_redemption_gives_the_points_back(cashier, alice_cafe, dora, points, cake_reward):
    give(dora, points, 60)
    voucher = redeem(customer=dora, reward=cake_reward, idempotency_key="r-1")
    page = cashier.get(url("counter_panel", alice_cafe, dora.code)).text
    undo = url("counter_undo", alice_cafe, dora.code)
    response = cashier.post(
        undo, {"key": form_key(page, undo), "entry": voucher.entry.code}, headers=HTMX
    )
    assert "50 points back" in response.text
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.VOID
    assert balances(dora).points[0].available == 60


def test_undo_is_refused_after_the_window(cashier, alice_cafe, dora, points):
    page = cashier.get(url("counter_panel", alice_cafe, dora.code)).text
    sale = url("counter_sale", alice_cafe, dora.code)
    page = cashier.post(sale, {"key": form_key(page, sale), "amount": "8"}, headers=HTMX).text
    undo = url("counter_undo", alice_cafe, dora.code)
    data = {
        "key": form_key(page, undo),
        "entry": re.search(r'name="entry" value="([^"]+)"', page)[1],
    }
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        response = cashier.post(undo, data, headers=HTMX)
        assert "Last action" not in cashier.get(url("counter_panel", alice_cafe, dora.code)).text
    assert response.status_code == 422
    assert "Could not undo: can only be undone within 5 minutes" in response.text
    assert Purchase.objects.get().refunded == 0
    assert balances(dora).points[0].total == 8


def test_another_customers_entry_cannot_be_undone(cashier, alice_cafe, dora, make, points):
    other = make.customer(alice_cafe, name="Other One", phone="+36300000001")
    give(other, points, 10)
    entry = LedgerEntry.objects.get(account__customer=other)
    response = cashier.post(
        url("counter_undo", alice_cafe, dora.code),
        {"key": key("undo") + "-abcdefgh", "entry": entry.code},
    )
    assert response.status_code == 422 and "there is nothing to undo" in response.text
    assert balances(other).points[0].available == 10


# --- enrolling ------------------------------------------------------------------------------


def test_enrolling_a_new_member_goes_straight_to_their_card(cashier, alice_cafe, bob):
    Program.objects.create(
        business=alice_cafe,
        kind="points",
        name="Points",
        config={"points_per_unit": "1", "bonuses": {"joined": 25}},
    )
    response = cashier.post(
        url("counter_enrol", alice_cafe),
        {"name": "Gabor New", "phone": "+36 30 555 1234", "marketing_consent": "1"},
        headers=HTMX,
    )
    assert response.status_code == 200
    customer = Customer.objects.get(business=alice_cafe, name="Gabor New")
    assert customer.phone == "+36305551234" and customer.marketing_consent
    assert response["HX-Push-Url"] == url("counter_panel", alice_cafe, customer.code)
    assert "Welcome, Gabor New!" in response.text and "Joining bonus: 25 points" in response.text
    assert reverse("portal_card", args=[customer.card_token]) in response.text  # the card's QR
    assert balances(customer).points[0].available == 25


def test_enrolling_twice_finds_the_member(cashier, alice_cafe, dora):
    data = {"name": "Dora Again", "phone": "+36301112222"}
    first = cashier.post(url("counter_enrol", alice_cafe), data)
    second = cashier.post(url("counter_enrol", alice_cafe), data)
    assert first.status_code == second.status_code == 302
    assert first["Location"].startswith(url("counter_panel", alice_cafe, dora.code))
    assert Customer.objects.filter(business=alice_cafe).count() == 1
    follow = cashier.get(first["Location"])
    assert "Dora Regular is a member already." in follow.text


def test_enrolling_needs_a_phone_or_an_email(cashier, alice_cafe):
    response = cashier.post(url("counter_enrol", alice_cafe), {"name": "No Contact"})
    assert response.status_code == 422
    assert "Enter a phone number or an e-mail address." in response.text
    assert not Customer.objects.exists()


# --- the poster -----------------------------------------------------------------------------


def test_the_poster_carries_the_join_link_as_a_qr_code(client, alice, alice_cafe, settings):
    settings.SITE_URL = "https://loyal.example"
    client.force_login(alice)
    response = client.get(url("join_poster", alice_cafe))
    join_url = "https://loyal.example" + reverse("portal_join", args=[alice_cafe.join_code])
    assert response.status_code == 200
    assert f'href="{join_url}"' in response.text
    assert "<svg" in response.text and "@page { size: A4" in response.text
    assert "size: A5" in client.get(url("join_poster", alice_cafe), {"size": "a5"}).text


def test_a_cashier_cannot_open_the_poster(cashier, alice_cafe):
    assert cashier.get(url("join_poster", alice_cafe)).status_code == 403


def test_store_credit_pays_part_of_a_purchase_once_and_never_more_than_there_is(
    cashier, alice_cafe, dora, bob, charlie_bakery
):
    cashback = Program.objects.create(
        business=alice_cafe, kind="cashback", name="Cash back", config={"percent": "10"}
    )
    cashier.post(
        url("counter_sale", alice_cafe, dora.code), {"key": key("s") + "-abcdefgh", "amount": "80"}
    )
    page = cashier.get(url("counter_panel", alice_cafe, dora.code)).text
    action = url("counter_credit", alice_cafe, dora.code)
    assert 'value="8.00"' in page  # the whole credit offered
    data = {"key": form_key(page, action), "program": cashback.code, "amount": "5,50"}
    response = cashier.post(action, data, headers=HTMX)
    assert response.status_code == 200 and "Paid with credit" in response.text
    cashier.post(action, data, headers=HTMX)  # a double click
    assert balances(dora).credit[0].available == Decimal("2.50")
    spent = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REDEEM)
    assert spent.staff == bob and spent.amount == -550
    too_much = {"key": key("c") + "-abcdefgh", "program": cashback.code, "amount": "3.00"}
    refused = cashier.post(action, too_much, headers=HTMX)
    assert refused.status_code == 422 and "Could not pay with credit" in refused.text
    theirs = Program.objects.create(
        business=charlie_bakery, kind="cashback", name="Theirs", config={"percent": "10"}
    )
    other = {"key": key("c") + "-abcdefgh", "program": theirs.code, "amount": "1.00"}
    refused = cashier.post(action, other, headers=HTMX)  # another business's program
    assert refused.status_code == 422 and "Could not pay with credit" in refused.text
    assert balances(dora).credit[0].available == Decimal("2.50")
