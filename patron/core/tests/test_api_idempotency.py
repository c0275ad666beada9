"""Idempotency-Key on POST: a retry returns the first response and writes nothing again."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from patron.contacts.models import Account, Contact
from patron.core.api.idempotency import purge_expired_keys
from patron.core.api.testing import assert_problem
from patron.core.models import IdempotencyRecord
from patron.core.testing import run_together
from patron.users.services import token_create

pytestmark = pytest.mark.django_db

JSON = "application/json"


def client_for(user) -> Client:
    _, secret = token_create(user=user, name="t", scopes=["contacts:write"])
    return Client(headers={"Authorization": f"Bearer {secret}"})


def post(
    client: Client, body: dict[str, Any], key: str | None = "key-1", url: str = "/api/v1/accounts"
):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(url, body, content_type=JSON, headers=headers)


def test_same_key_and_body_replays_first_response_without_a_second_write(rep):
    client = client_for(rep)
    first = post(client, {"name": "Acme"})
    second = post(client, {"name": "Acme"})
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert first["ETag"] == second["ETag"]
    assert first["Location"] == second["Location"]
    assert second["Idempotent-Replayed"] == "true"
    assert Account.objects.count() == 1
    assert IdempotencyRecord.objects.get().status_code == 201


def test_same_key_with_another_body_is_refused(rep):
    client = client_for(rep)
    post(client, {"name": "Acme"})
    body = assert_problem(post(client, {"name": "Globex"}), 422, "Idempotency-Key")
    assert "different request" in body["detail"]
    assert list(Account.objects.values_list("name", flat=True)) == ["Acme"]


def test_same_key_on_another_path_is_refused(rep):
    client = client_for(rep)
    post(client, {"last_name": "Lee"}, url="/api/v1/contacts")
    assert_problem(post(client, {"last_name": "Lee"}), 422, "Idempotency-Key")
    assert Contact.objects.count() == 1


def test_keys_are_per_user(rep, other_rep):
    post(client_for(rep), {"name": "Acme"})
    response = post(client_for(other_rep), {"name": "Acme"})
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Account.objects.count() == 2


def test_without_a_key_each_post_writes(rep):
    client = client_for(rep)
    post(client, {"name": "Acme"}, key=None)
    post(client, {"name": "Acme"}, key=None)
    assert Account.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_validation_failure_is_replayed_too(rep):
    client = client_for(rep)
    first = post(client, {"name": ""})
    assert_problem(first, 422, "name")
    second = post(client, {"name": ""})
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"


def test_server_error_is_not_stored_so_a_retry_runs(rep, monkeypatch):
    client = client_for(rep)

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("patron.core.api.resources.service_fields", explode)
    assert_problem(post(client, {"name": "Acme"}), 500)
    assert not IdempotencyRecord.objects.exists()
    monkeypatch.undo()
    assert post(client, {"name": "Acme"}).status_code == 201


def test_expired_key_starts_afresh(rep):
    client = client_for(rep)
    post(client, {"name": "Acme"})
    IdempotencyRecord.objects.update(created_at=timezone.now() - datetime.timedelta(days=2))
    response = post(client, {"name": "Acme"})
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Account.objects.count() == 2


def test_key_still_in_progress_is_409(rep):
    client = client_for(rep)
    IdempotencyRecord.objects.create(
        key="key-1",
        user=rep,
        method="POST",
        path="/api/v1/accounts",
        body_hash=_fingerprint_of("POST", "/api/v1/accounts", b'{"name": "Acme"}'),
    )
    assert_problem(post(client, {"name": "Acme"}), 409)
    assert not Account.objects.exists()


def _fingerprint_of(method: str, path: str, body: bytes) -> str:
    import hashlib

    return hashlib.sha256(method.encode() + b"\0" + path.encode() + b"\0" + body).hexdigest()


def test_overlong_key_is_400_naming_the_header(rep):
    assert_problem(post(client_for(rep), {"name": "A"}, key="k" * 256), 400, "Idempotency-Key")
    assert not Account.objects.exists()


def test_unauthenticated_request_with_a_key_is_401():
    response = Client().post(
        "/api/v1/accounts", {"name": "A"}, content_type=JSON, headers={"Idempotency-Key": "k"}
    )
    assert_problem(response, 401)
    assert not IdempotencyRecord.objects.exists()


def test_out_of_scope_token_with_a_key_is_403(rep):
    _, secret = token_create(user=rep, name="t", scopes=["contacts:read"])
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    assert_problem(post(client, {"name": "A"}), 403)
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="the in-memory SQLite test database locks whole tables instead of waiting; every "
    "repeat above already goes through the unique-constraint path this race relies on",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_write_once(sales_roles):
    """Two threads race with one key: the unique constraint lets one write, the other replays."""
    from patron.users.tests.factories import UserFactory

    user: Any = UserFactory(role=sales_roles["rep"])
    _, secret = token_create(user=user, name="t", scopes=["contacts:write"])

    def create() -> int:
        client = Client(headers={"Authorization": f"Bearer {secret}"})
        return int(post(client, {"name": "Race"}, key="race").status_code)

    results = run_together(create, create)
    assert sorted(results) in ([201, 201], [201, 409])
    assert Account.objects.filter(name="Race").count() == 1


def test_purge_deletes_only_expired_keys(rep):
    client = client_for(rep)
    post(client, {"name": "Old"}, key="old")
    post(client, {"name": "New"}, key="new")
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - datetime.timedelta(days=2)
    )
    assert purge_expired_keys() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
