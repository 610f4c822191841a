"""Talking to a mailbox's IMAP server: connect with its settings, and say exactly what failed.

`connect(mailbox)` opens a logged-in connection (implicit SSL, STARTTLS or plain; a password
or an XOAUTH2 access token). `check_imap(mailbox)` is what the "Test connection" button
calls: it walks the stages one by one (DNS, TCP, TLS, login, folder) and returns the first
that failed with the server's or the system's reason.

TLS certificates are verified against the system's CAs, plus `RAPPORT_MAIL_CA_FILE` when set
(a private CA, or the test server's self-signed certificate).
"""

import contextlib
import enum
import imaplib
import socket
import ssl
from dataclasses import dataclass, field

from django.conf import settings

from rapport.mail.models import AuthMethod, Mailbox, Security

TIMEOUT = 30


class Stage(enum.StrEnum):
    DNS = "dns"
    TCP = "tcp"
    TLS = "tls"
    LOGIN = "login"
    FOLDER = "folder"


STAGE_LABELS = {
    Stage.DNS: "The server name does not resolve",
    Stage.TCP: "The server cannot be reached on that port",
    Stage.TLS: "The secure connection (TLS) failed",
    Stage.LOGIN: "The server refused the login",
    Stage.FOLDER: "The folder cannot be opened",
}


class ImapError(Exception):
    """A failure at one stage of talking to the server."""

    def __init__(self, stage: Stage, message: str):
        super().__init__(f"{stage}: {message}")
        self.stage = stage
        self.message = message


@dataclass
class ImapCheck:
    ok: bool
    stage: str = ""  # the stage that failed ("" when ok)
    message: str = ""
    details: dict = field(default_factory=dict)  # uidvalidity, messages, when ok

    def as_dict(self) -> dict:
        return {"ok": self.ok, "stage": self.stage, "message": self.message, **self.details}


def ssl_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    cafile = getattr(settings, "RAPPORT_MAIL_CA_FILE", "")
    if cafile:
        context.load_verify_locations(cafile=cafile)
    return context


def _text(exc: BaseException) -> str:
    if isinstance(exc, imaplib.IMAP4.error) and exc.args:
        arg = exc.args[0]
        return arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)
    return str(exc) or type(exc).__name__


def _open(mailbox: Mailbox, timeout: float) -> imaplib.IMAP4:
    host, port = mailbox.imap_host.strip(), int(mailbox.imap_port)
    if not host:
        raise ImapError(Stage.DNS, "No IMAP server is configured")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ImapError(Stage.DNS, f"{host}: {exc}") from exc
    # TCP first on its own, so a refused port is told apart from a TLS failure.
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise ImapError(Stage.TCP, f"{host}:{port}: {exc}") from exc
    try:
        if mailbox.imap_security == Security.SSL:
            conn = imaplib.IMAP4_SSL(host, port, ssl_context=ssl_context(), timeout=timeout)
        else:
            conn = imaplib.IMAP4(host, port, timeout=timeout)
    except ssl.SSLError as exc:
        raise ImapError(Stage.TLS, _text(exc)) from exc
    except (OSError, imaplib.IMAP4.error) as exc:
        stage = Stage.TLS if mailbox.imap_security == Security.SSL else Stage.TCP
        raise ImapError(stage, _text(exc)) from exc
    if mailbox.imap_security == Security.STARTTLS:
        try:
            conn.starttls(ssl_context=ssl_context())
        except (ssl.SSLError, OSError, imaplib.IMAP4.error) as exc:
            _close(conn)
            raise ImapError(Stage.TLS, f"STARTTLS: {_text(exc)}") from exc
    return conn


def _login(conn: imaplib.IMAP4, mailbox: Mailbox) -> None:
    from rapport.mail.crypto import CredentialUnreadable

    user = mailbox.imap_user or mailbox.email_address
    try:
        secret = mailbox.get_secret()
    except CredentialUnreadable as exc:
        raise ImapError(Stage.LOGIN, str(exc)) from exc
    try:
        if mailbox.auth_method == AuthMethod.XOAUTH2:
            payload = f"user={user}\x01auth=Bearer {secret}\x01\x01".encode()
            conn.authenticate("XOAUTH2", lambda _challenge: payload)
        else:
            conn.login(user, secret)
    except (imaplib.IMAP4.error, OSError) as exc:
        raise ImapError(Stage.LOGIN, _text(exc)) from exc


def _close(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except Exception:  # noqa: BLE001 - closing a broken connection
        with contextlib.suppress(Exception):
            conn.shutdown()


def connect(mailbox: Mailbox, *, timeout: float = TIMEOUT) -> imaplib.IMAP4:
    """A logged-in connection; raises ImapError naming the stage that failed."""
    conn = _open(mailbox, timeout)
    try:
        _login(conn, mailbox)
    except ImapError:
        _close(conn)
        raise
    return conn


def select_folder(conn: imaplib.IMAP4, folder: str) -> tuple[int, int]:
    """Open `folder` read-only (fetching never sets \\Seen); returns (UIDVALIDITY, EXISTS)."""
    try:
        typ, data = conn.select(_quote(folder), readonly=True)
    except (imaplib.IMAP4.error, OSError) as exc:
        raise ImapError(Stage.FOLDER, f"{folder}: {_text(exc)}") from exc
    if typ != "OK":
        raise ImapError(Stage.FOLDER, f"{folder}: {_text(imaplib.IMAP4.error(data[0]))}")
    exists = int(data[0]) if data and data[0] else 0
    _typ, validity = conn.response("UIDVALIDITY")
    if not validity or validity[0] is None:
        raise ImapError(Stage.FOLDER, f"{folder}: the server sent no UIDVALIDITY")
    return int(validity[0]), exists


def _quote(folder: str) -> str:
    if folder.upper() == "INBOX":
        return "INBOX"
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_imap(mailbox: Mailbox, *, timeout: float = 15) -> ImapCheck:
    """Walk DNS → TCP → TLS → login → folder; the first failing stage with its reason."""
    try:
        conn = connect(mailbox, timeout=timeout)
    except ImapError as exc:
        return ImapCheck(False, str(exc.stage), f"{STAGE_LABELS[exc.stage]}: {exc.message}")
    try:
        uidvalidity, exists = select_folder(conn, mailbox.imap_folder or "INBOX")
    except ImapError as exc:
        return ImapCheck(False, str(exc.stage), f"{STAGE_LABELS[exc.stage]}: {exc.message}")
    finally:
        _close(conn)
    return ImapCheck(
        True,
        message=f"Connected; {exists} message(s) in {mailbox.imap_folder or 'INBOX'}",
        details={"uidvalidity": uidvalidity, "messages": exists},
    )
