"""Reads of import jobs: a job is visible to the user who uploaded it and to admins."""

from collections.abc import Iterator

from django.db.models import QuerySet

from rapport.identity.models import User
from rapport.imports.models import ImportJob, ImportRowError, IssueLevel, SavedMapping
from rapport.records.exceptions import RecordNotFound

JOB_SORTS = {"created_at"}


def jobs_visible_to(user: User) -> QuerySet[ImportJob]:
    if user is None or not user.is_authenticated or not user.is_active:
        return ImportJob.objects.none()
    qs = ImportJob.objects.select_related("created_by")
    return qs if user.is_admin else qs.filter(created_by=user)


def job_list(
    *, user: User, object_type: str | None = None, status: list[str] | None = None
) -> QuerySet[ImportJob]:
    qs = jobs_visible_to(user)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if status:
        qs = qs.filter(status__in=status)
    return qs


def job_get_for_user(*, pk: int, user: User) -> ImportJob:
    """The job if `user` may see it, else RecordNotFound (404)."""
    try:
        return jobs_visible_to(user).get(pk=pk)
    except (ImportJob.DoesNotExist, ValueError, TypeError, OverflowError):
        raise RecordNotFound("import")


def row_errors_of(job: ImportJob) -> QuerySet[ImportRowError]:
    """The job's per-row errors in file order (the caller checked the job is visible)."""
    return ImportRowError.objects.filter(job=job).order_by("row_number", "id")


def saved_mappings_of(*, user: User, object_type: str | None = None) -> QuerySet[SavedMapping]:
    qs = SavedMapping.objects.filter(created_by=user)
    return qs.filter(object_type=object_type) if object_type else qs


def saved_mapping_get_for_user(*, pk: int, user: User) -> SavedMapping:
    try:
        return saved_mappings_of(user=user).get(pk=pk)
    except (SavedMapping.DoesNotExist, ValueError, TypeError, OverflowError):
        raise RecordNotFound("saved mapping")


def _rejected_line(number: int, raw: list, reasons: list[str], width: int) -> list:
    cells = list(raw or [])
    cells += [None] * (width - len(cells))
    return [*cells, number, "; ".join(reasons)]


def _rejected_lines(job: ImportJob, width: int) -> Iterator[list]:
    rows = (
        row_errors_of(job)
        .filter(level=IssueLevel.ERROR)
        .values_list("row_number", "column", "message", "raw")
    )
    current, raw, reasons = None, None, []
    for number, column, message, cells in rows.iterator(chunk_size=2000):
        if number != current:
            if current is not None:
                yield _rejected_line(current, raw, reasons, width)
            current, raw, reasons = number, cells, []
        reasons.append(f"{column}: {message}" if column else message)
    if current is not None:
        yield _rejected_line(current, raw, reasons, width)


def rejected_rows_of(job: ImportJob) -> tuple[str, list[str], Iterator[list]]:
    """(file name, header, rows) of the rejected rows: the file's cells as read, then the
    row number and the reasons; one line per rejected row, in file order (the caller
    checked the job is visible)."""
    header = [*job.headers, "row", "reason"]
    stem = (job.original_name.rsplit(".", 1)[0] or "import")[:80]
    return f"{stem}-rejected.csv", header, _rejected_lines(job, len(job.headers))


def job_preview(job: ImportJob, *, rows: int = 3) -> list[list[str]]:
    """The first data rows of the job's file as text (for the mapping step's samples), as
    the worker read them with the header: a page never opens the file."""
    return [list(r) for r in (job.preview or [])[:rows]]
