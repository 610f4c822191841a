"""Writing files: `store_file` is the one way bytes reach the storage."""

import hashlib
import io
import mimetypes
import re
import unicodedata
from typing import IO

import puremagic
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Model
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from rapport.files.models import RECORD_FIELDS, FileKind, StoredFile
from rapport.records.exceptions import PermissionDenied, RecordNotFound
from rapport.records.visibility import can_edit
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

_CHUNK = 1024 * 1024


def _digest(stream: IO[bytes]) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    stream.seek(0)
    while chunk := stream.read(_CHUNK):
        sha.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return sha.hexdigest(), size


def stored_copies(contents) -> dict[tuple[str, int], str | None]:
    """For each of `contents` (bytes), (sha256, size) → the storage name of a stored copy of
    those bytes, or None: one query for them all. A caller storing many files (the mail sync,
    a chunk at a time) passes the dict to `store_file(known=...)`, which then skips its own
    lookup and keeps the dict current."""
    keys = {(hashlib.sha256(c).hexdigest(), len(c)) for c in contents}
    found: dict[tuple[str, int], str | None] = dict.fromkeys(keys)
    digests = sorted({sha for sha, _ in keys})
    for start in range(0, len(digests), 500):
        rows = (
            StoredFile.objects.filter(sha256__in=digests[start : start + 500])
            .exclude(file="")
            .order_by("id")
            .values_list("sha256", "size", "file")
        )
        for sha, size, stored_name in rows:
            if (sha, size) in found and found[(sha, size)] is None:
                found[(sha, size)] = stored_name  # the oldest copy, as store_file's own lookup
    return found


def store_file(
    content: bytes | IO[bytes],
    *,
    name: str,
    content_type: str = "",
    kind: str = FileKind.RECORD,
    uploaded_by=None,
    account_id: int | None = None,
    contact_id: int | None = None,
    lead_id: int | None = None,
    opportunity_id: int | None = None,
    known: dict | None = None,
) -> StoredFile:
    """Store `content` (bytes or a binary file object, read in chunks) and return its row.

    Call inside the caller's transaction; the bytes are written to the storage first (a file
    without a row is harmless garbage, a row without a file is not). `known`: a dict from
    `stored_copies` (looked up for many files at once) used instead of this file's own lookup
    when it holds its digest, and updated with where these bytes now are."""
    stream = io.BytesIO(content) if isinstance(content, bytes | bytearray) else content
    sha256, size = _digest(stream)
    row = StoredFile(
        kind=kind,
        name=(name or "file")[:255],
        content_type=(content_type or "application/octet-stream")[:255],
        size=size,
        sha256=sha256,
        uploaded_by=uploaded_by
        if uploaded_by is not None and uploaded_by.is_authenticated
        else None,
        account_id=account_id,
        contact_id=contact_id,
        lead_id=lead_id,
        opportunity_id=opportunity_id,
    )
    if known is not None and (sha256, size) in known:
        # Stored earlier (even by a savepoint rolled back since: the bytes stay in the
        # storage), or None: not stored when the caller looked.
        same = known[(sha256, size)]
    else:
        existing = StoredFile.objects.filter(sha256=sha256, size=size).exclude(file="").first()
        same = existing.file.name if existing is not None else None
    if same and row.file.storage.exists(same):
        row.file.name = same  # same bytes: one copy in the storage
    else:
        row.file.save(sha256, File(stream), save=False)
    row.save()
    if known is not None:
        known[(sha256, size)] = row.file.name
    return row


# ----- files uploaded on records --------------------------------------------------------

# The most files one upload may carry (each up to settings.RAPPORT_MAX_UPLOAD_BYTES).
MAX_FILES_PER_UPLOAD = 20
_SNIFF_BYTES = 8192
# Characters no download name may carry: path separators, Windows' reserved ones, and every
# control character (CR/LF would split a header; NUL ends a C string).
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f-\x9f/\\<>:"|?*]+')


def safe_filename(name: str | None) -> str:
    """A file name safe to keep and to send back in Content-Disposition: the last path part
    only ("../../etc/passwd" → "passwd"), no control characters or CR/LF, no leading dots or
    spaces, at most 255 characters with the extension kept; "file" when nothing is left."""
    text = unicodedata.normalize("NFC", str(name or ""))
    # A Windows browser may send "C:\\Users\\me\\report.pdf"; keep the last part of either kind
    # of path before the separators are replaced.
    text = re.split(r"[/\\]", text)[-1]
    text = _UNSAFE_NAME.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip(" .")
    if not text or set(text) <= {"_", " ", "."}:
        return "file"
    if len(text) > 255:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            text = stem[: 254 - len(ext)] + "." + ext
        else:
            text = text[:255]
    return text


def sniff_content_type(head: bytes, name: str) -> str:
    """The content type the bytes show (never the one a client claimed): the type the name's
    extension suggests when the bytes confirm it, else the best match of the bytes, else
    text/plain for UTF-8 text without NULs, else application/octet-stream."""
    if not head:
        return "application/octet-stream"
    by_name = mimetypes.guess_type(name)[0] or ""
    try:
        matches = puremagic.magic_string(head, name)
    except (puremagic.PureError, ValueError):
        matches = []
    types = [m.mime_type for m in matches if m.mime_type]
    if by_name and by_name in types:
        return by_name
    if types:
        return types[0]
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is still text.
            if exc.start < len(head) - 4:
                return "application/octet-stream"
        return by_name if by_name.startswith("text/") else "text/plain"
    return "application/octet-stream"


def _head(upload) -> bytes:
    upload.seek(0)
    head = upload.read(_SNIFF_BYTES)
    upload.seek(0)
    return head


def _too_large(name: str, size: int) -> ValidationError:
    cap = settings.RAPPORT_MAX_UPLOAD_BYTES
    return ValidationError(
        {
            "file": [
                ValidationError(
                    f"“{name}” is {filesizeformat(size)}; a file may be at most "
                    f"{filesizeformat(cap)}.",
                    code="file_too_large",
                )
            ]
        }
    )


def record_files_add(*, record: Model, uploads: list, actor) -> list[StoredFile]:
    """Store every upload on `record` (all or none) with a FILE_ADDED event each on the
    record's timeline (and its account's); only people who may change the record may.

    `uploads` are Django UploadedFile objects (or any binary file object with `.name` and
    `.size`). Names are sanitised and content types sniffed from the bytes."""
    if not can_edit(record, actor):
        raise PermissionDenied("You may not add files to this record")
    if not uploads:
        raise ValidationError({"file": [ValidationError("Choose a file.", code="required")]})
    if len(uploads) > MAX_FILES_PER_UPLOAD:
        raise ValidationError(
            {
                "file": [
                    ValidationError(
                        f"At most {MAX_FILES_PER_UPLOAD} files at once.", code="too_many_files"
                    )
                ]
            }
        )
    prepared = []
    for upload in uploads:
        name = safe_filename(getattr(upload, "name", ""))
        size = upload.size
        if size > settings.RAPPORT_MAX_UPLOAD_BYTES:
            raise _too_large(name, size)
        if size == 0:
            raise ValidationError(
                {"file": [ValidationError(f"“{name}” is empty.", code="empty_file")]}
            )
        prepared.append((upload, name, sniff_content_type(_head(upload), name)))
    field = RECORD_FIELDS[record.OBJECT_TYPE]
    rows = []
    with transaction.atomic():
        for upload, name, content_type in prepared:
            row = store_file(
                upload,
                name=name,
                content_type=content_type,
                kind=FileKind.RECORD,
                uploaded_by=actor,
                **{f"{field}_id": record.pk},
            )
            timeline_record(
                subject=record,
                kind=EventKind.FILE_ADDED,
                actor=actor,
                summary=f"File added: {name}",
                payload={
                    "file_id": row.pk,
                    "name": name,
                    "size": row.size,
                    "content_type": content_type,
                },
            )
            rows.append(row)
    return rows


def record_file_delete(*, stored_file: StoredFile, record: Model, actor) -> StoredFile:
    """Take a file off its record (soft: hidden everywhere, restorable); only people who may
    change the record may. A file already removed is a 404 (RecordNotFound)."""
    if not can_edit(record, actor):
        raise PermissionDenied("You may not remove files from this record")
    now = timezone.now()
    done = StoredFile.objects.filter(pk=stored_file.pk, deleted_at__isnull=True).update(
        deleted_at=now, deleted_by=actor
    )
    if not done:
        raise RecordNotFound("file")
    stored_file.deleted_at, stored_file.deleted_by = now, actor
    return stored_file


def record_file_restore(*, stored_file: StoredFile, record: Model, actor) -> StoredFile:
    """Put a removed file back on its record (the undo of `record_file_delete`)."""
    if not can_edit(record, actor):
        raise PermissionDenied("You may not restore files on this record")
    StoredFile.objects.filter(pk=stored_file.pk).update(deleted_at=None, deleted_by=None)
    stored_file.deleted_at = stored_file.deleted_by = None
    return stored_file
