"""Receiving mail: store one raw message, thread it, file it on the right records, and learn
from bounces. Called by the IMAP sync (rapport.mail.sync) inside its batch transaction.

Threading, in this order (the first rule that matches wins; `match_reason` records which):

1. our signed Message-ID in In-Reply-To/References (rapport.mail.tokens): the thread of the
   message it names;
2. any stored Message-ID in In-Reply-To/References (mail we received or sent);
3. a signed reference in the body ([ref:…]);
4. a subject token ([#…]), ONLY when the sender already took part in that thread (the token
   is unsigned, so anyone could type it);
5. otherwise a new thread.

Filing: exact, normalised address matches only (a contact's every address, leads by email):
no fuzzy match, no domain guess, so mail never lands on the wrong person.
"""

import logging

from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Upper
from django.utils import timezone

from rapport.accounts.contact_methods import emails_upper
from rapport.files.models import FileKind
from rapport.files.services import store_file
from rapport.mail import tokens
from rapport.mail.models import (
    AddressStatus,
    BounceKind,
    Delivery,
    DeliveryState,
    Direction,
    Mailbox,
    MailMessage,
    MailThread,
    MatchReason,
    MessageAttachment,
    MessageLink,
)
from rapport.mail.parsing import ParsedMessage, message_ids, normalise_address, parse_message
from rapport.mail.services import link_message
from rapport.timeline.models import EventKind, TimelineEvent
from rapport.timeline.services import timeline_record

log = logging.getLogger(__name__)

_LEAD_OPEN = ("new", "working", "qualified")
_NO_ANSWER_LOCAL_PARTS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply")


class IngestCache:
    """What one sync run may remember between messages (it never outlives the run): our
    own addresses, the records each address set files on, the threads of Message-IDs already
    seen. Entries are written through when the run creates something (a lead, a message)."""

    def __init__(self, mailbox: Mailbox | None):
        self.own = _own_addresses(mailbox)
        self.records: dict[frozenset, list[dict]] = {}
        self.thread_of_id: dict[str, int] = {}
        # Message-IDs looked up and not stored (as of the lookup; the run writes through
        # what it stores, and the mailbox's lease keeps other syncs of it away).
        self.absent: set[str] = set()
        # (sha256, size) → where those bytes are stored (None: not stored), for store_file.
        self.files: dict[tuple[str, int], str | None] = {}

    def forget(self) -> None:
        self.records.clear()
        self.thread_of_id.clear()
        self.absent.clear()
        self.files.clear()

    def prefetch_records(self, address_sets) -> None:
        """The records of every address set not known yet, in a few queries for them all."""
        todo = [frozenset(a) for a in address_sets if frozenset(a) not in self.records]
        if todo:
            self.records.update(matching_records_many(todo))

    def prefetch_files(self, contents) -> None:
        """Look up, in one query, which of these bytes (raw messages, attachments) are
        stored already, so that storing each costs no lookup of its own."""
        from rapport.files.services import stored_copies

        self.files.update(stored_copies(contents))

    def prefetch_ids(self, ids) -> None:
        """Look up, in as few queries as possible, the threads of the Message-IDs not seen
        yet (the sync calls it once for a whole batch: its messages' ids and references)."""
        wanted = sorted(
            i for i in set(ids) if i and i not in self.thread_of_id and i not in self.absent
        )
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            rows = MailMessage.objects.filter(message_id__in=part)
            for mid, thread_id in rows.order_by("id").values_list("message_id", "thread_id"):
                self.thread_of_id[mid] = thread_id  # ascending: the newest row wins
            self.absent.update(i for i in part if i not in self.thread_of_id)

    def learn(self, message_id: str, thread_id: int) -> None:
        if message_id:
            self.thread_of_id[message_id] = thread_id
            self.absent.discard(message_id)


# ----- threading ---------------------------------------------------------------------------
def _thread_participants(thread: MailThread) -> set[str]:
    people: set[str] = set()
    for sender, to, cc in thread.messages.values_list("from_address", "to", "cc"):
        people.add(normalise_address(sender))
        people.update(normalise_address(a) for a in (to or []))
        people.update(normalise_address(a) for a in (cc or []))
    people.discard("")
    return people


def find_thread(
    parsed: ParsedMessage, mailbox: Mailbox | None, cache: "IngestCache | None" = None
) -> tuple[MailThread | None, str]:
    """(thread, reason) by the rules above; (None, NEW_THREAD) when nothing matches."""
    # In-Reply-To first (the direct parent), then References newest first.
    refs = message_ids(parsed.in_reply_to) + list(reversed(message_ids(parsed.references)))
    refs += parsed.dsn_original_ids  # a bounce joins the thread of the message it returns
    for pk, token in tokens.our_tokens_in(" ".join(refs)):
        ours = MailMessage.objects.filter(pk=pk, thread__token=token).select_related("thread")
        message = ours.first() or MailMessage.objects.filter(pk=pk).select_related("thread").first()
        if message is not None and tokens.parse_message_id(message.message_id) == (pk, token):
            return message.thread, MatchReason.OUR_TOKEN
        thread = MailThread.objects.filter(token=token).first()
        if thread is not None:
            return thread, MatchReason.OUR_TOKEN
    if refs:
        if cache is not None:
            cache.prefetch_ids(refs)
            stored = {r: cache.thread_of_id[r] for r in refs if r in cache.thread_of_id}
        else:
            stored = {
                mid: thread_id
                for mid, thread_id in MailMessage.objects.filter(message_id__in=refs)
                .order_by("-id")
                .values_list("message_id", "thread_id")
            }
        for ref in refs:
            if ref in stored:
                return MailThread.objects.get(pk=stored[ref]), MatchReason.STORED_MESSAGE_ID
    token = tokens.find_body_reference(parsed.text) or tokens.find_body_reference(parsed.html)
    if token:
        thread = MailThread.objects.filter(token=token).first()
        if thread is not None:
            return thread, MatchReason.BODY_REFERENCE
    token = tokens.find_subject_token(parsed.subject)
    if token and parsed.from_address:
        thread = MailThread.objects.filter(token=token).first()
        if thread is not None and parsed.from_address in _thread_participants(thread):
            return thread, MatchReason.SUBJECT_TOKEN
    return None, MatchReason.NEW_THREAD


# ----- filing ------------------------------------------------------------------------------
def _own_addresses(mailbox: Mailbox | None) -> set[str]:
    own = {normalise_address(a) for a in Mailbox.objects.values_list("email_address", flat=True)}
    if mailbox is not None:
        own.add(normalise_address(mailbox.email_address))
    return own


def address_in(qs, field: str, addresses):
    """`qs` narrowed to rows whose `field` is one of `addresses`, case-insensitively and on the
    whole address (email-validator keeps the local part's case; mail servers ignore it), as
    `UPPER(field) IN (...)`: the form the functional indexes on UPPER(email) serve (PostgreSQL
    and SQLite). Never a partial or a domain match. An address with non-ASCII letters is
    upper-cased by the database itself (SQLite's UPPER only folds ASCII)."""
    ascii_ = sorted({a.upper() for a in addresses if a.isascii()})
    q = Q(_address_upper__in=ascii_)
    for address in sorted(a for a in addresses if not a.isascii()):
        q |= Q(_address_upper=Upper(Value(address)))
    return qs.annotate(_address_upper=Upper(field)).filter(q)


def matching_records(addresses: set[str]) -> list[dict]:
    """The link dicts for every record the addresses belong to: contacts (any address), their
    accounts, their open opportunities (as primary contact), open leads with that email."""
    return matching_records_many([addresses])[frozenset(addresses)]


def matching_records_many(address_sets) -> dict[frozenset, list[dict]]:
    """`matching_records` for many address sets at once (the sync: the new senders of a
    chunk), in four queries for them all (five with a non-ASCII address); per set, the links
    in the same order as a lookup of that set alone. A row belongs to the sets holding one of
    its addresses, compared upper-cased by the database as `address_in` matches them (a
    non-ASCII address is upper-cased by the database, whose rules Python need not share)."""
    from rapport.accounts.models import Contact, ContactEmail
    from rapport.leads.models import Lead
    from rapport.sales.models import Opportunity, StageKind

    result: dict[frozenset, list[dict]] = {}
    wanted: dict[frozenset, list[str]] = {}
    for addresses in address_sets:
        key = frozenset(addresses)
        if key in result or key in wanted:
            continue
        if not key:
            result[key] = []
        else:
            wanted[key] = sorted(key)[:50]
    if not wanted:
        return result
    union = sorted(set().union(*wanted.values()))
    upper_of = emails_upper(union)
    # Two index lookups (any address; the denormalised primary) instead of one OR across a
    # join, which PostgreSQL can only answer by scanning every contact.
    emails = address_in(
        ContactEmail.objects.filter(contact__deleted_at__isnull=True), "email", union
    ).values_list("_address_upper", "contact_id", "contact__account_id")
    primaries = address_in(Contact.objects.all(), "email", union).values_list(
        "_address_upper", "id", "account_id"
    )
    by_address: dict[str, set[tuple]] = {}
    for upper, contact_id, account_id in [*emails, *primaries]:
        by_address.setdefault(upper, set()).add((contact_id, account_id))
    uppers = {key: {upper_of[a] for a in addresses} for key, addresses in wanted.items()}
    contacts_of = {
        key: sorted(set().union(*(by_address.get(u, set()) for u in upper)))
        for key, upper in uppers.items()
    }
    all_contacts = sorted({c for pairs in contacts_of.values() for c, _ in pairs})
    opportunities = (
        list(
            Opportunity.objects.filter(
                primary_contact_id__in=all_contacts, stage__kind=StageKind.OPEN
            ).values_list("primary_contact_id", "id", "account_id")
        )
        if all_contacts
        else []
    )
    leads = list(
        address_in(Lead.objects.filter(status__in=_LEAD_OPEN), "email", union).values_list(
            "_address_upper", "id"
        )
    )
    for key, upper in uppers.items():
        pairs = contacts_of[key]
        links = [{"contact_id": c, "account_id": a} for c, a in pairs]
        mine = {c for c, _ in pairs}
        links += [{"opportunity_id": o, "account_id": a} for c, o, a in opportunities if c in mine]
        links += [{"lead_id": lead_id} for email, lead_id in leads if email in upper]
        result[key] = links
    return result


def _timeline_for(message: MailMessage, links: list[dict], actor=None, sink=None) -> None:
    """One EMAIL_RECEIVED/EMAIL_SENT event per linked record; an account already carried by a
    contact's or an opportunity's event gets no second copy. With `sink` (a list), the
    unsaved events are appended to it for the caller to write in bulk
    (timeline.services.timeline_record_many) in the same transaction."""
    kind = (
        EventKind.EMAIL_RECEIVED if message.direction == Direction.INBOUND else EventKind.EMAIL_SENT
    )
    who = message.from_name or message.from_address or "unknown sender"
    summary = f"Email from {who}: {message.subject or '(no subject)'}"
    payload = {
        "message_id": message.pk,
        "thread_id": message.thread_id,
        "from": message.from_address,
        "subject": message.subject,
        "auto_reply": message.is_auto_reply,
        "bounce": message.is_bounce,
    }
    covered: set[int] = set()
    accounts_alone: set[int] = set()
    rows = []
    for link in links:
        account_id = link.get("account_id")
        own = {k: v for k, v in link.items() if k != "account_id" and v}
        if not own:
            if account_id:
                accounts_alone.add(account_id)
            continue
        if account_id in covered:
            account_id = None
        elif account_id:
            covered.add(account_id)
        rows.append({**own, "account_id": account_id})
    rows += [{"account_id": a} for a in accounts_alone - covered]
    occurred = message.sent_at or message.received_at or timezone.now()
    if sink is not None:
        who_acted = actor if actor is not None and actor.is_authenticated else None
        sink.extend(
            TimelineEvent(
                kind=kind,
                actor=who_acted,
                summary=summary[:300],
                payload=payload,
                occurred_at=occurred,
                **row,
            )
            for row in rows
        )
        return
    for row in rows:
        timeline_record(
            kind=kind, actor=actor, summary=summary, payload=payload, occurred_at=occurred, **row
        )


def _lead_for_unknown(mailbox: Mailbox, parsed: ParsedMessage) -> dict | None:
    """A new lead for an unknown sender (the mailbox's setting), through the leads service."""
    from rapport.identity.models import User
    from rapport.leads.services import lead_create

    actor = mailbox.owner if mailbox.owner_id and mailbox.owner.is_active else None
    if actor is None:
        actor = User.objects.filter(is_active=True, role="admin").order_by("id").first()
    if actor is None:
        return None
    display = (parsed.from_name or "").strip()
    first, _, last = display.rpartition(" ")
    if not display:
        first, last = "", parsed.from_address.split("@", 1)[0]
    try:
        with transaction.atomic():
            lead = lead_create(
                actor=actor,
                owner=actor,
                fields={
                    "first_name": first[:100],
                    "last_name": (last or display or parsed.from_address)[:100],
                    "email": parsed.from_address,
                    "source": "email",
                    "description": f"Created from an email to {mailbox.email_address}: "
                    f"{parsed.subject}"[:2000],
                },
            )
    except Exception as exc:  # noqa: BLE001 - an unusable address must not stop the sync
        log.warning("No lead for %s: %s", parsed.from_address, exc)
        return None
    return {"lead_id": lead.pk}


# ----- bounces -----------------------------------------------------------------------------
def _record_bounces(message: MailMessage, parsed: ParsedMessage) -> None:
    now = timezone.now()
    failed_reasons = []
    for recipient in parsed.dsn_recipients:
        status = recipient.status
        if status.startswith("5"):
            kind = BounceKind.HARD
        elif status.startswith("4") or recipient.action == "delayed":
            kind = BounceKind.SOFT
        elif recipient.action == "failed":
            kind = BounceKind.HARD
        else:
            continue  # delivered / relayed / expanded: not a bounce
        reason = f"{status} {recipient.diagnostic}".strip()[:2000]
        row, _ = AddressStatus.objects.select_for_update().get_or_create(
            address=recipient.address.lower()
        )
        row.bounce_count += 1
        row.last_bounce_at = now
        row.last_bounce_reason = reason
        if kind == BounceKind.HARD or row.bounce_kind != BounceKind.HARD:
            row.bounce_kind = kind
        if kind == BounceKind.HARD:
            row.suppressed = True
        row.save()
        if recipient.action == "failed" or kind == BounceKind.HARD:
            failed_reasons.append(f"{recipient.address}: {reason}")
    if not failed_reasons:
        return
    for original in parsed.dsn_original_ids:
        parsed_id = tokens.parse_message_id(original)
        if parsed_id is None:
            continue
        Delivery.objects.filter(
            message_id=parsed_id[0], message__direction=Direction.OUTBOUND
        ).update(
            state=DeliveryState.FAILED,
            last_error=("Bounced: " + "; ".join(failed_reasons))[:4000],
        )


def may_auto_answer(message: MailMessage) -> bool:
    """Whether automation (the service desk, rules) may send an automatic answer to this
    message: never to auto-replies, bounces, our own mailboxes, mailer daemons and no-reply
    senders, or suppressed addresses. The one check every auto-responder must call."""
    if message.direction != Direction.INBOUND or message.is_auto_reply or message.is_bounce:
        return False
    sender = normalise_address(message.from_address)
    if not sender or sender in _own_addresses(message.mailbox):
        return False
    local = sender.split("@", 1)[0]
    if any(local.startswith(prefix) for prefix in _NO_ANSWER_LOCAL_PARTS):
        return False
    return not AddressStatus.objects.filter(address=sender, suppressed=True).exists()


# ----- after-ingest handlers ---------------------------------------------------------------
# Apps that act on new mail register a handler in their AppConfig.ready; mail knows nothing of
# them. Two kinds, each called exactly once per newly stored message, inside the ingest
# transaction, in a savepoint (a failing handler is logged and never loses the message):
# - `register_after_ingest(handler)`: `handler(message, mailbox)` right after the message is
#   stored, before the next one is (the service desk's email-to-case: a reply later in the
#   same fetch must find the case its thread's first message opened);
# - `register_after_ingest_many(handler)`: `handler(messages, mailbox)` with every message a
#   sync chunk stored (or `[message]` outside the sync), after their own savepoints, so that
#   a handler that only looks things up (the sequences' stop-on-reply) pays its queries once
#   per chunk instead of once per message. If the batch call fails, each message is handed
#   to it again alone, in its own savepoint: one bad message never deprives the others.
_AFTER_INGEST: list = []
_AFTER_INGEST_MANY: list = []


def register_after_ingest(handler) -> None:
    """Call `handler(message, mailbox)` for every newly stored inbound message (once)."""
    if handler not in _AFTER_INGEST:
        _AFTER_INGEST.append(handler)


def register_after_ingest_many(handler) -> None:
    """Call `handler(messages, mailbox)` with newly stored messages, each exactly once (see
    above: once per sync chunk, after the messages' own savepoints)."""
    if handler not in _AFTER_INGEST_MANY:
        _AFTER_INGEST_MANY.append(handler)


def _after_ingest(message: MailMessage, mailbox: Mailbox) -> None:
    for handler in list(_AFTER_INGEST):
        try:
            with transaction.atomic():
                handler(message, mailbox)
        except Exception:  # noqa: BLE001 - a handler's bug must not lose the mail
            log.exception("After-ingest handler %r failed on message %s", handler, message.pk)


def after_ingest_many(messages: list[MailMessage], mailbox: Mailbox) -> None:
    """Hand newly stored messages to the batch handlers (the sync calls it once per chunk
    with the messages whose savepoints committed; `ingest_raw` without a sink, at once)."""
    if not messages:
        return
    for handler in list(_AFTER_INGEST_MANY):
        try:
            with transaction.atomic():
                handler(messages, mailbox)
            continue
        except Exception:  # noqa: BLE001 - a handler's bug must not lose the mail
            if len(messages) == 1:
                log.exception(
                    "After-ingest handler %r failed on message %s", handler, messages[0].pk
                )
                continue
            log.exception(
                "After-ingest handler %r failed on %s messages; retrying one by one",
                handler,
                len(messages),
            )
        for message in messages:
            try:
                with transaction.atomic():
                    handler([message], mailbox)
            except Exception:  # noqa: BLE001
                log.exception("After-ingest handler %r failed on message %s", handler, message.pk)


# ----- storing one message -----------------------------------------------------------------
def _existing(mailbox: Mailbox, parsed: ParsedMessage, sha256: str) -> MailMessage | None:
    if parsed.message_id:
        return (
            MailMessage.objects.filter(mailbox=mailbox, message_id=parsed.message_id)
            .order_by("id")
            .first()
        )
    return (
        MailMessage.objects.filter(mailbox=mailbox, message_id="", raw__sha256=sha256)
        .order_by("id")
        .first()
    )


def ingest_raw(
    mailbox: Mailbox,
    raw: bytes,
    *,
    uidvalidity: int | None = None,
    uid: int | None = None,
    cache: IngestCache | None = None,
    parsed: ParsedMessage | None = None,
    timeline_sink: list | None = None,
    after_sink: list | None = None,
) -> tuple[MailMessage, bool]:
    """Store, thread and file one received message; (message, created). Idempotent: the same
    message (same Message-ID in this mailbox, or the same bytes without one) is stored once;
    a message we sent that comes back through the mailbox (a Sent folder, a BCC) is matched to
    its outbound row and not stored again. Call inside a transaction.

    `parsed`: `parse_message(raw)` when the caller parsed it already (the sync parses a batch
    first to look its Message-IDs up at once). `timeline_sink`: a list the message's
    timeline events are appended to, unsaved, for the caller to write in bulk. `after_sink`: a
    list the new message is appended to, for the caller to hand to `after_ingest_many` once
    its savepoint committed (without it, the batch handlers are called here)."""
    import hashlib

    sha256 = hashlib.sha256(raw).hexdigest()
    if parsed is None:
        parsed = parse_message(raw)
    if cache is not None and parsed.message_id:
        cache.prefetch_ids([parsed.message_id])
        existing = None
        if parsed.message_id in cache.thread_of_id:
            existing = _existing(mailbox, parsed, sha256)
    else:
        existing = _existing(mailbox, parsed, sha256)
    if existing is None and parsed.message_id and tokens.parse_message_id(parsed.message_id):
        existing = MailMessage.objects.filter(
            message_id=parsed.message_id, direction=Direction.OUTBOUND
        ).first()
    if existing is not None:
        if uid is not None and existing.imap_uid is None and existing.mailbox_id == mailbox.pk:
            MailMessage.objects.filter(pk=existing.pk).update(
                imap_uidvalidity=uidvalidity, imap_uid=uid
            )
        return existing, False

    now = timezone.now()
    thread, reason = find_thread(parsed, mailbox, cache)
    last = parsed.date or now
    if thread is None:
        thread = MailThread.objects.create(
            token=tokens.new_thread_token(),
            subject=parsed.subject,
            mailbox=mailbox,
            last_message_at=last,
        )
    raw_file = store_file(
        raw,
        name=f"message-{sha256[:12]}.eml",
        content_type="message/rfc822",
        kind=FileKind.MAIL_RAW,
        known=cache.files if cache is not None else None,
    )
    message = MailMessage.objects.create(
        thread=thread,
        mailbox=mailbox,
        direction=Direction.INBOUND,
        message_id=parsed.message_id[:998],
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        from_address=parsed.from_address,
        from_name=parsed.from_name,
        reply_to=parsed.reply_to,
        to=parsed.to,
        cc=parsed.cc,
        subject=parsed.subject,
        sent_at=parsed.date,
        received_at=now,
        text_body=parsed.text,
        html_body=parsed.html,
        raw=raw_file,
        parse_warnings=parsed.warnings,
        match_reason=reason,
        is_auto_reply=parsed.is_auto_reply,
        is_bounce=parsed.is_bounce,
        imap_uidvalidity=uidvalidity if uid is not None else None,
        imap_uid=uid,
    )
    for attachment in parsed.attachments:
        stored = store_file(
            attachment.payload,
            name=attachment.filename,
            content_type=attachment.content_type,
            kind=FileKind.MAIL_ATTACHMENT,
            known=cache.files if cache is not None else None,
        )
        MessageAttachment.objects.create(
            message=message,
            file=stored,
            content_id=attachment.content_id,
            inline=attachment.inline,
        )
    if cache is not None:
        cache.learn(message.message_id, thread.pk)
    if reason != MatchReason.NEW_THREAD:
        MailThread.objects.filter(pk=thread.pk).filter(
            Q(last_message_at__isnull=True) | Q(last_message_at__lt=last)
        ).update(last_message_at=last)

    if parsed.is_bounce:
        _record_bounces(message, parsed)
        links = _links_of_thread(thread) if reason != MatchReason.NEW_THREAD else []
    else:
        own = cache.own if cache is not None else _own_addresses(mailbox)
        people = frozenset(a for a in parsed.participants if a not in own)
        if cache is not None and people in cache.records:
            links = cache.records[people]
        else:
            links = matching_records(set(people))
            if cache is not None:
                cache.records[people] = links
        if (
            not links
            and mailbox.create_leads_from_unknown
            and not parsed.is_auto_reply
            and parsed.from_address
            and parsed.from_address not in own
        ):
            lead = _lead_for_unknown(mailbox, parsed)
            links = [lead] if lead else []
            if cache is not None:
                cache.records.clear()  # the new lead now matches its address
        if reason != MatchReason.NEW_THREAD:
            # A reply stays on the records its thread is on (e.g. the opportunity it was
            # sent from), as well as on its sender's.
            links = links + _links_of_thread(thread)
    link_message(message, _unique(links))
    _timeline_for(message, _unique(links), sink=timeline_sink)
    _after_ingest(message, mailbox)
    if after_sink is not None:
        after_sink.append(message)
    else:
        after_ingest_many([message], mailbox)
    return message, True


def _unique(links: list[dict]) -> list[dict]:
    seen, result = set(), []
    for link in links:
        key = tuple(sorted((k, v) for k, v in link.items() if v))
        if key and key not in seen:
            seen.add(key)
            result.append({k: v for k, v in link.items() if v})
    return result


def _links_of_thread(thread: MailThread) -> list[dict]:
    rows = MessageLink.objects.filter(message__thread=thread).values(
        "account_id", "contact_id", "lead_id", "opportunity_id"
    )
    return [dict(r) for r in rows]


def ingest_failure(
    mailbox: Mailbox, raw: bytes, *, uidvalidity: int, uid: int, error: str
) -> MailMessage | None:
    """Keep a message whose processing failed: its raw bytes, unthreaded and unfiled, with the
    error as a parse warning (an admin finds it among the unfiled messages)."""
    raw_file = store_file(
        raw, name=f"message-uid{uid}.eml", content_type="message/rfc822", kind=FileKind.MAIL_RAW
    )
    thread = MailThread.objects.create(token=tokens.new_thread_token(), mailbox=mailbox)
    return MailMessage.objects.create(
        thread=thread,
        mailbox=mailbox,
        direction=Direction.INBOUND,
        received_at=timezone.now(),
        raw=raw_file,
        parse_warnings=[f"The message could not be processed: {error}"[:2000]],
        match_reason=MatchReason.NEW_THREAD,
        imap_uidvalidity=uidvalidity,
        imap_uid=uid,
    )


# ----- moving ------------------------------------------------------------------------------
def move_message(
    *,
    message: MailMessage,
    actor,
    thread: MailThread | None = None,
    new_thread: bool = False,
    links: list[dict] | None = None,
) -> MailMessage:
    """Move a message to another thread (or a new one) and/or re-file it on other records.
    match_reason becomes `moved`; the message's timeline events follow its new records.
    The caller checks that the actor may see the message and edit the target records."""
    with transaction.atomic():
        message = MailMessage.objects.select_for_update().get(pk=message.pk)
        old_thread_id = message.thread_id
        if new_thread:
            thread = MailThread.objects.create(
                token=tokens.new_thread_token(), subject=message.subject, mailbox=message.mailbox
            )
        if thread is not None and thread.pk != message.thread_id:
            message.thread = thread
        message.match_reason = MatchReason.MOVED
        message.save(update_fields=["thread", "match_reason"])
        if thread is not None:
            moment = message.sent_at or message.received_at
            if moment:
                MailThread.objects.filter(pk=thread.pk).filter(
                    Q(last_message_at__isnull=True) | Q(last_message_at__lt=moment)
                ).update(last_message_at=moment)
        if links is not None:
            MessageLink.objects.filter(message=message).delete()
            link_message(message, _unique(links))
        current = [
            dict(r)
            for r in MessageLink.objects.filter(message=message).values(
                "account_id", "contact_id", "lead_id", "opportunity_id"
            )
        ]
        TimelineEvent.objects.filter(
            kind__in=(EventKind.EMAIL_RECEIVED, EventKind.EMAIL_SENT),
            payload__message_id=message.pk,
        ).delete()
        _timeline_for(message, _unique(current), actor=actor)
        if (
            old_thread_id != message.thread_id
            and not MailMessage.objects.filter(thread_id=old_thread_id).exists()
        ):
            MailThread.objects.filter(pk=old_thread_id).delete()
    return message


def _record_links(object_type: str, record) -> dict:
    if object_type == "contact":
        return {"contact_id": record.pk, "account_id": record.account_id}
    if object_type == "opportunity":
        return {"opportunity_id": record.pk, "account_id": record.account_id}
    return {f"{object_type}_id": record.pk}


def message_move(
    *,
    actor,
    message_id: int,
    thread_id: int | None = None,
    new_thread: bool = False,
    record_type: str | None = None,
    record_id: int | None = None,
) -> MailMessage:
    """A user moves a message they can see to another thread they can see (or a new one)
    and/or files it on a record they may change instead of its current records."""
    from django.core.exceptions import ValidationError

    from rapport.mail.thread_selectors import (
        RECORD_FIELDS,
        message_get_for_user,
        thread_get_for_user,
    )
    from rapport.records.exceptions import PermissionDenied, RecordNotFound
    from rapport.records.visibility import editable, owned_record_models

    if actor is None or not actor.is_authenticated or actor.is_read_only:
        raise PermissionDenied("Read-only users cannot move messages")
    message = message_get_for_user(pk=message_id, user=actor)
    if thread_id is None and not new_thread and not record_type:
        raise ValidationError({"thread_id": ["give a thread, new_thread, or a record"]})
    if thread_id is not None and new_thread:
        raise ValidationError({"new_thread": ["give either thread_id or new_thread"]})
    thread = None
    if thread_id is not None:
        try:
            thread, _ = thread_get_for_user(pk=thread_id, user=actor)
        except RecordNotFound as exc:
            raise ValidationError({"thread_id": ["no such thread"]}) from exc
    links = None
    if record_type or record_id is not None:
        if record_type not in RECORD_FIELDS:
            raise ValidationError(
                {"record_type": [f"must be one of {', '.join(sorted(RECORD_FIELDS))}"]}
            )
        if record_id is None:
            raise ValidationError({"record_id": ["required with record_type"]})
        model = owned_record_models()[record_type]
        record = model.objects.filter(pk=record_id).first()
        if record is None or not editable(model.objects.filter(pk=record_id), actor).exists():
            raise ValidationError({"record_id": [f"no {record_type} you may change has this id"]})
        links = [_record_links(record_type, record)]
    return move_message(
        message=message, actor=actor, thread=thread, new_thread=new_thread, links=links
    )
