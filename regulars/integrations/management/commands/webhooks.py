from django.core.management.base import BaseCommand, CommandError

from regulars.accounts.models import Business
from regulars.integrations.deliveries import attempt, due


class Command(BaseCommand):
    help = (
        "Webhook deliveries. `deliver` sends every delivery that is due now (one attempt each): "
        "run it from cron when no task worker runs, or to catch up after an outage."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        deliver = sub.add_parser(
            "deliver",
            help="attempt every due delivery now, oldest first",
            description="Attempt every due webhook delivery now (oldest first), one attempt "
            "each; failures are scheduled for their next retry as usual.",
        )
        deliver.add_argument("--business", help="only this business (slug)")
        deliver.add_argument(
            "--limit", type=int, default=0, help="at most this many deliveries (0: all)"
        )

    def handle(self, *args, action, business=None, limit=0, **opts):
        deliveries = due().select_related("endpoint", "business")
        if business:
            found = Business.objects.filter(slug=business).first()
            if found is None:
                raise CommandError(f"business: no business with slug {business!r}")
            deliveries = deliveries.filter(business=found)
        if limit < 0:
            raise CommandError("limit: must be 0 or more")
        if limit:
            deliveries = deliveries[:limit]
        sent = failed = 0
        for delivery in list(deliveries):
            logged = attempt(delivery)
            if logged is None:
                continue  # another worker took it
            outcome = logged.status_code or logged.error
            self.stdout.write(
                f"{delivery.business.slug}\t{delivery.code}\t{delivery.event}\t"
                f"{delivery.endpoint.url}\t{outcome}\t{logged.response_ms} ms\t{delivery.status}"
            )
            if logged.succeeded:
                sent += 1
            else:
                failed += 1
        self.stderr.write(f"{sent} delivered, {failed} failed.")
