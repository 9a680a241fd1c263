import hashlib
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Max, Q, Sum
from django.urls import reverse
from django.utils import timezone

from regulars.accounts.models import Business, Location, Membership, Role, User
from regulars.customers.models import Customer, TimelineEntry
from regulars.demo import menu
from regulars.demo.generator import SLUG, TIMEZONE, CodeSequence, DemoError, load_demo
from regulars.lib.codes import ALPHABET
from regulars.loyalty.models import Account, LedgerEntry, Program, Reward, TierStatus, Voucher
from regulars.sales.models import Product, Purchase, PurchaseLine, Refund

END = date(2025, 6, 30)
N = 60


def load(seed: int = 7, customers: int = N):
    return load_demo(customers=customers, seed=seed, end_date=END, progress=None)


def digest() -> str:
    """Everything a person would see of the demo, codes and amounts included, as one hash."""
    h = hashlib.sha256()
    queries = [
        Customer.objects.filter(business__slug=SLUG)
        .order_by("code")
        .values_list(
            "code", "card_code", "name", "email", "phone", "birthday", "joined_at", "language"
        ),
        Purchase.objects.filter(business__slug=SLUG)
        .order_by("code")
        .values_list(
            "code", "customer__code", "occurred_at", "total", "refunded", "location__name"
        ),
        PurchaseLine.objects.filter(purchase__business__slug=SLUG)
        .order_by("purchase__code", "product__sku")
        .values_list("purchase__code", "product__sku", "quantity", "amount"),
        Refund.objects.filter(business__slug=SLUG)
        .order_by("code")
        .values_list("code", "purchase__code", "amount"),
        # Loyalty: the ledger's own codes are random, what it says of each customer is not.
        Account.objects.filter(business__slug=SLUG)
        .order_by("customer__code", "program__name")
        .values_list("customer__code", "program__name", "balance", "expired_through"),
        TierStatus.objects.filter(business__slug=SLUG)
        .order_by("customer__code")
        .values_list("customer__code", "tier", "since", "period_ends_at"),
        Voucher.objects.filter(business__slug=SLUG)
        .order_by("customer__code", "issued_at", "name")
        .values_list("customer__code", "name", "issued_at", "status", "used_purchase__code"),
    ]
    for query in queries:
        for row in query:
            h.update(repr(row).encode())
    return h.hexdigest()


def local_date(moment) -> date:
    return moment.astimezone(ZoneInfo(TIMEZONE)).date()


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_cafe_and_a_rerun_replaces_it():
    first = load()
    before = digest()
    second = load()
    assert digest() == before
    assert Business.objects.filter(slug=SLUG).count() == 1
    assert Customer.objects.count() == N
    assert Purchase.objects.count() == first.purchases == second.purchases
    assert Location.objects.count() == 2
    assert Product.objects.count() == len(menu.MENU)
    assert Membership.objects.filter(business__slug=SLUG).count() == 2


@pytest.mark.django_db
def test_another_seed_gives_another_cafe():
    load(seed=7)
    first = digest()
    load(seed=8)
    assert digest() != first


@pytest.mark.django_db
def test_every_total_is_the_sum_of_its_lines_and_refunds_add_up():
    summary = load(seed=3, customers=200)
    # Summed in Python: SQLite adds decimals as floats.
    sums = defaultdict(Decimal)
    for purchase_id, amount in PurchaseLine.objects.values_list("purchase_id", "amount"):
        sums[purchase_id] += amount
    totals = dict(Purchase.objects.values_list("pk", "total"))
    assert len(totals) == summary.purchases
    assert totals == sums
    lines = PurchaseLine.objects.values_list("unit_price", "quantity", "amount")
    assert all(price * quantity == amount for price, quantity, amount in lines)
    refunded = Purchase.objects.filter(refunded__gt=0).annotate(back=Sum("refunds__amount"))
    assert refunded.exists(), "a few purchases are refunded"
    assert not refunded.exclude(refunded=F("back")).exists()
    assert not Purchase.objects.filter(refunded__gt=F("total")).exists()
    assert refunded.filter(refunded__lt=F("total")).exists(), "some refunds are partial"


@pytest.mark.django_db
def test_every_row_belongs_to_the_demo_and_other_businesses_are_untouched(alice_cafe, make):
    dora = make.customer(alice_cafe, name="Dora")
    make.purchase(alice_cafe, dora)
    load()
    load()
    demo = Business.objects.get(slug=SLUG)
    assert not Customer.objects.filter(business=demo).exclude(home_location__business=demo).exists()
    own_purchases = Purchase.objects.filter(business=demo)
    assert not own_purchases.exclude(location__business=demo).exists()
    assert not own_purchases.exclude(Q(customer=None) | Q(customer__business=demo)).exists()
    assert (
        not PurchaseLine.objects.filter(purchase__business=demo)
        .exclude(product__business=demo)
        .exists()
    )
    assert not TimelineEntry.objects.filter(business=demo).exclude(customer__business=demo).exists()
    assert not Refund.objects.filter(business=demo).exclude(purchase__business=demo).exists()
    assert (
        not Customer.tags.through.objects.filter(customer__business=demo)
        .exclude(tag__business=demo)
        .exists()
    )
    assert Customer.objects.filter(business=alice_cafe).get() == dora
    assert Purchase.objects.filter(business=alice_cafe).count() == 1
    assert TimelineEntry.objects.filter(business=alice_cafe).count() == 1


@pytest.mark.django_db
def test_timeline_mirrors_joins_purchases_and_refunds():
    summary = load(seed=11, customers=100)
    entries = TimelineEntry.objects.filter(business__slug=SLUG)
    assert entries.filter(kind="joined").count() == 100
    members = Purchase.objects.exclude(customer=None)
    assert entries.filter(kind="purchase").count() == members.count()
    entry = entries.filter(kind="purchase").first()
    purchase = Purchase.objects.get(code=entry.data["purchase"])
    assert entry.data == {"purchase": purchase.code, "total": str(purchase.total)}
    assert (entry.customer_id, entry.at) == (purchase.customer_id, purchase.occurred_at)
    refunds = Refund.objects.exclude(purchase__customer=None).count()
    assert entries.filter(kind="refund").count() == refunds
    # Joining is the first purchase; nobody buys before joining.
    assert not members.filter(occurred_at__lt=F("customer__joined_at")).exists()
    assert summary.refunds == Refund.objects.count()


@pytest.mark.django_db
def test_some_regulars_stop_coming():
    load(seed=5)
    cutoff = datetime(2025, 4, 1, tzinfo=ZoneInfo(TIMEZONE))  # 90 days before END
    churned = Customer.objects.annotate(
        visits=Count("purchases"), last=Max("purchases__occurred_at")
    ).filter(visits__gte=5, last__lt=cutoff)
    assert churned.count() >= 2
    still_coming = Customer.objects.filter(purchases__occurred_at__gte=cutoff).distinct()
    assert still_coming.count() >= 10


@pytest.mark.django_db
def test_saturdays_are_busier_than_weekdays_and_mornings_peak():
    load(seed=9)
    moments = list(Purchase.objects.values_list("occurred_at", flat=True))
    days = Counter(local_date(m) for m in moments)
    first, last = END - timedelta(days=729), END
    all_days = [first + timedelta(days=d) for d in range((last - first).days + 1)]
    saturdays = np.mean([days[d] for d in all_days if d.weekday() == 5])
    midweek = np.mean([days[d] for d in all_days if d.weekday() in (0, 1, 2, 3)])
    assert saturdays > 1.2 * midweek
    hours = Counter(m.astimezone(ZoneInfo(TIMEZONE)).hour for m in moments)
    assert hours[8] > hours[17] and hours[8] > hours[11]
    assert min(hours) >= 7 and max(hours) < 19


@pytest.mark.django_db
def test_cold_drinks_sell_in_summer_and_guests_make_about_a_third_of_sales():
    load(seed=4, customers=150)
    cold = PurchaseLine.objects.filter(product__category=menu.COLD)
    lines = PurchaseLine.objects.all()

    def share(months):
        in_months = Q(purchase__occurred_at__month__in=months)
        return cold.filter(in_months).count() / lines.filter(in_months).count()

    assert share([6, 7, 8]) > 2 * share([12, 1, 2])
    guests = Purchase.objects.filter(customer=None).count() / Purchase.objects.count()
    assert 0.2 < guests < 0.4


@pytest.mark.django_db
def test_customers_have_real_looking_unique_contacts():
    load(seed=2, customers=300)
    customers = Customer.objects.all()
    emails = [e for e in customers.values_list("email", flat=True) if e]
    phones = [p for p in customers.values_list("phone", flat=True) if p]
    assert len(set(emails)) == len(emails) and len(set(phones)) == len(phones)
    assert 0.8 < len(emails) / 300 < 0.95 and 0.85 < len(phones) / 300 < 0.95
    assert all(p.startswith("+") and p[1:].isdigit() for p in phones)
    assert 0.6 < customers.exclude(birthday=None).count() / 300 < 0.8
    consenting = customers.filter(marketing_consent=True)
    assert 0.5 < consenting.count() / 300 < 0.7
    assert not consenting.filter(consent_at=None).exists()
    assert set(customers.values_list("language", flat=True)) == {"en", "hu", "hr", "uk", "ru"}
    assert customers.filter(tags__name="office").exists()


@pytest.mark.django_db
def test_owner_logs_in_and_sees_the_demo_cafe(client):
    load()
    response = client.post(reverse("login"), {"username": "owner", "password": "demo"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("business_home", args=[SLUG])
    assert "Café Regulars Demo" in response.text
    client.logout()
    assert client.login(username="cashier", password="demo")


@pytest.mark.django_db
def test_it_will_not_take_over_a_login_of_a_real_business(alice_cafe):
    owner = User.objects.create_user("owner", password="their own")
    Membership.objects.create(user=owner, business=alice_cafe, role=Role.OWNER)
    with pytest.raises(DemoError, match="belongs to another business"):
        load()
    owner.refresh_from_db()
    assert owner.check_password("their own")
    assert not Business.objects.filter(slug=SLUG).exists()


@pytest.mark.django_db
def test_the_command_loads_up_to_now_and_prints_the_logins():
    out = StringIO()
    call_command("demo", "--customers", "20", "--no-serve", verbosity=0, stdout=out)
    assert "owner / demo" in out.getvalue() and "cashier / demo" in out.getvalue()
    assert "http://127.0.0.1:8000/b/demo/" in out.getvalue()
    assert Customer.objects.count() == 20
    assert not Purchase.objects.filter(occurred_at__gt=timezone.now()).exists()
    assert not Customer.objects.filter(joined_at__gt=timezone.now()).exists()


@pytest.mark.parametrize("args", [["--customers", "0"], ["--customers", "-5"], ["--years", "0"]])
def test_the_command_refuses_bad_numbers_in_one_line(args):
    with pytest.raises(CommandError) as error:
        call_command("demo", *args, "--no-serve")
    assert "\n" not in str(error.value)


def test_codes_are_unique_reproducible_and_use_the_code_alphabet():
    def codes(seed):
        return CodeSequence(np.random.Generator(np.random.PCG64(seed)), 10).take(20000)

    first = codes(1)
    assert len(set(first)) == len(first)
    assert all(len(c) == 10 and set(c) <= set(ALPHABET) for c in first)
    assert codes(1) == first
    assert codes(2) != first


@pytest.mark.django_db
def test_the_history_runs_through_the_programs_and_the_ledger_verifies():
    summary = load(seed=6, customers=150)
    out = StringIO()
    call_command("ledger", "verify", "--business", SLUG, stdout=out)
    assert out.getvalue().strip() == f"{SLUG}: ledger OK"
    programs = {p.kind: p for p in Program.objects.filter(business__slug=SLUG)}
    assert set(programs) == {"stamps", "points", "tiers"}
    assert programs["stamps"].rules.config.stamps_needed == 9
    catalogue = Reward.objects.filter(program=programs["points"]).order_by("cost")
    assert [(r.name, r.cost) for r in catalogue] == [
        ("Free croissant", 50),
        ("Free cappuccino", 80),
        ("10% off your order", 120),
        ("Barista class for two", 600),
    ]
    assert [t.name for t in programs["tiers"].rules.config.tiers] == ["Silver", "Gold", "Platinum"]
    entries = LedgerEntry.objects.filter(business__slug=SLUG)
    assert summary.ledger_entries == entries.count()
    assert set(entries.values_list("kind", flat=True)) >= {"earn", "redeem", "expire", "reverse"}
    # Every member purchase that bought a coffee or spent a euro earned.
    member_purchases = Purchase.objects.filter(business__slug=SLUG).exclude(customer=None)
    earned = entries.filter(kind="earn").values("purchase").distinct().count()
    assert earned == member_purchases.filter(total__gte=1).count()
    assert summary.redemptions == Voucher.objects.filter(business__slug=SLUG).count() > 20
    used = Voucher.objects.filter(business__slug=SLUG, status="used")
    assert used.exists() and not used.exclude(used_purchase__customer=F("customer")).exists()
    tiers = set(TierStatus.objects.filter(business__slug=SLUG).values_list("tier", flat=True))
    assert {"silver", "gold"} <= tiers
