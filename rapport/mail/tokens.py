"""Our signed references: the Message-IDs we send, the body reference and the subject token.

A Message-ID we generate is deterministic for its message row, so a resend after a crash
carries the same id (a receiving server, and our own sync, recognise it):

    <r{message_pk}.{thread_token}.{sig}@{domain}>

`sig` is an HMAC (Django's salted_hmac over SECRET_KEY, salt below) of the message pk and
the thread token: a reply whose In-Reply-To/References carries it can only be matched to the
thread it names, and a token cannot be forged to attach mail to someone else's thread.
"""

import re
import secrets

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "rapport.mail.tokens"
_MESSAGE_ID = re.compile(r"<r(\d+)\.([0-9a-f]{12,32})\.([0-9a-z]{16})@([^>\s]+)>", re.I)
_BODY_REF = re.compile(r"\[ref:([0-9a-f]{12,32})\.([0-9a-z]{16})\]", re.I)
_SUBJECT_TOKEN = re.compile(r"\[#([0-9a-f]{12,32})\]", re.I)


def new_thread_token() -> str:
    return secrets.token_hex(8)  # 16 hex characters


def _sig(*parts: object) -> str:
    digest = salted_hmac(_SALT, ".".join(str(p) for p in parts), algorithm="sha256").hexdigest()
    return digest[:16]


def mail_domain() -> str:
    configured = getattr(settings, "RAPPORT_MAIL_DOMAIN", "")
    if configured:
        return configured
    return settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">").strip() or "rapport.invalid"


def make_message_id(message_pk: int, thread_token: str) -> str:
    return f"<r{message_pk}.{thread_token}.{_sig(message_pk, thread_token)}@{mail_domain()}>"


def parse_message_id(value: str) -> tuple[int, str] | None:
    """(message pk, thread token) of a Message-ID we generated with a valid signature."""
    match = _MESSAGE_ID.search(value or "")
    if match is None:
        return None
    pk, token, sig = int(match.group(1)), match.group(2).lower(), match.group(3).lower()
    if not constant_time_compare(sig, _sig(pk, token)):
        return None
    return pk, token


def our_tokens_in(header_value: str) -> list[tuple[int, str]]:
    """Every valid (message pk, thread token) in an In-Reply-To or References header, in order."""
    found = []
    for match in _MESSAGE_ID.finditer(header_value or ""):
        parsed = parse_message_id(match.group(0))
        if parsed is not None:
            found.append(parsed)
    return found


def body_reference(thread_token: str) -> str:
    return f"[ref:{thread_token}.{_sig('body', thread_token)}]"


def find_body_reference(text: str) -> str | None:
    """The thread token of the first correctly signed body reference in `text`."""
    for match in _BODY_REF.finditer(text or ""):
        token, sig = match.group(1).lower(), match.group(2).lower()
        if constant_time_compare(sig, _sig("body", token)):
            return token
    return None


def subject_token(thread_token: str) -> str:
    return f"[#{thread_token}]"


def find_subject_token(subject: str) -> str | None:
    """The thread token in a subject (unsigned: only trusted from a known participant)."""
    match = _SUBJECT_TOKEN.search(subject or "")
    return match.group(1).lower() if match else None
