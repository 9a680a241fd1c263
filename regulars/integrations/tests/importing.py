"""Helpers for import tests: write a CSV, make a job of it, check it, run it."""

from __future__ import annotations

import os
from pathlib import Path

from regulars.integrations.imports import jobs
from regulars.integrations.models import ImportJob


def write_csv(tmp_path: Path, text: str, name: str = "sales.csv", encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.lstrip("\n").encode(encoding))
    return str(path)


def make_job(business, path: str, *, preset: str = "generic", mapping=None, **options) -> ImportJob:
    """A job reading `path` in place (as the CLI does), configured like the upload step."""
    job = ImportJob.objects.create(
        business=business,
        source_path=path,
        filename=os.path.basename(path),
        size=os.path.getsize(path),
        preset=preset,
    )
    jobs.configure(job, options=options or None)
    if mapping is not None:
        jobs.configure(job, mapping={**job.mapping, **mapping})
    return job


def check(job: ImportJob):
    jobs.start_check(job)
    return jobs.check_job(job)


def import_file(business, path: str, **kwargs):
    """Configure, check and (when allowed) run; returns (job, checked, imported or None)."""
    job = make_job(business, path, **kwargs)
    checked = check(job)
    if jobs.can_start(job):
        return job, checked, None
    jobs.queue(job)
    return job, checked, jobs.run_job(job)
