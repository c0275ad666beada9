"""Security headers and cookie flags (issue 8): what every response sends, and what
production with HTTPS adds (HSTS, Secure cookies), read from the real settings module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from patron.core.security_headers import CONTENT_SECURITY_POLICY
from patron.users.tests.factories import UserFactory

PASSWORD = "correct horse battery"


def _directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.parametrize(
    "path",
    ["/login/", "/no-such-page/", "/api/v1/accounts", "/static/core/patron.css"],
    ids=["page", "not-found", "api", "static"],
)
@pytest.mark.django_db
def test_every_response_carries_the_browser_security_headers(path):
    response = Client().get(path)
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    permissions = response["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()"):
        assert feature in permissions
    if path != "/static/core/patron.css":
        assert response["X-Frame-Options"] == "DENY"


def test_the_policy_runs_only_patrons_own_scripts_and_cannot_be_framed():
    policy = _directives(CONTENT_SECURITY_POLICY)
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert "'unsafe-eval'" not in CONTENT_SECURITY_POLICY.replace("style-src", "")


@pytest.mark.django_db
def test_the_session_cookie_is_http_only_and_same_site_lax():
    user = UserFactory()
    client = Client()
    response = client.post("/login/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    # The embedded default is plain HTTP on localhost: a Secure cookie would never come back.
    # (A DATABASE_URL makes the suite run in production mode: the subprocess tests below
    # check that mode's Secure cookies.)
    assert session["secure"] if settings.PRODUCTION else not session["secure"]


@pytest.mark.django_db
def test_hsts_is_sent_only_by_a_production_setup_on_https():
    response = Client().get("/login/", secure=True)
    # The embedded default never sends it; the suite in production mode (a DATABASE_URL, HTTPS
    # on by default) does. The subprocess tests below check both production variants.
    on_https = settings.PRODUCTION and settings.SESSION_COOKIE_SECURE
    assert ("Strict-Transport-Security" in response) == on_https


# Run in a separate interpreter: the production branch of config/settings is decided when
# the settings module is imported, from the environment.
_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client, override_settings
# The manifest needs collectstatic; only the headers and cookies are under test here.
plain = {**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
override_settings(STORAGES=plain).enable()
response = Client().get("/login/", secure=True, headers={"host": "crm.example.com"})
csrf = response.cookies["csrftoken"]
print(json.dumps({
    "status": response.status_code,
    "hsts": response.headers.get("Strict-Transport-Security"),
    "csp": response.headers.get("Content-Security-Policy"),
    "csrf_cookie_secure": bool(csrf["secure"]),
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "session_cookie_httponly": settings.SESSION_COOKIE_HTTPONLY,
    "session_cookie_samesite": settings.SESSION_COOKIE_SAMESITE,
}))
"""
CONFIG_VARIABLES = (
    "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG",
    "EMAIL_URL", "PATRON_DATA_DIR", "HTTPS", "CSRF_TRUSTED_ORIGINS", "HSTS_SECONDS",
)  # fmt: skip


def _production_probe(tmp_path: Path, **overrides: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        PATRON_DATA_DIR=str(tmp_path / "data"),
        # Never connected to: the login page needs no database query.
        DATABASE_URL="postgres://patron@127.0.0.1:5432/patron",
        SECRET_KEY="k3y-" + "p5Rt8wQ2zN6vB9xL1cM4hJ7gF0dS3aK8eY2uI5oT" + "r7Wq4Zx1Vb",
        ALLOWED_HOSTS="crm.example.com",
        CACHE_URL="locmem://",
        **overrides,
    )
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    probe: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["status"] == 200
    return probe


def test_production_with_https_sends_hsts_and_secure_cookies(tmp_path):
    probe = _production_probe(tmp_path)
    assert probe["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert probe["csp"] == CONTENT_SECURITY_POLICY
    assert probe["csrf_cookie_secure"] is True
    assert probe["session_cookie_secure"] is True
    assert probe["session_cookie_httponly"] is True
    assert probe["session_cookie_samesite"] == "Lax"


def test_production_without_https_sends_no_hsts_and_plain_cookies(tmp_path):
    probe = _production_probe(tmp_path, HTTPS="false")
    assert probe["hsts"] is None
    assert probe["csrf_cookie_secure"] is False
    assert probe["session_cookie_secure"] is False
