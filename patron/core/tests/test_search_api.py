"""GET /api/v1/search/."""

from __future__ import annotations

import pytest

from patron.contacts.services import account_create, contact_create
from patron.core.testing import assert_max_queries
from patron.users.services import token_create

pytestmark = pytest.mark.django_db

URL = "/api/v1/search/"


@pytest.fixture
def records(rep):
    acme = account_create(user=rep, name="Acme Corporation", phone="+1 415 555 0100")
    ana = contact_create(user=rep, first_name="Ana", last_name="Lee", email="ana@acme.com")
    return acme, ana


def bearer(user, *scopes: str) -> dict[str, str]:
    _, secret = token_create(user=user, name="test", scopes=list(scopes))
    return {"Authorization": f"Bearer {secret}"}


def test_token_with_search_read_gets_items_best_first(client, rep, records):
    acme, ana = records
    response = client.get(URL, {"q": "acme"}, headers=bearer(rep, "search:read"))
    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {"type": "account", "id": acme.pk, "title": "Acme Corporation", "subtitle": "",
             "url": f"/accounts/{acme.pk}/"},
            {"type": "contact", "id": ana.pk, "title": "Ana Lee", "subtitle": "ana@acme.com",
             "url": f"/contacts/{ana.pk}/"},
        ]
    }


def test_phone_in_any_format_and_limit(client, rep, records):
    client.force_login(rep)
    response = client.get(URL, {"q": "(415) 555-0100", "limit": 1})
    assert [item["title"] for item in response.json()["items"]] == ["Acme Corporation"]


def test_session_user_sees_only_visible_records(client, other_rep, records):
    client.force_login(other_rep)
    response = client.get(URL, {"q": "acme"})
    assert response.status_code == 200
    assert response.json() == {"items": []}


def test_anonymous_request_gets_401_problem(client, records):
    response = client.get(URL, {"q": "acme"})
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/problem+json")


def test_token_without_search_scope_gets_403(client, rep, records):
    response = client.get(URL, {"q": "acme"}, headers=bearer(rep, "contacts:read"))
    assert response.status_code == 403
    assert "search:read" in response.json()["detail"]


@pytest.mark.parametrize("params", [{"q": "acme", "limit": 0}, {"q": "acme", "limit": 101},
                                    {"q": "x" * 201}, {"q": "acme", "limit": "many"}])
def test_bad_parameters_get_422_naming_the_field(client, rep, params):
    client.force_login(rep)
    response = client.get(URL, params)
    assert response.status_code == 422
    assert set(response.json()["errors"]) <= {"q", "limit"}
    assert response.json()["errors"]


def test_query_count_does_not_grow_with_hits(client, rep, records):
    headers = bearer(rep, "search:read")
    client.get(URL, {"q": "acme"}, headers=headers)  # the first use records last_used_at
    with assert_max_queries(12) as few:
        client.get(URL, {"q": "acme"}, headers=headers)
    for n in range(15):
        account_create(user=rep, name=f"Acme Branch {n}")
    with assert_max_queries(12) as many:
        response = client.get(URL, {"q": "acme", "limit": 50}, headers=headers)
    assert len(response.json()["items"]) == 17
    assert len(many.captured_queries) == len(few.captured_queries)
