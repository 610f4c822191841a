"""Writes for the service desk: cases, their conversation, status, assignment, macros,
merge and split. Views, the API, email-to-case, the automation action and the demo data call
these; each writes its timeline events (on the case and its customer) in the same
transaction and tells the SLA clock through the one seam `_sla`."""

import datetime
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from rapport.cases.models import (
    OPEN_STATUSES,
    AgentAvailability,
    AgentStatus,
    Case,
    CaseChannel,
    CaseEntry,
    CaseEntryKind,
    CaseNumber,
    CasePriority,
    CaseStatus,
    Macro,
    Queue,
)
from rapport.identity.models import User
from rapport.records.exceptions import Conflict, PermissionDenied
from rapport.records.services import versioned_update
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

# Fields a case update may change directly; status, owner and queue have their own services.
EDITABLE_FIELDS = {
    "subject",
    "description",
    "account",
    "contact",
    "asset",
    "product",
    "order_line",
    "category",
    "subcategory",
    "priority",
    "channel",
    "tier",
    "language",
    "team",
    "custom",
    "details",
    "resolution_code",
}
# A change of one of these can change the SLA policy that applies.
_SLA_FIELDS = {"priority", "category", "subcategory", "channel", "tier"}


def _sla(case: Case, event: str, at: datetime.datetime | None, actor) -> None:
    """The one seam to the SLA clock (rapport.sla): it recomputes the case's due times."""
    from rapport.sla.services import sla_on_case_event  # sla imports the cases models

    sla_on_case_event(case=case, event=event, at=at, actor=actor)


def _error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def require_agent(actor: User | None) -> None:
    """Read-only users (and the signed-out) change no case."""
    if actor is None or not actor.is_authenticated or not actor.is_active or actor.is_read_only:
        raise PermissionDenied("Read-only users cannot change cases")


def require_service_admin(actor: User | None) -> None:
    """Queues, categories, routing rules and macros are configured by admins and managers."""
    require_agent(actor)
    if not (actor.is_admin or actor.role == "manager"):
        raise PermissionDenied("Only administrators and managers configure the service desk")


def _links(case: Case) -> dict[str, Any]:
    return {"case_id": case.pk, "account_id": case.account_id, "contact_id": case.contact_id}


def _event(case: Case, kind: str, actor, summary: str, payload: dict | None = None, at=None):
    return timeline_record(
        kind=kind,
        actor=actor,
        summary=summary,
        payload={"case_id": case.pk, "number": case.number, **(payload or {})},
        occurred_at=at,
        **_links(case),
    )


def _next_number() -> int:
    """The next case number, taken under a row lock so two writers never share one."""
    CaseNumber.objects.get_or_create(pk=1)
    counter = CaseNumber.objects.select_for_update().get(pk=1)
    counter.last = F("last") + 1
    counter.save(update_fields=["last"])
    counter.refresh_from_db(fields=["last"])
    return counter.last


def _clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    fields = dict(fields)
    if "subject" in fields:
        fields["subject"] = (fields["subject"] or "").strip()[:250]
        if not fields["subject"]:
            raise _error("subject", "A case needs a subject", "required")
    for name, choices in (("priority", CasePriority), ("channel", CaseChannel)):
        if name in fields and fields[name] not in choices.values:
            raise _error(name, f"must be one of {', '.join(choices.values)}", "invalid_choice")
    if "resolution_code" in fields:
        # A short code from the team's own list (refund, replacement, …): complaint metrics
        # group by it, so spaces and case are normalised.
        code = re.sub(r"\s+", "_", (fields["resolution_code"] or "").strip().lower())
        if len(code) > 60:
            raise _error("resolution_code", "at most 60 characters", "too_long")
        fields["resolution_code"] = code
    contact = fields.get("contact")
    if contact is not None and fields.get("account") is None and contact.account_id:
        fields["account"] = contact.account
    asset = fields.get("asset")
    if asset is not None:
        account = fields.get("account")
        if account is not None and asset.account_id and asset.account_id != account.pk:
            raise _error("asset_id", "belongs to another account's installed base")
        if fields.get("product") is None and "product" not in fields and asset.product_id:
            fields["product"] = asset.product
    sub = fields.get("subcategory")
    if sub is not None:
        if sub.parent_id is None:
            raise _error("subcategory_id", "is a top-level category, not a sub-category")
        if fields.get("category") is None:
            fields["category"] = sub.parent
        elif fields["category"].pk != sub.parent_id:
            raise _error("subcategory_id", "belongs to another category")
    return fields


def case_create(
    *,
    actor: User | None,
    fields: dict[str, Any],
    tags: list[str] | None = None,
    message=None,
    body: str | None = None,
    route: bool = True,
    at: datetime.datetime | None = None,
) -> Case:
    """Create a case with the next number, routed (queue, priority, tier) unless the caller
    chose a queue, assigned within its queue when the queue assigns, with its first customer
    entry (`message` from email-to-case or `body`), logged on the case and the customer."""
    from rapport.cases import routing

    if actor is not None:
        require_agent(actor)
    fields = _clean_fields({"subject": fields.get("subject", ""), **fields})
    at = at or timezone.now()
    with transaction.atomic():
        if not fields.get("tier") and fields.get("account") is not None:
            fields["tier"] = routing.tier_of_account(fields["account"])
        if route and fields.get("queue") is None:
            rule = routing.match_rule(fields)
            if rule is not None:
                fields["queue"] = rule.queue
                if rule.priority and "priority" not in fields:
                    fields["priority"] = rule.priority
        if fields.get("queue") is not None and fields.get("mailbox") is None:
            fields["mailbox"] = fields["queue"].mailbox
        case = Case.objects.create(
            number=_next_number(),
            created_by=actor if actor is not None and actor.is_authenticated else None,
            last_customer_message_at=at if (message is not None or body) else None,
            **fields,
        )
        if tags:
            from rapport.records.services import tags_set

            tags_set(record=case, names=tags)
        if message is not None or body:
            first = CaseEntry.objects.create(
                case=case,
                kind=CaseEntryKind.CUSTOMER,
                body=body if body is not None else (message.text_body or ""),
                message=message,
                created_at=at,
            )
            _attach_message_files(first, message)
        _event(
            case,
            EventKind.CASE_OPENED,
            actor,
            f"Case #{case.number} opened: {case.subject}",
            {"channel": case.channel, "queue_id": case.queue_id},
            at,
        )
        _sla(case, "created", at, actor)
        if case.owner_id is None and case.queue_id is not None:
            agent = routing.pick_agent(case.queue)
            if agent is not None:
                case_assign(case=case, actor=None, owner=agent, at=at)
    return case


def case_update(
    *,
    case: Case,
    actor: User,
    fields: dict[str, Any],
    expected_version: int | None = None,
    at: datetime.datetime | None = None,
) -> dict:
    """Versioned partial update; status, owner and queue go through their own services in
    the same transaction. Stale `expected_version` → StaleVersion, nothing written."""
    require_agent(actor)
    fields = dict(fields)
    status = fields.pop("status", None)
    assign = {k: fields.pop(k) for k in ("owner", "queue") if k in fields}
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise _error(sorted(unknown)[0], "cannot be changed here")
    asset = fields.get("asset")
    if (
        asset is not None
        and "account" not in fields
        and case.account_id
        and asset.account_id
        and asset.account_id != case.account_id
    ):
        raise _error("asset_id", "belongs to another account's installed base")
    fields = _clean_fields(fields)
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        case.version = locked.version
        diff = versioned_update(instance=case, changes=fields, expected_version=expected_version)
        if diff:
            _event(
                case,
                EventKind.UPDATED,
                actor,
                f"Case #{case.number}: {', '.join(sorted(diff))} changed",
                {"changes": diff},
                at,
            )
            if set(diff) & _SLA_FIELDS:
                _sla(case, "fields_changed", at, actor)
        if assign:
            diff.update(case_assign(case=case, actor=actor, at=at, **assign))
        if status is not None and status != case.status:
            case_set_status(case=case, status=status, actor=actor, at=at)
            diff["status"] = {"old": locked.status, "new": status}
    return diff


def _bump(case: Case, values: dict[str, Any]) -> None:
    """Write `values` with a version bump (the caller holds the row's lock)."""
    values = {**values, "updated_at": timezone.now()}
    Case.objects.filter(pk=case.pk).update(version=F("version") + 1, **values)
    for key, value in values.items():
        setattr(case, key, value)
    case.version += 1


_TRANSITIONS = {
    CaseStatus.NEW: set(CaseStatus.values) - {CaseStatus.NEW},
    CaseStatus.OPEN: set(CaseStatus.values) - {CaseStatus.NEW, CaseStatus.OPEN},
    CaseStatus.PENDING_CUSTOMER: set(CaseStatus.values) - {CaseStatus.NEW},
    CaseStatus.ON_HOLD: set(CaseStatus.values) - {CaseStatus.NEW},
    CaseStatus.RESOLVED: {CaseStatus.OPEN, CaseStatus.CLOSED},
    CaseStatus.CLOSED: {CaseStatus.OPEN},
}


def case_set_status(
    *, case: Case, status: str, actor, at: datetime.datetime | None = None, reason: str = ""
) -> Case:
    """Move a case to `status` (resolved/closed stamp their time; open from resolved or
    closed is a reopen and counts); a move the workflow does not allow is a 422 naming
    `status`; a merged case no longer moves."""
    if actor is not None:
        require_agent(actor)
    if status not in CaseStatus.values:
        raise _error("status", f"must be one of {', '.join(CaseStatus.values)}", "invalid_choice")
    at = at or timezone.now()
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        old = locked.status
        if status == old:
            return case
        if locked.merged_into_id:
            raise Conflict("The case was merged into another and is closed", code="case_merged")
        if status not in _TRANSITIONS[old]:
            raise _error(
                "status",
                f"a {CaseStatus(old).label.lower()} case cannot become "
                f"{CaseStatus(status).label.lower()}",
                "invalid_transition",
            )
        values: dict[str, Any] = {"status": status, "version": locked.version}
        reopened = old in (CaseStatus.RESOLVED, CaseStatus.CLOSED) and status in OPEN_STATUSES
        if status == CaseStatus.RESOLVED:
            values["resolved_at"] = at
        if status == CaseStatus.CLOSED:
            values["closed_at"] = at
            if not locked.resolved_at:
                values["resolved_at"] = at
        if reopened:
            values.update(
                resolved_at=None, closed_at=None, reopened_count=locked.reopened_count + 1
            )
        case.version = values.pop("version")
        _bump(case, values)
        _event(
            case,
            EventKind.CASE_STATUS,
            actor,
            f"Case #{case.number} {'reopened' if reopened else CaseStatus(status).label.lower()}",
            {"from": old, "to": status, "reopened": reopened, "reason": reason},
            at,
        )
        _sla(case, "status_changed", at, actor)
    return case


def case_reopen(*, case: Case, actor, at: datetime.datetime | None = None, reason: str = ""):
    return case_set_status(case=case, status=CaseStatus.OPEN, actor=actor, at=at, reason=reason)


def case_assign(
    *,
    case: Case,
    actor,
    owner: User | None | str = "keep",
    queue: Queue | None | str = "keep",
    at: datetime.datetime | None = None,
) -> dict:
    """Give the case to an owner (an active, non-read-only user) and/or move it to a queue;
    "keep" leaves that part alone, None clears it. Logged as an owner change."""
    if actor is not None:
        require_agent(actor)
    changes: dict[str, Any] = {}
    if owner != "keep":
        if owner is not None and (not owner.is_active or owner.is_read_only):
            raise _error("owner_id", "must be an active user who may work on cases")
        changes["owner"] = owner
    if queue != "keep":
        if queue is not None and not queue.is_active:
            raise _error("queue_id", "this queue is not active")
        changes["queue"] = queue
    if not changes:
        return {}
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        case.version = locked.version
        diff = versioned_update(instance=case, changes=changes)
        if not diff:
            return diff
        if "owner" in diff and owner is not None and case.queue_id:
            from rapport.cases.models import QueueMember

            QueueMember.objects.filter(queue_id=case.queue_id, user=owner).update(
                last_assigned_at=at or timezone.now()
            )
        who = owner.get_full_name() or owner.username if owner not in (None, "keep") else None
        summary = f"Case #{case.number} assigned to {who}" if who else f"Case #{case.number} moved"
        _event(case, EventKind.OWNER_CHANGED, actor, summary, {"changes": diff}, at)
    return diff


def case_tags_set(*, case: Case, actor, names: list[str], at=None) -> dict:
    """Replace the case's tags (automation's add/remove tag, the API); logged as an
    update on the case's timeline. Returns the diff ({} when nothing changed)."""
    from rapport.records.services import tags_set

    require_agent(actor)
    old = sorted(case.tags.values_list("name", flat=True))
    with transaction.atomic():
        tags_set(record=case, names=names)
        new = sorted(case.tags.values_list("name", flat=True))
        if new == old:
            return {}
        diff = {"tags": {"old": old, "new": new}}
        _event(
            case,
            EventKind.UPDATED,
            actor,
            f"Case #{case.number}: tags changed",
            {"changes": diff},
            at,
        )
    return diff


PRIORITY_STEPS = ("low", "normal", "high", "urgent")


def case_escalate(
    *,
    case: Case,
    owner: User | None = None,
    queue: Queue | None = None,
    raise_priority: bool = False,
    reason: str = "",
    at: datetime.datetime | None = None,
) -> list[str]:
    """The SLA scheduler's escalation, done by the system (no actor): reassign to `owner`
    and/or `queue`, raise the priority one step; each change on the case's timeline."""
    changed: list[str] = []
    with transaction.atomic():
        diff = case_assign(
            case=case,
            actor=None,
            owner=owner if owner is not None and owner.pk != case.owner_id else "keep",
            queue=queue if queue is not None and queue.pk != case.queue_id else "keep",
            at=at,
        )
        changed.extend(sorted(diff))
        if raise_priority and case.priority in PRIORITY_STEPS[:-1]:
            old = case.priority
            new = PRIORITY_STEPS[PRIORITY_STEPS.index(old) + 1]
            Case.objects.select_for_update().get(pk=case.pk)
            _bump(case, {"priority": new})
            _event(
                case,
                EventKind.UPDATED,
                None,
                f"Case #{case.number}: priority raised to {new}"
                + (f" ({reason})" if reason else ""),
                {"changes": {"priority": {"old": old, "new": new}}, "reason": reason},
                at,
            )
            changed.append("priority")
    return changed


def _customer_address(case: Case) -> str:
    """Where a public reply goes: the sender of the last customer email, else the contact."""
    last = (
        CaseEntry.objects.filter(case=case, kind=CaseEntryKind.CUSTOMER, message__isnull=False)
        .select_related("message")
        .order_by("-created_at", "-id")
        .first()
    )
    if last is not None:
        return last.message.reply_to or last.message.from_address
    if case.contact_id:
        return case.contact.email or ""
    return ""


MAX_ENTRY_FILES = 10


def _prepare_uploads(uploads) -> list[tuple[Any, str, str]]:
    """Check an entry's uploads before anything is written: count, size, a safe name and
    the content type sniffed from the bytes (as rapport/files does for records)."""
    from django.conf import settings

    from rapport.files.services import _head, _too_large, safe_filename, sniff_content_type

    uploads = list(uploads or ())
    if len(uploads) > MAX_ENTRY_FILES:
        raise _error("files", f"At most {MAX_ENTRY_FILES} files on one entry", "too_many_files")
    prepared = []
    for upload in uploads:
        name = safe_filename(getattr(upload, "name", ""))
        size = getattr(upload, "size", None)
        if size is None:
            raise _error("files", f"“{name}” has no size", "invalid")
        if size > settings.RAPPORT_MAX_UPLOAD_BYTES:
            raise _too_large(name, size)
        if size == 0:
            raise _error("files", f"“{name}” is empty", "empty_file")
        prepared.append((upload, name, sniff_content_type(_head(upload), name)))
    return prepared


def _store_uploads(prepared, actor) -> list:
    from rapport.files.models import FileKind
    from rapport.files.services import store_file

    # Kind "mail_attachment": a case entry's file is a conversation attachment (a reply's
    # is also sent as one); downloads go through the case (cases:attachment).
    return [
        store_file(
            upload,
            name=name,
            content_type=content_type,
            kind=FileKind.MAIL_ATTACHMENT,
            uploaded_by=actor,
        )
        for upload, name, content_type in prepared
    ]


def case_entry_attach(*, entry: CaseEntry, files) -> None:
    """Put stored files on a conversation entry (shown there, downloaded through the case);
    the portal's uploads land here like an inbound email's attachments."""
    _attach(entry, files)


def _attach(entry: CaseEntry, files) -> None:
    from rapport.cases.models import CaseEntryAttachment

    CaseEntryAttachment.objects.bulk_create(
        [CaseEntryAttachment(entry=entry, file=f) for f in files], ignore_conflicts=True
    )


def _attach_message_files(entry: CaseEntry, message) -> None:
    """An inbound email's attachments (not the inline images of its HTML) on its entry."""
    if message is None:
        return
    from rapport.mail.models import MessageAttachment

    files = [
        a.file
        for a in MessageAttachment.objects.filter(message=message, inline=False).select_related(
            "file"
        )
    ]
    if files:
        _attach(entry, files)


def case_reply(
    *,
    case: Case,
    actor: User,
    body: str,
    to: list[str] | None = None,
    status: str | None = None,
    at: datetime.datetime | None = None,
    uploads=(),
) -> CaseEntry:
    """A public reply: one outgoing message through the one outbox, from the queue's (or the
    case's) mailbox, in the case's mail thread (In-Reply-To the customer's last message, a
    signed reference in the body), so that the customer's answer lands on this case. Sets
    the first response, moves a new case to open (or to `status`) and tells the SLA clock.
    `uploads` (UploadedFile objects) are stored once and sent as the mail's attachments."""
    from rapport.mail.models import MailThread, Purpose
    from rapport.mail.services import queue_email
    from rapport.mail.tokens import body_reference, new_thread_token

    require_agent(actor)
    body = (body or "").strip()
    if not body:
        raise _error("body", "A reply needs some text", "required")
    if case.merged_into_id:
        raise Conflict("The case was merged into another; reply there", code="case_merged")
    mailbox = case.mailbox or (case.queue.mailbox if case.queue_id else None)
    if mailbox is None:
        raise _error("body", "This case's queue has no mailbox to reply from", "no_mailbox")
    recipients = to or [_customer_address(case)]
    if not any(recipients):
        raise _error("to", "The case has no customer address to reply to", "required")
    prepared = _prepare_uploads(uploads)
    at = at or timezone.now()
    with transaction.atomic():
        files = _store_uploads(prepared, actor)
        last_in = (
            CaseEntry.objects.filter(case=case, message__isnull=False)
            .select_related("message__thread")
            .order_by("-created_at", "-id")
            .first()
        )
        parent = last_in.message if last_in is not None else None
        thread = parent.thread if parent is not None else None
        if thread is None:
            thread = MailThread.objects.create(
                token=new_thread_token(), subject=case.subject, mailbox=mailbox
            )
        subject = f"[Case #{case.number}] {case.subject}"
        if parent is not None and parent.subject:
            base = parent.subject
            subject = base if base.lower().startswith("re:") else f"Re: {base}"
            if f"#{case.number}" not in subject:
                subject = f"{subject} [Case #{case.number}]"
        text = f"{body}\n\n--\n{body_reference(thread.token)}\n"
        links = [{"account_id": case.account_id, "contact_id": case.contact_id}]
        message = queue_email(
            to=recipients,
            subject=subject[:900],
            text=text,
            mailbox=mailbox,
            thread=thread,
            in_reply_to=parent,
            links=links,
            purpose=Purpose.SERVICE,
            actor=actor,
            attachments=files,
        )
        entry = CaseEntry.objects.create(
            case=case,
            kind=CaseEntryKind.REPLY,
            author=actor,
            body=body,
            message=message,
            created_at=at,
        )
        _attach(entry, files)
        locked = Case.objects.select_for_update().get(pk=case.pk)
        case.version = locked.version
        values: dict[str, Any] = {"last_agent_message_at": at}
        if locked.first_response_at is None:
            values["first_response_at"] = at
        if locked.mailbox_id is None:
            values["mailbox"] = mailbox
        _bump(case, values)
        _event(
            case,
            EventKind.CASE_REPLY,
            actor,
            f"Reply on case #{case.number}: {body[:120]}",
            {"entry_id": entry.pk, "message_id": message.pk},
            at,
        )
        _sla(case, "agent_replied", at, actor)
        target = status or (CaseStatus.OPEN if locked.status == CaseStatus.NEW else None)
        if target and target != case.status:
            case_set_status(case=case, status=target, actor=actor, at=at)
    return entry


def case_note(*, case: Case, actor: User, body: str, at=None, uploads=()) -> CaseEntry:
    """An internal note: never sent, shown to agents only (its files too)."""
    require_agent(actor)
    body = (body or "").strip()
    if not body:
        raise _error("body", "A note needs some text", "required")
    prepared = _prepare_uploads(uploads)
    at = at or timezone.now()
    with transaction.atomic():
        entry = CaseEntry.objects.create(
            case=case, kind=CaseEntryKind.NOTE, author=actor, body=body, created_at=at
        )
        _attach(entry, _store_uploads(prepared, actor))
        _event(
            case,
            EventKind.CASE_NOTE,
            actor,
            f"Note on case #{case.number}: {body[:120]}",
            {"entry_id": entry.pk},
            at,
        )
    return entry


def case_customer_message(
    *, case: Case, actor=None, body: str = "", message=None, at=None
) -> CaseEntry:
    """A customer's message on an existing case (email, or a phone/chat system through the
    API): a pending case is open again, a resolved or closed one reopens."""
    at = at or timezone.now()
    with transaction.atomic():
        entry = CaseEntry.objects.create(
            case=case,
            kind=CaseEntryKind.CUSTOMER,
            body=body if body else (message.text_body if message is not None else ""),
            message=message,
            created_at=at,
        )
        _attach_message_files(entry, message)
        locked = Case.objects.select_for_update().get(pk=case.pk)
        case.version = locked.version
        _bump(case, {"last_customer_message_at": at})
        _sla(case, "customer_replied", at, actor)
        if case.status in (
            CaseStatus.PENDING_CUSTOMER,
            CaseStatus.RESOLVED,
            CaseStatus.CLOSED,
        ):
            case_set_status(
                case=case, status=CaseStatus.OPEN, actor=None, at=at, reason="customer replied"
            )
    return entry


# ----- macros ----------------------------------------------------------------------------


def macro_render(*, case: Case, macro: Macro, actor: User) -> str:
    """The macro's text with the case's merge fields, through the one template engine."""
    from rapport.cases.selectors import macro_context
    from rapport.mail.rendering import TemplateProblem, render_template

    try:
        return render_template(macro.body, macro_context(case=case, user=actor))
    except TemplateProblem as exc:
        raise _error("body", f"The macro cannot be rendered: {exc}", "template") from exc


def _macro_fields(macro: Macro) -> dict[str, Any]:
    from rapport.cases.models import CaseCategory

    fields: dict[str, Any] = {}
    for key, value in (macro.set_fields or {}).items():
        if key in ("status", "priority", "tier", "language"):
            fields[key] = value
        elif key == "category_id":
            fields["category"] = CaseCategory.objects.filter(pk=value).first()
        elif key == "queue_id":
            fields["queue"] = Queue.objects.filter(pk=value, is_active=True).first()
    return fields


def macro_apply(
    *,
    case: Case,
    macro: Macro,
    actor: User,
    send: bool = True,
    body: str | None = None,
    uploads=(),
) -> CaseEntry | None:
    """Apply a macro: its rendered text (or the agent's edit of it, `body`) goes out as a
    public reply (`send`) or an internal note, then its field changes are applied."""
    require_agent(actor)
    if not macro.is_active:
        raise _error("macro_id", "This macro is not active")
    text = body if body is not None else macro_render(case=case, macro=macro, actor=actor)
    fields = _macro_fields(macro)
    status = fields.pop("status", None)
    with transaction.atomic():
        entry = None
        if text.strip():
            if send:
                entry = case_reply(
                    case=case, actor=actor, body=text, status=status, uploads=uploads
                )
                status = None
            else:
                entry = case_note(case=case, actor=actor, body=text, uploads=uploads)
        if status:
            fields["status"] = status
        if fields:
            case_update(case=case, actor=actor, fields=fields)
    return entry


def macro_save(*, actor: User, fields: dict[str, Any], macro: Macro | None = None) -> Macro:
    """Create or change a macro; its body must parse in the template language."""
    from rapport.mail.rendering import TemplateProblem, check_template

    require_service_admin(actor)
    try:
        check_template(fields.get("body", macro.body if macro else ""))
    except TemplateProblem as exc:
        raise _error("body", str(exc), "template") from exc
    set_fields = fields.get("set_fields", macro.set_fields if macro else {}) or {}
    allowed = {"status", "priority", "tier", "language", "category_id", "queue_id"}
    bad = set(set_fields) - allowed
    if bad:
        raise _error("set_fields", f"cannot set {', '.join(sorted(bad))}")
    if "status" in set_fields and set_fields["status"] not in CaseStatus.values:
        raise _error("set_fields", "status must be a case status")
    if "priority" in set_fields and set_fields["priority"] not in CasePriority.values:
        raise _error("set_fields", "priority must be a case priority")
    macro = macro or Macro(created_by=actor)
    for key, value in fields.items():
        setattr(macro, key, value)
    macro.save()
    return macro


# ----- merge and split ---------------------------------------------------------------------


def case_merge(*, source: Case, target: Case, actor: User, at=None) -> Case:
    """Merge a duplicate into `target`: its conversation moves over, it is closed and points
    at the target; both timelines say so."""
    require_agent(actor)
    if source.pk == target.pk:
        raise _error("target_id", "A case cannot be merged into itself")
    if target.merged_into_id:
        raise _error("target_id", "The target was itself merged into another case")
    at = at or timezone.now()
    with transaction.atomic():
        moved = CaseEntry.objects.filter(case=source).update(case=target)
        locked = Case.objects.select_for_update().get(pk=source.pk)
        if locked.merged_into_id:
            raise Conflict("The case is already merged", code="case_merged")
        source.version = locked.version
        values: dict[str, Any] = {"merged_into": target, "status": CaseStatus.CLOSED}
        values["closed_at"] = at
        _bump(source, values)
        _event(
            source,
            EventKind.CASE_STATUS,
            actor,
            f"Case #{source.number} merged into #{target.number}",
            {"from": locked.status, "to": CaseStatus.CLOSED, "merged_into": target.pk},
            at,
        )
        _event(
            target,
            EventKind.UPDATED,
            actor,
            f"Case #{source.number} merged into this case ({moved} messages)",
            {"merged_from": source.pk},
            at,
        )
        _sla(source, "status_changed", at, actor)
        _sla(target, "fields_changed", at, actor)
    return target


def case_split(*, entry: CaseEntry, actor: User, subject: str = "", at=None) -> Case:
    """Split one customer message off into a new case for the same customer and queue."""
    require_agent(actor)
    if entry.kind != CaseEntryKind.CUSTOMER:
        raise _error("entry_id", "Only a customer's message can be split into a new case")
    source = entry.case
    if CaseEntry.objects.filter(case=source, kind=CaseEntryKind.CUSTOMER).count() < 2:
        raise _error("entry_id", "The case's only customer message cannot be split off")
    with transaction.atomic():
        case = case_create(
            actor=actor,
            fields={
                "subject": subject
                or (entry.message.subject if entry.message_id else "")
                or f"Split from #{source.number}",
                "description": entry.body,
                "account": source.account,
                "contact": source.contact,
                "queue": source.queue,
                "mailbox": source.mailbox,
                "channel": source.channel,
                "priority": source.priority,
                "category": source.category,
                "related_to": source,
            },
            route=False,
            at=at,
        )
        CaseEntry.objects.filter(pk=entry.pk).update(case=case)
        _event(
            source,
            EventKind.UPDATED,
            actor,
            f"A message was split off into case #{case.number}",
            {"split_to": case.pk, "entry_id": entry.pk},
            at,
        )
    return case


# ----- agents, intake by API ------------------------------------------------------------------


def agent_status_set(*, user: User, availability: str) -> AgentStatus:
    """The availability an agent sets for themselves (routing assigns to available ones)."""
    require_agent(user)
    if availability not in AgentAvailability.values:
        raise _error(
            "availability", f"must be one of {', '.join(AgentAvailability.values)}", "invalid"
        )
    status, _ = AgentStatus.objects.update_or_create(
        user=user, defaults={"availability": availability}
    )
    return status


def case_intake(
    *, actor: User, source: str, external_id: str, fields: dict[str, Any], body: str = ""
) -> tuple[Case, bool]:
    """Idempotent create-or-update for phone / IVR / chat systems keyed by the writer's
    (source, external id): the first call creates the case, a later one with the same key
    updates its details (and adds `body` as a customer message). (case, created)."""
    from rapport.records.external_ids import own_external_id

    require_agent(actor)
    if not external_id:
        raise _error("external_id", "required", "required")
    with transaction.atomic():
        pk = own_external_id(Case, writer=actor, source=source, external_id=external_id)
        if pk is None:
            case = case_create(
                actor=actor,
                fields={**fields, "source": source, "external_id": external_id},
                body=body or None,
            )
            return case, True
        case = Case.objects.select_for_update().get(pk=pk)
        details = {**(case.details or {}), **(fields.pop("details", None) or {})}
        changes = {k: v for k, v in fields.items() if k in EDITABLE_FIELDS}
        changes["details"] = details
        case_update(case=case, actor=actor, fields=changes)
        if body:
            case_customer_message(case=case, actor=actor, body=body)
    return case, False


def reopen_window() -> datetime.timedelta:
    return datetime.timedelta(days=getattr(settings, "RAPPORT_CASE_REOPEN_DAYS", 14))


__all__ = [
    "agent_status_set",
    "case_assign",
    "case_create",
    "case_customer_message",
    "case_intake",
    "case_merge",
    "case_note",
    "case_reopen",
    "case_reply",
    "case_set_status",
    "case_split",
    "case_update",
    "macro_apply",
    "macro_render",
    "macro_save",
]


# ----- configuration (admins and managers) ---------------------------------------------------


def queue_save(
    *, actor: User, fields: dict[str, Any], member_ids: list[int] | None = None, queue=None
) -> Queue:
    """Create or change a queue and, when given, replace its members (active users)."""
    from rapport.cases.models import AssignmentMode, QueueMember

    require_service_admin(actor)
    name = (fields.get("name", queue.name if queue else "") or "").strip()
    if not name:
        raise _error("name", "A queue needs a name", "required")
    if Queue.objects.filter(name__iexact=name).exclude(pk=getattr(queue, "pk", None)).exists():
        raise _error("name", "Another queue has this name", "duplicate")
    if fields.get("assignment", AssignmentMode.MANUAL) not in AssignmentMode.values:
        raise _error("assignment", "unknown assignment mode")
    with transaction.atomic():
        queue = queue or Queue()
        for key, value in {**fields, "name": name}.items():
            setattr(queue, key, value)
        queue.save()
        if member_ids is not None:
            users = list(User.objects.filter(pk__in=member_ids, is_active=True))
            if len(users) != len(set(member_ids)):
                raise _error("member_ids", "Every member must be an active user")
            QueueMember.objects.filter(queue=queue).exclude(user__in=users).delete()
            for user in users:
                QueueMember.objects.get_or_create(queue=queue, user=user)
    return queue


def category_save(*, actor: User, fields: dict[str, Any], category=None):
    """Create or change a case category (a parent makes it a sub-category; one level)."""
    from rapport.cases.models import CaseCategory

    require_service_admin(actor)
    parent = fields.get("parent")
    if parent is not None and parent.parent_id is not None:
        raise _error("parent_id", "Sub-categories go one level deep")
    if category is not None and parent is not None and parent.pk == category.pk:
        raise _error("parent_id", "A category cannot be its own parent")
    name = (fields.get("name", category.name if category else "") or "").strip()
    if not name:
        raise _error("name", "A category needs a name", "required")
    clash = CaseCategory.objects.filter(name__iexact=name, parent=parent)
    if clash.exclude(pk=getattr(category, "pk", None)).exists():
        raise _error("name", "This category already exists here", "duplicate")
    category = category or CaseCategory()
    for key, value in {**fields, "name": name}.items():
        setattr(category, key, value)
    category.save()
    return category


def routing_rule_save(*, actor: User, fields: dict[str, Any], rule=None):
    from rapport.cases.models import RoutingRule

    require_service_admin(actor)
    if not (fields.get("name") or (rule and rule.name)):
        raise _error("name", "A rule needs a name", "required")
    if fields.get("queue") is None and rule is None:
        raise _error("queue_id", "A rule routes to a queue", "required")
    rule = rule or RoutingRule()
    for key, value in fields.items():
        setattr(rule, key, value)
    rule.save()
    return rule


def account_tier_set(*, account, tier: str, actor: User, note: str = ""):
    """A manual service tier for an account (wins over analytics); "" removes it. Applies to
    cases opened from now on."""
    from rapport.cases.models import AccountServiceTier, ServiceTier
    from rapport.records.visibility import can_edit

    require_agent(actor)
    if not can_edit(account, actor):
        raise PermissionDenied("You may not change this account")
    if tier and tier not in ServiceTier.values:
        raise _error("tier", f"must be one of {', '.join(ServiceTier.values)}", "invalid_choice")
    if not tier:
        AccountServiceTier.objects.filter(account=account).delete()
        return None
    row, _ = AccountServiceTier.objects.update_or_create(
        account=account, defaults={"tier": tier, "note": note[:200], "set_by": actor}
    )
    return row


# ----- configuration: edit and delete -------------------------------------------------------


def queue_capacities_set(*, actor: User, queue: Queue, capacities: dict[int, int]) -> None:
    """Each member's capacity (open cases they may hold at once; 0 = no limit)."""
    from rapport.cases.models import QueueMember

    require_service_admin(actor)
    for user_id, capacity in capacities.items():
        if capacity < 0 or capacity > 10_000:
            raise _error("capacity", "must be between 0 and 10000")
        QueueMember.objects.filter(queue=queue, user_id=user_id).update(capacity=capacity)


def queue_delete(*, actor: User, queue: Queue) -> None:
    """Delete a queue nobody's case is in (its members and routing rules go with it);
    a queue with cases is deactivated instead (the caller offers that)."""
    require_service_admin(actor)
    if Case.objects.filter(queue=queue).exists():
        raise _error("queue", "This queue has cases: deactivate it instead", "in_use")
    queue.delete()


def category_delete(*, actor: User, category) -> None:
    from rapport.cases.models import CaseCategory

    require_service_admin(actor)
    if CaseCategory.objects.filter(parent=category).exists():
        raise _error("category", "Delete or move its sub-categories first", "in_use")
    if Case.objects.filter(Q(category=category) | Q(subcategory=category)).exists():
        raise _error("category", "Cases use this category", "in_use")
    category.delete()


def routing_rule_delete(*, actor: User, rule) -> None:
    require_service_admin(actor)
    rule.delete()


def routing_rule_move(*, actor: User, rule, step: int) -> None:
    """Move a rule one place up (step -1) or down (+1); positions are renumbered 0…n-1 so
    the order stays unambiguous."""
    from rapport.cases.models import RoutingRule

    require_service_admin(actor)
    with transaction.atomic():
        rules = list(RoutingRule.objects.select_for_update().order_by("position", "id"))
        index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
        other = index + (1 if step > 0 else -1)
        if 0 <= other < len(rules):
            rules[index], rules[other] = rules[other], rules[index]
        for position, row in enumerate(rules):
            if row.position != position:
                row.position = position
                row.save(update_fields=["position"])


def macro_delete(*, actor: User, macro: Macro) -> None:
    require_service_admin(actor)
    macro.delete()
