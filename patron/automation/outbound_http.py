"""Signed outbound HTTP for webhooks, guarded against server-side request forgery.

Every request is signed with HMAC-SHA256 over ``"<unix seconds>.<raw body>"`` and carries
``Patron-Signature: t=<unix seconds>,v1=<hex digest>``. Targets must be http(s) and resolve only
to public addresses unless an admin allow-listed the host (WebhookAllowedHost). The check runs
when a target is saved and again when sending, and the connection goes to the very address that
passed the check, so a DNS answer that changes in between (rebinding) cannot redirect a request
to an internal service. Redirects are never followed. Failures come back as ``HttpResult.error``,
never as exceptions.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

SIGNATURE_HEADER = "Patron-Signature"
EXCERPT_LENGTH = 500
USER_AGENT = "Patron-Webhooks/1"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class HttpResult:
    status_code: int | None
    body_excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Target:
    """A URL that passed the checks, with the address the connection must use."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


class TargetRefused(Exception):
    pass


def sign(*, body: bytes, secret: str, timestamp: int) -> str:
    """The ``Patron-Signature`` header value for ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _refusal_reason(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for flag, label in (
        ("is_unspecified", "an unspecified"),
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_private", "a private"),
        ("is_reserved", "a reserved"),
    ):
        if getattr(address, flag):
            return label
    if not address.is_global:
        return "a non-public"
    return None


def host_is_allowed(host: str) -> bool:
    from patron.automation.models import WebhookAllowedHost

    return WebhookAllowedHost.objects.filter(host__iexact=host.strip("[]")).exists()


def resolve_target(url: str) -> Target:
    """Check ``url`` and pick the address to connect to; raise TargetRefused with the reason."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"The URL is not valid ({exc}).") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = scheme or "none"
        raise TargetRefused(f"Only http and https URLs are allowed (the scheme is {shown}).")
    host = (parts.hostname or "").lower()
    if not host:
        raise TargetRefused("The URL has no host.")
    if parts.username or parts.password:
        raise TargetRefused("Credentials in the URL are not allowed; use the signing secret.")
    port = port or (443 if scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise TargetRefused(f"The host {host} could not be resolved.") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise TargetRefused(f"The host {host} could not be resolved.")
    if not host_is_allowed(host):
        for raw in addresses:
            reason = _refusal_reason(ipaddress.ip_address(raw.split("%", 1)[0]))
            if reason:
                raise TargetRefused(
                    f"{host} resolves to {reason} address ({raw}); webhooks may only reach "
                    "public addresses unless an admin allow-lists the host."
                )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])


def validate_target_url(url: str) -> str | None:
    """The reason ``url`` may not be a webhook target, or None when it may."""
    try:
        resolve_target(url)
    except TargetRefused as exc:
        return str(exc)
    return None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        # Certificate and SNI checks use the host name, the connection uses the checked address.
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def _excerpt(data: bytes) -> str:
    return data[:EXCERPT_LENGTH].decode("utf-8", errors="replace")


def signed_request(
    *,
    url: str,
    body: bytes,
    secret: str,
    timeout: float = 10.0,
    extra_headers: dict[str, str] | None = None,
) -> HttpResult:
    """POST ``body`` (JSON) to ``url`` signed with ``secret``; never raises for network trouble."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = resolve_target(url)
    except TargetRefused as exc:
        return HttpResult(None, "", f"Refused target: {exc}", elapsed())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **(extra_headers or {}),
        SIGNATURE_HEADER: sign(body=body, secret=secret, timestamp=int(time.time())),
    }
    connection: http.client.HTTPConnection = (
        _PinnedHTTPSConnection(target, timeout)
        if target.scheme == "https"
        else _PinnedHTTPConnection(target, timeout)
    )
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = _excerpt(response.read(EXCERPT_LENGTH))
        return HttpResult(response.status, excerpt, "", elapsed())
    except TimeoutError:
        return HttpResult(None, "", f"Timed out after {timeout:g} s.", elapsed())
    except ssl.SSLError as exc:
        return HttpResult(None, "", f"TLS error: {exc}", elapsed())
    except (OSError, http.client.HTTPException) as exc:
        return HttpResult(None, "", f"Connection failed: {exc}", elapsed())
    finally:
        connection.close()
