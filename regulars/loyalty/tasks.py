"""Scheduled loyalty work, as django.tasks tasks (run by `regulars worker`).

`expire_points` is enqueued once a day by the scheduler in every worker (regulars.scheduler;
without a worker, run `regulars ledger expire` from cron); every step is idempotent, so a
missed or doubled run does no harm.
"""

from __future__ import annotations

from django.tasks import task
from django.utils import timezone

from regulars.accounts.models import Business

# How far ahead customers are warned that points will expire.
EXPIRY_NOTICE_DAYS = 14


def run_expiry(business: Business, *, notice_days: int = EXPIRY_NOTICE_DAYS) -> dict[str, int]:
    """Expire due lots, review tiers whose period ended, announce what expires soon."""
    from regulars.loyalty.expiry import announce_expiring, expire_due
    from regulars.loyalty.programs.tiers import review_tiers

    now = timezone.now()
    expired = expire_due(business=business, now=now)
    tier_changes = review_tiers(business=business, now=now)
    expiring = announce_expiring(business=business, within_days=notice_days, now=now)
    return {
        "expired_entries": len(expired),
        "tier_changes": len(tier_changes),
        "expiring_soon": len(expiring),
    }


@task()
def expire_points(business_slug: str | None = None, notice_days: int = EXPIRY_NOTICE_DAYS) -> dict:
    """Nightly: run `run_expiry` for one business (by slug) or for all of them."""
    businesses = Business.objects.order_by("pk")
    if business_slug:
        businesses = businesses.filter(slug=business_slug)
    return {b.slug: run_expiry(b, notice_days=notice_days) for b in businesses}


def birthdays_today(business: Business, today) -> list:
    """Customers of the business whose birthday is `today` (29 February counts on the 28th in
    other years)."""
    import calendar

    from regulars.customers.models import Customer

    days = [today.day]
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        days.append(29)
    return list(
        Customer.objects.filter(
            business=business, birthday__month=today.month, birthday__day__in=days
        ).order_by("pk")
    )


def run_birthday_bonuses(business: Business, *, now=None) -> int:
    """Pay the running programs' birthday bonus to today's birthdays (in the business's time
    zone); keyed by customer and year, so a second run the same year pays nothing more."""
    from zoneinfo import ZoneInfo

    from regulars.loyalty.ledger import award_bonus
    from regulars.loyalty.models import LedgerEntry, Program
    from regulars.loyalty.programs.base import Bonus

    programs = Program.objects.running_for(business)
    if not any(p.rules.bonus(Bonus.BIRTHDAY) for p in programs):
        return 0
    now = now or timezone.now()
    today = now.astimezone(ZoneInfo(business.timezone)).date()
    paid = 0
    for customer in birthdays_today(business, today):
        key = f"birthday:{customer.code}:{today.year}"
        if LedgerEntry.objects.filter(business=business, operation=key).exists():
            continue  # paid by an earlier run today
        if award_bonus(customer=customer, action=Bonus.BIRTHDAY, idempotency_key=key, now=now):
            paid += 1
    return paid


@task()
def birthday_bonuses() -> dict:
    """Daily: the birthday bonus for every business that runs one."""
    return {b.slug: run_birthday_bonuses(b) for b in Business.objects.order_by("pk")}
