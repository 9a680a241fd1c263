"""`regulars export`: one of the CSV exports of a business, streamed to a file or stdout."""

from __future__ import annotations

import os
import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from regulars.accounts.models import Business
from regulars.integrations.exports import EXPORTS, stream


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = (
        "Export customers, purchases (one row per line item), ledger entries, redemptions or "
        "survey answers as CSV. Rows are streamed: memory stays flat whatever the size. "
        "Times are in the business's time zone; --since and --until are days, both included."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=list(EXPORTS))
        parser.add_argument("--business", required=True, metavar="SLUG")
        parser.add_argument("--since", type=_date, metavar="YYYY-MM-DD")
        parser.add_argument("--until", type=_date, metavar="YYYY-MM-DD")
        parser.add_argument("-o", "--output", metavar="FILE", help="default: standard output")

    def handle(self, *args, kind, business, since=None, until=None, output=None, **opts):
        # call_command passes options as given, without the parser's type conversion.
        since = _date(since) if isinstance(since, str) else since
        until = _date(until) if isinstance(until, str) else until
        found = Business.objects.filter(slug=business).first()
        if found is None:
            raise CommandError(f"business: no business with slug {business!r}")
        if since and until and since > until:
            raise CommandError("since: must not be after until")
        pieces = stream(kind, found, since=since, until=until, bom=bool(output))
        if output:
            with open(output, "w", encoding="utf-8", newline="") as out:
                for piece in pieces:
                    out.write(piece)
        else:
            try:
                for piece in pieces:
                    self.stdout.write(piece, ending="")
                self.stdout.flush()
            except BrokenPipeError:
                # The reader stopped (`| head`): not an error. Point stdout at /dev/null so the
                # interpreter's own flush at exit does not complain either.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
