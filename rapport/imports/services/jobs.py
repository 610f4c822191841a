"""The life of an import job: created from an uploaded file (its shape sniffed and a
mapping guessed), edited while pending, started (the task is enqueued on commit),
cancelled, deleted; and saved mappings."""

import datetime
import logging
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from rapport.identity.models import User
from rapport.imports.models import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    ImportJob,
    ImportObject,
    ImportPolicy,
    ImportStatus,
    SavedMapping,
)
from rapport.imports.services.files import FileProblem, import_dir, normalise_encoding, sniff
from rapport.imports.services.mapping import guess_mapping, mapping_check, mapping_clean
from rapport.imports.services.rights import require_importer
from rapport.records.exceptions import Conflict, PermissionDenied

logger = logging.getLogger(__name__)


def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _check_choices(object_type: str, policy: str) -> None:
    if object_type not in ImportObject.values:
        raise _error("object_type", f"Must be one of {', '.join(ImportObject.values)}", "invalid")
    if policy not in ImportPolicy.values:
        raise _error("policy", f"Must be one of {', '.join(ImportPolicy.values)}", "invalid")


def _saved_for(headers: list[str], saved: SavedMapping) -> dict[str, Any]:
    """A saved mapping applied to this file: the columns it knows, others ignored."""
    return {h: saved.mapping.get(h) for h in headers}


def _discard_upload(path: Path) -> None:
    """Delete a refused upload; a file imported in place (the command line) is the user's
    own and stays."""
    if path.resolve().parent == import_dir().resolve():
        path.unlink(missing_ok=True)


def import_job_create(
    *,
    actor: User,
    object_type: str,
    path: Path,
    original_name: str,
    policy: str = ImportPolicy.UPDATE,
    dry_run: bool = False,
    encoding: str | None = None,
    mapping: dict | None = None,
    saved_mapping: SavedMapping | None = None,
    strict: bool = False,
    create_customers: bool = False,
    start: bool = False,
    read: bool = True,
) -> ImportJob:
    """A job for an uploaded file (already in the import directory), in the `reading` state:
    nothing of the file is parsed here. The worker reads its header and first rows
    (`import_job_read`, enqueued on commit; `read=False`: the caller reads it itself) and the
    job becomes pending, or failed with the problem named. Refused options (422) delete the
    upload. `start`: queue the import as soon as the file is read."""
    try:
        require_importer(actor, object_type)
        _check_choices(object_type, policy)
        if encoding:
            try:
                encoding = normalise_encoding(encoding)
            except FileProblem as exc:
                raise _error("encoding", str(exc), exc.code)
        if saved_mapping is not None and saved_mapping.object_type != object_type:
            raise _error("saved_mapping_id", "That mapping is for another object", "invalid")
        if mapping is not None:
            # Everything but the column names, which only the file knows.
            _mapping_shape_check(object_type, mapping, policy)
    except (ValidationError, PermissionDenied):
        _discard_upload(path)
        raise
    requested: dict[str, Any] = {"first": True}
    if encoding:
        requested["encoding"] = encoding
    if mapping is not None:
        requested["mapping"] = mapping
    elif saved_mapping is not None:
        requested["saved_mapping"] = saved_mapping.mapping
    if start:
        requested["start"] = True
    with transaction.atomic():
        job = ImportJob.objects.create(
            object_type=object_type,
            file_path=str(path),
            original_name=original_name[:255] or path.name,
            size=path.stat().st_size,
            file_format="",
            encoding=encoding or "",
            policy=policy,
            dry_run=dry_run,
            strict=strict,
            create_customers=create_customers,
            status=ImportStatus.READING,
            requested=requested,
            created_by=actor,
        )
        if read:
            _enqueue_read(job)
    return job


def _mapping_shape_check(object_type: str, mapping: Any, policy: str) -> None:
    if not isinstance(mapping, dict) or not all(isinstance(k, str) for k in mapping):
        raise _error("mapping", "The mapping must be an object {column: field}", "invalid")
    mapping_clean(object_type=object_type, headers=list(mapping), mapping=mapping, policy=policy)


def _enqueue_read(job: ImportJob) -> None:
    from rapport.imports.tasks import import_read_task

    job_id = job.pk
    transaction.on_commit(lambda: import_read_task.enqueue(job_id))


def import_job_read(*, job: ImportJob) -> ImportJob:
    """The worker's part of an upload: read the format, encoding, delimiter, header and
    first rows (a workbook's parts are checked for zip bombs first, then read within a
    budget of time and bytes), apply the requested mapping (or guess one) and make the job
    pending, or queue it when the upload asked to start. A file that cannot be read fails
    the job with the problem named and is deleted; a new encoding or delimiter that does not
    read leaves the job as it was, with the problem in `error`."""
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.READING).update(
        updated_at=timezone.now()
    )
    job.refresh_from_db()
    if not claimed:
        return job
    requested = dict(job.requested or {})
    first = bool(requested.get("first"))
    path = Path(job.file_path)
    mapping_note = ""
    try:
        if not job.file_path or not path.is_file():
            raise FileProblem("The uploaded file is gone; upload it again", "file_missing")
        try:
            shape = sniff(path, encoding=requested.get("encoding") or job.encoding or None)
            if requested.get("delimiter") and shape.file_format == "csv":
                shape.delimiter = requested["delimiter"]
                shape = _reshape(path, shape)
        except FileProblem:
            raise
        except Exception as exc:  # a job must never stay "reading": name what happened
            logger.exception("reading import %s failed", job.pk)
            raise FileProblem(
                f"The file could not be read ({type(exc).__name__}: {str(exc)[:200]})",
                "unreadable",
            )
    except FileProblem as exc:
        if first:
            _discard_upload(path)
            return _read_done(
                job,
                status=ImportStatus.FAILED,
                error=str(exc),
                error_code=exc.code,
                finished_at=timezone.now(),
            )
        return _read_done(job, status=ImportStatus.PENDING, error=str(exc), error_code=exc.code)
    if requested.get("mapping") is not None:
        try:
            mapping = mapping_clean(
                object_type=job.object_type,
                headers=shape.headers,
                mapping=requested["mapping"],
                policy=job.policy,
            )
        except ValidationError as exc:
            mapping = guess_mapping(job.object_type, shape.headers)
            mapping_note = "The mapping sent with the file was not applied: " + " ".join(
                m for ms in exc.message_dict.values() for m in ms
            )
    elif requested.get("saved_mapping") is not None:
        mapping = {h: requested["saved_mapping"].get(h) for h in shape.headers}
    elif first or shape.headers != job.headers:
        mapping = guess_mapping(job.object_type, shape.headers)
    else:
        mapping = job.mapping
    job = _read_done(
        job,
        status=ImportStatus.PENDING,
        file_format=shape.file_format,
        encoding=shape.encoding,
        delimiter=shape.delimiter,
        headers=shape.headers,
        preview=shape.preview,
        mapping=mapping,
        error=mapping_note,
        error_code="mapping_not_applied" if mapping_note else "",
    )
    if requested.get("start") and not mapping_note:
        try:
            job = import_job_start(job=job, actor=job.created_by)
        except (ValidationError, Conflict, PermissionDenied) as exc:
            message = (
                " ".join(m for ms in exc.message_dict.values() for m in ms)
                if isinstance(exc, ValidationError)
                else str(exc)
            )
            job = _read_done(
                job, error=f"The import was not started: {message}", error_code="not_started"
            )
    return job


def _read_done(job: ImportJob, **fields: Any) -> ImportJob:
    fields = {"requested": {}, **fields}
    for name, value in fields.items():
        setattr(job, name, value)
    job.save(update_fields=[*fields, "updated_at"])
    return job


def _require_owner(job: ImportJob, actor: User) -> None:
    if job.created_by_id != actor.pk and not actor.is_admin:
        raise PermissionDenied("Only the user who uploaded the file may change this import")


def _require_editable_job(job: ImportJob) -> None:
    if job.status == ImportStatus.READING:
        raise Conflict(
            "The file is still being read; wait until its columns are shown",
            code="import_reading",
        )
    if job.status in ACTIVE_STATUSES or (job.status == ImportStatus.PENDING and job.queued_at):
        raise Conflict("The import is queued or running; cancel it first", code="import_running")


def import_job_update(*, job: ImportJob, actor: User, fields: dict[str, Any]) -> ImportJob:
    """Change the mapping, policy, options (dry run, strict, create customers), encoding or
    delimiter of a job that is not queued or running. A new encoding or delimiter reads the header again (and guesses the
    mapping again unless one is given)."""
    _require_owner(job, actor)
    _require_editable_job(job)
    policy = fields.get("policy", job.policy)
    _check_choices(job.object_type, policy)
    changes: dict[str, Any] = {"policy": policy}
    for option in ("dry_run", "strict", "create_customers"):
        if fields.get(option) is not None:
            changes[option] = bool(fields[option])
    headers = job.headers
    if fields.get("encoding"):
        try:
            fields = {**fields, "encoding": normalise_encoding(fields["encoding"])}
        except FileProblem as exc:
            raise _error("encoding", str(exc), exc.code)
    reread: dict[str, Any] = {}
    if job.file_format == "csv" and (fields.get("encoding") or fields.get("delimiter")):
        # Read again by the worker, never here; the mapping is guessed again unless given.
        reread = {k: fields[k] for k in ("encoding", "delimiter") if fields.get(k)}
        reread.setdefault("encoding", job.encoding)
    if fields.get("saved_mapping") is not None:
        saved = fields["saved_mapping"]
        if saved.object_type != job.object_type:
            raise _error("saved_mapping_id", "That mapping is for another object", "invalid")
        if reread:
            reread["saved_mapping"] = saved.mapping
        else:
            changes["mapping"] = _saved_for(headers, saved)
    if fields.get("mapping") is not None:
        if reread:
            _mapping_shape_check(job.object_type, fields["mapping"], policy)
            reread["mapping"] = fields["mapping"]
        else:
            changes["mapping"] = mapping_clean(
                object_type=job.object_type,
                headers=headers,
                mapping=fields["mapping"],
                policy=policy,
            )
    if reread:
        # Read again: an earlier (dry) run's results are of the old reading; queued_at goes
        # so that the pending job the worker leaves is not taken for a queued one.
        changes.update(
            status=ImportStatus.READING, requested=reread, error="", error_code="", queued_at=None
        )
    with transaction.atomic():
        for name, value in changes.items():
            setattr(job, name, value)
        job.save(update_fields=[*changes, "updated_at"])
        if reread:
            _enqueue_read(job)
    return job


def _reshape(path: Path, shape):
    """Read the header and first rows again with a delimiter the user chose (the worker)."""
    from rapport.imports.services.files import MAX_COLUMNS, CsvReader, cell_text, unique_headers

    reader = CsvReader(path, encoding=shape.encoding, delimiter=shape.delimiter)
    shape.preview = []
    try:
        for number, cells in reader.rows():
            if number == 1:
                shape.headers = unique_headers(cells)
                continue
            shape.preview.append([cell_text(c)[:200] for c in cells[: MAX_COLUMNS + 1]])
            if len(shape.preview) == 5:
                break
    finally:
        reader.close()
    return shape


def import_job_start(
    *, job: ImportJob, actor: User, dry_run: bool | None = None, enqueue: bool = True
) -> ImportJob:
    """Queue the job (again, after a dry run or a cancel: the counts and the error report
    start over). The task is enqueued once the transaction commits; without `enqueue` the
    caller runs it itself (the command line, in the foreground)."""
    from rapport.imports.tasks import import_run_task

    _require_owner(job, actor)
    require_importer(actor, job.object_type)
    _require_editable_job(job)
    if not job.headers:
        raise Conflict(
            f"The file could not be read ({job.error or 'no header'}); upload it again",
            code="file_unreadable",
        )
    mapping_check(object_type=job.object_type, mapping=job.mapping, policy=job.policy)
    if not job.file_path or not Path(job.file_path).is_file():
        raise Conflict("The uploaded file is gone; upload it again", code="file_missing")
    with transaction.atomic():
        job.row_errors.all().delete()
        job.status = ImportStatus.PENDING
        job.queued_at = timezone.now()
        if dry_run is not None:
            job.dry_run = dry_run
        job.cancel_requested = False
        job.rows_total = None
        job.rows_done = job.created = job.updated = job.unchanged = 0
        job.skipped = job.failed = 0
        job.extra = {}
        job.error = job.error_code = ""
        job.started_at = job.finished_at = None
        job.save()
        job_id = job.pk
        if enqueue:
            transaction.on_commit(lambda: import_run_task.enqueue(job_id))
    return job


def import_job_cancel(*, job: ImportJob, actor: User) -> ImportJob:
    """Ask the worker to stop after its current batch (a job not yet started stops now).
    Batches already written stay; importing the same file again completes them."""
    _require_owner(job, actor)
    if job.status in FINISHED_STATUSES:
        raise Conflict(f"The import is already {job.status}", code="import_finished")
    with transaction.atomic():
        stopped = ImportJob.objects.filter(
            pk=job.pk, status__in=(ImportStatus.PENDING, ImportStatus.READING)
        ).update(
            status=ImportStatus.CANCELLED,
            cancel_requested=True,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        if not stopped:
            ImportJob.objects.filter(pk=job.pk).update(
                cancel_requested=True, updated_at=timezone.now()
            )
    job.refresh_from_db()
    return job


def import_job_delete(*, job: ImportJob, actor: User) -> None:
    """Delete a job that is not running, its error report and its uploaded file (a file
    imported in place from the command line is left alone). A job whose file is being read
    may go too (its reading then finds nothing to do)."""
    _require_owner(job, actor)
    if job.status != ImportStatus.READING:
        _require_editable_job(job)
    path = Path(job.file_path)
    uploaded = path.resolve().parent == import_dir().resolve()
    with transaction.atomic():
        job.delete()
        if uploaded:
            transaction.on_commit(lambda: path.unlink(missing_ok=True))


def import_files_purge(*, older_than: datetime.timedelta) -> int:
    """Delete the uploaded files of jobs finished before `older_than` ago (the jobs and
    their error reports stay); returns how many files went."""
    cutoff = timezone.now() - older_than
    root = import_dir().resolve()
    removed = 0
    jobs = ImportJob.objects.filter(status__in=FINISHED_STATUSES, finished_at__lt=cutoff).exclude(
        file_path=""
    )
    for job in jobs.iterator(chunk_size=500):
        path = Path(job.file_path)
        if path.resolve().parent == root:
            path.unlink(missing_ok=True)
            removed += 1
        ImportJob.objects.filter(pk=job.pk).update(file_path="", updated_at=timezone.now())
    return removed


def saved_mapping_create(
    *, actor: User, name: str, object_type: str, mapping: dict
) -> SavedMapping:
    """Keep a mapping under a name (unique per user and object)."""
    if object_type not in ImportObject.values:
        raise _error("object_type", f"Must be one of {', '.join(ImportObject.values)}", "invalid")
    from rapport.imports.services.mapping import targets_for

    targets = targets_for(object_type)
    if not isinstance(mapping, dict):
        raise _error("mapping", "The mapping must be an object {column: field}", "invalid")
    for column, field in mapping.items():
        if field not in (None, "") and field not in targets:
            raise _error("mapping", f"Column {column!r}: {field!r} is not a field", "unknown_field")
    name = (name or "").strip()
    if not name:
        raise _error("name", "A name is required", "required")
    try:
        with transaction.atomic():
            return SavedMapping.objects.create(
                name=name[:100],
                object_type=object_type,
                mapping={k[:200]: v or None for k, v in mapping.items()},
                created_by=actor,
            )
    except IntegrityError:
        raise Conflict("You already have a mapping with this name", code="duplicate", field="name")


def saved_mapping_delete(*, saved: SavedMapping, actor: User) -> None:
    if saved.created_by_id != actor.pk and not actor.is_admin:
        raise PermissionDenied("Only its author may delete a saved mapping")
    saved.delete()
