from __future__ import annotations

import time

import pyotp
import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from patron.core.choices import SecurityEventKind
from patron.core.models import SecurityEvent
from patron.core.org import org_settings
from patron.users.middleware import SESSION_AUTHENTICATED_AT, SESSION_LAST_ACTIVITY
from patron.users.tests.factories import PASSWORD, UserFactory, make_role

pytestmark = pytest.mark.django_db

LOGIN = "/login/"


def _login(client, email, password=PASSWORD, **extra):
    return client.post(LOGIN, {"email": email, "password": password}, **extra)


def _kinds():
    return list(SecurityEvent.objects.order_by("id").values_list("kind", flat=True))


def test_login_url_names():
    assert reverse("users:login") == LOGIN
    assert reverse("users:logout") == "/logout/"


def test_login_by_email_any_case_logs_event(client):
    user = UserFactory(email="ana@example.com")
    response = _login(client, "ANA@Example.com")
    assert response.status_code == 302
    assert response["Location"] == reverse(settings.LOGIN_REDIRECT_URL)
    assert int(client.session["_auth_user_id"]) == user.pk
    event = SecurityEvent.objects.get(kind=SecurityEventKind.LOGIN)
    assert event.user == user
    assert event.ip_address == "127.0.0.1"


def test_login_follows_safe_next_only(client):
    UserFactory(email="ana@example.com")
    ok = client.post(
        LOGIN, {"email": "ana@example.com", "password": PASSWORD, "next": "/settings/"}
    )
    assert ok["Location"] == "/settings/"
    client.logout()
    evil = client.post(
        LOGIN, {"email": "ana@example.com", "password": PASSWORD, "next": "https://evil.test/"}
    )
    assert evil["Location"] == reverse(settings.LOGIN_REDIRECT_URL)


def test_wrong_password_is_refused_and_logged(client):
    UserFactory(email="ana@example.com")
    response = _login(client, "ana@example.com", "wrong password")
    assert response.status_code == 400
    assert "not right" in response.content.decode()
    assert "_auth_user_id" not in client.session
    event = SecurityEvent.objects.get(kind=SecurityEventKind.LOGIN_FAILED)
    assert event.email == "ana@example.com"


def test_inactive_user_cannot_log_in(client):
    UserFactory(email="gone@example.com", is_active=False)
    assert _login(client, "gone@example.com").status_code == 400


def test_malformed_email_gets_field_error(client):
    response = client.post(LOGIN, {"email": "not-an-email", "password": "x"})
    assert response.status_code == 400
    assert response.context["form"].errors["email"]


@override_settings(LOGIN_THROTTLE_ATTEMPTS=3, LOGIN_THROTTLE_WINDOW=600)
def test_throttled_per_email_even_with_right_password(client):
    UserFactory(email="ana@example.com")
    for _ in range(3):
        assert _login(client, "ana@example.com", "wrong").status_code == 400
    response = _login(client, "ana@example.com")
    assert response.status_code == 429
    assert "Too many attempts, try again in 10 minutes." in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert _kinds().count(SecurityEventKind.LOGIN_THROTTLED) == 1


@override_settings(LOGIN_THROTTLE_ATTEMPTS=3, LOGIN_THROTTLE_WINDOW=600)
def test_throttled_per_ip_across_emails(client):
    UserFactory(email="ana@example.com")
    for n in range(3):
        _login(client, f"guess{n}@example.com", "wrong", REMOTE_ADDR="10.0.0.9")
    assert _login(client, "ana@example.com", REMOTE_ADDR="10.0.0.9").status_code == 429
    # Another address is not affected.
    assert _login(client, "ana@example.com", REMOTE_ADDR="10.0.0.10").status_code == 302


@override_settings(LOGIN_THROTTLE_ATTEMPTS=2, LOGIN_THROTTLE_WINDOW=120)
def test_throttle_ends_with_its_window(client, monkeypatch):
    UserFactory(email="ana@example.com")
    start = time.time()
    monkeypatch.setattr("patron.users.throttle.time.time", lambda: start)
    _login(client, "ana@example.com", "wrong")
    _login(client, "ana@example.com", "wrong")
    monkeypatch.setattr("patron.users.throttle.time.time", lambda: start + 61)
    response = _login(client, "ana@example.com")
    assert response.status_code == 429
    assert "try again in 1 minute." in response.content.decode()
    # Patching time.time also moves the cache's clock, so the window's keys expire.
    monkeypatch.setattr("patron.users.throttle.time.time", lambda: start + 121)
    assert _login(client, "ana@example.com").status_code == 302


@override_settings(LOGIN_THROTTLE_ATTEMPTS=3)
def test_success_resets_the_email_count(client):
    UserFactory(email="ana@example.com")
    _login(client, "ana@example.com", "wrong")
    _login(client, "ana@example.com", "wrong")
    assert _login(client, "ana@example.com").status_code == 302
    client.post("/logout/")
    _login(client, "ana@example.com", "wrong", REMOTE_ADDR="10.1.1.1")
    _login(client, "ana@example.com", "wrong", REMOTE_ADDR="10.1.1.1")
    assert _login(client, "ana@example.com", REMOTE_ADDR="10.1.1.2").status_code == 302


@override_settings(PATRON_TRUSTED_PROXIES=1)
def test_client_ip_from_trusted_proxy_header(client):
    UserFactory(email="ana@example.com")
    _login(client, "ana@example.com", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
    assert SecurityEvent.objects.get(kind=SecurityEventKind.LOGIN).ip_address == "203.0.113.7"


def test_logout_needs_post_and_is_logged(client):
    user = UserFactory()
    client.force_login(user)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert "_auth_user_id" not in client.session
    assert SecurityEvent.objects.get(kind=SecurityEventKind.LOGOUT).user == user


# --- two-factor at login -----------------------------------------------------------------


@pytest.fixture
def totp_user(db):
    secret = pyotp.random_base32()
    user = UserFactory(email="otp@example.com", totp_secret=secret, totp_enabled=True)
    return user, pyotp.TOTP(secret)


def test_two_factor_user_is_not_logged_in_before_the_code(client, totp_user):
    user, totp = totp_user
    response = _login(client, user.email)
    assert response["Location"] == reverse("users:login_verify")
    assert "_auth_user_id" not in client.session
    assert client.get("/settings/").status_code == 302  # still anonymous
    response = client.post(reverse("users:login_verify"), {"code": totp.now()})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == user.pk
    login_event = SecurityEvent.objects.get(kind=SecurityEventKind.LOGIN)
    assert login_event.detail == {"two_factor": True}


def test_wrong_code_is_refused_and_logged(client, totp_user):
    user, totp = totp_user
    _login(client, user.email)
    wrong = "000000" if totp.now() != "000000" else "111111"
    response = client.post(reverse("users:login_verify"), {"code": wrong})
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.TWO_FACTOR_FAILED).count() == 1


def test_a_code_cannot_be_replayed(client, totp_user):
    user, totp = totp_user
    code = totp.now()
    _login(client, user.email)
    assert client.post(reverse("users:login_verify"), {"code": code}).status_code == 302
    client.post("/logout/")
    _login(client, user.email)
    assert client.post(reverse("users:login_verify"), {"code": code}).status_code == 400


@override_settings(LOGIN_THROTTLE_ATTEMPTS=2)
def test_code_guessing_is_throttled(client, totp_user):
    user, totp = totp_user
    _login(client, user.email)
    wrong = "000000" if totp.now() != "000000" else "111111"
    client.post(reverse("users:login_verify"), {"code": wrong})
    client.post(reverse("users:login_verify"), {"code": wrong})
    response = client.post(reverse("users:login_verify"), {"code": totp.now()})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_verify_page_without_password_step_goes_to_login(client):
    assert client.get(reverse("users:login_verify"))["Location"] == LOGIN


def test_pending_two_factor_expires(client, totp_user, monkeypatch):
    user, totp = totp_user
    _login(client, user.email)
    later = time.time() + 301
    monkeypatch.setattr("patron.users.views.time.time", lambda: later)
    response = client.post(reverse("users:login_verify"), {"code": totp.now()})
    assert response["Location"] == LOGIN
    assert "_auth_user_id" not in client.session


# --- required two-factor -----------------------------------------------------------------


def test_role_requiring_two_factor_sends_user_to_setup(client):
    role = make_role("Finance", require_two_factor=True)
    client.force_login(UserFactory(role=role))
    response = client.get("/settings/")
    assert response.status_code == 302
    assert response["Location"] == reverse("users:two_factor")
    setup = client.get(reverse("users:two_factor"))
    assert setup.status_code == 200
    assert "requires two-factor" in setup.content.decode()


def test_required_two_factor_leaves_exempt_paths_alone(client):
    role = make_role("Finance", require_two_factor=True)
    client.force_login(UserFactory(role=role))
    assert client.get("/healthz").status_code == 200
    assert client.post("/logout/").status_code == 302


def test_htmx_request_gets_client_redirect_to_setup(client):
    role = make_role("Finance", require_two_factor=True)
    client.force_login(UserFactory(role=role))
    response = client.get("/settings/", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == reverse("users:two_factor")


def test_admins_need_two_factor_when_the_organisation_says_so(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/admin-area/").status_code == 200
    row = org_settings()
    row.require_two_factor_for_admins = True
    row.save()
    assert client.get("/admin-area/")["Location"] == reverse("users:two_factor")
    admin_user.totp_secret = pyotp.random_base32()
    admin_user.totp_enabled = True
    admin_user.save()
    assert client.get("/admin-area/").status_code == 200


def test_user_without_requirement_is_not_redirected(client):
    client.force_login(UserFactory())
    assert client.get("/settings/").status_code == 200


# --- session lifetime --------------------------------------------------------------------


def _age_session(client, key, seconds):
    session = client.session
    session[key] = time.time() - seconds
    session.save()


def test_idle_session_is_logged_out_with_a_message(client):
    user = UserFactory()
    client.force_login(user)
    assert client.get("/settings/").status_code == 200
    _age_session(client, SESSION_LAST_ACTIVITY, settings.SESSION_IDLE_TIMEOUT + 5)
    response = client.get("/settings/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN + "?next=")
    assert "_auth_user_id" not in client.session
    page = client.get(LOGIN)
    minutes = settings.SESSION_IDLE_TIMEOUT // 60
    assert f"signed out after {minutes} minutes without activity" in page.content.decode()
    event = SecurityEvent.objects.get(kind=SecurityEventKind.LOGOUT)
    assert event.detail == {"reason": "idle"}


def test_activity_within_the_idle_limit_keeps_the_session(client):
    client.force_login(UserFactory())
    _age_session(client, SESSION_LAST_ACTIVITY, settings.SESSION_IDLE_TIMEOUT - 30)
    assert client.get("/settings/").status_code == 200
    assert time.time() - client.session[SESSION_LAST_ACTIVITY] < 5


def test_session_ends_at_its_absolute_lifetime(client):
    client.force_login(UserFactory())
    client.get("/settings/")
    _age_session(client, SESSION_AUTHENTICATED_AT, settings.SESSION_COOKIE_AGE + 1)
    response = client.get("/settings/")
    assert response.status_code == 302
    assert "maximum length" in client.get(LOGIN).content.decode()


def test_idle_api_session_is_logged_out_without_redirect(client):
    client.force_login(UserFactory())
    client.get("/settings/")
    _age_session(client, SESSION_LAST_ACTIVITY, settings.SESSION_IDLE_TIMEOUT + 5)
    response = client.get("/api/v1/openapi.json")
    assert response.status_code != 302
    assert "_auth_user_id" not in client.session
