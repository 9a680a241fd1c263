"""`regulars import`: import past sales or customers from a CSV file, as the page does."""

from __future__ import annotations

import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from regulars.accounts.models import Business
from regulars.integrations.imports import jobs
from regulars.integrations.imports.fields import FIELDS, fields_for, normalise_header
from regulars.integrations.imports.parsing import DATE_FORMATS, DECIMALS, DELIMITERS, ENCODINGS
from regulars.integrations.imports.presets import DEFAULT_PRESET, PRESETS
from regulars.integrations.models import ImportJob

DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", "\\t": "\t"}


class Command(BaseCommand):
    help = (
        "Import past sales or customers from a CSV file. The whole file is checked first and "
        "every bad line is listed; with --on-error stop (the default) nothing is imported "
        "while any line is bad. Importing the same file again adds nothing twice."
    )
    # Django's system checks (models, URLs, templates, security settings) take a second and a
    # half at every start and say nothing about a file; `regulars check` and deploys run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file")
        parser.add_argument("--business", required=True, metavar="SLUG")
        parser.add_argument(
            "--preset",
            default=DEFAULT_PRESET,
            choices=sorted(PRESETS),
            help=f"the file's layout (default {DEFAULT_PRESET}); see docs/import-export.md",
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help="read FIELD from COLUMN (a header or a column number from 1); "
            "--map=-=FIELD (with the =) leaves FIELD unmapped. Repeat as needed. Fields: " + ", ".join(FIELDS),
        )
        parser.add_argument("--encoding", choices=ENCODINGS, help="default: detected")
        parser.add_argument(
            "--delimiter",
            help="',', ';', tab, '|' (or comma, semicolon, tab, pipe); default: detected",
        )
        parser.add_argument(
            "--decimal", choices=DECIMALS, help="decimal separator of amounts; default: detected"
        )
        parser.add_argument(
            "--date-format",
            help=f"{', '.join(DATE_FORMATS)} or a strptime pattern; default: detected",
        )
        parser.add_argument("--on-error", choices=["stop", "skip"], default="stop")
        parser.add_argument(
            "--backfill-points",
            action="store_true",
            help="run the imported purchases through the loyalty programs",
        )
        parser.add_argument(
            "--source", default="", help="a label kept in the purchases' idempotency keys"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check the file and report; write nothing"
        )

    def handle(self, *args, file, business, preset, **opts):
        found = Business.objects.filter(slug=business).first()
        if found is None:
            raise CommandError(f"business: no business with slug {business!r}")
        if not os.path.isfile(file):
            raise CommandError(f"file: {file!r} does not exist")
        delimiter = opts.pop("delimiter")
        if delimiter:
            delimiter = DELIMITER_NAMES.get(delimiter.lower(), delimiter)
            if delimiter not in DELIMITERS:
                raise CommandError("delimiter: use , ; tab or |")
        date_format = opts.pop("date_format")
        if date_format and date_format not in DATE_FORMATS and "%" not in date_format:
            raise CommandError(f"date-format: use {', '.join(DATE_FORMATS)} or a % pattern")
        started = time.monotonic()
        job = ImportJob.objects.create(
            business=found,
            source_path=os.path.abspath(file),
            filename=os.path.basename(file)[:255],
            size=os.path.getsize(file),
            preset=preset,
        )
        try:
            self.run(job, delimiter=delimiter, date_format=date_format, **opts)
        finally:
            if opts["dry_run"]:
                job.delete()
        self.stderr.write(f"{time.monotonic() - started:.1f} s")

    def run(self, job: ImportJob, *, delimiter, date_format, **opts) -> None:
        jobs.configure(
            job,
            options={
                "encoding": opts["encoding"],
                "delimiter": delimiter,
                "decimal": opts["decimal"],
                "date_format": date_format,
                "on_error": opts["on_error"],
                "backfill": opts["backfill_points"],
                "source": opts["source"],
            },
        )
        mapping = self.mapping(job, opts["map"])
        if mapping != job.mapping:
            jobs.configure(job, mapping=mapping)
        self.describe(job)
        if "date" not in job.mapping and job.kind == ImportJob.Kind.SALES:
            raise CommandError("map: no column holds the date; use --map COLUMN=date")
        jobs.start_check(job)
        checked = jobs.check_job(job, on_problem=lambda p: self.stdout.write(str(p)))
        self.stderr.write(
            f"checked {checked.rows} rows: {checked.records} "
            f"{'orders' if job.kind == ImportJob.Kind.SALES else 'customers'}, "
            f"{checked.bad_lines} bad lines, {checked.ignored_rows} rows left out by status"
        )
        if opts["dry_run"]:
            if not checked.ok:
                raise CommandError(
                    f"{checked.problem_count} problems; nothing was imported (dry run)"
                )
            self.stderr.write("dry run: nothing was imported")
            return
        reason = jobs.can_start(job)
        if reason:
            raise CommandError(f"{reason} Nothing was imported.")
        jobs.queue(job)
        result = jobs.run_job(job, on_skipped=lambda p: self.stdout.write(f"skipped {p}"))
        counts = job.result
        if job.kind == ImportJob.Kind.SALES:
            self.stderr.write(
                f"purchases: {counts['purchases_created']} added, "
                f"{counts['purchases_existing']} already there; lines: {counts['lines_created']}"
            )
        self.stderr.write(
            f"customers: {counts['customers_created']} created, "
            f"{counts['customers_matched']} matched; rows skipped: {counts['skipped_rows']}, "
            f"left out by status: {counts['ignored_rows']}"
        )
        if opts["backfill_points"]:
            self.stderr.write(f"loyalty: {result.accrued} purchases run through the programs")
        if result.stopped_at is not None:
            raise CommandError(f"stopped at {result.stopped_at}")

    def mapping(self, job: ImportJob, overrides: list[str]) -> dict[str, int]:
        mapping = dict(job.mapping)
        allowed = {f.name for f in fields_for(job.kind)}
        headers = [normalise_header(h) for h in job.headers]
        for item in overrides:
            column, sep, field = item.rpartition("=")
            field = field.strip()
            if not sep or field not in allowed:
                raise CommandError(
                    f"map: {item!r} is not COLUMN=FIELD with a field of {', '.join(sorted(allowed))}"
                )
            if column.strip() == "-":
                mapping.pop(field, None)
                continue
            if column.strip().isdigit():
                index = int(column) - 1
            else:
                name = normalise_header(column)
                index = headers.index(name) if name in headers else -1
            if not 0 <= index < len(job.headers):
                raise CommandError(f"map: the file has no column {column!r}")
            for other, i in list(mapping.items()):
                if i == index and other != field:
                    del mapping[other]
            mapping[field] = index
        return mapping

    def describe(self, job: ImportJob) -> None:
        options = job.options
        delimiter = {"\t": "tab"}.get(options["delimiter"], options["delimiter"])
        self.stderr.write(
            f"{job.filename}: preset {job.preset}, encoding {options['encoding']}, "
            f"separator {delimiter}, decimal {options['decimal']}, dates {options['date_format']}"
        )
        for f in fields_for(job.kind):
            if f.name in job.mapping:
                index = job.mapping[f.name]
                self.stderr.write(f"  {f.name:<18} <- {index + 1}: {job.headers[index]}")
        sys.stderr.flush()
