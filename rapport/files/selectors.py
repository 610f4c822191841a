"""Reading files: who may list and download what.

- A file uploaded on a record is visible iff its record is (rapport.records.visibility) and
  neither the file nor the record is deleted.
- A mail attachment or a raw message is visible iff its message is, by the one message rule
  `rapport.mail.selectors.messages_visible_to` (the thread pages and the API use it too).

Not visible and not existing answer the same (RecordNotFound → 404).
"""

from django.db.models import Q, QuerySet

from rapport.files.models import RECORD_FIELDS, FileKind, StoredFile
from rapport.records.exceptions import RecordNotFound
from rapport.records.selectors import record_get_for_user
from rapport.records.visibility import owned_record_models


def record_files(record) -> QuerySet[StoredFile]:
    """The files of `record` (which the caller loaded through visibility), newest first, with
    their uploader: those uploaded on it and the (not inline) attachments of the emails filed
    on it — visible by the message rule, since the reader sees this record."""
    from rapport.mail.models import MessageAttachment

    field = RECORD_FIELDS[record.OBJECT_TYPE]
    attached = MessageAttachment.objects.filter(
        inline=False, **{f"message__links__{field}_id": record.pk}
    ).values("file_id")
    return (
        StoredFile.objects.filter(deleted_at__isnull=True)
        .filter(
            Q(kind=FileKind.RECORD, **{f"{field}_id": record.pk})
            | Q(kind=FileKind.MAIL_ATTACHMENT, pk__in=attached)
        )
        .select_related("uploaded_by")
    )


def owning_record(stored_file: StoredFile, user):
    """The record a file was uploaded on, if `user` may see it (else RecordNotFound)."""
    models = owned_record_models()
    for object_type, field in RECORD_FIELDS.items():
        record_id = getattr(stored_file, f"{field}_id")
        if record_id:
            try:
                return record_get_for_user(model=models[object_type], pk=record_id, user=user)
            except RecordNotFound:
                # "file not found", as for a missing id: not which kind of record hides it.
                raise RecordNotFound("file") from None
    raise RecordNotFound("file")


def record_file_get_for_user(*, pk: int, user, record=None, include_deleted: bool = False):
    """(file, record) for a file uploaded on a record the user may see; `record`, when
    given, must be the file's record (a file id under another record's URL is a 404)."""
    qs = StoredFile.objects.filter(kind=FileKind.RECORD)
    if not include_deleted:
        qs = qs.filter(deleted_at__isnull=True)
    stored = qs.filter(pk=pk).select_related("uploaded_by").first() if _valid_id(pk) else None
    if stored is None:
        raise RecordNotFound("file")
    owner = owning_record(stored, user)
    if record is not None and (type(owner) is not type(record) or owner.pk != record.pk):
        raise RecordNotFound("file")
    return stored, owner


def stored_file_get_for_download(*, pk: int, user) -> StoredFile:
    """Any stored file the user may download: a record's file whose record they see, or a
    mail attachment / raw message of a message they see."""
    stored = StoredFile.objects.filter(pk=pk).first() if _valid_id(pk) else None
    if stored is None or stored.deleted_at is not None:
        raise RecordNotFound("file")
    if stored.kind == FileKind.RECORD:
        owning_record(stored, user)
        return stored
    from rapport.mail.models import MailMessage, MessageAttachment
    from rapport.mail.selectors import messages_visible_to

    messages = messages_visible_to(user)
    if (
        MessageAttachment.objects.filter(file_id=stored.pk, message__in=messages).exists()
        or MailMessage.objects.filter(raw_id=stored.pk, pk__in=messages.values("pk")).exists()
    ):
        return stored
    raise RecordNotFound("file")


def _valid_id(pk) -> bool:
    return isinstance(pk, int) and 0 < pk < 2**63
