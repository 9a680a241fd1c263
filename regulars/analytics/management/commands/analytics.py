"""`regulars analytics refresh --business SLUG`: recompute a business's analytics now.

Runs the same refresh as the dashboard's Recompute button, in this process, with a progress
bar; `--all` refreshes every business (for a nightly cron job).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from regulars.accounts.models import Business
from regulars.analytics.models import AnalyticsSnapshot
from regulars.analytics.tasks import run_refresh


class Command(BaseCommand):
    help = "Recompute analytics: `refresh --business SLUG` (or --all), `status --business SLUG`."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        refresh = actions.add_parser(
            "refresh", help="compute every metric, fit the models, score every customer"
        )
        which = refresh.add_mutually_exclusive_group(required=True)
        which.add_argument("--business", metavar="SLUG")
        which.add_argument("--all", action="store_true", help="every business, one by one")
        refresh.add_argument("--quiet", action="store_true", help="no progress bar")
        status = actions.add_parser("status", help="when the analytics were last computed")
        status.add_argument("--business", metavar="SLUG", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "status":
            self.status(_business(options["business"]))
            return
        businesses = (
            list(Business.objects.order_by("slug"))
            if options["all"]
            else [_business(options["business"])]
        )
        failed = []
        for business in businesses:
            outcome = self.refresh(business, quiet=options["quiet"])
            if outcome["status"] == "done":
                self.stdout.write(f"{business.slug}: done in {outcome['seconds']:.1f} s")
            else:
                failed.append(business.slug)
                self.stderr.write(f"{business.slug}: failed: {outcome.get('error', '')}")
        if failed:
            raise CommandError(f"the refresh failed for {', '.join(failed)}")

    def refresh(self, business: Business, *, quiet: bool) -> dict[str, Any]:
        bar = tqdm(
            total=100,
            desc=business.slug,
            unit="%",
            file=self.stderr,
            disable=quiet,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}",
        )

        def progress(percent: int, message: str) -> None:
            bar.update(percent - bar.n)
            bar.set_postfix_str(message)

        try:
            return run_refresh(business.pk, force=True, progress=progress)
        finally:
            bar.close()

    def status(self, business: Business) -> None:
        snapshot = AnalyticsSnapshot.objects.filter(business=business).first()
        if snapshot is None:
            self.stdout.write(f"{business.slug}: never computed")
            return
        line = f"{business.slug}: {snapshot.status}"
        if snapshot.busy:
            line += f" ({snapshot.progress}% {snapshot.message})"
        if snapshot.computed_at:
            line += f"; last computed {snapshot.computed_at:%Y-%m-%d %H:%M} UTC"
            line += f" in {snapshot.duration_s:.1f} s"
        if snapshot.error:
            line += f"; last error: {snapshot.error}"
        self.stdout.write(line)


def _business(slug: str) -> Business:
    business = Business.objects.filter(slug=slug).first()
    if business is None:
        raise CommandError(f"--business: no business {slug!r}")
    return business
