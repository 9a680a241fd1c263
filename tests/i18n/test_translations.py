"""Translations: every catalog complete and compiled, every string of the code in it, and every
page rendered in every language with no English string left over.

`make messages` refreshes the catalogs with GNU gettext; these tests need only Django and Babel,
so they run on a machine without gettext. The .mo files are committed next to the .po files.
"""

from __future__ import annotations

import gettext
import html
import io
import re
from datetime import date
from decimal import Decimal
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.pofile import read_po
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.translation.template import templatize

import regulars

PACKAGE = Path(regulars.__file__).resolve().parent
LOCALE_DIR = PACKAGE / "locale"

# Folders of regulars/ whose strings are translated; the package's top-level modules (settings.py,
# urls.py, …) always are. When an app's pages are ready, add its folder here and to I18N_FOLDERS in
# the Makefile, run `make messages`, translate, and run it again to compile.
TRANSLATED_FOLDERS = (
    "templates", "accounts", "customers", "sales", "lib", "loyalty", "portal", "analytics",
    "integrations",
)

SOURCE_LANGUAGE = "en"
LANGUAGES = [code for code, _name in settings.LANGUAGES if code != SOURCE_LANGUAGE]

# Plural rules of GNU gettext: Russian, Ukrainian and Croatian have three forms
# (1, 21 | 2-4, 22-24 | 0, 5-20, 25-30); Hungarian has two in gettext catalogs.
PLURAL_FORMS = {
    "ru": {1: 0, 21: 0, 101: 0, 2: 1, 4: 1, 22: 1, 0: 2, 5: 2, 11: 2, 12: 2, 14: 2, 25: 2, 111: 2},
    "uk": {1: 0, 21: 0, 101: 0, 2: 1, 4: 1, 22: 1, 0: 2, 5: 2, 11: 2, 12: 2, 14: 2, 25: 2, 111: 2},
    "hr": {1: 0, 21: 0, 101: 0, 2: 1, 4: 1, 22: 1, 0: 2, 5: 2, 11: 2, 12: 2, 14: 2, 25: 2, 111: 2},
    "hu": {1: 0, 0: 1, 2: 1, 5: 1, 21: 1},
}

# What makemessages passes to xgettext, in Babel's spelling: name -> argument positions.
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}

# A msgid this short ("No", "Yes", "SKU") also turns up inside codes and hard-coded labels.
SHORTEST_CHECKED_MSGID = 4


# --- catalogs ----------------------------------------------------------------------------------


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / "django.po"


@cache
def po_catalog(lang: str) -> Catalog:
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


@cache
def mo_catalog(lang: str) -> gettext.GNUTranslations:
    with po_path(lang).with_suffix(".mo").open("rb") as f:
        return gettext.GNUTranslations(f)


def entries(catalog: Catalog) -> list:
    return [m for m in catalog if m.id]


def key(msgid: str, context: str | None) -> str:
    """The key gettext uses in a compiled catalog: "context\\x04msgid"."""
    return f"{context}\x04{msgid}" if context else msgid


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(lang):
    catalog = po_catalog(lang)
    assert not catalog.fuzzy, f"{lang}: the header is marked fuzzy"
    assert str(catalog.locale) == lang
    fuzzy = [m.id for m in entries(catalog) if m.fuzzy]
    assert not fuzzy, f"{lang}: fuzzy entries (check the translation, drop the flag): {fuzzy}"
    untranslated = [
        m.id
        for m in entries(catalog)
        if not (all(m.string) if m.pluralizable else m.string)
        or (m.pluralizable and len(m.string) != catalog.num_plurals)
    ]
    assert not untranslated, f"{lang}: untranslated entries in {po_path(lang)}: {untranslated}"
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert not problems, f"{lang}: placeholders or plural forms do not match: {problems}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plural_forms_follow_the_language(lang):
    """The header's Plural-Forms picks the right form, in the .po and in the compiled .mo."""
    expected = PLURAL_FORMS[lang]
    assert po_catalog(lang).num_plurals == len(set(expected.values()))
    po_plural = gettext.c2py(po_catalog(lang).plural_expr)
    assert {n: po_plural(n) for n in expected} == expected
    assert {n: mo_catalog(lang).plural(n) for n in expected} == expected


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalog_matches_the_po_file(lang):
    """The committed .mo holds exactly the .po's translations: nobody forgot compilemessages."""
    expected = {}
    # msgfmt leaves out untranslated entries; the completeness test reports those.
    for m in (m for m in entries(po_catalog(lang)) if m.string and all(m.string)):
        if m.pluralizable:
            for i, form in enumerate(m.string):
                expected[(key(m.id[0], m.context), i)] = form
        else:
            expected[key(m.id, m.context)] = m.string
    compiled = {k: v for k, v in mo_catalog(lang)._catalog.items() if k != ""}
    missing = sorted(str(k) for k in expected.keys() - compiled.keys())
    stale = sorted(str(k) for k in compiled.keys() - expected.keys())
    changed = sorted(
        str(k) for k in expected.keys() & compiled.keys() if expected[k] != compiled[k]
    )
    assert not (missing or stale or changed), (
        f"{lang}: django.mo is out of date with django.po, run `make messages` "
        f"(missing {missing}, stale {stale}, changed {changed})"
    )


# --- the strings in the code -------------------------------------------------------------------


def source_files() -> list[Path]:
    files = list(PACKAGE.glob("*.py"))
    for folder in TRANSLATED_FOLDERS:
        files += (PACKAGE / folder).rglob("*")
    # makemessages skips tests too (--ignore='*/tests/*'); their strings are never shown.
    return sorted(
        p
        for p in files
        if p.suffix in {".py", ".html", ".txt"} and "tests" not in p.relative_to(PACKAGE).parts
    )


@cache
def source_msgids() -> dict[tuple[str | None, str], str]:
    """(context, msgid) -> where it is first used, found the way makemessages finds them."""
    found: dict[tuple[str | None, str], str] = {}
    for path in source_files():
        text = path.read_text(encoding="utf-8")
        if path.suffix != ".py":
            # Templates become gettext() calls first, exactly as makemessages feeds xgettext.
            text = templatize(text, origin=str(path))
            # Its output keeps the template's indentation, which Python's tokenizer may refuse
            # (an unindent to no earlier level); gettext calls need none. Lines stay in place.
            text = "\n".join(line.lstrip() for line in text.splitlines())
        for lineno, message, _comments, context in extract(
            "python", io.BytesIO(text.encode()), keywords=KEYWORDS
        ):
            msgid = message[0] if isinstance(message, tuple) else message
            found.setdefault((context, msgid), f"{path.relative_to(PACKAGE)}:{lineno}")
    return found


def test_the_extractor_sees_templates_python_and_model_choices():
    found = source_msgids()
    assert (None, "Average check") in found  # {% translate %} in a template
    assert (None, "Page %(n)s of %(total)s") in found  # {% blocktranslate %}
    assert (None, "Settings saved.") in found  # gettext() in a view
    assert (None, "Cashier") in found  # a model choice
    assert (None, "marketing consent") in found  # a model field's verbose name


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_string_in_the_code_is_in_the_catalog(lang):
    in_catalog = {
        (m.context, m.id[0] if m.pluralizable else m.id) for m in entries(po_catalog(lang))
    }
    missing = {k: where for k, where in source_msgids().items() if k not in in_catalog}
    assert not missing, f"{lang}: not in the catalog, run `make messages` and translate: {missing}"
    unused = sorted(m for _ctx, m in in_catalog - source_msgids().keys())
    assert not unused, (
        f"{lang}: catalog strings found in no folder of TRANSLATED_FOLDERS: {unused}; "
        "add the app's folder there (or run `make messages` to drop strings no longer used)"
    )


# --- rendered pages ----------------------------------------------------------------------------


class VisibleText(HTMLParser):
    """The text a person reads or hears: text nodes (title included) and labelling attributes."""

    HIDDEN = {"script", "style", "template"}
    # Codes, names of other products' menus and keys, and sample output are in no language.
    NOT_LANGUAGE = {"code", "kbd", "samp"}
    READ_ATTRIBUTES = {"placeholder", "title", "alt", "aria-label"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.untranslated_tags: list[str] = []
        self.html_lang: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.html_lang = attrs.get("lang")
        if tag in self.HIDDEN or tag in self.NOT_LANGUAGE:
            self.hidden += 1
        elif attrs.get("translate") == "no":  # HTML's own mark: e.g. JSON settings in a textarea
            self.untranslated_tags.append(tag)
            self.hidden += 1
        self.parts += [v for k, v in attrs.items() if k in self.READ_ATTRIBUTES and v]
        if tag == "input" and attrs.get("type") in {"submit", "button"} and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in self.HIDDEN or tag in self.NOT_LANGUAGE:
            self.hidden -= 1
        elif self.untranslated_tags and tag == self.untranslated_tags[-1]:
            self.untranslated_tags.pop()
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)

    @classmethod
    def of(cls, page: str) -> VisibleText:
        parser = cls()
        parser.feed(page)
        parser.close()
        return parser

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]")


def english_pattern(msgid: str) -> re.Pattern:
    """Match the English text of a msgid as whole words; %(name)s placeholders match anything."""
    parts = []
    for piece in PLACEHOLDER.split(msgid.replace("%%", "%")):
        words = piece.split()
        text = r"\s+".join(re.escape(w) for w in words)
        # Words next to a placeholder are still whole words: "%(amount)s back" is not "Cashback".
        if words and re.match(r"\w", words[0]):
            text = r"(?<!\w)" + text
        if words and re.search(r"\w$", words[-1]):
            text += r"(?!\w)"
        parts.append(text)
    # Not inside a dotted, slashed or hyphenated token: purchase.recorded, /c/join/, Regulars-Event.
    return re.compile(
        r"(?<![\w./-])" + r".+?".join(parts) + r"(?![\w/-]|\.\w)", re.IGNORECASE
    )


@cache
def english_patterns(lang: str) -> dict[str, re.Pattern]:
    """English msgids that must not show on a page in `lang`: long enough, translated differently."""
    patterns = {}
    for m in entries(po_catalog(lang)):
        pairs = zip(m.id, m.string, strict=False) if m.pluralizable else [(m.id, m.string)]
        for english, translated in pairs:
            words = PLACEHOLDER.sub("", english).strip()
            if len(words) < SHORTEST_CHECKED_MSGID or english.casefold() == translated.casefold():
                continue
            patterns[english] = english_pattern(english)
    return patterns


# What other products call their menus and formats, quoted so that an owner finds them there.
THIRD_PARTY_NAMES = re.compile(
    r"(Orders|Customers) → Export → CSV|Dashboard → Items → Item sales|item details"
    r"|Customer/Order CSV Export"
)


def untranslated(page_text: str, lang: str) -> list[str]:
    page_text = THIRD_PARTY_NAMES.sub(" ", page_text)
    return sorted(
        msgid for msgid, pattern in english_patterns(lang).items() if pattern.search(page_text)
    )


def test_the_check_finds_english_left_on_a_page():
    page = VisibleText.of(
        '<html lang="ru"><title>Клиенты</title><p>Average check</p>'
        '<input placeholder="Name, phone, e-mail or card code"><span>Page 2 of 7</span></html>'
    )
    found = untranslated(page.text, "ru")
    expected = {"Average check", "Name, phone, e-mail or card code", "Page %(n)s of %(total)s"}
    assert expected <= set(found)
    assert "Customers" not in found  # "Клиенты" is its translation
    assert untranslated(VisibleText.of("<p>Средний чек</p><p>SKU</p>").text, "ru") == []


class Page(NamedTuple):
    name: str
    url: str
    user: str | None  # who is logged in; None for nobody
    post: dict | None = None


@pytest.fixture
def pages(alice_cafe, alice, make, tmp_path) -> list[Page]:
    """Alice's café with something on every page, and the pages to walk."""
    from regulars.accounts.models import Business, Membership, Role, User
    from regulars.customers.models import Customer, Tag, TimelineEntry
    from regulars.sales.models import Product
    from regulars.sales.purchases import Line, refund_purchase

    # A second business makes the home page list them instead of redirecting to the only one.
    bakery = Business.objects.create(slug="alice-bakery", name="Alice's Bakery", currency="EUR")
    Membership.objects.create(user=alice, business=bakery, role=Role.MANAGER)
    User.objects.create_user("newbie", "newbie@example.com", "x")

    dora = make.customer(
        alice_cafe,
        name="Dora Kovač",
        email="dora@example.com",
        phone="+385 91 123 4567",
        birthday=date(1990, 5, 17),
        marketing_consent=True,
        notes="Oat milk, no sugar.",
    )
    dora.tags.add(Tag.objects.create(business=alice_cafe, name="vegan"))
    TimelineEntry.objects.create(
        business=alice_cafe,
        customer=dora,
        kind=TimelineEntry.Kind.NOTE,
        at=timezone.now(),
        text="Asked about oat milk",
    )
    flat_white = Product.objects.create(
        business=alice_cafe, sku="FW1", name="Flat white", category="Coffee", price=Decimal("3.20")
    )
    line = Line(name="", unit_price=flat_white.price, quantity=2, product=flat_white)
    purchase = make.purchase(alice_cafe, dora, lines=[line])
    refund_purchase(purchase=purchase, amount=Decimal("3.20"), reason="cold")
    make.purchase(alice_cafe, None, amount="2.80", days_ago=2)
    # One page of customers more than fits, so that the pager shows.
    Customer.objects.bulk_create(
        Customer(business=alice_cafe, name=f"Regular {i:02}", joined_at=timezone.now())
        for i in range(50)
    )

    # Loyalty: points, a stamp card with its reward and a voucher, so the counter panel and the
    # card show every section; a webhook endpoint and an import; analytics once refreshed.
    from regulars.analytics.tasks import run_refresh
    from regulars.integrations.models import WebhookEndpoint
    from regulars.integrations.tests.importing import make_job, write_csv
    from regulars.loyalty.ledger import redeem
    from regulars.loyalty.models import Program, Reward
    from regulars.loyalty.sale import record_sale

    Program.objects.create(
        business=alice_cafe, kind=Program.Kind.POINTS, name="Kávépont",
        config={"points_per_unit": "1"},
    )  # fmt: skip
    card = Program.objects.create(
        business=alice_cafe, kind=Program.Kind.STAMPS, name="Kávékártya",
        config={"stamps_needed": 2, "per": "item", "qualifying_categories": ["Coffee"]},
    )  # fmt: skip
    free_coffee = Reward.objects.create(
        business=alice_cafe, program=card, name="Ajándék kávé", kind=Reward.Kind.FREE_PRODUCT,
        cost=2,
    )  # fmt: skip
    record_sale(business=alice_cafe, customer=dora, lines=[line, line], idempotency_key="i18n-1")
    redeem(customer=dora, reward=free_coffee, idempotency_key="i18n-redeem")
    endpoint = WebhookEndpoint.objects.create(
        business=alice_cafe, url="https://shop.example.com/hooks", events=["purchase.recorded"]
    )
    job = make_job(
        alice_cafe, write_csv(tmp_path, "datum,iznos,e-posta\n2026-01-02,4.50,dora@example.com\n")
    )
    analytics_before = Page("analytics, never computed", reverse("analytics_dashboard", args=[bakery.slug]), "alice")
    run_refresh(alice_cafe.pk)

    def url(name: str, *args: str) -> str:
        return reverse(name, args=[alice_cafe.slug, *args])

    return [
        Page("login", reverse("login"), None),
        Page(
            "login, wrong password", reverse("login"), None, {"username": "alice", "password": "no"}
        ),
        Page("home", reverse("home"), "alice"),
        Page("home, no business", reverse("home"), "newbie"),
        Page("business home", url("business_home"), "alice"),
        Page("customers", url("customer_list"), "alice"),
        Page("customers, none found", url("customer_list") + "?q=nobody", "alice"),
        Page("customer", url("customer_detail", dora.code), "alice"),
        Page("sales", url("purchase_list"), "alice"),
        Page("purchase", url("purchase_detail", purchase.code), "alice"),
        Page("products", url("product_list"), "alice"),
        Page("settings", url("business_settings"), "alice"),
        Page("counter", url("counter"), "alice"),
        Page("counter, customer", url("counter_panel", dora.code), "alice"),
        Page("join poster", url("join_poster"), "alice"),
        Page("loyalty programs", url("program_list"), "alice"),
        Page("new program", url("program_create") + "?kind=tiers", "alice"),
        Page("edit program", url("program_edit", card.code), "alice"),
        Page("new reward", url("reward_create", card.code), "alice"),
        Page("edit reward", url("reward_edit", card.code, free_coffee.code), "alice"),
        Page("analytics", url("analytics_dashboard"), "alice"),
        analytics_before,
        Page("integrations", url("integrations"), "alice"),
        Page("webhook", url("webhook_detail", endpoint.code), "alice"),
        Page("imports", url("import_list"), "alice"),
        Page("import", url("import_detail", job.code), "alice"),
        Page("erase a customer", url("customer_erase", dora.code), "alice"),
        Page("join", reverse("portal_join", args=[alice_cafe.join_code]), None),
        Page("card", reverse("portal_card", args=[dora.card_token]), None),
    ]


def render(
    pages: list[Page], client: Client, language: str | None = None
) -> dict[str, VisibleText]:
    """Fetch each page as its user; `language` is the cookie the switcher would have set."""
    from regulars.accounts.models import User

    rendered, user = {}, None
    for page in pages:
        if page.user != user:
            client.logout()  # the test client's logout drops every cookie, the language one too
            if page.user:
                client.force_login(User.objects.get(username=page.user))
            user = page.user
        if language:
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        response = client.post(page.url, page.post) if page.post else client.get(page.url)
        assert response.status_code == 200, f"{page.name} ({page.url}): {response.status_code}"
        rendered[page.name] = VisibleText.of(response.text)
    return rendered


@pytest.mark.parametrize("lang", [code for code, _name in settings.LANGUAGES])
def test_every_page_is_in_the_chosen_language(pages, lang):
    """The language cookie (set by the switcher) wins over the browser's Accept-Language.

    The customer's card is the exception: it speaks the customer's own language, whoever opens it.
    """
    from regulars.customers.models import Customer

    Customer.objects.filter(name="Dora Kovač").update(language=lang)
    other = "hu" if lang != "hu" else "hr"
    rendered = render(pages, Client(headers={"accept-language": other}), language=lang)
    assert {name: page.html_lang for name, page in rendered.items()} == dict.fromkeys(
        rendered, lang
    )
    if lang != SOURCE_LANGUAGE:
        left = {
            name: found
            for name, page in rendered.items()
            if (found := untranslated(page.text, lang))
        }
        assert not left, (
            f"English left on the {lang} pages, translate it in {po_path(lang)}: {left}"
        )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_pages_follow_the_browser_language_until_one_is_chosen(pages, lang):
    rendered = render(pages[:1], Client(headers={"accept-language": f"{lang},en;q=0.5"}))
    assert rendered["login"].html_lang == lang
    assert not untranslated(rendered["login"].text, lang)


class LanguageForm(HTMLParser):
    """The switcher in base.html: the form posting to set_language, its fields and options."""

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action, self.inside, self.found = action, False, False
        self.fields: dict[str, str] = {}
        self.options: dict[str, str] = {}  # code -> label
        self.selected: list[str] = []
        self._option: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "form" and attrs.get("action") == self.action:
            self.inside = self.found = attrs.get("method", "").lower() == "post"
        elif self.inside and tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value", "")
        elif self.inside and tag == "select":
            self.fields["@select"] = attrs.get("name", "")
        elif self.inside and tag == "option":
            self._option = attrs["value"]
            self.options[self._option] = ""
            if "selected" in attrs:
                self.selected.append(self._option)

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "option":
            self._option = None

    def handle_data(self, data):
        if self._option is not None:
            self.options[self._option] += data.strip()

    @classmethod
    def on(cls, page: str) -> LanguageForm:
        form = cls(reverse("set_language"))
        form.feed(page)
        form.close()
        assert form.found, "no form posting to set_language on the page"
        return form


def test_the_language_switcher_sets_the_language_and_returns_to_the_page(pages):
    from regulars.accounts.models import User

    client = Client(enforce_csrf_checks=True)  # the form's own CSRF token must be enough
    client.force_login(User.objects.get(username="alice"))
    customers = next(p.url for p in pages if p.name == "customers")
    form = LanguageForm.on(client.get(customers).text)
    assert form.fields["@select"] == "language"
    assert form.fields["next"] == customers
    assert list(form.options) == [code for code, _name in settings.LANGUAGES]
    assert form.selected == ["en"]

    data = {k: v for k, v in form.fields.items() if not k.startswith("@")}
    response = client.post(form.action, {**data, "language": "uk"})
    assert response.status_code == 302
    assert response["Location"] == customers
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "uk"
    after = client.get(customers).text
    assert VisibleText.of(after).html_lang == "uk"
    assert "Клієнти" in VisibleText.of(after).text
    assert LanguageForm.on(after).selected == ["uk"]


def test_the_switcher_names_each_language_in_its_own_language(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    assert LanguageForm.on(client.get(reverse("login")).text).options == {
        "en": "English",
        "ru": "Русский",
        "uk": "Українська",
        "hu": "Magyar",
        "hr": "Hrvatski",
    }


# Babel's CLDR data: Hungarian and Ukrainian write EUR, the others €; grouping differs too.
REVENUE = {
    "en": "€1,234.50",
    "ru": "1\xa0234,50\xa0€",
    "uk": "1\xa0234,50\xa0EUR",
    "hu": "1\xa0234,50\xa0EUR",
    "hr": "1.234,50\xa0€",
}


def revenue_on_business_home(client: Client, slug: str) -> str:
    page = client.get(reverse("business_home", args=[slug])).text
    return html.unescape(re.search(r'data-kpi="revenue">([^<]*)<', page).group(1))


@pytest.mark.parametrize("lang", REVENUE)
def test_money_is_in_the_business_currency_written_the_language_way(alice_cafe, alice, make, lang):
    make.purchase(alice_cafe, make.customer(alice_cafe), amount="1234.50")
    client = Client()
    client.force_login(alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    assert revenue_on_business_home(client, alice_cafe.slug) == REVENUE[lang]


def test_money_follows_the_business_not_the_language(charlie_bakery, charlie, make):
    make.purchase(charlie_bakery, make.customer(charlie_bakery), amount="1234.50")
    client = Client()
    client.force_login(charlie)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "hu"
    assert revenue_on_business_home(client, charlie_bakery.slug) == "1\xa0234,50\xa0Ft"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "hr"
    assert revenue_on_business_home(client, charlie_bakery.slug) == "1.234,50\xa0HUF"
