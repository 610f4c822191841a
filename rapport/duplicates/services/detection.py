"""Finding duplicate candidates: blocking, then scoring within blocks only.

A full run files every active record of a type under its blocking keys (DuplicateKey),
then reads the keys back sorted and compares the records of each block: all pairs in a
block of at most `block_cap` records, else each record with its `window` neighbours in
name order (sorted neighbourhood). The pairs compared are therefore bounded by
Σ min(k(k-1)/2, k·window) over the blocks — linear in the number of records, never n².

An incremental run takes only the records changed since the last finished run: refiles
their keys and compares them with the members of their blocks.

Both upsert DuplicateCandidate rows: a new pair is added once, an open pair gets its new
score, a dismissed or merged pair is left alone; open pairs that no longer match (in a
full run: all of the type; in an incremental one: those of the changed records) go.
"""

import datetime
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q
from django.db.models.constants import OnConflict
from django.utils import timezone

from rapport.duplicates.matching import (
    MIN_SCORE,
    OBJECT_TYPES,
    Features,
    blocking_keys,
    score,
    sort_key,
)
from rapport.duplicates.models import (
    CandidateStatus,
    DuplicateCandidate,
    DuplicateKey,
    DuplicateRun,
    RunMode,
    RunStatus,
)
from rapport.duplicates.record_types import features_chunks, features_iter, model_for
from rapport.records.exceptions import Conflict

log = logging.getLogger(__name__)

BLOCK_CAP = 50
WINDOW = 10
BATCH = 5000
STALE_RUN = datetime.timedelta(hours=2)

Pair = tuple[int, int]


@dataclass
class Comparison:
    """Pairs found (score ≥ min_score) and what it cost."""

    found: dict[Pair, tuple[int, list[str]]] = field(default_factory=dict)
    # Pairs already scored, as a<<64|b ints (less memory than tuples); a pair sharing
    # several keys is scored once.
    compared: set[int] = field(default_factory=set)
    blocks: int = 0
    largest_block: int = 0
    bound: int = 0

    def compare(self, object_type: str, a: Features, b: Features, min_score: int) -> None:
        pair = (a.id, b.id) if a.id < b.id else (b.id, a.id)
        code = pair[0] << 64 | pair[1]
        if pair[0] == pair[1] or code in self.compared:
            return
        self.compared.add(code)
        value, reasons = score(object_type, a, b)
        if value >= min_score:
            self.found[pair] = (value, reasons)


def block_bound(size: int, block_cap: int = BLOCK_CAP, window: int = WINDOW) -> int:
    """The most pairs one block of `size` records may cost."""
    if size <= block_cap:
        return size * (size - 1) // 2
    return sum(min(window, size - 1 - i) for i in range(size))


def compare_block(
    object_type: str,
    members: list[Features],
    result: Comparison,
    *,
    focus: set[int] | None = None,
    min_score: int = MIN_SCORE,
    block_cap: int = BLOCK_CAP,
    window: int = WINDOW,
) -> None:
    """Compare within one block: every pair when it is small, else each record with its
    `window` neighbours in name order. With `focus`, only pairs touching those ids."""
    size = len(members)
    if size < 2:
        return
    result.blocks += 1
    result.largest_block = max(result.largest_block, size)
    result.bound += block_bound(size, block_cap, window)
    if size <= block_cap:
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if focus is None or a.id in focus or b.id in focus:
                    result.compare(object_type, a, b, min_score)
        return
    ordered = sorted(members, key=lambda f: (sort_key(f), f.id))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 : i + 1 + window]:
            if focus is None or a.id in focus or b.id in focus:
                result.compare(object_type, a, b, min_score)


def _sorted_blocks(object_type: str) -> Iterator[list[int]]:
    """The blocks of a type with two or more members, streamed from the key table sorted."""
    rows = (
        DuplicateKey.objects.filter(object_type=object_type)
        .order_by("value", "record_id")
        .values_list("value", "record_id")
        .iterator(chunk_size=BATCH)
    )
    current, members = None, []
    for value, record_id in rows:
        if value != current:
            if len(members) > 1:
                yield members
            current, members = value, []
        members.append(record_id)
    if len(members) > 1:
        yield members


def _keys_insert(rows: list[tuple[str, int, str]]) -> None:
    """Insert key rows as multi-row INSERTs of 1,000 rows: model instances cost 5× more at
    500k keys, and row-by-row executemany 5× more on PostgreSQL. A row a concurrent
    refresh already filed is skipped (the unique constraint)."""
    ops, table = connection.ops, DuplicateKey._meta.db_table
    fields = [DuplicateKey._meta.get_field(n) for n in ("object_type", "record_id", "value")]
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    head = (
        f"{ops.insert_statement(on_conflict=OnConflict.IGNORE)} {ops.quote_name(table)} ({columns})"
    )
    tail = ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            batch = rows[start : start + 1000]
            values = ", ".join(["(%s, %s, %s)"] * len(batch))
            cursor.execute(f"{head} VALUES {values} {tail}", [v for row in batch for v in row])


def _keys_write(object_type: str, features: Iterable[Features]) -> int:
    batch: list[tuple[str, int, str]] = []
    written = 0
    for f in features:
        batch.extend((object_type, f.id, value) for value in blocking_keys(object_type, f))
        if len(batch) >= BATCH:
            _keys_insert(batch)
            written += len(batch)
            batch = []
    if batch:
        _keys_insert(batch)
        written += len(batch)
    return written


def duplicate_keys_refresh(*, object_type: str, ids: Iterable[int]) -> dict[int, Features]:
    """Refile the blocking keys of these records (deleted ones lose theirs); returns the
    features of those still active. Merges and incremental runs call it."""
    ids = sorted(set(ids))
    features: dict[int, Features] = {}
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        with transaction.atomic():  # short transactions: see _run_full
            DuplicateKey.objects.filter(object_type=object_type, record_id__in=chunk).delete()
            fresh = list(features_iter(object_type, chunk))
            _keys_write(object_type, fresh)
        features.update((f.id, f) for f in fresh)
    return features


def _candidates_save(
    object_type: str,
    found: dict[Pair, tuple[int, list[str]]],
    scopes: Iterable[Q],
    run: DuplicateRun,
) -> None:
    """Upsert the found pairs; delete the open pairs within `scopes` not found again."""
    now = timezone.now()
    existing: dict[Pair, tuple[int, str, int, list]] = {}
    firsts = sorted({a for a, _ in found})
    for start in range(0, len(firsts), 500):
        rows = DuplicateCandidate.objects.filter(
            object_type=object_type, record_a_id__in=firsts[start : start + 500]
        ).values_list("id", "record_a_id", "record_b_id", "status", "score", "reasons")
        for pk, a, b, status, old_score, reasons in rows:
            existing[(a, b)] = (pk, status, old_score, reasons)
    new, changed = [], []
    for (a, b), (value, reasons) in found.items():
        row = existing.get((a, b))
        if row is None:
            new.append(
                DuplicateCandidate(
                    object_type=object_type,
                    record_a_id=a,
                    record_b_id=b,
                    score=value,
                    reasons=reasons,
                    found_at=now,
                    scored_at=now,
                )
            )
        elif row[1] == CandidateStatus.OPEN and (row[2] != value or row[3] != reasons):
            changed.append(
                DuplicateCandidate(pk=row[0], score=value, reasons=reasons, scored_at=now)
            )
    stale = {
        pk
        for scope in scopes
        for pk, a, b in DuplicateCandidate.objects.filter(
            scope, object_type=object_type, status=CandidateStatus.OPEN
        ).values_list("id", "record_a_id", "record_b_id")
        if (a, b) not in found
    }
    stale = sorted(stale)
    with transaction.atomic():
        DuplicateCandidate.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
        DuplicateCandidate.objects.bulk_update(
            changed, ["score", "reasons", "scored_at"], batch_size=1000
        )
        for start in range(0, len(stale), 1000):
            DuplicateCandidate.objects.filter(pk__in=stale[start : start + 1000]).delete()
    run.candidates_new, run.candidates_updated = len(new), len(changed)
    run.candidates_removed = len(stale)


def _run_start(object_type: str, mode: str) -> DuplicateRun:
    with transaction.atomic():
        busy = DuplicateRun.objects.filter(
            object_type=object_type,
            status=RunStatus.RUNNING,
            started_at__gte=timezone.now() - STALE_RUN,
        ).exists()
        if busy:
            raise Conflict(
                f"A duplicate detection run over {object_type}s is already running",
                code="run_in_progress",
            )
        return DuplicateRun.objects.create(
            object_type=object_type, mode=mode, started_at=timezone.now()
        )


def _run_full(run: DuplicateRun, result: Comparison, **opts) -> None:
    object_type = run.object_type
    features: dict[int, Features] = {}
    # Refile the keys id range by id range, one short transaction each: on SQLite a single
    # transaction over a million records would lock every other writer out for minutes.
    # A range's delete also drops the keys of records deleted since the last run.
    done = 0
    for chunk in features_chunks(object_type):
        with transaction.atomic():
            DuplicateKey.objects.filter(
                object_type=object_type, record_id__gt=done, record_id__lte=chunk[-1].id
            ).delete()
            run.keys += _keys_write(object_type, chunk)
        features.update((f.id, f) for f in chunk)
        done = chunk[-1].id
    DuplicateKey.objects.filter(object_type=object_type, record_id__gt=done).delete()
    run.records = len(features)
    for ids in _sorted_blocks(object_type):
        compare_block(object_type, [features[i] for i in ids if i in features], result, **opts)
    _candidates_save(object_type, result.found, [Q()], run)


def _run_incremental(run: DuplicateRun, since: datetime.datetime, result: Comparison, **opts):
    object_type = run.object_type
    changed = list(
        model_for(object_type)
        .all_objects.filter(updated_at__gte=since)
        .values_list("id", flat=True)
        .iterator(chunk_size=BATCH)
    )
    run.records = len(changed)
    features = duplicate_keys_refresh(object_type=object_type, ids=changed)
    focus = set(features)
    run.keys = sum(len(blocking_keys(object_type, f)) for f in features.values())
    values = sorted({k for f in features.values() for k in blocking_keys(object_type, f)})
    blocks: dict[str, list[int]] = defaultdict(list)
    for start in range(0, len(values), 500):
        rows = DuplicateKey.objects.filter(
            object_type=object_type, value__in=values[start : start + 500]
        ).values_list("value", "record_id")
        for value, record_id in rows:
            blocks[value].append(record_id)
    missing = {i for ids in blocks.values() for i in ids} - features.keys()
    features.update({f.id: f for f in features_iter(object_type, missing)})
    for ids in blocks.values():
        compare_block(
            object_type, [features[i] for i in ids if i in features], result, focus=focus, **opts
        )
    scopes = [
        Q(record_a_id__in=chunk) | Q(record_b_id__in=chunk)
        for chunk in (changed[i : i + 500] for i in range(0, len(changed), 500))
    ]
    _candidates_save(object_type, result.found, scopes, run)


def duplicates_find(
    *,
    object_type: str,
    full: bool | None = None,
    min_score: int = MIN_SCORE,
    block_cap: int = BLOCK_CAP,
    window: int = WINDOW,
) -> DuplicateRun:
    """Run duplicate detection over one record type and record the run.

    `full=None` runs incrementally when a previous run finished and the latest did not fail,
    else in full. Raises Conflict when a run of the type is already in progress.
    """
    if object_type not in OBJECT_TYPES:
        raise ValueError(f"object_type must be one of {', '.join(OBJECT_TYPES)}")
    last_done = (
        DuplicateRun.objects.filter(object_type=object_type, status=RunStatus.DONE)
        .order_by("-started_at", "-id")
        .first()
    )
    latest = DuplicateRun.objects.filter(object_type=object_type).order_by("-started_at").first()
    if full is None:
        full = last_done is None or (latest is not None and latest.status != RunStatus.DONE)
    run = _run_start(object_type, RunMode.FULL if full else RunMode.INCREMENTAL)
    started = time.perf_counter()
    result = Comparison()
    opts = {"min_score": min_score, "block_cap": block_cap, "window": window}
    try:
        if full:
            _run_full(run, result, **opts)
        else:
            _run_incremental(run, last_done.started_at, result, **opts)
    except Exception as exc:
        run.status, run.error = RunStatus.FAILED, repr(exc)[:2000]
        run.finished_at, run.seconds = timezone.now(), time.perf_counter() - started
        run.save()
        log.exception("duplicate detection over %s failed", object_type)
        raise
    run.status = RunStatus.DONE
    run.blocks, run.largest_block = result.blocks, result.largest_block
    run.pairs_compared, run.pairs_bound = len(result.compared), result.bound
    run.finished_at, run.seconds = timezone.now(), time.perf_counter() - started
    run.save()
    return run
