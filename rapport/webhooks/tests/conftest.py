"""A real HTTP receiver on 127.0.0.1, a stub resolver, and a guard that fails the test when
a connection is opened to anything but the receiver."""

import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rapport.webhooks import http


class Receiver:
    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.headers: dict[str, str] = {}
        self.body = b"ok"
        self.delay = 0.0
        self.verify_with: str | None = None  # a whsec_ secret: 401 when the signature is bad
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                entry = {"headers": dict(self.headers), "body": body, "path": self.path}
                status = receiver.status
                if receiver.verify_with:
                    from standardwebhooks import Webhook

                    try:
                        entry["verified"] = Webhook(receiver.verify_with).verify(
                            body, dict(self.headers)
                        )
                    except Exception as exc:
                        entry["verify_error"] = str(exc)
                        status = 401
                receiver.requests.append(entry)
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                for key, value in receiver.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(receiver.body)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(receiver.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def json(self, i: int = -1) -> dict:
        return json.loads(self.requests[i]["body"])


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def allow_loopback(settings):
    settings.RAPPORT_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]


class ConnectionGuard:
    """Records every outgoing connect(); refuses (and fails the test for) any address outside
    `allowed`, so a refused URL is proven to have opened nothing."""

    def __init__(self):
        self.allowed: set[str] = set()
        self.attempts: list[tuple] = []
        self.names_resolved: list[str] = []


@pytest.fixture
def guard(monkeypatch):
    g = ConnectionGuard()
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        g.attempts.append(address)
        if address[0] not in g.allowed:
            raise AssertionError(f"a connection to {address} was opened")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        # The client resolves names only through http.resolve (stubbed below); urllib3 gets
        # IP literals, whose "resolution" is a parse.
        g.names_resolved.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return g


@pytest.fixture
def resolver(monkeypatch):
    """A stub DNS: names → address lists; any other name does not resolve."""
    table: dict[str, list[str]] = {}
    calls: list[str] = []

    def resolve(host, port):
        calls.append(host)
        if host not in table:
            raise OSError("no such name (stub resolver)")
        return table[host]

    monkeypatch.setattr(http, "resolve", resolve)
    table_calls = type("Stub", (), {"table": table, "calls": calls})
    return table_calls
