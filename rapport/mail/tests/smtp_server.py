"""A real SMTP server for tests and the benchmark: aiosmtpd on a free loopback port.

It records every message it accepts (envelope and parsed headers) and can be told to answer
the next N messages with a 4xx or 5xx, to require AUTH (PLAIN/LOGIN with one user and
password), or to hold its answer to DATA until released (to kill a client in the one window
where the server has the message and the client does not know it yet).
"""

import asyncio
import base64
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.parser import BytesHeaderParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self):
        return message_from_bytes(self.data, policy=policy.default)

    @property
    def message_id(self) -> str:
        return str(BytesHeaderParser(policy=policy.default).parsebytes(self.data)["Message-ID"])


@dataclass
class Sink:
    messages: list[Received] = field(default_factory=list)
    # Answers given (instead of 250) to the next messages' DATA, one per message.
    data_answers: list[str] = field(default_factory=list)
    # Answers given (instead of 250) to the next RCPT commands, one per recipient.
    rcpt_answers: list[str] = field(default_factory=list)
    hold_data: threading.Event | None = None  # set() releases a held DATA answer
    data_received: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_answers:
            return self.rcpt_answers.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_answers:
            return self.data_answers.pop(0)
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        )
        self.data_received.set()
        if self.hold_data is not None:
            while not self.hold_data.is_set():
                await asyncio.sleep(0.05)
        return f"250 2.0.0 Ok: queued as {len(self.messages)}"

    def message_ids(self) -> list[str]:
        return [m.message_id for m in self.messages]


@dataclass
class OAuthSink(Sink):
    """A sink that accepts only SASL XOAUTH2 (RFC 7628-style initial response:
    base64("user=<user>\x01auth=Bearer <token>\x01\x01")) for one user and token, and
    records every login it was offered in `oauth_logins`."""

    oauth_user: str = ""
    oauth_token: str = ""
    oauth_logins: list[tuple[str, str]] = field(default_factory=list)

    async def auth_XOAUTH2(self, server, args):
        try:
            decoded = base64.b64decode(args[1]).decode()
            parts = dict(p.split("=", 1) for p in decoded.split("\x01") if "=" in p)
        except (IndexError, ValueError):
            return AuthResult(success=False, handled=False)
        user, bearer = parts.get("user", ""), parts.get("auth", "")
        self.oauth_logins.append((user, bearer))
        ok = user == self.oauth_user and bearer == f"Bearer {self.oauth_token}"
        return AuthResult(success=ok, handled=False, auth_data=LoginPassword(user.encode(), b""))


class SmtpServer:
    """`with SmtpServer() as server:` → server.host, server.port, server.sink."""

    def __init__(self, *, user: str = "", password: str = "", oauth_token: str = ""):
        self.sink = OAuthSink(oauth_user=user, oauth_token=oauth_token) if oauth_token else Sink()
        self.host = "127.0.0.1"
        self.port = free_port()
        self.user, self.password = user, password
        kwargs = {}
        if oauth_token:  # XOAUTH2 only: the password mechanisms are switched off
            kwargs = {
                "auth_required": True,
                "auth_require_tls": False,
                "auth_exclude_mechanism": ["LOGIN", "PLAIN"],
            }
        elif user:
            kwargs = {
                "auth_required": True,
                "auth_require_tls": False,
                "authenticator": self._authenticate,
            }
        self.controller = Controller(
            self.sink, hostname=self.host, port=self.port, ready_timeout=10, **kwargs
        )

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.sink.hold_data is not None:
            self.sink.hold_data.set()
        self.controller.stop()

    def __enter__(self) -> "SmtpServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    # A sink in its own process (the benchmark): prints its port, runs until stdin closes,
    # then prints how many messages it received and how many distinct Message-IDs.
    import json
    import sys

    with SmtpServer() as server:
        print(json.dumps({"port": server.port}), flush=True)
        sys.stdin.read()
        ids = server.sink.message_ids()
        print(json.dumps({"count": len(ids), "unique": len(set(ids))}), flush=True)
