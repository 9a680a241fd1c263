"""Tenant isolation: a user of one business never sees or changes another business's data.

The walk covers every URL pattern under /b/<slug>/, so a page added later is checked without
anyone remembering to write a test for it.
"""

import re
from urllib.parse import quote

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

BUSINESS_PREFIX = "b/<slug:slug>/"


def walk(patterns=None, prefix=""):
    """Yield (route, view) for every URL pattern, with the route joined from its resolvers."""
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield route, p.callback


def business_routes():
    return [(route, view) for route, view in walk() if route.startswith(BUSINESS_PREFIX)]


def coded_objects(business):
    """Every object of the business that has a public code, as (model label, code, text)."""
    found = []
    models = [
        m
        for cfg in apps.get_app_configs()
        if cfg.name.startswith("regulars.")
        for m in cfg.get_models()
    ]
    for model in models:
        field_names = {f.name for f in model._meta.get_fields()}
        if "code" in field_names and "business" in field_names:
            for obj in model.objects.filter(business=business):
                found.append((model._meta.label, obj.code, str(obj)))
    return found


def fill(route, slug, code):
    """Turn a route with <converter:name> parts into a URL."""
    url = route.replace("<slug:slug>", slug)
    url = re.sub(r"<(?:\w+:)?\w+>", code, url)
    return "/" + url


@pytest.fixture
def two_businesses(alice_cafe, charlie_bakery, make):
    dora = make.customer(alice_cafe, name="Dora Alice-Customer", phone="+36301112222")
    make.purchase(alice_cafe, dora, amount="3.20")
    eve = make.customer(charlie_bakery, name="Eve Charlie-Secret", phone="+36309998888")
    make.purchase(charlie_bakery, eve, amount="999.00")
    return alice_cafe, charlie_bakery


def test_every_business_page_goes_through_the_tenancy_check():
    routes = business_routes()
    assert routes, "no business pages found"
    unchecked = [r for r, view in routes if not hasattr(view, "required_role")]
    assert unchecked == [], f"pages without @business_view: {unchecked}"


@pytest.mark.django_db
def test_another_business_slug_gives_404_on_every_page(client, alice, two_businesses):
    _, bakery = two_businesses
    client.force_login(alice)
    for route, _view in business_routes():
        url = fill(route, bakery.slug, "X")
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 404, f"{method.upper()} {url}: {response.status_code}"


@pytest.mark.django_db
def test_another_business_object_codes_give_404_under_own_slug(client, alice, two_businesses):
    cafe, bakery = two_businesses
    client.force_login(alice)
    foreign = coded_objects(bakery)
    assert foreign, "Charlie's bakery has no coded objects to probe with"
    coded_routes = [(r, v) for r, v in business_routes() if r.count("<") > 1]
    assert coded_routes
    before = {label: apps.get_model(label).objects.count() for label, _, _ in foreign}
    for route, _view in coded_routes:
        for label, code, text in foreign:
            url = fill(route, cafe.slug, code)
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                assert response.status_code == 404, (
                    f"{method.upper()} {url} ({label}): {response.status_code}"
                )
                assert text not in response.text
    after = {label: apps.get_model(label).objects.count() for label, _, _ in foreign}
    assert before == after


@pytest.mark.django_db
def test_lists_and_search_never_show_another_business(client, alice, bob, two_businesses):
    cafe, _ = two_businesses
    for user in (alice, bob):
        client.force_login(user)
        for route, view in business_routes():
            if "<" in route.removeprefix(BUSINESS_PREFIX):
                continue
            if view.required_role != "cashier" and user is bob:
                continue
            for term in ("", "Eve", "+36309998888"):
                response = client.get(fill(route, cafe.slug, ""), {"q": term} if term else {})
                assert response.status_code in (200, 302, 405), route
                # the search box and the language form echo the query back
                page = response.text
                for echo in (term, quote(term)):
                    page = page.replace(echo, "") if echo else page
                assert "Charlie" not in page and "999" not in page, route


@pytest.mark.django_db
def test_cashier_is_refused_owner_and_manager_pages(client, bob, two_businesses):
    cafe, _ = two_businesses
    client.force_login(bob)
    for route, view in business_routes():
        if view.required_role in ("owner", "manager") and route.count("<") == 1:
            assert client.get(fill(route, cafe.slug, "")).status_code == 403, route


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_login(client, two_businesses):
    cafe, _ = two_businesses
    for route, _view in business_routes():
        response = client.get(fill(route, cafe.slug, "X"))
        assert response.status_code == 302 and "/login/" in response["Location"], route
