"""The outbound client: refused addresses never see a connection; allowed ones get the
checked address, the right Host header, no redirects, capped time and size."""

import ipaddress
import socket

import pytest

from rapport.webhooks import http

LOOPBACK = [ipaddress.ip_network("127.0.0.1/32")]


def _refused(url, guard, allowed=(), code="refused_address"):
    with pytest.raises(http.RefusedURL) as info:
        http.post(url, b"{}", headers={}, allowed=allowed)
    assert guard.attempts == []  # nothing was connected to
    assert info.value.code == code
    return str(info.value)


def _nothing_pending(listener: socket.socket) -> bool:
    listener.setblocking(False)
    try:
        conn, _ = listener.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def test_loopback_without_allow_list_is_refused_before_any_connection(guard):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    guard.allowed.add("127.0.0.1")  # even were it allowed to connect, the client must not
    try:
        message = _refused(f"http://127.0.0.1:{port}/hook", guard)
        assert "loopback" in message
        assert _nothing_pending(listener)
    finally:
        listener.close()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://10.0.0.1/hook", "private"),
        ("http://192.168.1.10/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://100.64.1.1/", "CGNAT"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://[::1]/", "loopback"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fc00::1]/", "private"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://[::ffff:127.0.0.1]/", "IPv4-mapped"),
        ("http://[::ffff:8.8.8.8]/", "IPv4-mapped"),
        ("http://[64:ff9b::a00:1]/", "embeds 10.0.0.1"),
        ("http://[2002:a00:1::]/", "embeds 10.0.0.1"),
        ("http://[::]/", "unspecified"),
    ],
)
def test_non_public_addresses_are_refused_before_any_connection(guard, url, words):
    assert words in _refused(url, guard)


def test_metadata_address_stays_refused_when_its_network_is_allow_listed(guard):
    allowed = [ipaddress.ip_network("169.254.0.0/16")]
    assert "metadata" in _refused("http://169.254.169.254/", guard, allowed=allowed)


def test_a_name_resolving_to_a_private_address_is_refused(guard, resolver):
    resolver.table["hooks.example.com"] = ["10.1.2.3"]
    message = _refused("https://hooks.example.com/in", guard)
    assert "10.1.2.3" in message and "hooks.example.com" in message


def test_a_name_with_one_private_address_among_public_ones_is_refused(guard, resolver):
    resolver.table["mixed.example.com"] = ["93.184.216.34", "127.0.0.1"]
    assert "loopback" in _refused("http://mixed.example.com/", guard)


def test_unresolvable_name_is_refused(guard, resolver):
    _refused("http://nowhere.invalid/", guard, code="unresolvable")


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "javascript:alert(1)"],
)
def test_only_http_and_https(guard, url):
    _refused(url, guard, code="invalid_scheme")


def test_credentials_in_url_are_refused(guard):
    _refused("http://user:pw@example.com/", guard, code="invalid_url")


def test_allow_listed_loopback_receives_the_post(guard, receiver):
    guard.allowed.add("127.0.0.1")
    result = http.post(
        receiver.url, b'{"a":1}', headers={"Content-Type": "application/json"}, allowed=LOOPBACK
    )
    assert isinstance(result, http.Response) and result.status == 200
    assert receiver.requests[0]["body"] == b'{"a":1}'


def test_connects_to_the_checked_address_with_the_names_host_header(guard, resolver, receiver):
    """One resolution (ours); urllib3 is handed the checked IP, never the name."""
    resolver.table["crm-hooks.example.com"] = ["127.0.0.1"]
    guard.allowed.add("127.0.0.1")
    result = http.post(
        f"http://crm-hooks.example.com:{receiver.port}/x?y=1", b"{}", headers={}, allowed=LOOPBACK
    )
    assert result.status == 200
    assert resolver.calls == ["crm-hooks.example.com"]
    assert "crm-hooks.example.com" not in guard.names_resolved
    assert receiver.requests[0]["headers"]["Host"] == f"crm-hooks.example.com:{receiver.port}"
    assert receiver.requests[0]["path"] == "/x?y=1"


def test_redirect_to_a_private_address_is_not_followed(guard, receiver):
    guard.allowed.add("127.0.0.1")  # 10.0.0.1 is not: following it would fail the test
    receiver.status = 302
    receiver.headers = {"Location": "http://10.0.0.1/internal"}
    result = http.post(receiver.url, b"{}", headers={}, allowed=LOOPBACK)
    assert result.status == 302 and result.location == "http://10.0.0.1/internal"
    assert len(receiver.requests) == 1
    assert all(address[0] == "127.0.0.1" for address in guard.attempts)


def test_response_body_is_capped(guard, receiver):
    guard.allowed.add("127.0.0.1")
    receiver.body = b"x" * 500_000
    result = http.post(receiver.url, b"{}", headers={}, allowed=LOOPBACK, max_body=1024)
    assert len(result.body) == 1024 and result.truncated


def test_read_timeout_is_a_failure(guard, receiver):
    guard.allowed.add("127.0.0.1")
    receiver.delay = 1.5
    result = http.post(receiver.url, b"{}", headers={}, allowed=LOOPBACK, read_timeout=0.3)
    assert isinstance(result, http.Failure)
    assert "timed out" in result.error.lower()


def test_connection_refused_is_a_failure(guard):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    guard.allowed.add("127.0.0.1")
    result = http.post(f"http://127.0.0.1:{port}/", b"{}", headers={}, allowed=LOOPBACK)
    assert isinstance(result, http.Failure) and "connect" in result.error


@pytest.fixture
def tls_receiver(tmp_path):
    """An https receiver on 127.0.0.1 whose certificate names hooks.test only; it records
    the SNI name each client sent."""
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=hooks.test",
         "-addext", "subjectAltName=DNS:hooks.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    seen: dict[str, list] = {"sni": [], "host": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen["host"].append(self.headers.get("Host"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield server.server_address[1], str(cert), seen
    server.shutdown()
    server.server_close()


def test_https_to_the_checked_address_sends_the_name_for_sni_and_certificate(
    guard, resolver, tls_receiver
):
    port, ca, seen = tls_receiver
    resolver.table["hooks.test"] = ["127.0.0.1"]
    guard.allowed.add("127.0.0.1")
    result = http.post(
        f"https://hooks.test:{port}/in", b"{}", headers={}, allowed=LOOPBACK, ca_certs=ca
    )
    assert isinstance(result, http.Response) and result.status == 204
    assert seen["sni"] == ["hooks.test"] and seen["host"] == [f"hooks.test:{port}"]
    assert "hooks.test" not in guard.names_resolved


def test_https_certificate_is_checked_against_the_name_not_the_address(
    guard, resolver, tls_receiver
):
    port, ca, seen = tls_receiver
    resolver.table["other.test"] = ["127.0.0.1"]  # same server, a name its cert does not hold
    guard.allowed.add("127.0.0.1")
    result = http.post(
        f"https://other.test:{port}/in", b"{}", headers={}, allowed=LOOPBACK, ca_certs=ca
    )
    assert isinstance(result, http.Failure)
    assert "other.test" in result.error or "hostname" in result.error.lower()
    assert seen["host"] == []
