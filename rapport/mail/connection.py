"""'Test connection': which stage of reaching a mailbox's servers fails, in words.

Stages, in order: DNS (the host name resolves), TCP (a connection opens), TLS (the handshake
and the certificate), login (the server accepts the user and secret), and for IMAP the folder
(rapport.mail.imap.check_imap). Each check answers a list of stage results; the first failing
stage ends it, so "what failed" is always the last entry.
"""

import smtplib
import socket
import ssl
from dataclasses import asdict, dataclass

from rapport.mail.crypto import CredentialUnreadable
from rapport.mail.models import Mailbox, Security
from rapport.mail.sender import SmtpSettings, mailbox_smtp_settings, smtp_login

TIMEOUT = 10.0


@dataclass
class Stage:
    protocol: str  # "smtp" / "imap"
    stage: str  # "dns", "tcp", "tls", "login", "folder", "config"
    ok: bool
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


def _resolve(host: str, port: int) -> tuple[bool, str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return False, f"{host} does not resolve: {exc.strerror or exc}"
    addresses = sorted({info[4][0] for info in infos})
    return True, f"{host} → {', '.join(addresses[:3])}"


def check_smtp(mailbox: Mailbox, *, timeout: float = TIMEOUT) -> list[Stage]:
    stages: list[Stage] = []

    def stage(name: str, ok: bool, detail: str) -> bool:
        stages.append(Stage("smtp", name, ok, detail))
        return ok

    if not mailbox.smtp_host:
        stage("config", False, "No SMTP server set: mail from this mailbox cannot be sent.")
        return stages
    try:
        config: SmtpSettings = mailbox_smtp_settings(mailbox)
    except CredentialUnreadable as exc:
        stage("config", False, str(exc))
        return stages
    ok, detail = _resolve(config.host, config.port)
    if not stage("dns", ok, detail):
        return stages
    try:
        raw = socket.create_connection((config.host, config.port), timeout=timeout)
    except OSError as exc:
        stage("tcp", False, f"cannot connect to {config.host}:{config.port}: {exc}")
        return stages
    stage("tcp", True, f"connected to {config.host}:{config.port}")
    context = ssl.create_default_context()
    smtp = None
    try:
        if config.security == Security.SSL:
            try:
                sock = context.wrap_socket(raw, server_hostname=config.host)
            except (ssl.SSLError, OSError) as exc:
                raw.close()
                stage("tls", False, f"TLS handshake failed: {exc}")
                return stages
            stage("tls", True, f"{sock.version()} (certificate valid for {config.host})")
            smtp = smtplib.SMTP_SSL(context=context, timeout=timeout)
            smtp.sock = sock
            smtp.file = None
            code, msg = smtp.getreply()
        else:
            smtp = smtplib.SMTP(timeout=timeout)
            smtp.sock = raw
            code, msg = smtp.getreply()
        smtp._host = config.host
        if code != 220:
            stage("tcp", False, f"the server greeted with {code} {msg.decode(errors='replace')}")
            return stages
        smtp.ehlo()
        if config.security == Security.STARTTLS:
            if not smtp.has_extn("starttls"):
                stage("tls", False, "the server does not offer STARTTLS")
                return stages
            try:
                smtp.starttls(context=context)
                smtp.ehlo()
            except (ssl.SSLError, OSError, smtplib.SMTPException) as exc:
                stage("tls", False, f"STARTTLS failed: {exc}")
                return stages
            stage("tls", True, f"STARTTLS {smtp.sock.version()}")
        elif config.security == Security.NONE:
            stage("tls", True, "no TLS (plain text): use only on a trusted network")
        if not (config.user and config.secret):
            stage("login", True, "no user or password set: sending without login")
            return stages
        try:
            smtp_login(smtp, config)
        except smtplib.SMTPAuthenticationError as exc:
            error = exc.smtp_error.decode(errors="replace")
            stage("login", False, f"login refused: {exc.smtp_code} {error}")
            return stages
        except smtplib.SMTPException as exc:
            stage("login", False, f"login failed: {exc}")
            return stages
        stage("login", True, f"logged in as {config.user}")
    except (OSError, smtplib.SMTPException) as exc:
        stage("tcp", False, f"the connection failed: {exc}")
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
    return stages


def check_mailbox(mailbox: Mailbox) -> list[Stage]:
    """SMTP, then IMAP (when an IMAP server is set)."""
    stages = check_smtp(mailbox)
    if not mailbox.imap_host:
        return stages
    from rapport.mail.imap import check_imap

    result = check_imap(mailbox)
    if result.ok:
        detail = "folder {} opened".format(mailbox.imap_folder or "INBOX")
        stages.append(Stage("imap", "folder", True, detail))
    else:
        stages.append(Stage("imap", result.stage, False, result.message))
    return stages


def summary(stages: list[Stage]) -> tuple[bool, str]:
    """(all fine, one sentence): the failing stage when there is one."""
    for stage in stages:
        if not stage.ok:
            return False, f"{stage.protocol.upper()} {stage.stage}: {stage.detail}"
    return True, "Connection works: " + ", ".join(f"{s.protocol.upper()} {s.stage}" for s in stages)
