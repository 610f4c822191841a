"""A private Debian dovecot for the IMAP tests: real server, loopback, free ports.

`dovecot_server` (session-scoped) starts `dovecot -F` with its own configuration, base_dir,
state_dir and a temporary maildir root; users live in passwd-files (plain passwords, one
file per user), so every test takes a fresh user (`server.new_user()`) and
therefore a fresh, empty INBOX. Two listeners: plain IMAP (LOGIN allowed: loopback only) and
implicit SSL (IMAPS) with a self-signed certificate generated for the run.

XOAUTH2 (and OAUTHBEARER) logins go through dovecot's `oauth2` passdb, which asks a token
introspection endpoint (RFC 7662, POST `token=…`) served by this module on loopback
(`OAuthIntrospection`): `server.new_oauth_token(user)` issues a token it answers
`{"active": true, "username": user}` for; any other token is inactive. Password logins keep
using the passwd-files.

Messages reach a user's folder with `server.append(user, raw_bytes)`: imaplib APPEND as an
ordinary client, nothing mocked. If dovecot is missing or does not start, the fixture fails
(it never skips): CI installs dovecot-imapd (`.ci/run`, `make install-dev`).
"""

import datetime
import http.server
import imaplib
import ipaddress
import itertools
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "imap-test-password"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _self_signed(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(key_path, 0o600)


class OAuthIntrospection:
    """A token introspection endpoint (RFC 7662) on a free loopback port, in a thread: the
    authorisation server dovecot's oauth2 passdb asks whether an access token is active and
    whose it is. `requests` records every token it was asked about."""

    def __init__(self):
        self.tokens: dict[str, str] = {}
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # dovecot keeps the connection alive

            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                token = (form.get("token") or [""])[0]
                outer.requests.append(token)
                user = outer.tokens.get(token)
                body = json.dumps(
                    {"active": True, "username": user} if user else {"active": False}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/introspect"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def issue(self, user: str) -> str:
        token = f"ya29.{secrets.token_urlsafe(24)}"
        self.tokens[token] = user
        return token

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class DovecotServer:
    root: Path
    port: int
    ssl_port: int
    cert_path: Path
    uid: int
    gid: int
    process: subprocess.Popen | None = None
    introspection: OAuthIntrospection | None = None
    host: str = "127.0.0.1"
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    # ----- users -----------------------------------------------------------------------
    def new_user(self, prefix: str = "user") -> str:
        """A fresh user (password PASSWORD) with an empty maildir."""
        name = f"{prefix}{next(self._counter)}-{os.getpid()}"
        home = self.root / "mail" / name
        home.mkdir(parents=True)
        os.chown(home, self.uid, self.gid)
        # One passwd-file per user (the path carries %u): dovecot opens a new user's file on
        # first login, where an appended shared file would be served from its cache.
        entry = self.root / "users" / name
        entry.write_text(f"{name}:{{PLAIN}}{PASSWORD}:{self.uid}:{self.gid}::{home}\n")
        os.chmod(entry, 0o644)
        return name

    def new_oauth_token(self, user: str) -> str:
        """An OAuth2 access token the server accepts (XOAUTH2/OAUTHBEARER) for `user`."""
        if self.introspection is None:
            raise RuntimeError("this DovecotServer object has no introspection endpoint")
        return self.introspection.issue(user)

    # ----- a client ----------------------------------------------------------------------
    def client(self, user: str) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port, timeout=30)
        conn.login(user, PASSWORD)
        return conn

    def append(self, user: str, *messages: bytes, folder: str = "INBOX") -> None:
        """APPEND each raw message to the user's folder (created when missing)."""
        conn = self.client(user)
        try:
            if folder.upper() != "INBOX":
                conn.create(folder)  # NO when it exists: fine
            for raw in messages:
                typ, data = conn.append(folder, None, None, raw)
                if typ != "OK":
                    raise RuntimeError(f"APPEND failed: {data!r}")
        finally:
            conn.logout()

    def recreate_folder(self, user: str, folder: str) -> None:
        """Rename the folder away and create an empty one with the same name: the server
        gives it a new UIDVALIDITY (what a server migration or a mailbox rebuild does)."""
        conn = self.client(user)
        try:
            typ, data = conn.rename(folder, f"{folder}-old-{time.monotonic_ns()}")
            if typ != "OK":
                raise RuntimeError(f"RENAME failed: {data!r}")
            conn.create(folder)
        finally:
            conn.logout()

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        conn = self.client(user)
        try:
            typ, data = conn.status(folder, "(UIDVALIDITY)")
            return int(data[0].split(b"UIDVALIDITY")[1].strip(b" ()"))
        finally:
            conn.logout()

    def mailbox_settings(self, user: str, *, ssl: bool = False) -> dict:
        """The Mailbox fields that reach this server as `user`."""
        return {
            "imap_host": self.host,
            "imap_port": self.ssl_port if ssl else self.port,
            "imap_security": "ssl" if ssl else "none",
            "imap_user": user,
        }

    def stop(self) -> None:
        if self.introspection is not None:
            self.introspection.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


_CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
instance_name = rapport-test-{pid}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
shutdown_clients = yes
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_fsync = never
mail_privileged_group =
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
ssl_min_protocol = TLSv1.2
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf.ext
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


def start_dovecot(root: Path) -> DovecotServer:
    """Write the configuration under `root`, start dovecot and wait for both listeners."""
    if not os.path.exists(DOVECOT):
        raise RuntimeError(
            "dovecot is not installed: apt-get install dovecot-imapd (make install-dev does)"
        )
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    for sub in ("run", "state", "mail", "users"):
        (root / sub).mkdir(exist_ok=True)
    if os.getuid() == 0:
        import pwd

        mail_user = pwd.getpwnam("dovecot")
        uid, gid = mail_user.pw_uid, mail_user.pw_gid
        internal_user, internal_group, login_user = "dovecot", "dovecot", "dovenull"
        os.chown(root / "mail", uid, gid)
    else:
        import grp
        import pwd

        uid, gid = os.getuid(), os.getgid()
        internal_user = login_user = pwd.getpwuid(uid).pw_name
        internal_group = grp.getgrgid(gid).gr_name
    _self_signed(root / "cert.pem", root / "key.pem")
    port, ssl_port = _free_port(), _free_port()
    introspection = OAuthIntrospection()
    oauth = root / "oauth2.conf.ext"
    oauth.write_text(
        f"introspection_mode = post\nintrospection_url = {introspection.url}\n"
        "force_introspection = yes\nusername_attribute = username\n"
        "active_attribute = active\nactive_value = true\n"
    )
    os.chmod(oauth, 0o644)  # read by dovecot's auth process
    config = root / "dovecot.conf"
    config.write_text(
        _CONFIG.format(
            root=root,
            pid=os.getpid(),
            port=port,
            ssl_port=ssl_port,
            uid=uid,
            gid=gid,
            internal_user=internal_user,
            internal_group=internal_group,
            login_user=login_user,
        )
    )
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    server = DovecotServer(
        root=root,
        port=port,
        ssl_port=ssl_port,
        cert_path=root / "cert.pem",
        uid=uid,
        gid=gid,
        process=process,
        introspection=introspection,
    )
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            out = process.stdout.read().decode(errors="replace") if process.stdout else ""
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot exited ({process.returncode}): {out}\n{log}")
        try:
            for p in (port, ssl_port):
                socket.create_connection(("127.0.0.1", p), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("dovecot did not open its ports within 20 s")
            time.sleep(0.05)
    return server


@pytest.fixture(scope="session")
def dovecot_server():
    """One dovecot for the test session (fails, never skips, when it cannot start)."""
    root = Path(tempfile.mkdtemp(prefix="rapport-dovecot-"))
    server = start_dovecot(root)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
