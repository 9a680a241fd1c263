"""KPIs and segments over the REST API: the dashboard's figures, read-only, per business."""

from __future__ import annotations

from decimal import Decimal

import pytest

from regulars.analytics.metrics import Segment
from regulars.analytics.models import AnalyticsSnapshot, CustomerScore
from regulars.analytics.refresh import PERIODS
from regulars.analytics.tasks import run_refresh


@pytest.fixture
def refreshed(alice_cafe, cafe_history):
    run_refresh(alice_cafe.pk)
    return alice_cafe


def test_before_any_refresh_the_answers_say_never(api, alice_cafe):
    caller = api(alice_cafe, scope="read")
    kpis = caller.get("/kpis").json()
    assert kpis["status"] == "never" and kpis["computed_at"] is None and kpis["kpis"] == []
    assert caller.get("/segments").json() == {"status": "never", "computed_at": None, "segments": []}


def test_kpis_are_the_dashboards_figures(api, refreshed):
    snapshot = AnalyticsSnapshot.objects.get(business=refreshed)
    for days in PERIODS:
        body = api(refreshed, scope="read").get("/kpis", {"days": days}).json()
        assert body["status"] == "done" and body["days"] == days and body["currency"] == "EUR"
        period = snapshot.data["kpis"][str(days)]
        by_key = {k["key"]: k for k in body["kpis"]}
        revenue = Decimal(by_key["revenue"]["value"])
        assert revenue == Decimal(repr(period["current"]["revenue"])).quantize(Decimal("0.01"))
        assert revenue > 0 and revenue.as_tuple().exponent == -2  # money: a string, to the cent
        previous = period["previous"]["revenue"]
        assert by_key["revenue"]["previous"] == (
            None if previous is None else str(Decimal(repr(previous)).quantize(Decimal("0.01")))
        )
        assert by_key["churn"]["better"] == "down"
        assert by_key["orders"]["value"] == str(period["current"]["orders"])


def test_a_period_the_dashboard_does_not_have_is_a_clear_error(api, refreshed):
    response = api(refreshed).get("/kpis", {"days": 7})
    assert response.status_code == 422 and response.json()["field"] == "days"


def test_segments_count_every_scored_customer_and_list_them(api, refreshed):
    caller = api(refreshed, scope="read")
    body = caller.get("/segments").json()
    assert [s["segment"] for s in body["segments"]] == [
        s for s in Segment.values if s in {x["segment"] for x in body["segments"]}
    ]
    scored = CustomerScore.objects.filter(business=refreshed)
    assert sum(s["customers"] for s in body["segments"]) == scored.count() > 0
    biggest = max(body["segments"], key=lambda s: s["customers"])
    seen, cursor = [], None
    while True:
        params = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        page = caller.get(f"/segments/{biggest['segment']}/customers", params).json()
        seen += page["items"]
        if not (cursor := page["next_cursor"]):
            break
    assert len(seen) == biggest["customers"] == len({c["customer"] for c in seen})
    assert {c["segment"] for c in seen} == {biggest["segment"]}
    assert all(Decimal(c["revenue"]) > 0 for c in seen)
    assert caller.get("/segments/nonsense/customers").status_code == 404


def test_another_business_sees_none_of_it(api, refreshed, charlie_bakery):
    caller = api(charlie_bakery, scope="read")
    assert caller.get("/kpis").json()["status"] == "never"
    assert caller.get("/segments").json()["segments"] == []
    for segment in Segment.values:
        assert caller.get(f"/segments/{segment}/customers").json()["items"] == []
