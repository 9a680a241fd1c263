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
