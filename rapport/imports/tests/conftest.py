"""Fixtures of the import tests: files written into a temporary import directory, jobs
created and run through the services (the task backend is immediate in tests)."""

import csv
import io
from pathlib import Path

import pytest

from rapport.imports import services
from rapport.imports.services.files import new_upload_path


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path) -> Path:
    settings.RAPPORT_IMPORT_DIR = str(tmp_path / "imports")
    return tmp_path / "imports"


def csv_bytes(rows: list[list], *, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.fixture
def upload(db, django_capture_on_commit_callbacks):
    """upload(user, data, object_type, name=…, **options) → the job once the worker has
    read the file (the immediate task backend runs the on-commit read task)."""

    def make(user, data: bytes, object_type: str = "contacts", name: str = "file.csv", **kw):
        path = new_upload_path(name)
        path.write_bytes(data)
        with django_capture_on_commit_callbacks(execute=True):
            job = services.import_job_create(
                actor=user, object_type=object_type, path=path, original_name=name, **kw
            )
        job.refresh_from_db()
        return job

    return make


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """run(job, dry_run=None) → the job after the (immediate) tasks ran (the reading of the
    file first when it is still to be read)."""

    def go(job, dry_run=None):
        if job.status == "reading":  # uploaded through the API: the worker reads it first
            job = services.import_job_read(job=job)
        with django_capture_on_commit_callbacks(execute=True):
            services.import_job_start(job=job, actor=job.created_by, dry_run=dry_run)
        job.refresh_from_db()
        return job

    return go
