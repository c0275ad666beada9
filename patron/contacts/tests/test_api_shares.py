from __future__ import annotations

import pytest
from django.test import Client

from patron.contacts.models import Account
from patron.contacts.services import account_create
from patron.contacts.tests.test_api import JSON, bearer
from patron.core.api.testing import assert_problem
from patron.users.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def _client(user, *scopes):
    client = Client()
    client.defaults.update({"HTTP_AUTHORIZATION": bearer(user, *scopes)["Authorization"]})
    return client


@pytest.fixture
def account(rep):
    return account_create(user=rep, name="Shared Co")


def test_owner_shares_lists_and_unshares_an_account(rep, other_rep, account):
    api = _client(rep)
    url = f"/api/v1/accounts/{account.pk}/shares"
    created = api.post(
        url, {"grantee_type": "user", "grantee_id": other_rep.pk, "access": "edit"}, JSON
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["grantee_name"] == "Otto Other"
    assert body["access"] == "edit"
    assert list(Account.objects.visible_to(other_rep, "update")) == [account]
    assert [s["id"] for s in api.get(url).json()] == [body["id"]]
    assert api.delete(f"{url}/{body['id']}").status_code == 204
    assert list(Account.objects.visible_to(other_rep)) == []


def test_sharing_with_a_team_and_a_missing_grantee(rep, account):
    api = _client(rep)
    url = f"/api/v1/accounts/{account.pk}/shares"
    team = TeamFactory()
    assert api.post(url, {"grantee_type": "team", "grantee_id": team.pk}, JSON).status_code == 201
    body = assert_problem(api.post(url, {"grantee_type": "role", "grantee_id": 999}, JSON), 422)
    assert "grantee_id" in body["errors"]
    assert_problem(api.post(url, {"grantee_type": "planet", "grantee_id": 1}, JSON), 422)


def test_a_grantee_with_read_access_may_not_reshare_and_a_stranger_gets_404(
    rep, other_rep, manager, account
):
    _client(rep).post(
        f"/api/v1/accounts/{account.pk}/shares",
        {"grantee_type": "user", "grantee_id": other_rep.pk},
        JSON,
    )
    reshare = _client(other_rep).post(
        f"/api/v1/accounts/{account.pk}/shares",
        {"grantee_type": "user", "grantee_id": manager.pk},
        JSON,
    )
    assert_problem(reshare, 403)
    stranger = account_create(user=manager, name="Manager's own")
    assert_problem(_client(rep).get(f"/api/v1/accounts/{stranger.pk}/shares"), 404)


def test_sharing_needs_the_write_scope(rep, other_rep, account):
    read_only = _client(rep, "contacts:read")
    response = read_only.post(
        f"/api/v1/accounts/{account.pk}/shares",
        {"grantee_type": "user", "grantee_id": other_rep.pk},
        JSON,
    )
    assert_problem(response, 403)
