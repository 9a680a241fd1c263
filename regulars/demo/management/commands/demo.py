import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from regulars.demo.generator import LOGINS, PASSWORD, SLUG, DemoError, load_demo


def _positive(name: str, value: int, largest: int) -> None:
    if not 1 <= value <= largest:
        raise CommandError(f"--{name}: must be between 1 and {largest:,}, not {value}")


class Command(BaseCommand):
    help = (
        "Load the demo café (two locations, a menu, customers and their purchases over the last "
        "years up to today), then serve it. Migrates the database first and replaces any "
        "previous demo business; logins owner/demo and cashier/demo."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--customers",
            type=int,
            default=2000,
            help="how many customers joined over the years (default 2000; 100000 takes minutes)",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=42,
            help="random seed: the same seed gives the same café, relative to today (default 42)",
        )
        parser.add_argument(
            "--years", type=int, default=2, help="years of history up to today (default 2)"
        )
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="load the demo and stop instead of starting the web server",
        )
        parser.add_argument(
            "--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)"
        )
        parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")

    def handle(self, *args, customers, seed, years, no_serve, host, port, **options):
        _positive("customers", customers, 10_000_000)
        _positive("years", years, 10)
        _positive("port", port, 65535)
        if seed < 0:
            raise CommandError(f"--seed: must not be negative, not {seed}")
        started = time.monotonic()
        call_command("migrate", interactive=False, verbosity=0)
        try:
            summary = load_demo(
                customers=customers,
                seed=seed,
                years=years,
                progress=sys.stderr if options["verbosity"] > 0 else None,
            )
        except DemoError as exc:
            raise CommandError(str(exc)) from exc
        seconds = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {summary.business.name} in {seconds:.1f} s: {summary.customers:,} "
                f"customers, {summary.purchases:,} purchases, {summary.refunds:,} refunds, "
                f"{summary.ledger_entries:,} ledger entries, {summary.redemptions:,} rewards "
                "redeemed."
            )
        )
        self.stdout.write(f"Open http://{host}:{port}/b/{SLUG}/ and log in as:")
        for username, role in LOGINS.items():
            self.stdout.write(f"  {username} / {PASSWORD}  ({role.label.lower()})")
        if not no_serve:
            call_command("serve", host=host, port=port)
