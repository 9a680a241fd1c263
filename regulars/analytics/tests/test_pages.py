"""The dashboard, its status fragment, Recompute, the CSV downloads and the customer fragment."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from regulars.accounts.models import Membership, Role, User
from regulars.analytics import reports
from regulars.analytics import tasks as tasks_module
from regulars.analytics.models import AnalyticsSnapshot, CustomerScore
from regulars.analytics.tasks import run_refresh

from .test_refresh import FakeTask

Status = AnalyticsSnapshot.Status


def url(name, business, *args):
    return reverse(name, args=[business.slug, *args])


@pytest.fixture
def refreshed(alice_cafe, cafe_history):
    run_refresh(alice_cafe.pk)
    return alice_cafe


@pytest.fixture
def owner(client, alice):
    client.force_login(alice)
    return client


def figures(page: str) -> dict[str, dict]:
    """The Plotly figures embedded in the page (json_script blocks), by id."""
    found = re.findall(
        r'<script id="(figure-[\w-]+)" type="application/json">(.*?)</script>', page, re.S
    )
    return {name: json.loads(body) for name, body in found}


def test_before_the_first_refresh_the_dashboard_offers_to_compute(owner, alice_cafe):
    page = owner.get(url("analytics_dashboard", alice_cafe)).text
    assert "No numbers yet" in page
    assert url("analytics_recompute", alice_cafe) in page
    assert "plotly" not in page  # nothing to draw, nothing to load


def test_the_dashboard_shows_tiles_charts_and_the_rule_table(owner, refreshed):
    response = owner.get(url("analytics_dashboard", refreshed))
    assert response.status_code == 200
    page = response.text
    snapshot = AnalyticsSnapshot.objects.get(business=refreshed)
    revenue = snapshot.data["kpis"]["30"]["current"]["revenue"]
    assert re.search(r'data-kpi="revenue">€[\d,]+\.\d\d<', page)
    assert f"{revenue:,.2f}" in page
    assert set(figures(page)) == {
        "figure-revenue-by-month",
        "figure-forecast",
        "figure-cohorts",
        "figure-segments",
        "figure-clv",
        "figure-members",
    }
    # plotly.js from the pip package through static files, never a CDN.
    assert "/static/plotly/plotly.min.js" in page
    assert "cdn." not in page.lower()
    for slug in ("revenue-by-month", "forecast", "cohorts", "segments", "clv", "members", "kpis"):
        assert url("analytics_csv", refreshed, slug) in page
    for segment in ("Champions", "Can&#x27;t lose", "Hibernating", "Potential loyalists"):
        assert segment in page
    assert "Computed" in page and "Recompute" in page


def test_the_period_selector_picks_the_tiles(owner, refreshed):
    data = AnalyticsSnapshot.objects.get(business=refreshed).data
    orders = {days: data["kpis"][days]["current"]["orders"] for days in ("30", "365")}
    for days, count in orders.items():
        page = owner.get(url("analytics_dashboard", refreshed), {"days": days}).text
        assert re.search(rf'data-kpi="orders">{count:,}<', page), days
        assert 'aria-current="page">Last ' + days + " days" in page
    # Anything else is the default period.
    assert owner.get(url("analytics_dashboard", refreshed), {"days": "7"}).status_code == 200


def test_slipping_customers_link_to_their_page(owner, refreshed):
    score = CustomerScore.objects.filter(business=refreshed).order_by("-revenue").first()
    score.monetary_score, score.p_alive, score.p_alive_before = 5, 0.2, 0.9
    score.save()
    page = owner.get(url("analytics_dashboard", refreshed)).text
    assert url("customer_detail", refreshed, score.customer.code) in page
    assert "90% → <strong>20%</strong>" in page


def test_a_manager_sees_the_dashboard_and_a_cashier_is_refused(client, refreshed, bob):
    manager = User.objects.create_user("mia", "mia@example.com", "x")
    Membership.objects.create(user=manager, business=refreshed, role=Role.MANAGER)
    client.force_login(manager)
    assert client.get(url("analytics_dashboard", refreshed)).status_code == 200
    client.force_login(bob)
    for name, args in (
        ("analytics_dashboard", ()),
        ("analytics_status", ()),
        ("analytics_recompute", ()),
        ("analytics_csv", ("revenue-by-month",)),
    ):
        assert client.get(url(name, refreshed, *args)).status_code == 403, name
        assert client.post(url(name, refreshed, *args)).status_code == 403, name


def test_another_business_analytics_are_404(owner, charlie_bakery):
    run_refresh(charlie_bakery.pk)
    for name, args in (
        ("analytics_dashboard", ()),
        ("analytics_status", ()),
        ("analytics_recompute", ()),
        ("analytics_csv", ("kpis",)),
    ):
        assert owner.get(url(name, charlie_bakery, *args)).status_code == 404, name


def test_recompute_queues_a_refresh_and_shows_its_progress(
    owner, alice_cafe, monkeypatch, django_capture_on_commit_callbacks
):
    fake = FakeTask()
    monkeypatch.setattr(tasks_module, "refresh_analytics", fake)
    assert owner.get(url("analytics_recompute", alice_cafe)).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(url("analytics_recompute", alice_cafe) + "?days=90")
    assert response.status_code == 302
    assert response["Location"] == url("analytics_dashboard", alice_cafe) + "?days=90"
    assert fake.enqueued == [(alice_cafe.pk,)]
    page = owner.get(response["Location"]).text
    assert "Waiting for a worker" in page
    assert 'hx-trigger="every 2s"' in page
    assert "Recomputing." in page  # the message

    AnalyticsSnapshot.objects.filter(business=alice_cafe).update(
        status=Status.RUNNING, progress=42, message="Computing KPIs", updated_at=timezone.now()
    )
    fragment = owner.get(url("analytics_status", alice_cafe))
    assert "42% · Computing KPIs" in fragment.text
    assert 'hx-get="' in fragment.text and "HX-Refresh" not in fragment


def test_the_status_fragment_reloads_the_page_when_new_numbers_are_ready(owner, refreshed):
    snapshot = AnalyticsSnapshot.objects.get(business=refreshed)
    shown = (snapshot.computed_at - timedelta(minutes=5)).isoformat()
    fragment = owner.get(url("analytics_status", refreshed), {"since": shown})
    assert fragment["HX-Refresh"] == "true"
    assert "hx-trigger" not in fragment.text  # polling stops
    same = owner.get(
        url("analytics_status", refreshed), {"since": snapshot.computed_at.isoformat()}
    )
    assert "HX-Refresh" not in same


def test_a_failed_refresh_says_so_and_keeps_the_numbers(owner, refreshed):
    AnalyticsSnapshot.objects.filter(business=refreshed).update(
        status=Status.FAILED, error="RuntimeError: disk full"
    )
    page = owner.get(url("analytics_dashboard", refreshed)).text
    assert "The last recomputation failed." in page and "disk full" in page
    assert 'data-kpi="revenue"' in page


def test_each_csv_holds_the_rows_its_chart_is_drawn_from(owner, refreshed):
    ctx = reports.Context(refreshed, AnalyticsSnapshot.objects.get(business=refreshed).data)
    for slug, report in reports.REPORTS.items():
        response = owner.get(url("analytics_csv", refreshed, slug))
        assert response.status_code == 200, slug
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert f'filename="alice-cafe-{slug}-' in response["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows[0] == report.header(ctx), slug
        assert len(rows) - 1 == len(report.rows(ctx)), slug


def test_the_monthly_csv_adds_up_to_the_revenue(owner, refreshed):
    data = AnalyticsSnapshot.objects.get(business=refreshed).data
    response = owner.get(url("analytics_csv", refreshed, "revenue-by-month"))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Month", "New customers (EUR)", "Returning customers (EUR)", "Guests (EUR)"]
    total = sum(float(v) for row in rows[1:] for v in row[1:])
    # 24 months hold the whole 400-day history.
    assert total == pytest.approx(data["counts"]["revenue"], abs=0.05)


def test_an_unknown_chart_or_no_snapshot_is_404(owner, alice_cafe):
    assert owner.get(url("analytics_csv", alice_cafe, "kpis")).status_code == 404
    run_refresh(alice_cafe.pk)
    assert owner.get(url("analytics_csv", alice_cafe, "nonsense")).status_code == 404


def render_scores(customer, business) -> str:
    template = Template("{% load analytics %}{% customer_scores customer %}")
    return template.render(Context({"customer": customer, "business": business}))


def test_the_customer_fragment_shows_segment_predictions_and_value(refreshed):
    score = CustomerScore.objects.filter(business=refreshed, p_alive__isnull=False).first()
    score.p_alive, score.p_alive_before, score.expected_90d = 0.61, 0.8, 1.26
    score.save()
    html = render_scores(score.customer, refreshed)
    assert score.get_segment_display() in html
    assert "1.3" in html  # expected purchases, next 90 days
    assert "61%" in html and "80% 30 days ago" in html
    assert f"€{score.clv:,.2f}" in html


def test_the_customer_fragment_before_any_score(alice_cafe, make):
    html = render_scores(make.customer(alice_cafe), alice_cafe)
    assert "No figures yet" in html


def test_the_program_section_prices_points_by_the_catalog(owner, alice_cafe, cafe_history):
    """Ten members, each with 500 points unspent and 300 redeemed, at 0.01 a point:
    reward cost 10 x 3.00 = 30.00, liability 10 x 5.00 = 50.00."""
    from .conftest import points_program

    points_program(alice_cafe, cafe_history[:10])
    run_refresh(alice_cafe.pk)
    page = owner.get(url("analytics_dashboard", alice_cafe)).text
    assert "Members are customers with a loyalty account." in page
    assert 'Beans <span class="muted">(points)</span>' in page
    assert "€30.00" in page and "€50.00" in page
    program = AnalyticsSnapshot.objects.get(business=alice_cafe).data["program"]
    assert program["members"]["customers"] <= 10
    assert program["reward_cost"] == 30.0 and program["liability"] == 50.0
