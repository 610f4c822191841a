"""Running an import job (the background task calls `import_run`).

Two passes over the file, both streamed (memory does not grow with the file):
1. validating: the whole file is decoded and parsed once, without writing anything. A
   file-level problem (wrong encoding at byte N, binary content, a damaged workbook) fails
   the job here, so a bad file never leaves half an import behind.
2. running: rows are read into field values, batched, matched and written. Each batch is
   one transaction with its rows' errors and the job's counts, so the report always says
   exactly what was written.

A dry run runs the very same code inside one outer transaction that is rolled back at the
end (the batches are savepoints in it), then stores the counts and the row errors: rows
that match rows of the same file (by email, phone, account name, SKU …) find what the
earlier rows wrote, exactly as in the real run, so the dry run predicts the real run's
counts exactly. The price: while a dry run runs, its writes hold their locks (on SQLite the
database's write lock; on PostgreSQL the rows it updates) and its progress is not shown.

Cancelling sets a flag that is read between batches: batches already written stay (an
import of millions of rows cannot hold one transaction), and rerunning the same file
finishes the job without duplicates, because rows match the records they created. A crash
mid-file has the same outcome: whole batches, never half of one.
"""

import logging
import queue
import threading
import time
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from rapport.identity.models import User
from rapport.imports.models import ImportJob, ImportRowError, ImportStatus, IssueLevel
from rapport.imports.services.accounts import AccountImporter
from rapport.imports.services.assets import AssetImporter
from rapport.imports.services.base import Importer
from rapport.imports.services.cleaning import Row, RowReader
from rapport.imports.services.contacts import ContactImporter
from rapport.imports.services.files import FileProblem, open_reader
from rapport.imports.services.leads import LeadImporter
from rapport.imports.services.mapping import targets_for
from rapport.imports.services.orders import OrderImporter
from rapport.imports.services.rights import require_importer
from rapport.imports.services.through_services import OpportunityImporter, ProductImporter
from rapport.records.exceptions import PermissionDenied

logger = logging.getLogger(__name__)

BATCH_SIZE = 5000
SERVICE_BATCH_SIZE = 200
SCAN_PROGRESS_EVERY = 20_000
IMPORTERS = {
    "accounts": AccountImporter,
    "contacts": ContactImporter,
    "leads": LeadImporter,
    "products": ProductImporter,
    "opportunities": OpportunityImporter,
    "orders": OrderImporter,
    "assets": AssetImporter,
}
# Imported through the domain services, row by row: smaller batches.
SERVICE_IMPORTS = {"products", "opportunities", "orders", "assets"}
COUNTED = ("created", "updated", "unchanged", "skipped", "failed")


class Cancelled(Exception):
    pass


class _RollBack(Exception):
    """Ends a dry run's outer transaction."""


def _cancel_requested(job: ImportJob) -> bool:
    return ImportJob.objects.filter(pk=job.pk, cancel_requested=True).exists()


def _set(job: ImportJob, **fields) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now(), **fields)


def _reader(job: ImportJob):
    return open_reader(
        Path(job.file_path),
        file_format=job.file_format,
        encoding=job.encoding,
        delimiter=job.delimiter,
    )


def _scan(job: ImportJob) -> int:
    """Pass 1: read the whole file once; the number of data rows (blank ones included)."""
    total = 0
    limit = int(settings.RAPPORT_IMPORT_MAX_ROWS)
    for number, _cells in _reader(job).rows():
        total = number - 1
        if total > limit:
            raise FileProblem(
                f"The file has more than {limit:,} data rows (RAPPORT_IMPORT_MAX_ROWS): split it",
                "too_many_rows",
            )
        if number % SCAN_PROGRESS_EVERY == 0:
            _set(job, rows_done=total)
            if _cancel_requested(job):
                raise Cancelled()
    if total == 0:
        raise FileProblem("The file has a header row but no data rows", "no_rows")
    return total


def _relax_durability() -> None:
    """PostgreSQL: a batch's commit need not wait for the disk. A crash may lose the last
    batches (never half of one: data, errors and counts commit together), which importing
    the file again restores; it saves a flush per batch."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _row_errors(job: ImportJob, rows: list[Row]) -> list[ImportRowError]:
    """The failed rows' errors, and the warnings of the rows imported without a cell."""
    errors = []
    for row in rows:
        failed = row.outcome == "failed"
        if not failed and not row.warnings:
            continue
        raw = [
            c if isinstance(c, str | int | float | bool) or c is None else str(c) for c in row.cells
        ]
        issues = [(i, IssueLevel.ERROR) for i in row.issues] if failed else []
        issues += [(i, IssueLevel.WARNING) for i in row.warnings]
        for issue, level in issues:
            errors.append(
                ImportRowError(
                    job=job,
                    row_number=row.number,
                    level=level,
                    column=issue.column[:255],
                    field=issue.field[:100],
                    message=issue.message[:500],
                    code=issue.code[:40],
                    raw=raw,
                )
            )
    return errors


class _Batches:
    """Collects rows into batches: a row whose key (email, SKU …) is already in the batch
    starts a new one, so that it finds the record the earlier row creates; rows of one
    order are never split."""

    def __init__(self, importer: Importer, size: int, flush):
        self.importer = importer
        self.size = size
        self.flush = flush
        self.rows: list[Row] = []
        self.keys: set = set()
        self.group = getattr(importer, "group", None)

    def add(self, row: Row) -> None:
        keys = self.importer.keys(row) if not row.outcome else ()
        boundary = (
            self.group is None or not self.rows or (self.group(row) != self.group(self.rows[-1]))
        )
        if self.rows and boundary and (len(self.rows) >= self.size or self.keys & set(keys)):
            self.emit()
        self.rows.append(row)
        self.keys.update(keys)

    def emit(self) -> None:
        if self.rows:
            self.flush(self.rows)
        self.rows = []
        self.keys = set()


class _RowProducer:
    """Reads and cleans the file's rows in a thread while the caller writes batches: the
    database releases the GIL while it works (SQLite's search-index triggers are most of an
    import's time), so parsing and validating the next rows costs nearly nothing. The
    thread never touches the database; the queue bounds the rows held in memory: a whole
    batch and a chunk more, so the rows of the next batch are ready when the database has
    written this one (a shallower queue left the thread idle while the database worked, and
    the database idle while the thread read the rest of the next batch)."""

    _END = object()

    def __init__(self, job: ImportJob, reader: RowReader, chunk: int = 500, depth: int = 0):
        self.job = job
        self.reader = reader
        self.chunk = chunk
        depth = depth or -(-BATCH_SIZE // chunk) + 1
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"import-{job.pk}", daemon=True)

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        rows = _reader(self.job).rows()
        try:
            next(rows, None)  # the header
            chunk: list[Row] = []
            for number, cells in rows:
                row = self.reader.read(number, cells)
                if row is not None:
                    chunk.append(row)
                if len(chunk) >= self.chunk:
                    if not self._put(chunk):
                        return
                    chunk = []
            if chunk and not self._put(chunk):
                return
            self._put(self._END)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc)
        finally:
            rows.close()

    def __iter__(self):
        if not getattr(settings, "RAPPORT_IMPORT_THREADED", True):
            rows = _reader(self.job).rows()
            next(rows, None)
            for number, cells in rows:
                row = self.reader.read(number, cells)
                if row is not None:
                    yield row
            return
        self.thread.start()
        try:
            while True:
                item = self.queue.get()
                if item is self._END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield from item
        finally:
            self.stop.set()
            self.thread.join()


def _process(job: ImportJob, actor: User, total: int, progress=None) -> Counter:
    """Pass 2: read, batch, match and write; returns the outcome counts."""
    targets = targets_for(job.object_type)
    reader = RowReader(
        headers=job.headers,
        mapping=job.mapping,
        targets=targets,
        pad=job.file_format == "xlsx",
        strict=job.strict,
    )
    importer = IMPORTERS[job.object_type](job=job, actor=actor, policy=job.policy, targets=targets)
    counts: Counter = Counter()
    dry_errors: list[ImportRowError] = []  # a dry run's, stored after its rollback

    def flush(rows: list[Row]) -> None:
        if _cancel_requested(job):
            raise Cancelled()
        with transaction.atomic():
            _relax_durability()
            importer.resolve_owners(rows)
            importer.process(rows)
            batch = Counter(r.outcome for r in rows if r.outcome in COUNTED)
            warned = sum(1 for r in rows if r.warnings and r.outcome != "failed")
            if warned:
                importer.extra["rows_with_warnings"] += warned
            errors = _row_errors(job, rows)
            counts.update(batch)
            if job.dry_run:
                dry_errors.extend(errors)
            else:
                ImportRowError.objects.bulk_create(errors)
                ImportJob.objects.filter(pk=job.pk).update(
                    rows_done=rows[-1].number - 1,
                    updated_at=timezone.now(),
                    extra=dict(importer.extra),
                    **{name: F(name) + batch[name] for name in COUNTED if batch[name]},
                )
        if progress is not None:
            progress(rows[-1].number - 1, total, counts)

    def run_all() -> None:
        size = SERVICE_BATCH_SIZE if job.object_type in SERVICE_IMPORTS else BATCH_SIZE
        batches = _Batches(importer, size, flush)
        for row in _RowProducer(job, reader):
            batches.add(row)
        batches.emit()

    if not job.dry_run:
        run_all()
        _set(job, rows_done=total, extra=dict(importer.extra))
        return counts
    try:
        with transaction.atomic():
            run_all()
            raise _RollBack()
    except _RollBack:
        pass
    with transaction.atomic():
        ImportRowError.objects.bulk_create(dry_errors, batch_size=2000)
        _set(
            job,
            rows_done=total,
            extra=dict(importer.extra),
            **{name: counts[name] for name in COUNTED},
        )
    return counts


def _claim(job: ImportJob) -> bool:
    """Only one worker runs a job: pending (queued) → validating, atomically."""
    claimed = ImportJob.objects.filter(
        pk=job.pk, status=ImportStatus.PENDING, queued_at__isnull=False
    ).update(status=ImportStatus.VALIDATING, started_at=timezone.now(), updated_at=timezone.now())
    if claimed:
        job.refresh_from_db()
    return bool(claimed)


def import_run(*, job: ImportJob, progress=None) -> ImportJob:
    """Validate then import the job's file (see the module doc); ends done, failed or
    cancelled with the counts and the per-row errors stored. `progress(rows_done,
    rows_total, counts)` is called after each batch (the command line's progress bar)."""
    if not _claim(job):
        return job
    started = time.perf_counter()
    actor = job.created_by
    try:
        if job.cancel_requested:
            raise Cancelled()
        require_importer(actor, job.object_type)
        total = _scan(job)
        _set(job, status=ImportStatus.RUNNING, rows_total=total, rows_done=0)
        _process(job, actor, total, progress)
        _set(job, status=ImportStatus.DONE, finished_at=timezone.now())
    except Cancelled:
        _set(job, status=ImportStatus.CANCELLED, finished_at=timezone.now())
    except PermissionDenied as exc:
        _set(
            job,
            status=ImportStatus.FAILED,
            error=str(exc),
            error_code=exc.code,
            finished_at=timezone.now(),
        )
    except FileProblem as exc:
        _set(
            job,
            status=ImportStatus.FAILED,
            error=str(exc),
            error_code=exc.code,
            finished_at=timezone.now(),
        )
    except Exception as exc:  # reported on the job; the worker must survive it
        logger.exception("import %s failed", job.pk)
        _set(
            job,
            status=ImportStatus.FAILED,
            error=f"The import stopped on an unexpected error ({type(exc).__name__}: {exc}); "
            "the batches before it were written, importing the file again completes it",
            error_code="unexpected",
            finished_at=timezone.now(),
        )
    job.refresh_from_db()
    logger.info(
        "import %s %s: %s rows in %.1f s",
        job.pk,
        job.status,
        job.rows_done,
        time.perf_counter() - started,
    )
    return job
