"""Signed outbound requests: the signature a receiver verifies, timeouts, and the refusal of
targets that would reach internal services (SSRF)."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from patron.automation import outbound_http
from patron.automation.models import WebhookAllowedHost
from patron.automation.tests.webhook_support import local_receiver, verify_signature

SECRET = "whsec_test-secret"

# The package conftest resets the engine index (a database-aware fixture) around every test.
pytestmark = pytest.mark.django_db


@pytest.fixture
def loopback_allowed(db: Any) -> WebhookAllowedHost:
    return WebhookAllowedHost.objects.create(host="127.0.0.1", note="test receiver")


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    real = socket.getaddrinfo

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            return [
                (
                    socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (ip, port),
                )
                for ip in answers[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def test_signature_verifies_with_an_independent_verifier(loopback_allowed):
    body = json.dumps({"id": "e1", "type": "lead.converted"}).encode()
    with local_receiver([200]) as receiver:
        result = outbound_http.signed_request(
            url=receiver.url, body=body, secret=SECRET, extra_headers={"Patron-Event": "x"}
        )
    assert result.status_code == 200
    assert result.body_excerpt == "answer 200"
    assert result.error == ""
    (request,) = receiver.requests
    assert request.body == body
    assert request.path == "/hooks/patron"
    assert request.headers["Patron-Event"] == "x"
    header = request.headers["Patron-Signature"]
    assert verify_signature(header=header, body=request.body, secret=SECRET)
    assert not verify_signature(header=header, body=request.body + b" ", secret=SECRET)
    assert not verify_signature(header=header, body=request.body, secret="wrong")
    stale = time.time() + 301
    assert not verify_signature(header=header, body=request.body, secret=SECRET, now=stale)


def test_sign_uses_timestamp_dot_body():
    header = outbound_http.sign(body=b"{}", secret="s", timestamp=1700000000)
    assert header.startswith("t=1700000000,v1=")
    assert verify_signature(header=header, body=b"{}", secret="s", now=1700000000)


def test_redirects_are_not_followed(loopback_allowed):
    with local_receiver([302]) as receiver:
        result = outbound_http.signed_request(url=receiver.url, body=b"{}", secret=SECRET)
    assert result.status_code == 302
    assert not result.ok
    assert len(receiver.requests) == 1


def test_a_slow_target_is_a_timeout_error_not_an_exception(loopback_allowed):
    with local_receiver([200], delay=1.5) as receiver:
        result = outbound_http.signed_request(
            url=receiver.url, body=b"{}", secret=SECRET, timeout=0.3
        )
    assert result.status_code is None
    assert "Timed out" in result.error
    assert result.duration_ms < 1400


def test_a_closed_port_is_a_connection_error(loopback_allowed):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = outbound_http.signed_request(url=f"http://127.0.0.1:{port}/", body=b"{}", secret="s")
    assert result.status_code is None
    assert result.error.startswith("Connection failed")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1/hook", "loopback address (127.0.0.1)"),
        ("http://10.1.2.3/hook", "private address (10.1.2.3)"),
        ("http://169.254.169.254/latest/meta-data/", "link-local address (169.254.169.254)"),
        ("http://[::1]:8080/hook", "loopback address (::1)"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback address"),
        ("http://0.0.0.0/", "unspecified address"),
        ("http://224.0.0.1/", "multicast address"),
        ("http://localhost:9000/hook", "loopback address"),
        ("ftp://example.com/file", "Only http and https URLs are allowed (the scheme is ftp)"),
        ("file:///etc/passwd", "Only http and https URLs are allowed (the scheme is file)"),
        ("https:///no-host", "The URL has no host."),
        ("http://user:pw@example.com/", "Credentials in the URL are not allowed"),
        ("http://no-such-host.invalid/", "could not be resolved"),
    ],
)
def test_internal_and_non_http_targets_are_refused_with_a_clear_reason(url, words):
    message = outbound_http.validate_target_url(url)
    assert message is not None
    assert words in message


def test_a_hostname_resolving_to_loopback_is_refused(monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34", "127.0.0.1"]})
    message = outbound_http.validate_target_url("https://hooks.example.com/in")
    assert message is not None
    assert "hooks.example.com resolves to a loopback address (127.0.0.1)" in message


def test_a_public_address_is_accepted(monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34"]})
    assert outbound_http.validate_target_url("https://hooks.example.com/in") is None


def test_an_allow_listed_host_may_be_private(monkeypatch):
    fake_dns(monkeypatch, {"crm-hooks.internal": ["10.0.0.7"]})
    assert outbound_http.validate_target_url("http://crm-hooks.internal/x") is not None
    WebhookAllowedHost.objects.create(host="crm-hooks.internal")
    assert outbound_http.validate_target_url("http://crm-hooks.internal/x") is None


def test_send_time_check_refuses_a_host_that_now_resolves_privately(monkeypatch):
    # DNS rebinding: public when saved, loopback when sent; nothing is sent.
    fake_dns(monkeypatch, {"rebind.example.com": ["93.184.216.34"]})
    assert outbound_http.validate_target_url("http://rebind.example.com/") is None
    fake_dns(monkeypatch, {"rebind.example.com": ["127.0.0.1"]})
    result = outbound_http.signed_request(url="http://rebind.example.com/", body=b"{}", secret="s")
    assert result.status_code is None
    assert result.error.startswith("Refused target:")
    assert "loopback" in result.error


def test_the_connection_goes_to_the_checked_address(monkeypatch, loopback_allowed):
    # The name is resolved once; the connection uses that address, not a second lookup.
    WebhookAllowedHost.objects.create(host="pinned.example.com")
    with local_receiver([204]) as receiver:
        fake_dns(monkeypatch, {"pinned.example.com": ["127.0.0.1"]})
        url = f"http://pinned.example.com:{receiver.port}/p"
        result = outbound_http.signed_request(url=url, body=b"{}", secret="s")
    assert result.status_code == 204
    assert receiver.requests[0].headers["Host"] == f"pinned.example.com:{receiver.port}"
