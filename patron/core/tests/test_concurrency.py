"""Two requests racing for the same record or the same Idempotency-Key (issue 8).

The requests run in two threads, each with its own database connection, released together by
a barrier, against a real database (``transaction=True``): one editor wins and the other gets
the version conflict; one idempotent create writes one record and both answers are the same.
The outcome is asserted, not the interleaving, so the tests hold however the threads are
scheduled. SQLite serialises writers per database, so the races are run on PostgreSQL
(``make test-postgres`` in CI).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client

from patron.contacts.models import Account
from patron.contacts.services import account_create
from patron.contacts.views import account_pages
from patron.core.api.problems import PROBLEM_CONTENT_TYPE
from patron.core.testing import run_together
from patron.users.services import token_create, valid_scopes
from patron.users.tests.factories import UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite runs one writer at a time, so nothing races; runs on PostgreSQL in CI",
    ),
]


def _token_client(user: Any) -> Client:
    _, secret = token_create(user=user, name="race", scopes=sorted(valid_scopes()))
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.fixture
def editors():
    return [
        UserFactory(is_superuser=True, email=f"editor{n}@example.com", full_name=f"Editor {n}")
        for n in (1, 2)
    ]


def test_two_api_editors_with_the_same_etag_one_wins_the_other_gets_412(editors):
    account = account_create(user=editors[0], name="Contested")
    clients = [_token_client(user) for user in editors]
    etag = clients[0].get(f"/api/v1/accounts/{account.pk}")["ETag"]

    def save(client: Client, name: str) -> Any:
        return client.patch(
            f"/api/v1/accounts/{account.pk}",
            {"name": name},
            content_type="application/json",
            headers={"If-Match": etag},
        )

    first, second = run_together(
        lambda: save(clients[0], "Saved by one"), lambda: save(clients[1], "Saved by two")
    )
    assert sorted([first.status_code, second.status_code]) == [200, 412]
    winner, loser = (first, second) if first.status_code == 200 else (second, first)
    assert loser["Content-Type"].startswith(PROBLEM_CONTENT_TYPE)
    assert loser.json()["current_version"] == account.version + 1
    account.refresh_from_db()
    assert account.name == winner.json()["name"]
    assert account.version == 2


def test_two_page_editors_of_one_version_one_saves_the_other_sees_the_conflict(editors):
    account = account_create(user=editors[0], name="Contested page")
    clients = []
    for user in editors:
        client = Client()
        client.force_login(user)
        clients.append(client)
    url = f"/accounts/{account.pk}/edit/"
    # What the edit page sends unchanged: the form's own initial values (with the version).
    unbound = account_pages.ui.form_class(user=editors[0], definitions=[], instance=account)
    form = {
        name: value
        for name in unbound.fields
        if (value := unbound[name].value()) not in (None, "", [])
    }
    assert form["version"] == account.version

    def save(client: Client, name: str) -> Any:
        return client.post(url, {**form, "name": name})

    first, second = run_together(
        lambda: save(clients[0], "Page one"), lambda: save(clients[1], "Page two")
    )
    assert sorted([first.status_code, second.status_code]) == [302, 409]
    loser = first if first.status_code == 409 else second
    assert b"changed by someone else" in loser.content
    assert b"Nothing was saved" in loser.content
    account.refresh_from_db()
    assert account.name in ("Page one", "Page two")
    assert account.version == 2


def test_the_same_idempotency_key_sent_twice_at_once_creates_one_record(editors):
    client = _token_client(editors[0])

    def create() -> Any:
        return client.post(
            "/api/v1/accounts",
            {"name": "Once only"},
            content_type="application/json",
            headers={"Idempotency-Key": "race-key-1"},
        )

    first, second = run_together(create, create)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert first["ETag"] == second["ETag"]
    assert Account.objects.filter(name="Once only").count() == 1
    replayed = {first.get("Idempotent-Replayed"), second.get("Idempotent-Replayed")}
    assert replayed == {None, "true"}
