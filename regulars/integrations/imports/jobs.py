"""Import jobs: set one up from a file, check it, run it; progress and results on the job row.

Views, tasks and the `regulars import` command are thin wrappers around these functions, so an
import from the page and one from the command line do exactly the same thing.
"""

from __future__ import annotations

import csv
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from regulars.accounts.models import Business, Location
from regulars.customers.models import Customer
from regulars.integrations.imports import parsing
from regulars.integrations.imports.fields import SALES
from regulars.integrations.imports.importer import Checked, Imported, PeopleWriter, check, run
from regulars.integrations.imports.presets import DEFAULT_PRESET, PRESETS, guess_mapping
from regulars.integrations.imports.problems import Problem
from regulars.integrations.imports.rows import Config, FileProblem, Reader, Record
from regulars.integrations.models import ImportJob
from regulars.sales.models import Product

logger = logging.getLogger(__name__)

OPTION_DEFAULTS = {
    "encoding": "utf-8",
    "delimiter": ",",
    "decimal": "auto",
    "date_format": "iso",
    "on_error": ImportJob.OnError.STOP,
    "backfill": False,
    "source": "",
}


class ImportRefused(ValueError):
    """The job cannot do what was asked now (already running, not checked, …)."""


# --- setting up ---------------------------------------------------------------------------


def sample_values(sniffed: parsing.Sniffed, mapping: dict[str, int], names: tuple[str, ...]):
    return [
        row[mapping[name]].strip()
        for row in sniffed.rows
        for name in names
        if name in mapping and mapping[name] < len(row) and row[mapping[name]].strip()
    ]


def configure(
    job: ImportJob,
    *,
    preset: str | None = None,
    options: dict | None = None,
    mapping: dict[str, int] | None = None,
) -> parsing.Sniffed:
    """Read the start of the job's file and fill in what was not given: encoding, delimiter,
    column mapping (from the preset), decimal separator and date format. Saves the job."""
    given = {k: v for k, v in (options or {}).items() if v not in (None, "")}
    options = {**OPTION_DEFAULTS, **(job.options or {}), **given}
    if preset:
        job.preset = preset
    found = PRESETS.get(job.preset) or PRESETS[DEFAULT_PRESET]
    job.kind = found.kind
    sniffed = parsing.sniff(
        job.path, encoding=given.get("encoding"), delimiter=given.get("delimiter")
    )
    options["encoding"], options["delimiter"] = sniffed.encoding, sniffed.delimiter
    options["encoding_guessed"] = sniffed.encoding_guessed
    job.headers = sniffed.headers
    job.mapping = (
        {k: v for k, v in mapping.items() if 0 <= v < len(sniffed.headers)}
        if mapping is not None
        else guess_mapping(sniffed.headers, found)
    )
    if "decimal" not in given:
        amounts = sample_values(sniffed, job.mapping, ("line_total", "unit_price", "order_total"))
        options["decimal"] = parsing.guess_decimal(amounts)
    if "date_format" not in given:
        dates = sample_values(sniffed, job.mapping, ("date", "joined"))
        guess = parsing.guess_date_format(dates)
        options["date_format"], options["date_ambiguous"] = guess.format, guess.ambiguous
    job.options = options
    job.save()
    return sniffed


def config_for(job: ImportJob, *, with_check: bool = False) -> Config:
    """How to read the job's file: its options plus the business's locations and products."""
    business = job.business
    locations = {}
    for pk, name, code in Location.objects.filter(business=business).values_list(
        "pk", "name", "code"
    ):
        locations.setdefault(name.casefold(), pk)
        locations.setdefault(code.casefold(), pk)
    default_location = None
    if len(set(locations.values())) == 1:
        default_location = next(iter(locations.values()))
    products = dict(Product.objects.filter(business=business).values_list("sku", "pk"))
    with translation.override(business.language):
        adjustment = _("Other charges and discounts")
    return Config(
        kind=job.kind,
        mapping={k: int(v) for k, v in job.mapping.items()},
        encoding=job.option("encoding", "utf-8"),
        delimiter=job.option("delimiter", ","),
        date_format=job.option("date_format", "iso"),
        decimal=job.option("decimal", "auto"),
        timezone=business.timezone,
        currency=business.currency,
        source=job.option("source", ""),
        locations=locations,
        default_location=default_location,
        products=products,
        adjustment_name=adjustment,
        split_lines=frozenset(job.split_lines) if with_check else frozenset(),
        copies={int(k): v for k, v in job.copies.items()} if with_check else {},
    )


# --- reports ------------------------------------------------------------------------------


def _report_name(job: ImportJob, suffix: str) -> str:
    return f"imports/{job.business.slug}/{job.code}-{suffix}.csv"


@contextmanager
def _report(job: ImportJob, suffix: str):
    """A CSV of lines with what was wrong, in the business's language, next to the upload.

    Yields `add(problem, cells)`, or None for a CLI import (its problems go to the terminal).
    """
    if not job.file:
        yield None, ""
        return
    name = _report_name(job, suffix)
    path = Path(settings.MEDIA_ROOT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(path, "w", newline="", encoding="utf-8-sig") as out,
        translation.override(job.business.language),
    ):
        writer = csv.writer(out)
        writer.writerow([_("line"), _("column"), _("problem"), *job.headers])

        def add(problem: Problem, cells: list[str]) -> None:
            label = problem.field_label if problem.field else ""
            writer.writerow([problem.line, label, problem.message, *cells])

        yield add, name


# --- progress -----------------------------------------------------------------------------


def _progress(job: ImportJob, total: int | None = None):
    def update(rows: int, fraction: float) -> None:
        percent = round(100 * (rows / total if total else fraction))
        ImportJob.objects.filter(pk=job.pk).update(
            processed_rows=rows, progress=max(0, min(100, percent))
        )

    return update


# --- the two steps ------------------------------------------------------------------------


def start_check(job: ImportJob) -> None:
    """Mark the job as being checked (a task or the caller runs `check_job` next)."""
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.busy or locked.status == ImportJob.Status.DONE:
            raise ImportRefused(_("This import is busy or finished; it cannot be checked again."))
        locked.status = ImportJob.Status.CHECKING
        locked.progress = locked.processed_rows = 0
        locked.save(update_fields=["status", "progress", "processed_rows"])
    job.refresh_from_db()


def check_job(job: ImportJob, *, on_problem=None) -> Checked:
    """Check every line of the file; the job ends CHECKED with its problems."""
    job.refresh_from_db()
    config = config_for(job)
    try:
        with _report(job, "errors") as (add, name):

            def report(problem: Problem, cells: list[str]) -> None:
                if add is not None:
                    add(problem, cells)
                if on_problem is not None:
                    on_problem(problem)

            checked = check(config, job.path, on_problem=report, on_progress=_progress(job))
    except OSError as exc:
        _fail(job, _("The file cannot be read: %(error)s") % {"error": exc.strerror or exc})
        raise
    job.status = ImportJob.Status.CHECKED
    job.total_rows = checked.rows
    job.processed_rows = checked.rows
    job.progress = 100
    job.error_count = checked.problem_count
    job.bad_lines = checked.bad_lines
    job.errors = [p.as_dict() for p in checked.problems]
    job.split_lines = checked.split_lines
    job.copies = {str(k): v for k, v in checked.copies.items()}
    job.summary = {
        "rows": checked.rows,
        "records": checked.records,
        "ignored_rows": checked.ignored_rows,
        "fatal": checked.fatal is not None,
        "first_at": checked.first_at.isoformat() if checked.first_at else None,
        "last_at": checked.last_at.isoformat() if checked.last_at else None,
    }
    job.error_file.name = name if checked.problem_count and name else ""
    job.checked_at = timezone.now()
    job.save()
    return checked


def can_start(job: ImportJob) -> str:
    """Why the import cannot start now, or "" when it can."""
    if job.status != ImportJob.Status.CHECKED:
        return _("Check the whole file first.")
    if job.summary.get("fatal"):
        return _("The file cannot be read to the end; fix it or choose another encoding.")
    if job.error_count and job.option("on_error") != ImportJob.OnError.SKIP:
        return _(
            "Some lines are bad. Fix them and upload the file again, or choose to skip bad lines."
        )
    if (
        ImportJob.objects.filter(
            business=job.business, status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING]
        )
        .exclude(pk=job.pk)
        .exists()
    ):
        return _("Another import of this business is running; wait for it to finish.")
    return ""


def queue(job: ImportJob) -> None:
    """Mark a checked job as waiting for the worker; refuses what `can_start` refuses."""
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        reason = can_start(locked)
        if reason:
            raise ImportRefused(reason)
        locked.status = ImportJob.Status.QUEUED
        locked.progress = locked.processed_rows = 0
        locked.save(update_fields=["status", "progress", "processed_rows"])
    job.refresh_from_db()


def run_job(job: ImportJob, *, on_skipped=None) -> Imported:
    """Import the checked file; the job ends DONE (or FAILED) with what was written."""
    job.refresh_from_db()
    if job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.CHECKED):
        raise ImportRefused(_("This import is not waiting to run."))
    job.status = ImportJob.Status.RUNNING
    job.started_at = timezone.now()
    job.progress = job.processed_rows = 0
    job.save(update_fields=["status", "started_at", "progress", "processed_rows"])
    config = config_for(job, with_check=True)
    backfill = bool(job.option("backfill")) and job.kind == SALES
    try:
        with _report(job, "skipped") as (add, name):

            def skipped(problem: Problem, cells: list[str]) -> None:
                if add is not None:
                    add(problem, cells)
                if on_skipped is not None:
                    on_skipped(problem)

            result = run(
                job.business,
                config,
                job.path,
                skip_bad=job.option("on_error") == ImportJob.OnError.SKIP,
                keep_created=backfill,
                on_skipped=skipped,
                on_progress=_progress(job, job.total_rows),
            )
        if backfill:
            result.accrued = backfill_points(job.business, result)
    except Exception as exc:
        logger.exception("import %s failed", job.code)
        _fail(job, _("The import stopped: %(error)s") % {"error": exc})
        raise
    job.status = ImportJob.Status.DONE if result.stopped_at is None else ImportJob.Status.FAILED
    if result.stopped_at is not None:
        job.message = str(result.stopped_at)
    job.result = result.as_dict()
    job.processed_rows = result.rows
    job.progress = 100
    job.report_file.name = name if (result.skipped_rows or result.ignored_rows) and name else ""
    job.finished_at = timezone.now()
    job.save()
    return result


def _fail(job: ImportJob, message: str) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.FAILED, message=message, finished_at=timezone.now()
    )


def backfill_points(business: Business, result: Imported) -> int:
    """Run the imported purchases through the loyalty programs; returns how many were run.

    Customers without any loyalty history go through `loyalty.backfill.backfill`, the fast
    replay of a customer's whole history (their older purchases included, exactly as if they
    had been live). Customers who already have ledger entries cannot be replayed from the
    start, so their imported purchases go through `ledger.accrue_purchase` one by one, oldest
    first, under the key a counter sale uses (`accrue:<code>`): nothing can accrue twice.
    """
    from regulars.loyalty.ledger import accrue_purchase
    from regulars.sales.models import Purchase

    created = sorted(result.created)
    customers = sorted({customer for _at, _pk, customer in created})
    if not customers:
        return 0
    replayed: set[int] = set()
    ran = 0
    try:
        from regulars.loyalty.backfill import backfill
    except ImportError:  # pragma: no cover - the fast path arrived with the loyalty engine
        backfill = None
    if backfill is not None:
        done = backfill(business=business, customers=customers)
        replayed = set(customers) - set(done.skipped)
        ran += done.purchases
    rest = [pk for _at, pk, customer in created if customer not in replayed]
    for start in range(0, len(rest), 500):
        chunk = rest[start : start + 500]
        purchases = (
            Purchase.objects.filter(business=business, pk__in=chunk)
            .select_related("customer")
            .order_by("occurred_at", "pk")
        )
        for purchase in purchases:
            accrue_purchase(purchase=purchase, idempotency_key=f"accrue:{purchase.code}")
            ran += 1
    return ran


# --- files --------------------------------------------------------------------------------


def delete_files(job: ImportJob) -> None:
    """Remove the uploaded file and the reports (they hold customers' data); keep the record."""
    for stored in (job.file, job.error_file, job.report_file):
        if stored:
            try:
                os.remove(stored.path)
            except FileNotFoundError:
                pass
    job.file.name = job.error_file.name = job.report_file.name = ""
    job.save(update_fields=["file", "error_file", "report_file"])


# --- preview ------------------------------------------------------------------------------


@dataclass
class PreviewRow:
    """One order (or person) of the file's start, as the import will read and write it."""

    record: Record
    customer: Customer | None = None  # an existing customer it will be linked to
    new_customer: str = ""  # or the name of a customer it will create
    same_as: int | None = None  # …first seen at this line of the preview
    guest: str = ""  # a name without e-mail, phone or id: a sale without a customer
    location: str = ""


def preview(job: ImportJob, limit: int = 10) -> list[PreviewRow]:
    """The first `limit` orders or people exactly as they will be read, with their customer
    matched (or not) the way the import matches them. Reads only the start of the file."""
    config = config_for(job)
    reader = Reader(config, job.path)
    matcher = PeopleWriter(job.business, config, Imported())
    locations = dict(Location.objects.filter(business=job.business).values_list("pk", "name"))
    rows: list[PreviewRow] = []
    records = reader.records()
    try:
        for record in records:
            rows.append(PreviewRow(record, location=locations.get(record.location, "")))
            if len(rows) >= limit:
                break
    except FileProblem as exc:
        if not rows:
            rows.append(PreviewRow(Record(line=exc.problem.line, problems=[exc.problem])))
        else:
            rows[-1].record.problems.append(exc.problem)
    finally:
        records.close()
    people = [r.record.person for r in rows if r.record.person is not None]
    matcher.look_up(people)
    first_seen: dict[tuple[str, str], int] = {}
    found = Customer.objects.in_bulk({pk for p in people if (pk := matcher.match(p)) is not None})
    for row in rows:
        person = row.record.person
        if person is None:
            head = row.record.head
            row.guest = head.get("customer_name") or " ".join(
                x for x in (head.get("first_name"), head.get("last_name")) if x
            )
            continue
        pk = matcher.match(person)
        if pk is not None:
            row.customer = found.get(pk)
            continue
        keys = matcher.identity(person)
        earlier = next((first_seen[k] for k in keys if k in first_seen), None)
        row.new_customer = person.display_name
        row.same_as = earlier
        for key in keys:
            first_seen.setdefault(key, row.record.line)
    return rows
