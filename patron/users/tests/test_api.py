"""/api/v1/users: the current user and their API tokens."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from patron.core.api.testing import assert_problem
from patron.core.testing import assert_max_queries
from patron.users.models import ApiToken, Team
from patron.users.services import token_create

pytestmark = pytest.mark.django_db

JSON = "application/json"


def token_client(user, *scopes: str) -> Client:
    _, secret = token_create(user=user, name="cli", scopes=list(scopes))
    return Client(headers={"Authorization": f"Bearer {secret}"})


def session_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_me_by_session(rep):
    team = Team.objects.create(name="West")
    team.members.add(rep)
    body = session_client(rep).get("/api/v1/users/me").json()
    assert body["email"] == "rep@example.com"
    assert body["role"]["name"] == "Sales Rep"
    assert body["teams"] == [{"id": team.pk, "name": "West"}]
    assert body["authenticated_by"] == "session"
    assert body["token_scopes"] is None


def test_me_by_token_shows_its_scopes(rep):
    body = token_client(rep, "users:read", "contacts:read").get("/api/v1/users/me").json()
    assert body["authenticated_by"] == "token"
    assert body["token_scopes"] == ["contacts:read", "users:read"]


def test_me_needs_the_users_scope(rep):
    assert_problem(token_client(rep, "contacts:write").get("/api/v1/users/me"), 403)


def test_create_token_returns_the_secret_once(rep):
    client = session_client(rep)
    expires = (timezone.now() + datetime.timedelta(days=30)).isoformat()
    response = client.post(
        "/api/v1/users/me/tokens",
        {"name": "CI", "scopes": ["contacts:read"], "expires_at": expires},
        content_type=JSON,
    )
    assert response.status_code == 201
    created = response.json()
    assert created["token"].startswith("ptn_")
    assert created["scopes"] == ["contacts:read"]
    listed = client.get("/api/v1/users/me/tokens").json()["items"]
    assert [t["name"] for t in listed] == ["CI"]
    assert "token" not in listed[0]
    fresh = Client(headers={"Authorization": f"Bearer {created['token']}"})
    assert fresh.get("/api/v1/accounts").status_code == 200


def test_create_token_with_bad_scopes_or_past_expiry_names_the_fields(rep):
    client = session_client(rep)
    response = client.post(
        "/api/v1/users/me/tokens",
        {"name": "x", "scopes": ["root"], "expires_at": "2000-01-01T00:00:00Z"},
        content_type=JSON,
    )
    assert_problem(response, 422, "scopes", "expires_at")
    assert not ApiToken.objects.exists()


def test_a_token_cannot_create_a_token_with_more_access(rep):
    client = token_client(rep, "users:write", "contacts:read")
    refused = client.post(
        "/api/v1/users/me/tokens", {"name": "x", "scopes": ["contacts:write"]}, content_type=JSON
    )
    assert_problem(refused, 422, "scopes")
    allowed = client.post(
        "/api/v1/users/me/tokens", {"name": "x", "scopes": ["contacts:read"]}, content_type=JSON
    )
    assert allowed.status_code == 201


def test_revoke_own_token_and_not_anothers(rep, other_rep):
    mine, _ = token_create(user=rep, name="mine", scopes=["contacts:read"])
    theirs, _ = token_create(user=other_rep, name="theirs", scopes=["contacts:read"])
    client = session_client(rep)
    assert client.delete(f"/api/v1/users/me/tokens/{mine.pk}").status_code == 204
    mine.refresh_from_db()
    assert mine.revoked_at is not None
    assert_problem(client.delete(f"/api/v1/users/me/tokens/{theirs.pk}"), 404)
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    listed = client.get("/api/v1/users/me/tokens").json()["items"]
    assert listed[0]["active"] is False


def test_token_list_pages_with_constant_queries(rep):
    client = session_client(rep)
    client.get("/api/v1/users/me/tokens")
    for index in range(3):
        token_create(user=rep, name=f"t{index}", scopes=["contacts:read"])
    with assert_max_queries(6) as few:
        first = client.get("/api/v1/users/me/tokens?limit=2").json()
    for index in range(10):
        token_create(user=rep, name=f"more{index}", scopes=["contacts:read"])
    with assert_max_queries(6) as many:
        client.get("/api/v1/users/me/tokens?limit=2")
    assert len(few.captured_queries) == len(many.captured_queries)
    second = client.get(f"/api/v1/users/me/tokens?limit=2&cursor={first['next_cursor']}").json()
    assert {t["id"] for t in first["items"]}.isdisjoint({t["id"] for t in second["items"]})
