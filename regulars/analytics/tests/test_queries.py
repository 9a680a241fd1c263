"""The grouped queries against purchases written by hand, and against the CLV summary."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from regulars.analytics import metrics as m
from regulars.analytics import queries as q
from regulars.analytics.clv import summary_from_transactions

from .conftest import sell, simulated_history


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def day(text: str) -> int:
    return m.day_of(text)


@pytest.fixture
def june(alice_cafe, make):
    """Alice's café (UTC) in June 2024, the purchases of the docstrings below.

    Ann: 06-01 10:00 3.00 and 15:00 2.00 (one purchase day, two receipts), 06-10 4.00 with
         1.00 refunded (counts 3.00), 06-20 5.00 refunded in full (not a purchase),
         07-02 9.00 (after the end, 06-30: left out)
    Ben: 06-29 7.00
    a guest: 06-15 6.00
    """
    ann = make.customer(alice_cafe, name="Ann")
    ben = make.customer(alice_cafe, name="Ben")
    sell(alice_cafe, ann, at("2024-06-01 10:00"), "3.00")
    sell(alice_cafe, ann, at("2024-06-01 15:00"), "2.00")
    sell(alice_cafe, ann, at("2024-06-10 12:00"), "4.00", refunded="1.00")
    sell(alice_cafe, ann, at("2024-06-20 12:00"), "5.00", refunded="5.00")
    sell(alice_cafe, ann, at("2024-07-02 12:00"), "9.00")
    sell(alice_cafe, ben, at("2024-06-29 12:00"), "7.00")
    sell(alice_cafe, None, at("2024-06-15 12:00"), "6.00")
    return alice_cafe, ann, ben


def test_customer_facts_count_a_day_once_and_purchases_at_their_net_value(june):
    """Ann: first 06-01, last 06-10, 2 purchase days, 3 receipts, 5.00 + 3.00 = 8.00, of which
    the first day 2 receipts and 5.00. Ben: one day, 7.00. The guest is not a customer."""
    cafe, ann, ben = june
    f = q.customer_facts(cafe, as_of=date(2024, 6, 30), boundaries=[date(2024, 6, 5)])
    assert f.customer_id.tolist() == [ann.pk, ben.pk]
    assert f.first_day.tolist() == [day("2024-06-01"), day("2024-06-29")]
    assert f.last_day.tolist() == [day("2024-06-10"), day("2024-06-29")]
    assert f.days.tolist() == [2, 1]
    assert f.orders.tolist() == [3, 1]
    assert f.revenue.tolist() == pytest.approx([8.0, 7.0])
    assert f.first_day_orders.tolist() == [2, 1]
    assert f.first_day_revenue.tolist() == pytest.approx([5.0, 7.0])
    assert f.last_purchase_on_or_before(day("2024-06-05")).tolist() == [day("2024-06-01"), m.NO_DAY]
    assert f.purchase_days_on_or_before(day("2024-06-30")).tolist() == [2, 1]
    assert f.as_of == day("2024-06-30")


def test_customer_facts_mark_the_months_each_customer_bought_in(june):
    cafe, _ann, _ben = june
    f = q.customer_facts(cafe, as_of=date(2024, 6, 30), activity_months=2)
    assert [m.date_of(d) for d in f.month_starts] == ["2024-05-01", "2024-06-01", "2024-07-01"]
    assert f.active_in_month.tolist() == [[False, True], [False, True]]


def test_daily_sales_split_guests_new_and_returning(june):
    """06-01: Ann's first day, 2 receipts, 5.00 new; 06-10: Ann returns, 3.00; 06-15: a guest,
    6.00; 06-29: Ben's first day, 7.00 new."""
    cafe, _ann, _ben = june
    as_of = date(2024, 6, 30)
    daily = q.daily_sales(cafe, as_of=as_of, customers=q.customer_facts(cafe, as_of=as_of))
    assert [m.date_of(d) for d in daily.day] == [
        "2024-06-01",
        "2024-06-10",
        "2024-06-15",
        "2024-06-29",
    ]
    assert daily.orders.tolist() == [2, 1, 1, 1]
    assert daily.revenue.tolist() == pytest.approx([5.0, 3.0, 6.0, 7.0])
    assert daily.guest_revenue.tolist() == pytest.approx([0, 0, 6.0, 0])
    assert daily.new_orders.tolist() == [2, 0, 0, 1]
    assert daily.new_revenue.tolist() == pytest.approx([5.0, 0, 0, 7.0])
    assert daily.returning_revenue.tolist() == pytest.approx([0, 3.0, 0, 0])
    assert daily.new_customers.tolist() == [1, 0, 0, 1]
    assert daily.revenue_sq.tolist() == pytest.approx([9.0 + 4.0, 9.0, 36.0, 49.0])


def test_local_days_follow_the_business_time_zone_across_daylight_saving(alice_cafe):
    """Budapest is UTC+1 in winter and UTC+2 in summer (from 2024-03-31 01:00 UTC to
    2024-10-27 01:00 UTC). Each purchase is counted on its local calendar day:

    2024-01-15 23:30 UTC = 01-16 00:30 CET     2024-03-30 23:30 UTC = 03-31 00:30 CET
    2024-07-01 21:30 UTC = 07-01 23:30 CEST    2024-07-01 22:30 UTC = 07-02 00:30 CEST
    2024-10-26 22:30 UTC = 10-27 00:30 CEST    2024-10-27 22:30 UTC = 10-27 23:30 CET
    2024-12-31 23:30 UTC = 2025-01-01 00:30 CET: after the end (2024-12-31 local), left out.
    """
    alice_cafe.timezone = "Europe/Budapest"
    alice_cafe.save()
    for when in (
        "2024-01-15 23:30",
        "2024-03-30 23:30",
        "2024-07-01 21:30",
        "2024-07-01 22:30",
        "2024-10-26 22:30",
        "2024-10-27 22:30",
        "2024-12-31 23:30",
    ):
        sell(alice_cafe, None, at(when), "1.00")
    as_of = date(2024, 12, 31)
    daily = q.daily_sales(
        alice_cafe, as_of=as_of, customers=q.customer_facts(alice_cafe, as_of=as_of)
    )
    assert [m.date_of(d) for d in daily.day] == [
        "2024-01-16",
        "2024-03-31",
        "2024-07-01",
        "2024-07-02",
        "2024-10-27",
    ]
    assert daily.orders.tolist() == [1, 1, 1, 1, 2]


def test_the_customer_summary_is_the_clv_summary_of_the_same_purchases(alice_cafe):
    """x, t_x, T and the mean repeat spend built from the grouped query equal
    summary_from_transactions (tested against CDNOW) on the same purchases, local days."""
    now = datetime(2025, 3, 1, 12, tzinfo=UTC)
    alice_cafe.timezone = "America/New_York"
    alice_cafe.save()
    simulated_history(alice_cafe, customers=40, guests=5, now=now)
    from zoneinfo import ZoneInfo

    from regulars.sales.models import Purchase

    tz = ZoneInfo("America/New_York")
    rows = list(
        Purchase.objects.filter(business=alice_cafe, customer__isnull=False).values_list(
            "customer_id", "occurred_at", "total"
        )
    )
    as_of = date(2025, 3, 1)
    expected = summary_from_transactions(
        [r[0] for r in rows],
        [r[1].astimezone(tz).date() for r in rows],
        [float(r[2]) for r in rows],
        end=as_of,
    )
    f = q.customer_facts(alice_cafe, as_of=as_of)
    end = day(as_of.isoformat())
    x = f.days - 1
    assert f.customer_id.tolist() == expected.customer_id.tolist()
    assert x.tolist() == expected.frequency.tolist()
    assert (f.last_day - f.first_day).tolist() == expected.recency.tolist()
    assert (end - f.first_day).tolist() == expected.T.tolist()
    mean = np.divide(f.revenue - f.first_day_revenue, x, out=np.zeros(len(x)), where=x > 0)
    assert mean == pytest.approx(expected.monetary_value)


def test_another_business_purchases_are_never_read(june, charlie_bakery, make):
    sell(charlie_bakery, make.customer(charlie_bakery), at("2024-06-02 12:00"), "999.00")
    sell(charlie_bakery, None, at("2024-06-02 12:00"), "999.00")
    cafe, _ann, _ben = june
    as_of = date(2024, 6, 30)
    f = q.customer_facts(cafe, as_of=as_of)
    daily = q.daily_sales(cafe, as_of=as_of, customers=f)
    assert len(f) == 2 and daily.revenue.sum() == pytest.approx(21.0)


def test_loyalty_facts_net_cancelled_redemptions_and_price_points_by_the_catalog(alice_cafe, make):
    """Points program: a free coffee (3.00) costs 300 points: a point is worth 0.01.
    Redeemed in the last 365 days: 300 + 200, and the 200 cancelled: 300 net. A redemption
    400 days ago is outside the window. Dora's balance 500 is outstanding."""
    from regulars.loyalty.models import Account, LedgerEntry, Program, Reward
    from regulars.sales.models import Product

    now = datetime.now(UTC)
    dora = make.customer(alice_cafe)
    program = Program.objects.create(business=alice_cafe, kind="points", name="Beans", config={})
    coffee = Product.objects.create(business=alice_cafe, sku="C", name="Coffee", price="3.00")
    Reward.objects.create(
        business=alice_cafe,
        program=program,
        name="Coffee",
        kind="free_product",
        product=coffee,
        cost=300,
    )
    account = Account.objects.create(
        business=alice_cafe, customer=dora, program=program, unit="points", balance=500
    )

    def entry(kind, amount, days_ago, key, **extra):
        return LedgerEntry.objects.create(
            business=alice_cafe,
            account=account,
            kind=kind,
            amount=amount,
            at=now - timedelta(days=days_ago),
            operation=key,
            idempotency_key=key,
            **extra,
        )

    entry("earn", 1400, 500, "e1")
    entry("redeem", -400, 400, "r0")
    entry("redeem", -300, 20, "r1")
    cancelled = entry("redeem", -200, 10, "r2")
    entry("reverse", 200, 9, "u2", reverses=cancelled)
    today = now.date()
    facts = q.loyalty_facts(alice_cafe, since=today - timedelta(days=365), as_of=today)
    assert facts.programs == [
        m.ProgramFacts("Beans", "points", 1, 300, 500, pytest.approx(0.01), "rewards")
    ]
    customers = q.customer_facts(alice_cafe, as_of=today)
    assert customers.is_member.tolist() == []  # Dora never bought
