"""API authentication: scoped bearer tokens and browser sessions with CSRF."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patron.contacts.models import Account
from patron.core.api.testing import assert_problem
from patron.users.models import ApiToken
from patron.users.selectors import api_token_with_user
from patron.users.services import token_authenticate, token_create, token_revoke

pytestmark = pytest.mark.django_db

JSON = "application/json"


def token_client(user, *scopes: str, **fields) -> tuple[Client, ApiToken]:
    token, secret = token_create(user=user, name="t", scopes=list(scopes))
    if fields:
        ApiToken.objects.filter(pk=token.pk).update(**fields)
    return Client(headers={"Authorization": f"Bearer {secret}"}), token


def test_no_credentials_is_401_with_www_authenticate():
    response = Client().get("/api/v1/accounts")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_token_is_401(rep):
    client = Client(headers={"Authorization": "Bearer ptn_deadbeef_nothing"})
    body = assert_problem(client.get("/api/v1/accounts"), 401)
    assert "not valid" in body["detail"]


def test_malformed_authorization_headers_are_401(rep):
    for header in ("Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "garbage"):
        response = Client(headers={"Authorization": header}).get("/api/v1/accounts")
        assert_problem(response, 401)


def test_expired_token_is_401_saying_so(rep):
    client, _ = token_client(
        rep, "contacts:read", expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    body = assert_problem(client.get("/api/v1/accounts"), 401)
    assert "expired" in body["detail"]


def test_revoked_token_is_401_saying_so(rep):
    client, token = token_client(rep, "contacts:read")
    assert client.get("/api/v1/accounts").status_code == 200
    token_revoke(token=token)
    body = assert_problem(client.get("/api/v1/accounts"), 401)
    assert "revoked" in body["detail"]


def test_token_of_deactivated_user_is_401(rep):
    client, _ = token_client(rep, "contacts:read")
    rep.is_active = False
    rep.save()
    assert_problem(client.get("/api/v1/accounts"), 401)


def test_read_scope_cannot_write(rep):
    client, _ = token_client(rep, "contacts:read")
    body = assert_problem(client.post("/api/v1/accounts", {"name": "A"}, content_type=JSON), 403)
    assert "contacts:write" in body["detail"]
    assert not Account.objects.exists()


def test_scope_of_another_area_is_403(rep):
    client, _ = token_client(rep, "users:read")
    body = assert_problem(client.get("/api/v1/accounts"), 403)
    assert "contacts:read" in body["detail"]


def test_write_scope_implies_read(rep):
    client, _ = token_client(rep, "contacts:write")
    assert client.get("/api/v1/accounts").status_code == 200
    assert client.post("/api/v1/accounts", {"name": "A"}, content_type=JSON).status_code == 201


def test_use_records_last_used_at(rep):
    client, token = token_client(rep, "contacts:read")
    assert token.last_used_at is None
    client.get("/api/v1/accounts")
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_session_user_can_read_and_write_with_csrf(rep):
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.get("/api/v1/accounts").status_code == 200
    refused = client.post("/api/v1/accounts", {"name": "A"}, content_type=JSON)
    body = assert_problem(refused, 403)
    assert "CSRF" in body["detail"]
    assert not Account.objects.exists()

    client.get("/api/v1/docs")  # any page that renders the CSRF cookie
    csrf = client.cookies.get("csrftoken")
    assert csrf is not None
    accepted = client.post(
        "/api/v1/accounts",
        {"name": "A"},
        content_type=JSON,
        headers={"X-CSRFToken": csrf.value},
    )
    assert accepted.status_code == 201


def test_a_token_needs_no_csrf(rep):
    _, secret = token_create(user=rep, name="t", scopes=["contacts:write"])
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {secret}"})
    assert client.post("/api/v1/accounts", {"name": "A"}, content_type=JSON).status_code == 201


def test_another_authorization_scheme_leaves_the_session_in_charge(rep):
    client = Client(headers={"Authorization": "Basic cHJveHk6cGFzcw=="})
    client.force_login(rep)
    assert client.get("/api/v1/accounts").status_code == 200


def test_the_token_look_up_loads_the_token_its_user_and_role_as_the_orm_would(rep):
    token, secret = token_create(user=rep, name="t", scopes=["contacts:read", "users:read"])
    expires = timezone.now() + datetime.timedelta(days=3)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=expires)
    expected = ApiToken.objects.select_related("user", "user__role").get(pk=token.pk)
    with CaptureQueriesContext(connection) as queries:
        found = api_token_with_user(token.prefix)
        assert found is not None
        assert found.user.role == expected.user.role
    assert len(queries) == 1
    for instance, orm in ((found, expected), (found.user, expected.user)):
        assert [getattr(instance, f.attname) for f in type(orm)._meta.concrete_fields] == [
            getattr(orm, f.attname) for f in type(orm)._meta.concrete_fields
        ]
    assert found.scopes == ["contacts:read", "users:read"]
    assert found.expires_at == expires
    assert not found._state.adding
    assert token_authenticate(secret) == found


def test_the_token_look_up_gives_a_user_without_a_role_none_and_an_unknown_prefix_nothing(rep):
    rep.role = None
    rep.save(update_fields=["role"])
    token, _secret = token_create(user=rep, name="t", scopes=["contacts:read"])
    found = api_token_with_user(token.prefix)
    assert found is not None
    assert found.user == rep
    assert found.user.role is None
    assert api_token_with_user("nothing") is None
