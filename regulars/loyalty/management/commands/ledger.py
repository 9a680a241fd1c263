"""`regulars ledger verify|expire`: prove a ledger exact, or run the expiry now."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError

from regulars.accounts.models import Business


class Command(BaseCommand):
    help = (
        "Check or maintain loyalty ledgers.\n\n"
        "  verify   prove that every balance equals the sum of its entries, that nothing is\n"
        "           below its floor and that reversals and expiries add up; exits with 1 and\n"
        "           lists the problems when something is off\n"
        "  expire   expire due points (first earned, first expired), review tiers whose\n"
        "           period ended and announce what expires soon; safe to run again\n\n"
        "Without --business, every business is processed."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{verify,expire}")
        for name, text in (
            ("verify", "prove the ledger exact (exit code 1 on any problem)"),
            ("expire", "run the expiry now (idempotent)"),
        ):
            sub = actions.add_parser(name, help=text, description=text)
            sub.add_argument("--business", metavar="SLUG", help="only this business (default: all)")
            if name == "expire":
                sub.add_argument(
                    "--notice-days",
                    type=int,
                    default=None,
                    help="announce points expiring within this many days (default 14)",
                )

    def handle(self, *args, action, business=None, **options):
        businesses = Business.objects.order_by("slug")
        if business:
            businesses = businesses.filter(slug=business)
            if not businesses.exists():
                raise CommandError(f"business: no business with slug {business!r}")
        if action == "verify":
            self.verify(businesses)
        else:
            self.expire(businesses, options.get("notice_days"))

    def verify(self, businesses) -> None:
        from regulars.loyalty.verify import verify_ledger

        total = 0
        for b in businesses:
            problems = verify_ledger(b)
            total += len(problems)
            for problem in problems:
                self.stderr.write(f"{b.slug}: {problem}")
            if not problems:
                self.stdout.write(f"{b.slug}: ledger OK")
        if total:
            raise CommandError(f"{total} problem(s) found", returncode=1)

    def expire(self, businesses, notice_days: int | None) -> None:
        from regulars.loyalty.tasks import EXPIRY_NOTICE_DAYS, run_expiry

        for b in businesses:
            done = run_expiry(b, notice_days=notice_days or EXPIRY_NOTICE_DAYS)
            self.stdout.write(
                f"{b.slug}: {done['expired_entries']} lot(s) expired, "
                f"{done['tier_changes']} tier change(s), "
                f"{done['expiring_soon']} expiring soon"
            )
