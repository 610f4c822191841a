"""The outbox worker: claim due deliveries, hand them to an SMTP server, mark them.

The guarantee (docs/architecture.md, "Outgoing mail: the outbox guarantee"):

1. `queue_email` writes the message and its Delivery in the business transaction, so a
   message is in the outbox exactly when the change that caused it committed.
2. `claim_due` turns due rows into `sending` under a lease (`lease_expires_at`) and a claim
   id unique to this call (`claimed_by`): `SELECT … FOR UPDATE SKIP LOCKED` then UPDATE on
   PostgreSQL, one conditional `UPDATE … WHERE id IN (…) AND <still due>` on SQLite (SQLite
   serialises writers, so a row can only match one claimer). A row whose worker died stays
   `sending` until its lease runs out, then any worker claims it again: nothing is lost.
3. Just before a message goes to the server the worker writes `handed_over_at` with
   `WHERE claimed_by = <its claim> AND state = 'sending'` and renews the lease. If that
   matches no row the claim was lost (another worker re-claimed a row whose lease ran out, or
   the row was sent or cancelled) and the message is NOT sent: at most one worker holds a
   row between this fence and the mark.
4. After the server's 250 to DATA the row is marked `sent` at once (one UPDATE by id), with
   its timeline events in the same transaction.

What a kill costs: before step 3, nothing (the row is claimed again after the lease and sent
once). Between the server's 250 and step 4 (microseconds) the server has the message and we
do not know it: the re-claimed row has `handed_over_at` set, is sent again with the SAME
Message-ID (deterministic, rapport.mail.tokens) and says so in `last_error`, so a receiver
that deduplicates by Message-ID (most do; our own IMAP sync does) sees it once. That is the
exact bound: at most one extra copy per worker death inside that window, never a lost one.
A kill during DATA before the final reply leaves an incomplete transaction the server
discards (RFC 5321 §4.1.1.4), so that copy is not a duplicate.

Answers: 2xx sent; 4xx (and a connection that fails) retried with exponential backoff up to
RAPPORT_MAIL_MAX_ATTEMPTS; 5xx failed with the server's words in `last_error`, shown on the
record's timeline. Addresses refused by `rapport.mail.gate.may_send` are left out (listed in
`skipped`); a message with no one left is failed with the reason. Marketing messages carry
the RFC 8058 one-click unsubscribe headers (rapport.consent.links).
"""

import datetime
import functools
import io
import logging
import os
import secrets
import smtplib
import socket
import ssl
import uuid
from collections import defaultdict
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.policy import Compat32
from email.utils import format_datetime, formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.html import strip_tags

from rapport.mail.gate import blocked_addresses
from rapport.mail.models import (
    AuthMethod,
    Delivery,
    DeliveryState,
    Mailbox,
    MailMessage,
    Purpose,
    Security,
)
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

log = logging.getLogger(__name__)

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def lease_seconds() -> int:
    return int(getattr(settings, "RAPPORT_MAIL_LEASE_SECONDS", 300))


def max_attempts() -> int:
    return int(getattr(settings, "RAPPORT_MAIL_MAX_ATTEMPTS", 8))


def smtp_timeout() -> float:
    return float(getattr(settings, "RAPPORT_MAIL_SMTP_TIMEOUT", 30))


def backoff(attempts: int) -> datetime.timedelta:
    """1 min, 2, 4, … capped at 6 hours."""
    return datetime.timedelta(seconds=min(60 * 2 ** max(attempts - 1, 0), 6 * 3600))


def new_claim_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _due(now: datetime.datetime) -> Q:
    return Q(state=DeliveryState.QUEUED, next_attempt_at__lte=now) | Q(
        state=DeliveryState.SENDING, lease_expires_at__lt=now
    )


def _due_ids(base, now: datetime.datetime, limit: int) -> list[int]:
    """The ids of up to `limit` due deliveries, oldest first: expired leases (a worker died
    mid-send; few) and then queued rows whose time has come. Two statements rather than one
    with an OR: each walks the (state, next_attempt_at) index in order and stops at `limit`,
    where the OR had to collect and sort every due row on every claim, so a send of N
    messages cost O(N²) (a 100,000-recipient campaign's rate fell with its size)."""
    order = ("next_attempt_at", "id")
    ids = list(
        base.filter(state=DeliveryState.SENDING, lease_expires_at__lt=now)
        .order_by(*order)
        .values_list("id", flat=True)[:limit]
    )
    if len(ids) < limit:
        ids += (
            base.filter(state=DeliveryState.QUEUED, next_attempt_at__lte=now)
            .order_by(*order)
            .values_list("id", flat=True)[: limit - len(ids)]
        )
    return ids


def claim_due(*, claim_id: str, limit: int = 50, now: datetime.datetime | None = None) -> list[int]:
    """Claim up to `limit` due deliveries for `claim_id`; returns their ids."""
    now = now or timezone.now()
    claim = {
        "state": DeliveryState.SENDING,
        "claimed_at": now,
        "claimed_by": claim_id,
        "lease_expires_at": now + datetime.timedelta(seconds=lease_seconds()),
        "attempts": F("attempts") + 1,
    }
    with transaction.atomic():
        if connection.vendor == "postgresql":
            ids = _due_ids(
                Delivery.objects.select_for_update(skip_locked=True, of=("self",)), now, limit
            )
            if ids:
                Delivery.objects.filter(id__in=ids).update(**claim)
            return ids
        candidates = _due_ids(Delivery.objects.all(), now, limit)
        if not candidates:
            return []
        # The condition is evaluated again by the UPDATE itself: a row another worker claimed
        # in between no longer matches.
        Delivery.objects.filter(_due(now), id__in=candidates).update(**claim)
        return list(
            Delivery.objects.filter(claimed_by=claim_id, state=DeliveryState.SENDING).values_list(
                "id", flat=True
            )
        )


class TemporaryFailure(Exception):
    pass


class PermanentFailure(Exception):
    pass


def _smtp_error(code: int, text, what: str) -> Exception:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    reason = f"{code} {text}".strip() + (f" ({what})" if what else "")
    return (PermanentFailure if 500 <= code < 600 else TemporaryFailure)(reason)


@dataclass
class SmtpSettings:
    host: str
    port: int
    security: str
    user: str
    secret: str
    auth_method: str = AuthMethod.PASSWORD


def mailbox_smtp_settings(mailbox: Mailbox) -> SmtpSettings:
    return SmtpSettings(
        host=mailbox.smtp_host,
        port=mailbox.smtp_port,
        security=mailbox.smtp_security,
        user=mailbox.smtp_user or mailbox.email_address,
        secret=mailbox.get_secret(),
        auth_method=mailbox.auth_method,
    )


def django_smtp_settings() -> SmtpSettings:
    security = Security.NONE
    if getattr(settings, "EMAIL_USE_SSL", False):
        security = Security.SSL
    elif getattr(settings, "EMAIL_USE_TLS", False):
        security = Security.STARTTLS
    return SmtpSettings(
        host=settings.EMAIL_HOST,
        port=settings.EMAIL_PORT,
        security=security,
        user=settings.EMAIL_HOST_USER,
        secret=settings.EMAIL_HOST_PASSWORD,
    )


def smtp_open(config: SmtpSettings, *, timeout: float | None = None) -> smtplib.SMTP:
    """A connected, logged-in SMTP session (the caller quits it)."""
    timeout = timeout or smtp_timeout()
    context = ssl.create_default_context()
    if config.security == Security.SSL:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            config.host, config.port, timeout=timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=timeout)
    try:
        smtp.ehlo_or_helo_if_needed()
        if config.security == Security.STARTTLS:
            smtp.starttls(context=context)
            smtp.ehlo()
        if config.user and config.secret:
            smtp_login(smtp, config)
    except BaseException:
        smtp.close()
        raise
    return smtp


def smtp_login(smtp: smtplib.SMTP, config: SmtpSettings) -> None:
    if config.auth_method == AuthMethod.XOAUTH2:
        token = f"user={config.user}\x01auth=Bearer {config.secret}\x01\x01"
        smtp.auth("XOAUTH2", lambda challenge=None: token, initial_response_ok=True)
    else:
        # One mechanism, not smtplib's try-them-all (a refused password would be tried again
        # with each mechanism the server offers).
        smtp.user, smtp.password = config.user, config.secret
        mechanisms = (smtp.esmtp_features.get("auth") or "").upper().split()
        if "PLAIN" in mechanisms:
            smtp.auth("PLAIN", smtp.auth_plain)
        elif "LOGIN" in mechanisms:
            smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
        else:
            smtp.login(config.user, config.secret)


class SmtpTransport:
    """One SMTP connection reused for every message of a batch (reconnects after an error)."""

    def __init__(self, config_factory):
        self._config_factory = config_factory
        self._smtp: smtplib.SMTP | None = None

    def _session(self) -> smtplib.SMTP:
        if self._smtp is None:
            try:
                self._smtp = smtp_open(self._config_factory())
            except smtplib.SMTPAuthenticationError as exc:
                # A wrong password is ours to fix, not the recipient's: retried (and shown).
                raise TemporaryFailure(
                    f"login failed: {exc.smtp_code} {_text(exc.smtp_error)}"
                ) from exc
            except smtplib.SMTPResponseException as exc:
                raise _smtp_error(exc.smtp_code, exc.smtp_error, "connect") from exc
            except (OSError, smtplib.SMTPException) as exc:
                raise TemporaryFailure(f"cannot reach the SMTP server: {exc}") from exc
        return self._smtp

    def send(self, email: EmailMultiAlternatives, envelope_from: str, recipients: list[str]):
        """Send; returns (the server's final answer, {refused recipient: answer})."""
        data = message_bytes(email)
        smtp = self._session()
        try:
            options = [f"size={len(data)}"] if smtp.has_extn("size") else []
            non_ascii = any(ord(ch) > 127 for ch in envelope_from + "".join(recipients))
            if non_ascii and smtp.has_extn("smtputf8"):
                options.append("smtputf8")
            code, text = smtp.mail(envelope_from, options)
            if code != 250:
                self._reset()
                raise _smtp_error(code, text, "sender refused")
            refused = {}
            for rcpt in recipients:
                code, text = smtp.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = (code, _text(text))
            if len(refused) == len(recipients):
                self._reset()
                # A temporary refusal of anyone makes the whole message worth retrying.
                temporary = [a for a in refused.values() if 400 <= a[0] < 500]
                worst = temporary[0] if temporary else next(iter(refused.values()))
                raise _smtp_error(worst[0], worst[1], "recipients refused")
            code, text = smtp.data(data)
            if code != 250:
                self._reset()
                raise _smtp_error(code, text, "message refused")
            return f"{code} {_text(text)}", {r: f"{c} {t}" for r, (c, t) in refused.items()}
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise _smtp_error(exc.smtp_code, exc.smtp_error, "") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TemporaryFailure(f"connection lost: {exc}") from exc

    def _reset(self) -> None:
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


class DjangoBackendTransport:
    """Django's configured EMAIL_BACKEND when it is not SMTP (the console in `make run`,
    locmem in tests, a file folder): the message is written there in full."""

    def __init__(self):
        self._connection = get_connection(fail_silently=False)

    def send(self, email: EmailMultiAlternatives, envelope_from: str, recipients: list[str]):
        email.connection = self._connection
        try:
            self._connection.send_messages([email])
        except Exception as exc:  # noqa: BLE001 - a backend's failure is retried, not fatal
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
        return "accepted by " + settings.EMAIL_BACKEND.rsplit(".", 2)[-2], {}

    def close(self) -> None:
        pass


def message_bytes(email: EmailMultiAlternatives) -> bytes:
    """The message as sent. Multipart boundaries are random 128-bit tokens after "=_" (never
    in quoted-printable or base64 text, nor, but by a 2^-128 chance, in 8-bit text): the
    standard library would pick its own and then compile a regular expression per
    boundary to check the body for it, ~0.8 ms CPU a campaign message, and the burst of
    one-off patterns pushes everything else out of `re`'s cache."""
    msg = email.message()
    for part in msg.walk():
        if part.is_multipart() and part.get_boundary() is None:
            part.set_boundary(f"=_{secrets.token_hex(16)}")
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_SHORT_ASCII_AS_IS).flatten(msg, linesep="\r\n")
    return out.getvalue()


class _ShortAsciiAsIs(Compat32):
    """compat32 (what Django's messages use), except that a header whose value is plain
    ASCII on one line and fits the line length is written as is: what compat32's `Header`
    folding gives for such a value anyway (the tests compare whole messages), at a fraction
    of its cost (~0.1–0.3 ms a header, a dozen headers a campaign message)."""

    def _fold(self, name, value, sanitize):
        if (
            isinstance(value, str)
            and value.isascii()
            and "\r" not in value
            and "\n" not in value
            and len(name) + 2 + len(value) <= (self.max_line_length or 0)
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


_SHORT_ASCII_AS_IS = _ShortAsciiAsIs()


def transport_for(mailbox: Mailbox | None):
    if mailbox is not None and mailbox.smtp_host:
        return SmtpTransport(lambda: mailbox_smtp_settings(mailbox))
    if settings.EMAIL_BACKEND == SMTP_BACKEND:
        return SmtpTransport(django_smtp_settings)
    return DjangoBackendTransport()


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def from_header(message: MailMessage) -> tuple[str, str]:
    """(the From header, the envelope sender)."""
    if message.mailbox is not None:
        address = message.mailbox.email_address
        name = message.from_name or message.mailbox.display_name
    else:
        name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
        name = message.from_name or name
    return (formataddr((name, address)) if name else address), address


def unsubscribe_headers(delivery: Delivery, recipients: list[str]) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe headers for a marketing message (none otherwise): the
    signed HTTPS link names the first recipient and the message's consent purpose."""
    if delivery.purpose != Purpose.MARKETING or not delivery.consent_purpose_id or not recipients:
        return {}
    from rapport.consent.links import list_unsubscribe_headers

    return list_unsubscribe_headers(address=recipients[0], purpose_id=delivery.consent_purpose_id)


def build_email(
    message: MailMessage, *, leave_out: set[str] = frozenset(), extra_headers: dict | None = None
) -> EmailMultiAlternatives:
    """The MIME message: text with an HTML alternative, attachments, our Message-ID."""
    header_from, _ = from_header(message)

    def keep(addresses):
        return [a for a in addresses if a not in leave_out]

    headers = {
        "Message-ID": message.message_id,
        "Date": format_datetime(timezone.now()),
        **(extra_headers or {}),
    }
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
    if message.references:
        headers["References"] = message.references
    if message.reply_to:
        headers["Reply-To"] = message.reply_to
    text = message.text_body or (strip_tags(message.html_body) if message.html_body else "")
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=text,
        from_email=header_from,
        to=keep(message.to),
        cc=keep(message.cc),
        bcc=keep(message.bcc),
        headers=headers,
    )
    if message.html_body:
        email.attach_alternative(message.html_body, "text/html")
    for attachment in message.attachments.all():
        stored = attachment.file
        with stored.file.open("rb") as fh:
            email.attach(stored.name, fh.read(), stored.content_type or None)
    return email


def _links(message: MailMessage) -> list[dict]:
    return [
        {
            "account_id": link.account_id,
            "contact_id": link.contact_id,
            "lead_id": link.lead_id,
            "opportunity_id": link.opportunity_id,
        }
        for link in message.links.all()
    ]


def _record_on_timelines(message: MailMessage, *, state: str, detail: str) -> None:
    recipients = message.to + message.cc
    if state == DeliveryState.SENT:
        summary = f"Email sent: {message.subject}"
    else:
        summary = f"Email not delivered: {message.subject} — {detail}"
    payload = {
        "message_id": message.pk,
        "thread_id": message.thread_id,
        "subject": message.subject,
        "to": recipients,
        "state": state,
        "detail": detail[:500],
    }
    for link in _links(message):
        timeline_record(
            kind=EventKind.EMAIL_SENT,
            actor=message.created_by,
            summary=summary,
            payload=payload,
            **link,
        )


def _fail(delivery: Delivery, reason: str) -> None:
    with transaction.atomic():
        updated = Delivery.objects.filter(id=delivery.id, state=DeliveryState.SENDING).update(
            state=DeliveryState.FAILED,
            last_error=reason[:2000],
            lease_expires_at=None,
            skipped=delivery.skipped,
        )
        if updated:
            _record_on_timelines(delivery.message, state=DeliveryState.FAILED, detail=reason)


def _retry(delivery: Delivery, reason: str, claim_id: str) -> None:
    if delivery.attempts >= max_attempts():
        _fail(delivery, f"gave up after {delivery.attempts} attempts: {reason}")
        return
    Delivery.objects.filter(
        id=delivery.id, claimed_by=claim_id, state=DeliveryState.SENDING
    ).update(
        state=DeliveryState.QUEUED,
        next_attempt_at=timezone.now() + backoff(delivery.attempts),
        last_error=reason[:2000],
        lease_expires_at=None,
        handed_over_at=None,
    )


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


class _NoCommitWait:
    """While a batch is sent on PostgreSQL: commits do not wait for their WAL flush.

    Covers the fence and the mark (the claim is committed before). Their WHERE clauses
    decide the claim, so that holds either way; what a database crash within the flush delay
    (a fraction of a second) could lose is a `sent` mark or `handed_over_at`, and the row is
    then sent again with the same Message-ID: the same bound as a worker killed after the
    server's 250. Saves a disk flush per message (bench/bench_mail_send.py)."""

    def __enter__(self):
        self.active = connection.vendor == "postgresql"
        if self.active:
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO OFF")

    def __exit__(self, *exc):
        if self.active:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")


@functools.cache
def _delivery_sql(template: str, vendor: str = "") -> str:
    """`template` with {table} and {column} names of Delivery filled in (quoted)."""
    quote = connection.ops.quote_name
    columns = {f.name: quote(f.column) for f in Delivery._meta.concrete_fields}
    return template.format(table=quote(Delivery._meta.db_table), **columns)


def _dt(value):
    return connection.ops.adapt_datetimefield_value(value)


# The per-message statements of the send loop as plain SQL: building them through the ORM
# cost more CPU than the SMTP hand-over itself (bench/bench_campaign_send.py, cProfile).
MARK_SENT_SQL = (
    "UPDATE {table} SET {state} = %s, {sent_at} = %s, {last_response} = %s, "
    "{last_error} = %s, {lease_expires_at} = NULL, {skipped} = %s "
    "WHERE {id} = %s AND {state} <> %s"
)
FENCE_SQL = (
    "UPDATE {table} SET {handed_over_at} = %s, {lease_expires_at} = %s "
    "WHERE {id} = %s AND {claimed_by} = %s AND {state} = %s"
)


def _mark_sent(delivery: Delivery, response: str, refused: dict, note: str) -> None:
    skipped = {**delivery.skipped, **{a: f"refused: {r}" for a, r in refused.items()}}
    skipped_db = Delivery._meta.get_field("skipped").get_db_prep_save(skipped, connection)
    with transaction.atomic(durable=False) if delivery.message.links.all() else _nothing():
        # By id only: once the server has it, it is sent, whoever holds the claim now (their
        # fence then no longer matches and they do not send it again).
        params = [
            str(DeliveryState.SENT),
            _dt(timezone.now()),
            response[:2000],
            note,
            skipped_db,
            delivery.id,
            str(DeliveryState.SENT),
        ]
        with connection.cursor() as cursor:
            cursor.execute(_delivery_sql(MARK_SENT_SQL, connection.vendor), params)
            updated = cursor.rowcount
        if updated:
            _record_on_timelines(delivery.message, state=DeliveryState.SENT, detail=response)


def _fence(delivery: Delivery, claim_id: str) -> bool:
    return _fence_update(delivery, claim_id, timezone.now())


def _fence_update(delivery: Delivery, claim_id: str, now) -> bool:
    lease = now + datetime.timedelta(seconds=lease_seconds())
    params = [_dt(now), _dt(lease), delivery.id, claim_id, str(DeliveryState.SENDING)]
    with connection.cursor() as cursor:
        cursor.execute(_delivery_sql(FENCE_SQL, connection.vendor), params)
        return cursor.rowcount == 1


def send_one(
    delivery: Delivery, transport, claim_id: str, blocked: dict[str, str] | None = None
) -> str:
    """Send one claimed delivery through `transport`; returns its new state. `blocked`: the
    gate's answer for the batch (looked up here when not given)."""
    message = delivery.message
    note = ""
    if delivery.handed_over_at is not None:
        note = (
            "A worker stopped while handing this message to the server; sent again with the "
            "same Message-ID (a receiver that already has it can drop the copy)."
        )
        log.warning("delivery %s: re-sending after an interrupted hand-over", delivery.id)
    if delivery.attempts > max_attempts():
        _fail(delivery, f"gave up after {delivery.attempts - 1} attempts: {delivery.last_error}")
        return DeliveryState.FAILED
    recipients = [*message.to, *message.cc, *message.bcc]
    if blocked is None:
        blocked = blocked_addresses(recipients, delivery.purpose, delivery.consent_purpose_id)
    else:
        blocked = {a: blocked[a] for a in recipients if a in blocked}
    delivery.skipped = {**delivery.skipped, **{a: f"not sent: {r}" for a, r in blocked.items()}}
    allowed = [a for a in recipients if a not in blocked]
    if not allowed:
        _fail(delivery, "Not sent: " + "; ".join(f"{a}: {r}" for a, r in blocked.items()))
        return DeliveryState.FAILED
    try:
        email = build_email(
            message,
            leave_out=set(blocked),
            extra_headers=unsubscribe_headers(delivery, allowed),
        )
    except OSError as exc:  # an attachment's file is missing from the storage
        _retry(delivery, f"cannot read an attachment: {exc}", claim_id)
        return DeliveryState.QUEUED
    _, envelope_from = from_header(message)
    if not _fence(delivery, claim_id):
        log.info("delivery %s: claim lost before hand-over, not sent", delivery.id)
        return ""
    try:
        response, refused = transport.send(email, envelope_from, allowed)
    except PermanentFailure as exc:
        _fail(delivery, str(exc))
        return DeliveryState.FAILED
    except TemporaryFailure as exc:
        _retry(delivery, str(exc), claim_id)
        return DeliveryState.QUEUED
    _mark_sent(delivery, response, refused, note)
    return DeliveryState.SENT


def _gate_key(delivery: Delivery) -> tuple[str, int | None]:
    return delivery.purpose, delivery.consent_purpose_id


def _gate_for(group: list[Delivery]) -> dict[tuple[str, int | None], dict[str, str]]:
    """The gate's refusals for a whole batch, per purpose and consent purpose (a fixed number
    of queries each)."""
    by_purpose: dict[tuple[str, int | None], set[str]] = defaultdict(set)
    for delivery in group:
        message = delivery.message
        by_purpose[_gate_key(delivery)].update([*message.to, *message.cc, *message.bcc])
    return {
        key: blocked_addresses(addresses, key[0], key[1]) for key, addresses in by_purpose.items()
    }


def send_claimed(ids: list[int], claim_id: str) -> dict[str, int]:
    """Send the deliveries this claim holds, one connection per mailbox."""
    counts: dict[str, int] = defaultdict(int)
    deliveries = (
        Delivery.objects.filter(id__in=ids, claimed_by=claim_id, state=DeliveryState.SENDING)
        .select_related("message", "message__mailbox", "message__thread")
        .prefetch_related("message__attachments__file", "message__links")
        .order_by("id")
    )
    by_mailbox: dict[int | None, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        by_mailbox[delivery.message.mailbox_id].append(delivery)
    for group in by_mailbox.values():
        mailbox = group[0].message.mailbox
        try:
            transport = transport_for(mailbox)
        except Exception as exc:  # noqa: BLE001 - e.g. the stored password cannot be read
            for delivery in group:
                _retry(delivery, f"{type(exc).__name__}: {exc}", claim_id)
                counts[DeliveryState.QUEUED] += 1
            continue
        blocked = _gate_for(group)
        try:
            with _NoCommitWait():
                for delivery in group:
                    state = send_one(delivery, transport, claim_id, blocked[_gate_key(delivery)])
                    counts[state or "lost"] += 1
        finally:
            transport.close()
    return dict(counts)


def send_due(*, limit: int = 50, max_batches: int = 20) -> dict[str, int]:
    """Claim and send due deliveries, batch after batch, until none is due (or max_batches)."""
    totals: dict[str, int] = defaultdict(int)
    for _ in range(max_batches):
        claim_id = new_claim_id()
        ids = claim_due(claim_id=claim_id, limit=limit)
        if not ids:
            break
        for state, count in send_claimed(ids, claim_id).items():
            totals[state] += count
    return dict(totals)
