"""Reading mail: who sees which message and thread.

Who sees a message is `rapport.mail.selectors.messages_visible_to` (one rule for threads,
the API and downloads). A thread is shown with the
messages of it the reader may see (and is not found when they may see none).
"""

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from rapport.mail.models import MailMessage, MailThread, MessageAttachment, MessageLink
from rapport.mail.selectors import messages_visible_to
from rapport.records.exceptions import RecordNotFound
from rapport.records.visibility import owned_record_models, visible

RECORD_FIELDS = {
    "account": "account_id",
    "contact": "contact_id",
    "lead": "lead_id",
    "opportunity": "opportunity_id",
}


# The rule itself lives in rapport.mail.selectors (shared with file downloads and the API).
visible_messages = messages_visible_to


def _with_details(qs: QuerySet) -> QuerySet:
    return qs.select_related("mailbox", "raw", "delivery").prefetch_related(
        Prefetch("attachments", queryset=MessageAttachment.objects.select_related("file"))
    )


def message_get_for_user(*, pk: int, user) -> MailMessage:
    message = _with_details(visible_messages(user)).filter(pk=pk).first()
    if message is None:
        raise RecordNotFound("message")
    return message


def thread_get_for_user(*, pk: int, user) -> tuple[MailThread, list[MailMessage]]:
    """The thread and the messages of it the user may see, oldest first (404 when none)."""
    thread = MailThread.objects.filter(pk=pk).first()
    messages = (
        list(
            _with_details(visible_messages(user).filter(thread_id=pk)).order_by("received_at", "id")
        )
        if thread
        else []
    )
    if not messages:
        raise RecordNotFound("thread")
    return thread, messages


def record_for_user(object_type: str, pk: int, user):
    """The owned record, when the user may see it (else RecordNotFound)."""
    model = owned_record_models().get(object_type)
    if model is None or object_type not in RECORD_FIELDS:
        raise RecordNotFound("record")
    record = visible(model.objects.all(), user).filter(pk=pk).first()
    if record is None:
        raise RecordNotFound(object_type)
    return record


def messages_of_record(*, object_type: str, pk: int, user) -> QuerySet:
    """Messages filed on a record the user may see, newest first. Filed on the record is what
    the user may read through it, so no further narrowing is needed."""
    record_for_user(object_type, pk, user)
    field = RECORD_FIELDS[object_type]
    filed = MessageLink.objects.filter(**{field: pk}).values("message_id")
    return (
        MailMessage.objects.filter(pk__in=filed)
        .select_related("thread")
        .order_by("-received_at", "-id")
    )


def threads_of_record(*, object_type: str, pk: int, user) -> QuerySet:
    messages = messages_of_record(object_type=object_type, pk=pk, user=user)
    return MailThread.objects.filter(pk__in=messages.values("thread_id")).order_by(
        "-last_message_at", "-id"
    )


def unfiled_messages(user) -> QuerySet:
    """Received messages filed on no record (admins only: they may be anyone's)."""
    from rapport.records.exceptions import PermissionDenied

    if user is None or not user.is_authenticated or not user.is_admin:
        raise PermissionDenied("Only admins see unfiled mail", code="admin_only")
    return (
        MailMessage.objects.filter(direction="in")
        .exclude(Exists(MessageLink.objects.filter(message_id=OuterRef("pk"))))
        .order_by("-received_at", "-id")
    )
