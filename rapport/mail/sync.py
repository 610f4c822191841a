"""Incremental IMAP sync of one mailbox, by UID, in batches, under a per-mailbox lease.

State on the Mailbox row: `uidvalidity` and `last_uid` (the highest UID handled). A run:

1. takes the mailbox's lease (one conditional UPDATE: free or expired → ours), so two
   workers never sync the same mailbox at once; a dead worker's lease expires;
2. selects the folder read-only; a UIDVALIDITY different from the stored one means the
   server renumbered the folder: start again from UID 1 (messages already stored are found
   by (mailbox, Message-ID), or by their bytes when they have none: no duplicates);
3. lists the UIDs above `last_uid`, fetches them in batches bounded by count and by bytes
   (RFC822.SIZE first), and stores each message in its own savepoint inside a transaction
   of up to COMMIT_EVERY messages; `last_uid` advances in that same transaction;
4. a message that fails is kept raw with the error as a warning (or, if even that fails,
   logged on the mailbox) and the sync goes on: one bad message never blocks a mailbox.

Memory stays flat in the number of messages: a batch's messages are the only ones held.
"""

import datetime
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from rapport.mail.imap import ImapError, _close, connect, select_folder
from rapport.mail.inbound import IngestCache, after_ingest_many, ingest_failure, ingest_raw
from rapport.mail.models import Mailbox, MailMessage
from rapport.mail.parsing import message_ids, parse_message
from rapport.timeline.services import timeline_record_many

log = logging.getLogger(__name__)

LEASE_SECONDS = 300
BATCH_MESSAGES = 200
BATCH_BYTES = 16 * 1024 * 1024
COMMIT_EVERY = 25


@dataclass
class SyncResult:
    mailbox_id: int
    fetched: int = 0
    created: int = 0
    duplicates: int = 0
    failed: int = 0
    skipped_locked: bool = False
    resynced: bool = False
    error: str = ""
    stage: str = ""
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:100]


def take_lease(mailbox_id: int, holder: str, seconds: int = LEASE_SECONDS) -> bool:
    now = timezone.now()
    return bool(
        Mailbox.objects.filter(pk=mailbox_id)
        .filter(
            Q(sync_locked_until__isnull=True)
            | Q(sync_locked_until__lt=now)
            | Q(sync_locked_by=holder)
        )
        .update(sync_locked_until=now + datetime.timedelta(seconds=seconds), sync_locked_by=holder)
    )


def release_lease(mailbox_id: int, holder: str) -> None:
    Mailbox.objects.filter(pk=mailbox_id, sync_locked_by=holder).update(
        sync_locked_until=None, sync_locked_by=""
    )


def _uids_above(conn, last_uid: int) -> list[int]:
    typ, data = conn.uid("SEARCH", None, f"UID {last_uid + 1}:*")
    if typ != "OK":
        raise ImapError("folder", f"UID SEARCH failed: {data!r}")
    # "n:*" always includes the highest UID, even when it is below n.
    return sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > last_uid)


def _sizes(conn, uids: list[int]) -> dict[int, int]:
    typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(RFC822.SIZE)")
    sizes: dict[int, int] = {}
    for item in data or []:
        line = item if isinstance(item, bytes) else item[0]
        text = line.decode(errors="replace")
        try:
            uid = int(text.split("UID ", 1)[1].split()[0].strip(")"))
            size = int(text.split("RFC822.SIZE ", 1)[1].split()[0].strip(")"))
        except (IndexError, ValueError):
            continue
        sizes[uid] = size
    return sizes


def _batches(conn, uids: list[int], max_messages: int, max_bytes: int):
    """Chunks of UIDs bounded by count and total size (a big message comes alone)."""
    for start in range(0, len(uids), max_messages * 5):
        window = uids[start : start + max_messages * 5]
        sizes = _sizes(conn, window)
        batch, total = [], 0
        for uid in window:
            size = sizes.get(uid, 0)
            if batch and (len(batch) >= max_messages or total + size > max_bytes):
                yield batch
                batch, total = [], 0
            batch.append(uid)
            total += size
        if batch:
            yield batch


def _fetch(conn, uids: list[int]) -> dict[int, bytes]:
    typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
    if typ != "OK":
        raise ImapError("folder", f"UID FETCH failed: {data!r}")
    found: dict[int, bytes] = {}
    for item in data or []:
        if not isinstance(item, tuple) or len(item) < 2:
            continue
        head = item[0].decode(errors="replace")
        try:
            uid = int(head.split("UID ", 1)[1].split()[0].strip(")"))
        except (IndexError, ValueError):
            continue
        found[uid] = item[1]
    return found


def _parsed(raw: bytes):
    try:
        return parse_message(raw)
    except Exception:  # noqa: BLE001 - parse_message never raises; if it did, ingest says why
        log.exception("parse_message raised")
        return None


def _store_batch(mailbox: Mailbox, uidvalidity: int, fetched: dict, uids, result, cache) -> None:
    """Store one chunk in one transaction: parse every message first and look up, once for
    the chunk, all their Message-IDs and references (dedupe, threading), the records of their
    senders' address sets (filing) and which of their bytes are stored already (raw copies,
    attachments); store each message in its own savepoint; then hand the stored messages to
    the batch after-ingest handlers (sequences) and write the chunk's timeline events in one
    INSERT, so the timeline listeners (segments, automation, webhooks) run once per chunk."""
    with transaction.atomic():
        done = set(
            MailMessage.objects.filter(
                mailbox=mailbox, imap_uidvalidity=uidvalidity, imap_uid__in=uids
            ).values_list("imap_uid", flat=True)
        )
        todo = [uid for uid in uids if uid in fetched and uid not in done]
        parsed = {uid: _parsed(fetched[uid]) for uid in todo}
        cache.prefetch_ids(
            mid
            for p in parsed.values()
            if p is not None
            for mid in [p.message_id, *message_ids(p.in_reply_to), *message_ids(p.references)]
        )
        cache.prefetch_records(
            [a for a in p.participants if a not in cache.own]
            for p in parsed.values()
            if p is not None and not p.is_bounce
        )
        cache.prefetch_files(
            [fetched[uid] for uid in todo]
            + [a.payload for p in parsed.values() if p is not None for a in p.attachments]
        )
        events: list = []
        stored: list = []
        for uid in uids:
            raw = fetched.get(uid)
            if raw is None:
                continue  # expunged between SEARCH and FETCH
            result.fetched += 1
            if uid in done:
                result.duplicates += 1
                continue
            mine: list = []
            new: list = []
            try:
                with transaction.atomic():
                    _message, created = ingest_raw(
                        mailbox,
                        raw,
                        uidvalidity=uidvalidity,
                        uid=uid,
                        cache=cache,
                        parsed=parsed.get(uid),
                        timeline_sink=mine,
                        after_sink=new,
                    )
                events += mine  # only once its savepoint committed
                stored += new
                if created:
                    result.created += 1
                else:
                    result.duplicates += 1
            except Exception as exc:  # noqa: BLE001 - one bad message never blocks the mailbox
                log.exception("Mailbox %s: UID %s could not be stored", mailbox.pk, uid)
                cache.forget()  # what the rolled-back savepoint wrote is gone
                result.failed += 1
                result.errors.append(f"UID {uid}: {exc}")
                try:
                    with transaction.atomic():
                        ingest_failure(
                            mailbox, raw, uidvalidity=uidvalidity, uid=uid, error=repr(exc)
                        )
                except Exception:  # noqa: BLE001
                    log.exception("Mailbox %s: UID %s not even kept raw", mailbox.pk, uid)
        after_ingest_many(stored, mailbox)
        timeline_record_many(events)
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_uid=max(uids), last_synced_at=timezone.now()
        )


def sync_mailbox(
    mailbox_id: int,
    *,
    batch_messages: int = BATCH_MESSAGES,
    batch_bytes: int = BATCH_BYTES,
    holder: str | None = None,
) -> SyncResult:
    """Fetch and store what is new in the mailbox's folder (see the module docstring)."""
    result = SyncResult(mailbox_id=mailbox_id)
    started = time.monotonic()
    holder = holder or _worker_id()
    if not take_lease(mailbox_id, holder):
        result.skipped_locked = True
        return result
    conn = None
    try:
        mailbox = Mailbox.objects.select_related("owner").get(pk=mailbox_id)
        conn = connect(mailbox)
        uidvalidity, _exists = select_folder(conn, mailbox.imap_folder or "INBOX")
        last_uid = mailbox.last_uid
        if mailbox.uidvalidity != uidvalidity:
            result.resynced = mailbox.uidvalidity is not None
            last_uid = 0
            Mailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=uidvalidity, last_uid=0)
        uids = _uids_above(conn, last_uid)
        cache = IngestCache(mailbox)
        for batch in _batches(conn, uids, batch_messages, batch_bytes):
            fetched = _fetch(conn, batch)
            # Short transactions (SQLite has one writer: a long one would hold the web's
            # writes back); last_uid advances with each.
            for start in range(0, len(batch), COMMIT_EVERY):
                chunk = batch[start : start + COMMIT_EVERY]
                _store_batch(mailbox, uidvalidity, fetched, chunk, result, cache)
            del fetched
            take_lease(mailbox_id, holder)  # renew
        error = "; ".join(result.errors)[:4000]
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_synced_at=timezone.now(), last_error=error
        )
    except ImapError as exc:
        result.error, result.stage = exc.message, str(exc.stage)
        Mailbox.objects.filter(pk=mailbox_id).update(last_error=f"{exc.stage}: {exc.message}")
    except (OSError, EOFError) as exc:
        result.error, result.stage = str(exc), "tcp"
        Mailbox.objects.filter(pk=mailbox_id).update(last_error=f"connection: {exc}")
    finally:
        if conn is not None:
            _close(conn)
        release_lease(mailbox_id, holder)
        result.seconds = time.monotonic() - started
    return result


def sync_all() -> list[SyncResult]:
    """Sync every active mailbox with sync enabled and an IMAP server."""
    ids = Mailbox.objects.filter(active=True, sync_enabled=True).exclude(imap_host="")
    return [sync_mailbox(pk) for pk in ids.values_list("pk", flat=True)]
