"""Parsing a raw message into what Rapport stores, never failing on bad mail.

Every problem (a MIME defect, an unknown charset, a header that does not parse, no Date)
becomes a line in `warnings` and the parse carries on with what can be read: the raw bytes
are kept anyway, so nothing is lost. HTML is sanitised with nh3 (no scripts, no styles, no
event handlers) before anything stores or shows it.
"""

import email
import email.policy
import email.utils
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message

import nh3

_ID = re.compile(r"<[^<>\s]+>")
_MAX_TEXT = 1_000_000  # characters of a text or HTML body kept in the database

AUTO_SUBMITTED_OK = {"no", ""}
BULK_PRECEDENCE = {"bulk", "junk", "auto_reply", "list"}
_OUT_OF_OFFICE = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|"
    r"absence|absent|r[ée]ponse automatique|respuesta autom[áa]tica|fuera de la oficina|"
    r"away from (the )?office|on vacation|vacation reply)",
    re.I,
)


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    payload: bytes
    content_id: str = ""
    inline: bool = False


@dataclass
class DsnRecipient:
    address: str
    action: str
    status: str
    diagnostic: str


@dataclass
class ParsedMessage:
    message_id: str = ""
    in_reply_to: str = ""
    references: str = ""
    from_address: str = ""
    from_name: str = ""
    reply_to: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    date: object = None  # aware datetime or None
    text: str = ""
    html: str = ""
    attachments: list[ParsedAttachment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    is_auto_reply: bool = False
    is_bounce: bool = False
    dsn_recipients: list[DsnRecipient] = field(default_factory=list)
    dsn_original_ids: list[str] = field(default_factory=list)

    @property
    def participants(self) -> list[str]:
        return [a for a in [self.from_address, *self.to, *self.cc] if a]


def normalise_address(value: str) -> str:
    """The comparable form of an address: trimmed and lower-cased (IDNA domain kept as is)."""
    return (value or "").strip().strip("<>").strip().lower()


def message_ids(value: str) -> list[str]:
    return _ID.findall(value or "")


def _decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded (=?utf-8?q?…?=); undecodable parts kept as they are."""
    if "=?" not in value:
        return value
    return str(make_header(decode_header(value)))


def _header(msg: Message, name: str, warnings: list[str]) -> str:
    """A header as text; a header that does not decode is kept raw with a warning."""
    value = msg.get(name)
    if value is None:
        return ""
    text = str(value)
    try:
        text = _decode_words(text)
    except Exception as exc:  # noqa: BLE001 - any decoding error of a header
        warnings.append(f"The {name} header could not be decoded ({exc}); kept as raw text")
    if any(ch in text for ch in "\r\n"):
        text = " ".join(text.split())
    return text


def _addresses(msg: Message, name: str, warnings: list[str]) -> list[tuple[str, str]]:
    values = [str(v) for v in msg.get_all(name, failobj=[])]
    result = []
    for display, addr in email.utils.getaddresses(values):
        addr = normalise_address(addr)
        if not addr or "@" not in addr:
            continue
        try:
            display = _decode_words(display)
        except Exception as exc:  # noqa: BLE001
            warnings.append(f"A name in {name} could not be decoded ({exc})")
        result.append((display, addr))
    return result


def _decode_text(part: Message, warnings: list[str]) -> str:
    try:
        payload = part.get_payload(decode=True) or b""
    except Exception as exc:  # noqa: BLE001
        warnings.append(f"A text part could not be decoded ({exc})")
        return ""
    if isinstance(payload, str):
        return payload
    charset = part.get_content_charset() or "us-ascii"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError as exc:
        warnings.append(f"Unknown or wrong charset {charset!r} ({exc}); decoded as UTF-8")
    return payload.decode("utf-8", errors="replace")


def sanitise_html(html: str) -> str:
    return nh3.clean(html or "", link_rel="noopener noreferrer nofollow")


def _part_filename(part: Message) -> str:
    try:
        return part.get_filename() or ""
    except Exception:  # noqa: BLE001
        return ""


def _delivery_status(part: Message, parsed: ParsedMessage) -> None:
    """Per-recipient fields of a message/delivery-status part (RFC 3464)."""
    blocks = part.get_payload()
    if not isinstance(blocks, list):
        return
    for block in blocks[1:] if len(blocks) > 1 else blocks:
        recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
        address = normalise_address(recipient.split(";", 1)[-1])
        status = str(block.get("Status") or "").strip()
        if not address or "@" not in address:
            continue
        parsed.dsn_recipients.append(
            DsnRecipient(
                address=address,
                action=str(block.get("Action") or "").strip().lower(),
                status=status.split()[0] if status else "",
                diagnostic=" ".join(str(block.get("Diagnostic-Code") or "").split()),
            )
        )


def _original_headers(part: Message) -> list[str]:
    """Message-IDs in the original message a DSN returns (message/rfc822 or headers only)."""
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if isinstance(inner, Message):
            return message_ids(str(inner.get("Message-ID") or ""))
    if ctype == "text/rfc822-headers":
        payload = part.get_payload(decode=True) or b""
        headers = email.message_from_bytes(payload, policy=email.policy.compat32)
        return message_ids(str(headers.get("Message-ID") or ""))
    return []


def _detect_auto_reply(msg: Message, subject: str, warnings: list[str]) -> bool:
    auto_submitted = _header(msg, "Auto-Submitted", warnings).strip().lower()
    if auto_submitted.split(";")[0].strip() not in AUTO_SUBMITTED_OK:
        return True
    if _header(msg, "X-Autoreply", warnings) or _header(msg, "X-Autorespond", warnings):
        return True
    if _header(msg, "X-Auto-Response-Suppress", warnings).strip().lower() in {"all", "oof"}:
        return True
    if _header(msg, "Precedence", warnings).strip().lower() in BULK_PRECEDENCE:
        return True
    return bool(_OUT_OF_OFFICE.match(subject or ""))


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse `raw`; never raises on malformed mail (problems go to `warnings`)."""
    parsed = ParsedMessage()
    warnings = parsed.warnings
    try:
        # compat32: the structure and raw headers only (the default policy's header objects
        # cost more than the rest of the sync); headers are decoded one by one below.
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:  # noqa: BLE001 - the stdlib parser is lenient; belt and braces
        warnings.append(f"The message could not be parsed ({exc}); only the raw copy is kept")
        return parsed

    parsed.message_id = next(iter(message_ids(_header(msg, "Message-ID", warnings))), "")
    parsed.in_reply_to = " ".join(message_ids(_header(msg, "In-Reply-To", warnings)))
    parsed.references = " ".join(message_ids(_header(msg, "References", warnings)))
    parsed.subject = _header(msg, "Subject", warnings)[:998]
    senders = _addresses(msg, "From", warnings)
    if senders:
        parsed.from_name, parsed.from_address = senders[0][0][:255], senders[0][1][:254]
    else:
        warnings.append("No sender address (From)")
    parsed.reply_to = ", ".join(a for _, a in _addresses(msg, "Reply-To", warnings))[:998]
    parsed.to = [a for _, a in _addresses(msg, "To", warnings)]
    parsed.cc = [a for _, a in _addresses(msg, "Cc", warnings)]

    date_text = _header(msg, "Date", warnings)
    if not date_text:
        warnings.append("No Date header; the time of receipt is used")
    else:
        try:
            date = email.utils.parsedate_to_datetime(date_text)
            if date.tzinfo is None:
                import datetime

                date = date.replace(tzinfo=datetime.UTC)
            parsed.date = date
        except (TypeError, ValueError, IndexError):
            warnings.append(
                f"Unreadable Date header {date_text[:80]!r}; the time of receipt is used"
            )

    texts: list[str] = []
    htmls: list[str] = []
    try:
        parts = list(msg.walk())
    except Exception as exc:  # noqa: BLE001
        warnings.append(f"The MIME structure could not be walked ({exc})")
        parts = [msg]
    for part in parts:
        for defect in getattr(part, "defects", []) or []:
            text = f"MIME defect: {type(defect).__name__}"
            if text not in warnings:
                warnings.append(text)
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            parsed.is_bounce = True
            _delivery_status(part, parsed)
            continue
        if ctype in ("message/rfc822", "text/rfc822-headers") and msg.get_content_type() == (
            "multipart/report"
        ):
            parsed.dsn_original_ids.extend(_original_headers(part))
            continue
        if part.is_multipart():
            continue
        disposition = (part.get_content_disposition() or "").lower()
        filename = _part_filename(part)
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
            body = _decode_text(part, warnings)
            (htmls if ctype == "text/html" else texts).append(body)
            continue
        try:
            payload = part.get_payload(decode=True)
        except Exception as exc:  # noqa: BLE001
            warnings.append(f"An attachment could not be decoded ({exc})")
            continue
        if payload is None:
            continue
        content_id = str(part.get("Content-ID") or "").strip().strip("<>")[:255]
        parsed.attachments.append(
            ParsedAttachment(
                filename=filename or ("inline" if content_id else "attachment"),
                content_type=ctype,
                payload=payload,
                content_id=content_id,
                inline=disposition == "inline" or (bool(content_id) and not filename),
            )
        )
    if msg.get_content_type() == "multipart/report" and not parsed.is_bounce:
        report_type = (msg.get_param("report-type") or "").lower()
        if report_type == "delivery-status":
            parsed.is_bounce = True
    parsed.text = "\n\n".join(t for t in texts if t)[:_MAX_TEXT]
    if htmls:
        parsed.html = sanitise_html("\n".join(htmls))[:_MAX_TEXT]
    parsed.is_auto_reply = parsed.is_bounce or _detect_auto_reply(msg, parsed.subject, warnings)
    return parsed
