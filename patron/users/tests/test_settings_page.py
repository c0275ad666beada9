from __future__ import annotations

import datetime

import pyotp
import pytest
from django.urls import reverse
from django.utils import timezone

from patron.core.choices import SecurityEventKind
from patron.core.models import SecurityEvent
from patron.core.testing import assert_max_queries
from patron.users.models import ApiToken
from patron.users.services import token_authenticate, token_create
from patron.users.tests.factories import PASSWORD, UserFactory, make_role
from patron.users.views import SETUP_SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(db):
    return UserFactory(email="ana@example.com", full_name="Ana")


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def test_settings_needs_login(client):
    response = client.get("/settings/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/settings/")


def test_settings_page_lists_tokens_without_n_plus_one(signed_in, user):
    for n in range(5):
        token_create(user=user, name=f"t{n}", scopes=["contacts:read"])
    signed_in.get("/settings/")  # warm the session stamp
    with assert_max_queries(8):
        response = signed_in.get("/settings/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "t4" in body
    assert "contacts:read" in body


def test_profile_update(signed_in, user):
    response = signed_in.post(
        reverse("users:profile_update"), {"full_name": "Ana Lima", "time_zone": "Europe/Lisbon"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.full_name, user.time_zone) == ("Ana Lima", "Europe/Lisbon")


def test_profile_rejects_unknown_time_zone(signed_in, user):
    response = signed_in.post(
        reverse("users:profile_update"), {"full_name": "Ana", "time_zone": "Mars/Base"}
    )
    assert response.status_code == 400
    assert response.context["profile_form"].errors["time_zone"]
    user.refresh_from_db()
    assert user.time_zone == "UTC"


def test_password_change_keeps_the_session(signed_in, user):
    new = "a much longer passphrase 42"
    response = signed_in.post(
        reverse("users:password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
    assert signed_in.get("/settings/").status_code == 200


def test_password_change_wrong_old_password(signed_in, user):
    response = signed_in.post(
        reverse("users:password_change"),
        {"old_password": "nope", "new_password1": "x" * 12, "new_password2": "x" * 12},
    )
    assert response.status_code == 400
    assert response.context["password_form"].errors["old_password"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_token_create_shows_secret_once(signed_in, user):
    expires = (timezone.localdate() + datetime.timedelta(days=30)).isoformat()
    response = signed_in.post(
        reverse("users:token_create"),
        {"name": "CI", "scopes": ["contacts:read", "contacts:write"], "expires_on": expires},
    )
    assert response.status_code == 200
    secret = response.context["new_token_secret"]
    assert secret in response.content.decode()
    token = ApiToken.objects.get(user=user)
    assert token_authenticate(secret) == token
    assert token.scopes == ["contacts:read", "contacts:write"]
    assert token.expires_at is not None
    assert secret not in signed_in.get("/settings/").content.decode()
    event = SecurityEvent.objects.get(kind=SecurityEventKind.TOKEN_CREATED)
    assert event.user == user
    assert secret not in str(event.detail)


def test_token_create_errors_name_the_fields(signed_in, user):
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    response = signed_in.post(
        reverse("users:token_create"), {"name": "old", "scopes": [], "expires_on": yesterday}
    )
    assert response.status_code == 400
    assert response.context["token_form"].errors["scopes"]
    response = signed_in.post(
        reverse("users:token_create"),
        {"name": "old", "scopes": ["contacts:read"], "expires_on": yesterday},
    )
    assert response.context["token_form"].errors["expires_on"]
    response = signed_in.post(
        reverse("users:token_create"), {"name": "x", "scopes": ["everything:root"]}
    )
    assert response.context["token_form"].errors["scopes"]
    assert not ApiToken.objects.exists()


def test_token_revoke(signed_in, user):
    token, _secret = token_create(user=user, name="CI", scopes=["contacts:read"])
    response = signed_in.post(reverse("users:token_revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert not token.is_active
    assert SecurityEvent.objects.get(kind=SecurityEventKind.TOKEN_REVOKED).user == user
    assert "Revoked" in signed_in.get("/settings/").content.decode()


def test_cannot_revoke_someone_elses_token(signed_in):
    token, _secret = token_create(user=UserFactory(), name="theirs", scopes=["contacts:read"])
    response = signed_in.post(reverse("users:token_revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


# --- two-factor setup --------------------------------------------------------------------


def test_two_factor_setup_shows_qr_svg_and_secret(signed_in):
    response = signed_in.get(reverse("users:two_factor"))
    assert response.status_code == 200
    body = response.content.decode()
    secret = signed_in.session[SETUP_SECRET]
    assert secret in body
    svg = response.context["qr_svg"]
    assert svg.startswith("<svg")
    assert svg in body
    assert "src=" not in svg  # drawn inline, nothing fetched


def test_two_factor_enable_and_disable(signed_in, user):
    signed_in.get(reverse("users:two_factor"))
    totp = pyotp.TOTP(signed_in.session[SETUP_SECRET])
    response = signed_in.post(reverse("users:two_factor"), {"code": totp.now()})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.totp_enabled
    assert SETUP_SECRET not in signed_in.session
    later_code = totp.at(timezone.now() + datetime.timedelta(seconds=30))
    response = signed_in.post(reverse("users:two_factor_disable"), {"code": later_code})
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.totp_enabled
    assert user.totp_secret == ""
    kinds = set(SecurityEvent.objects.values_list("kind", flat=True))
    assert {SecurityEventKind.TWO_FACTOR_ENABLED, SecurityEventKind.TWO_FACTOR_DISABLED} <= kinds


def test_two_factor_enable_with_wrong_code(signed_in, user):
    signed_in.get(reverse("users:two_factor"))
    totp = pyotp.TOTP(signed_in.session[SETUP_SECRET])
    wrong = "000000" if totp.now() != "000000" else "111111"
    response = signed_in.post(reverse("users:two_factor"), {"code": wrong})
    assert response.status_code == 400
    assert response.context["form"].errors["code"]
    user.refresh_from_db()
    assert not user.totp_enabled
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.TWO_FACTOR_FAILED).exists()


def test_required_two_factor_cannot_be_disabled(client):
    secret = pyotp.random_base32()
    role = make_role("Finance", require_two_factor=True)
    user = UserFactory(role=role, totp_secret=secret, totp_enabled=True)
    client.force_login(user)
    response = client.post(reverse("users:two_factor_disable"), {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 400
    user.refresh_from_db()
    assert user.totp_enabled


def test_setup_then_login_needs_code(client, user):
    client.force_login(user)
    client.get(reverse("users:two_factor"))
    totp = pyotp.TOTP(client.session[SETUP_SECRET])
    client.post(reverse("users:two_factor"), {"code": totp.now()})
    client.post("/logout/")
    response = client.post("/login/", {"email": user.email, "password": PASSWORD})
    assert response["Location"] == reverse("users:login_verify")
    next_code = totp.at(timezone.now() + datetime.timedelta(seconds=30))
    assert client.post(reverse("users:login_verify"), {"code": next_code}).status_code == 302
    assert client.get("/settings/").status_code == 200
