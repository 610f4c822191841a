"""The one outbound HTTP client of Rapport (webhooks, the automation engine's "call a webhook").

SSRF-safe by construction:
- only http and https URLs, no credentials in the URL;
- the host is resolved here, once, and EVERY address it resolves to is checked
  (`address_refusal`): loopback, private, link-local, multicast, reserved, unspecified, CGNAT
  (100.64/10), IPv6 ULA and link-local, IPv4-mapped/-translated IPv6 and cloud metadata
  addresses are refused unless an administrator allow-listed a network holding them
  (metadata addresses are refused even then);
- the connection goes to the CHECKED address (urllib3 pool on the IP literal, so no second
  DNS lookup and no DNS-rebinding window) while the request carries the real Host header and,
  for https, the real name for SNI and certificate verification (`server_hostname`);
- redirects are never followed (a 3xx is a failed delivery naming its Location);
- connect and read timeouts plus an overall deadline while reading; at most
  `max_body` bytes of the response are read.

urllib3 rather than httpx: urllib3's pools take `server_hostname` / `assert_hostname`, which
is exactly "connect to this IP, speak TLS to that name"; with httpx the same needs a custom
transport around httpcore's network backend. urllib3 is already installed (requests).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata services: never reachable, allow-list or not.
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, DigitalOcean
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedURL(Exception):
    """The URL may not be called; the message says why. Raised before any connection."""

    def __init__(self, message: str, code: str = "refused_address"):
        super().__init__(message)
        self.code = code


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes  # at most max_body bytes
    truncated: bool
    elapsed_ms: int
    address: str  # the address connected to

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


@dataclass
class Failure:
    """The request could not be completed (connect error, timeout, TLS error)."""

    error: str
    elapsed_ms: int
    address: str = ""
    status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


# Tests replace this (monkeypatch) with a stub; nothing else resolves names for the client.
resolve: Callable[[str, int], list[str]] = system_resolve


def configured_networks() -> list[Network]:
    """Networks allow-listed in settings (RAPPORT_WEBHOOK_ALLOWED_NETWORKS) and by admins."""
    from rapport.webhooks.models import AllowedNetwork

    nets = [
        ipaddress.ip_network(n, strict=False)
        for n in getattr(settings, "RAPPORT_WEBHOOK_ALLOWED_NETWORKS", [])
    ]
    nets += [
        ipaddress.ip_network(n, strict=False)
        for n in AllowedNetwork.objects.values_list("network", flat=True)
    ]
    return nets


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def address_refusal(ip: IPAddress, allowed: Iterable[Network] = ()) -> str | None:
    """Why this address may not be connected to, or None when it may."""
    if ip in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            # An IPv4 address in IPv6 clothing: the allow-list and the checks speak IPv4.
            return f"{ip} is an IPv4-mapped IPv6 address"
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = address_refusal(inner, ())
            if reason:
                return f"{ip} embeds {inner}: {reason}"
    if any(ip.version == net.version and ip in net for net in allowed):
        return None
    checks = [
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_reserved, "a reserved address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "a shared (CGNAT) address"),
        (ip.is_private, "a private address"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "a site-local address"),
        (not ip.is_global, "not a public address"),
    ]
    for hit, what in checks:
        if hit:
            return f"{ip} is {what}"
    return None


@dataclass
class Target:
    scheme: str
    host: str  # as written in the URL (IDNA-encoded), for Host and SNI
    port: int
    path: str  # path + query
    addresses: list[str]  # checked, in resolver order


def check_url(url: str, *, allowed: Iterable[Network] | None = None) -> Target:
    """Parse, resolve and check a URL; raise RefusedURL naming the reason. Opens nothing."""
    if not isinstance(url, str) or len(url) > 2000:
        raise RefusedURL("The URL is missing or longer than 2,000 characters", "invalid_url")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise RefusedURL(f"Not a valid URL: {exc}", "invalid_url")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise RefusedURL("Only http and https URLs can be called", "invalid_scheme")
    if parts.username is not None or parts.password is not None:
        raise RefusedURL("Credentials in the URL are not supported", "invalid_url")
    host = parts.hostname
    if not host:
        raise RefusedURL("The URL has no host", "invalid_url")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise RefusedURL("The host name is not valid", "invalid_url")
    port = port or (443 if scheme == "https" else 80)
    allowed = list(configured_networks() if allowed is None else allowed)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise RefusedURL(f"{host} does not resolve: {exc}", "unresolvable")
        if not addresses:
            raise RefusedURL(f"{host} does not resolve", "unresolvable")
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            raise RefusedURL(f"{host} resolved to something that is not an address")
        reason = address_refusal(ip, allowed)
        if reason:
            where = "" if literal is not None else f" ({host} resolves to it)"
            raise RefusedURL(
                f"Refused: {reason}{where}. An administrator can allow-list its network in "
                "Settings → Webhooks."
            )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=addresses)


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def _pool(target: Target, address: str, timeout: urllib3.Timeout, ca_certs: str | None):
    common = {"port": target.port, "timeout": timeout, "retries": False, "maxsize": 1}
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs,  # None: the system's trust store
            server_hostname=target.host,  # SNI
            assert_hostname=target.host,  # the certificate must name the host, not the IP
            **common,
        )
    return urllib3.HTTPConnectionPool(address, **common)


def post(
    url: str,
    body: bytes,
    *,
    headers: dict[str, str],
    allowed: Iterable[Network] | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    max_body: int | None = None,
    ca_certs: str | None = None,
) -> Response | Failure:
    """POST `body` to `url` through the checks above. RefusedURL (before any connection) for
    a URL that may not be called; a Failure for network errors; else the Response (any
    status, a 3xx included: redirects are reported, not followed)."""
    target = check_url(url, allowed=allowed)
    connect_timeout = connect_timeout or settings.RAPPORT_WEBHOOK_CONNECT_TIMEOUT
    read_timeout = read_timeout or settings.RAPPORT_WEBHOOK_READ_TIMEOUT
    max_body = max_body or settings.RAPPORT_WEBHOOK_MAX_RESPONSE_BYTES
    timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
    deadline_s = connect_timeout + read_timeout * 2
    headers = {**headers, "Host": _host_header(target)}
    started = time.monotonic()
    last_error = ""
    address = ""
    for address in target.addresses:  # every one was checked; try them in order
        pool = _pool(target, address, timeout, ca_certs)
        try:
            raw = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
        except urllib3.exceptions.NewConnectionError as exc:
            last_error = f"could not connect to {address}: {_reason(exc)}"
            pool.close()
            continue
        except urllib3.exceptions.HTTPError as exc:
            pool.close()
            return Failure(error=_reason(exc), elapsed_ms=_ms(started), address=address)
        try:
            chunks, size, truncated = [], 0, False
            while True:
                if time.monotonic() - started > deadline_s:
                    raise TimeoutError("the response took too long")
                chunk = raw.read(8192)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size >= max_body:
                    truncated = size > max_body
                    break
            data = b"".join(chunks)[:max_body]
            if truncated or len(data) == max_body:
                truncated = truncated or bool(raw.read(1))
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return Failure(
                error=f"reading the response: {_reason(exc)}",
                elapsed_ms=_ms(started),
                address=address,
                status=raw.status,
            )
        finally:
            raw.release_conn()
            raw.close()
            pool.close()
        return Response(
            status=raw.status,
            headers={k.lower(): v for k, v in raw.headers.items()},
            body=data,
            truncated=truncated,
            elapsed_ms=_ms(started),
            address=address,
        )
    return Failure(error=last_error or "no address to connect to", elapsed_ms=_ms(started))


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None) or exc
    text = str(inner)
    return text.split(": ", 1)[-1] if "Connection" in text else text


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
