from django.utils import translation
from django.utils.translation import gettext

from conftest import PASSWORD


def test_owner_logs_in_lands_on_business_home_and_switches_language(
    page, live_server, login, alice_cafe, make
):
    dora = make.customer(alice_cafe, name="Dora Browser")
    make.purchase(alice_cafe, dora, amount="7.80")

    login("alice", PASSWORD)
    page.wait_for_url(f"{live_server.url}/b/alice-cafe/")
    assert page.locator("h1").inner_text() == "Alice's Café"
    assert page.locator("html").get_attribute("lang") == "en"
    assert "€7.80" in page.locator(".kpis").inner_text()
    assert "Dora Browser" in page.inner_text("main")

    with page.expect_navigation():
        page.select_option("#language-select", "hu")
    assert page.locator("html").get_attribute("lang") == "hu"
    with translation.override("hu"):
        customers_hu = gettext("Customers")
    assert customers_hu != "Customers", "Hungarian catalog lacks 'Customers'"
    assert customers_hu in page.locator(".mainnav").inner_text()
    assert page.url == f"{live_server.url}/b/alice-cafe/"
    # Hungarian money format: the amount is written with a decimal comma.
    assert "7,80" in page.locator(".kpis").inner_text()
    page.screenshot(path=str(_shots() / "business_home_hu.png"), full_page=True)


def _shots():
    from django.conf import settings

    path = settings.VAR_DIR / "screenshots"
    path.mkdir(exist_ok=True)
    return path
