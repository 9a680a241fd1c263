"""The background refresh: snapshot, customer scores, status handling, and its query count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from regulars.analytics import refresh as refresh_module
from regulars.analytics import tasks as tasks_module
from regulars.analytics.metrics import Segment
from regulars.analytics.models import AnalyticsSnapshot, CustomerScore
from regulars.analytics.tasks import refresh_analytics, request_refresh, run_refresh

from .conftest import sell, simulated_history

Status = AnalyticsSnapshot.Status


class FakeTask:
    """Stands in for the task (a frozen dataclass) to see what is enqueued, or fail to."""

    def __init__(self, error: Exception | None = None) -> None:
        self.enqueued: list[tuple] = []
        self.error = error

    def enqueue(self, *args) -> None:
        if self.error:
            raise self.error
        self.enqueued.append(args)


def test_a_refresh_stores_the_numbers_and_a_score_for_every_buyer(alice_cafe, cafe_history):
    outcome = run_refresh(alice_cafe.pk)
    assert outcome["status"] == "done"
    snapshot = AnalyticsSnapshot.objects.get(business=alice_cafe)
    assert (snapshot.status, snapshot.progress, snapshot.error) == (Status.DONE, 100, "")
    data = snapshot.data
    assert set(data["kpis"]) == {"30", "90", "365"}
    assert data["counts"]["guest_purchases"] == 40
    assert data["models"]["bgnbd"] is not None and data["models"]["gammagamma"] is not None
    assert data["forecast"]["method"] == "models"
    assert len(data["forecast"]["expected"]) == 12
    assert sum(s["customers"] for s in data["segments"]) == data["counts"]["buyers"]

    scores = CustomerScore.objects.filter(business=alice_cafe)
    assert scores.count() == data["counts"]["buyers"] == len(cafe_history)
    assert set(scores.values_list("segment", flat=True)) <= set(Segment.values)
    for score in scores:
        assert 0.0 <= score.p_alive <= 1.0
        assert score.expected_90d >= 0 and score.clv >= 0
        assert 1 <= score.recency_score <= 5


def test_a_second_refresh_replaces_the_scores(alice_cafe, cafe_history, make):
    run_refresh(alice_cafe.pk)
    first = AnalyticsSnapshot.objects.get(business=alice_cafe).computed_at
    # A customer whose only purchase was refunded in full since: no longer a buyer, no score.
    gone = CustomerScore.objects.filter(business=alice_cafe, orders=1).first().customer
    gone.purchases.update(refunded=F("total"))
    run_refresh(alice_cafe.pk)
    scores = CustomerScore.objects.filter(business=alice_cafe)
    assert scores.count() == len(cafe_history) - 1
    assert (
        set(scores.values_list("computed_at", flat=True))
        == {AnalyticsSnapshot.objects.get(business=alice_cafe).computed_at}
        != {first}
    )
    assert not scores.filter(customer=gone).exists()


def test_deleting_a_customer_deletes_their_score(alice_cafe, cafe_history):
    run_refresh(alice_cafe.pk)
    score = CustomerScore.objects.filter(business=alice_cafe).first()
    customer = score.customer
    customer.purchases.all().delete()
    customer.delete()
    assert not CustomerScore.objects.filter(pk=score.pk).exists()


def test_the_refresh_reads_with_a_fixed_number_of_queries(
    alice_cafe, charlie_bakery, django_assert_max_num_queries
):
    """No query per customer: 60 customers and 6 cost the same few grouped queries."""
    simulated_history(alice_cafe, customers=60)
    simulated_history(charlie_bakery, customers=6, seed=3)
    with django_assert_max_num_queries(32) as big:
        run_refresh(alice_cafe.pk)
    with django_assert_max_num_queries(32) as small:
        run_refresh(charlie_bakery.pk)
    assert len(big.captured_queries) == len(small.captured_queries)


def test_a_young_business_gets_its_metrics_without_the_models(alice_cafe, make):
    """3 customers are too few to fit BG/NBD: no predictions, the recent rate forecasts."""
    now = timezone.now()
    for i in range(3):
        customer = make.customer(alice_cafe, name=f"C{i}")
        sell(alice_cafe, customer, now - timedelta(days=20 + i), "4.00")
        sell(alice_cafe, customer, now - timedelta(days=5 + i), "6.00")
    assert run_refresh(alice_cafe.pk)["status"] == "done"
    data = AnalyticsSnapshot.objects.get(business=alice_cafe).data
    assert data["models"] == {"note": "too_little_history", "bgnbd": None, "gammagamma": None}
    assert data["forecast"]["method"] == "recent_rate"
    assert data["kpis"]["30"]["current"]["revenue"] == 30.0
    score = CustomerScore.objects.filter(business=alice_cafe).first()
    assert score.p_alive is None and score.clv is None and score.segment


def test_a_business_without_sales_gets_an_empty_snapshot(alice_cafe):
    assert run_refresh(alice_cafe.pk)["status"] == "done"
    data = AnalyticsSnapshot.objects.get(business=alice_cafe).data
    assert data["counts"]["purchases"] == 0
    assert data["kpis"]["30"]["current"]["aov"] is None
    assert data["forecast"] == {"method": None}
    assert data["clv_histogram"] is None


def test_a_failed_refresh_keeps_the_last_numbers(alice_cafe, cafe_history, monkeypatch):
    run_refresh(alice_cafe.pk)
    before = AnalyticsSnapshot.objects.get(business=alice_cafe)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(refresh_module, "compute", broken)
    assert run_refresh(alice_cafe.pk)["status"] == "failed"
    after = AnalyticsSnapshot.objects.get(business=alice_cafe)
    assert after.status == Status.FAILED and "disk full" in after.error
    assert after.data == before.data and after.computed_at == before.computed_at


def test_recompute_is_queued_once_however_often_it_is_asked(
    alice_cafe, monkeypatch, django_capture_on_commit_callbacks
):
    fake = FakeTask()
    monkeypatch.setattr(tasks_module, "refresh_analytics", fake)
    with django_capture_on_commit_callbacks(execute=True):
        assert request_refresh(alice_cafe) is True
        assert request_refresh(alice_cafe) is False
    assert fake.enqueued == [(alice_cafe.pk,)]
    assert AnalyticsSnapshot.objects.get(business=alice_cafe).status == Status.QUEUED


def test_a_refresh_that_stopped_reporting_can_be_requested_again(alice_cafe, monkeypatch):
    monkeypatch.setattr(tasks_module, "refresh_analytics", FakeTask())
    AnalyticsSnapshot.objects.create(
        business=alice_cafe,
        status=Status.RUNNING,
        updated_at=timezone.now() - timedelta(minutes=20),
    )
    assert request_refresh(alice_cafe) is True


def test_a_duplicate_task_leaves_a_running_refresh_alone(alice_cafe):
    AnalyticsSnapshot.objects.create(
        business=alice_cafe, status=Status.RUNNING, updated_at=timezone.now()
    )
    assert run_refresh(alice_cafe.pk) == {"status": "busy"}
    assert run_refresh(alice_cafe.pk, force=True)["status"] == "done"


def test_a_queue_that_is_down_shows_as_a_failed_refresh(
    alice_cafe, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(
        tasks_module, "refresh_analytics", FakeTask(ConnectionError("redis is down"))
    )
    with django_capture_on_commit_callbacks(execute=True):
        request_refresh(alice_cafe)
    snapshot = AnalyticsSnapshot.objects.get(business=alice_cafe)
    assert snapshot.status == Status.FAILED and "redis is down" in snapshot.error


def test_the_task_refreshes_the_business(alice_cafe, cafe_history):
    request_refresh(alice_cafe)
    assert refresh_analytics.call(alice_cafe.pk)["status"] == "done"
    assert AnalyticsSnapshot.objects.get(business=alice_cafe).status == Status.DONE


def test_slipping_customers_have_a_lower_probability_than_a_month_ago(alice_cafe, make):
    """A regular who bought every week for a year and stopped 45 days ago: 30 days ago her
    absence was short (P(active) high), now it is long for her rhythm (lower)."""
    now = datetime.now(UTC)
    simulated_history(alice_cafe, customers=40, seed=11)
    eve = make.customer(alice_cafe, name="Eve Weekly")
    for week in range(52):
        sell(alice_cafe, eve, now - timedelta(days=45 + 7 * week), "25.00")
    run_refresh(alice_cafe.pk)
    score = CustomerScore.objects.get(customer=eve)
    assert score.p_alive_before - score.p_alive > 0.05
    assert score.monetary_score == 5
    from regulars.analytics.reports import slipping_away

    assert eve in [s.customer for s in slipping_away(alice_cafe)]


@pytest.mark.parametrize("days", [30, 90, 365])
def test_each_period_compares_with_the_one_before(alice_cafe, cafe_history, days):
    run_refresh(alice_cafe.pk)
    kpis = AnalyticsSnapshot.objects.get(business=alice_cafe).data["kpis"][str(days)]
    assert kpis["current"]["revenue"] > 0
    assert set(kpis["current"]) == set(kpis["previous"])
