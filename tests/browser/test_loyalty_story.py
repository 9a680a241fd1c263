"""The whole loyalty story in a real browser: a customer joins by the poster's QR link, the
cashier scans their card and records purchases until the stamp card is full, redeems the free
coffee, and the customer's card shows the voucher, in Hungarian and in English.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from conftest import PASSWORD

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "hu-HU",
}


def _shots():
    from django.conf import settings

    path = settings.VAR_DIR / "screenshots"
    path.mkdir(exist_ok=True)
    return path


def _in(language: str, text: str) -> str:
    with translation.override(language):
        return gettext(text)


@pytest.fixture
def coffee_card(alice_cafe):
    """Alice's café runs "9 coffees, the 10th free"."""
    from regulars.loyalty.models import Program, Reward
    from regulars.sales.models import Product

    coffee = Product.objects.create(
        business=alice_cafe, sku="ESP", name="Espresso", category="coffee", price=Decimal("2.80")
    )
    Product.objects.create(
        business=alice_cafe, sku="CRO", name="Croissant", category="bakery", price=Decimal("2.20")
    )
    card = Program.objects.create(
        business=alice_cafe,
        kind=Program.Kind.STAMPS,
        name="Coffee card",
        config={"stamps_needed": 9, "per": "item", "qualifying_categories": ["coffee"]},
    )
    Reward.objects.create(
        business=alice_cafe,
        program=card,
        name="Free coffee",
        kind=Reward.Kind.FREE_PRODUCT,
        product=coffee,
        cost=9,
    )
    return card


def test_join_collect_stamps_redeem_and_see_the_voucher(
    page, browser, live_server, login, alice_cafe, coffee_card, settings
):
    settings.SITE_URL = live_server.url
    shots = _shots()

    # The owner prints the join poster; its QR code carries the join link printed under it.
    login("alice", PASSWORD)
    page.wait_for_url(f"{live_server.url}/b/alice-cafe/")
    page.goto(f"{live_server.url}/b/alice-cafe/loyalty/poster/")
    expect(page.locator(".poster svg")).to_be_visible()
    join_url = page.locator("a.join-url").get_attribute("href")
    assert join_url.startswith(f"{live_server.url}/c/join/")
    page.screenshot(path=str(shots / "poster_a4.png"), full_page=True)
    page.context.clear_cookies()

    # A customer scans it with their phone, in Hungarian, and joins.
    phone = browser.new_context(**PHONE)
    customer = phone.new_page()
    customer.goto(join_url)
    assert customer.locator("html").get_attribute("lang") == "hu"
    customer.fill("#id_name", "Kiss Hanna")
    customer.fill("#id_phone", "+36 70 123 4567")
    assert not customer.locator("#id_marketing_consent").is_checked()
    customer.check("#id_marketing_consent")
    customer.screenshot(path=str(shots / "join_hu.png"), full_page=True)
    customer.click("button[type=submit]")
    customer.wait_for_url(re.compile(r"/c/card/\w+/\?welcome=1$"))
    card_url = customer.url.split("?")[0]
    assert customer.locator("html").get_attribute("lang") == "hu"
    expect(customer.locator("[data-stamps]")).to_have_attribute("data-stamps", "0")
    assert customer.locator(".pdot.on").count() == 0
    expect(customer.locator(".pqr svg")).to_be_visible()
    card_code = customer.locator("[data-card-code]").get_attribute("data-card-code")
    customer.screenshot(path=str(shots / "card_new_hu.png"), full_page=True)

    # The cashier scans the card at the counter (the scanner types the code and Enter).
    page.set_viewport_size({"width": 1280, "height": 860})
    login("bob", PASSWORD)
    page.wait_for_url(f"{live_server.url}/b/alice-cafe/")
    page.click(".mainnav a:first-child")
    page.wait_for_url(f"{live_server.url}/b/alice-cafe/loyalty/counter/")
    expect(page.locator("#lookup")).to_be_focused()
    page.screenshot(path=str(shots / "counter_start.png"), full_page=True)

    for coffees, total in [(2, "€5.60"), (3, "€8.40"), (4, "€11.20")]:
        page.keyboard.type(card_code)
        page.keyboard.press("Enter")
        expect(page.locator(".who-name")).to_have_text("Kiss Hanna")
        expect(page.locator("#amount")).to_be_focused()
        for _ in range(coffees):
            page.click(".item:has-text('Espresso') .item-name")
        expect(page.locator("[data-total]")).to_contain_text(total)
        page.click("button[data-record]")
        expect(page.locator(".outcome-ok")).to_contain_text(f"Recorded {total}")
        expect(page.locator(".outcome-ok")).to_contain_text(f"Earned {coffees} stamps")
        expect(page.locator("#lookup")).to_be_focused()
        if coffees == 3:
            customer.reload()
            expect(customer.locator("[data-stamps]")).to_have_attribute("data-stamps", "5")
            assert customer.locator(".pdot.on").count() == 5

    # The card is full: the free coffee is ready, redeemed with two taps.
    expect(page.locator(".figure.stamps .dot.on")).to_have_count(9)
    page.screenshot(path=str(shots / "counter_card_full.png"), full_page=True)
    redeem = page.locator("button.redeem")
    redeem.click()
    expect(redeem).to_have_class(re.compile("confirming"))
    redeem.click()
    expect(page.locator(".outcome-ok")).to_contain_text("Redeemed: Free coffee")
    expect(page.locator(".undo")).to_contain_text("Redeemed Free coffee")
    page.screenshot(path=str(shots / "counter_redeemed.png"), full_page=True)

    from regulars.loyalty.models import Voucher

    voucher = Voucher.objects.get()
    assert voucher.customer.card_code == card_code

    # The customer's card shows the voucher, in Hungarian…
    customer.goto(card_url)
    assert customer.locator("html").get_attribute("lang") == "hu"
    expect(customer.locator(".pvouchers")).to_contain_text("Free coffee")
    expect(customer.locator(".pvouchers")).to_contain_text(voucher.code)
    expect(customer.locator(".pvouchers h2")).to_have_text(_in("hu", "Your vouchers"))
    expect(customer.locator("[data-stamps]")).to_have_attribute("data-stamps", "0")
    customer.screenshot(path=str(shots / "card_voucher_hu.png"), full_page=True)

    # …and in English, once the customer switches it.
    with customer.expect_navigation():
        customer.select_option("#language-select", "en")
    assert customer.locator("html").get_attribute("lang") == "en"
    expect(customer.locator(".pvouchers h2")).to_have_text("Your vouchers")
    expect(customer.locator(".pvouchers")).to_contain_text(voucher.code)
    customer.screenshot(path=str(shots / "card_voucher_en.png"), full_page=True)
    phone.close()
