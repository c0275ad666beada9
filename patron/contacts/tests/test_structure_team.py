"""The account team: who may change it, what membership lets a user see and edit, the card on
the account page and the /accounts/{id}/team API."""

from __future__ import annotations

import pytest
from django.test import Client

from patron.contacts.models import Account, AccountTeamMember, Contact
from patron.contacts.services import (
    account_create,
    account_team_add,
    account_team_remove,
    account_team_update,
    contact_create,
)
from patron.contacts.tests.test_api import JSON, bearer
from patron.core.api.testing import assert_problem
from patron.core.choices import SecurityEventKind
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import ChangeLogEntry, SecurityEvent
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix
from patron.core.visibility import explain_access
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MARKER = "Qwertzu"


@pytest.fixture
def account(rep):
    return account_create(user=rep, name=f"{MARKER} Industries")


@pytest.fixture
def contact(rep, account):
    return contact_create(user=rep, first_name=MARKER, last_name="Teamlead", account=account)


@pytest.fixture
def outsider(sales_roles):
    return UserFactory(role=sales_roles["rep"], email="out@example.com", full_name="Ola Outsider")


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _api(user, *scopes):
    client = Client()
    client.defaults.update({"HTTP_AUTHORIZATION": bearer(user, *scopes)["Authorization"]})
    return client


def test_a_read_member_sees_the_account_and_its_contacts_but_may_not_edit(
    rep, other_rep, account, contact
):
    assert list(Account.objects.visible_to(other_rep)) == []
    account_team_add(user=rep, account=account, member_user=other_rep, team_role="support")
    assert list(Account.objects.visible_to(other_rep)) == [account]
    assert list(Contact.objects.visible_to(other_rep)) == [contact]
    assert list(Account.objects.visible_to(other_rep, "update")) == []
    assert list(Contact.objects.visible_to(other_rep, "update")) == []


def test_an_edit_member_may_edit_the_account_and_its_contacts(rep, other_rep, account, contact):
    account_team_add(
        user=rep, account=account, member_user=other_rep, team_role="sales_engineer", access="edit"
    )
    assert list(Account.objects.visible_to(other_rep, "update")) == [account]
    assert list(Contact.objects.visible_to(other_rep, "update")) == [contact]
    response = _client(other_rep).post(
        f"/accounts/{account.pk}/edit/",
        {"kind": "company", "name": "Renamed by the team", "owner": rep.pk, "version": 1},
    )
    assert response.status_code == 302, response.content
    assert Account.objects.get(pk=account.pk).name == "Renamed by the team"


def test_membership_is_explained(rep, other_rep, account, contact):
    account_team_add(user=rep, account=account, member_user=other_rep, team_role="support")
    assert "You are on the account team as Support (read)." in explain_access(other_rep, account)
    reasons = explain_access(other_rep, contact)
    assert f"You are on the account team of {account} as Support (read)." in reasons


def test_only_editors_of_the_account_change_its_team(rep, other_rep, outsider, account):
    member = account_team_add(user=rep, account=account, member_user=other_rep, team_role="other")
    with pytest.raises(PermissionDenied):
        account_team_add(user=other_rep, account=account, member_user=outsider, team_role="other")
    with pytest.raises(PermissionDenied):
        account_team_update(user=other_rep, member=member, access="edit")
    with pytest.raises(PermissionDenied):
        account_team_remove(user=other_rep, member=member)
    assert AccountTeamMember.objects.get(pk=member.pk).access == "read"


def test_bad_membership_input_names_the_field(rep, other_rep, account):
    with pytest.raises(ValidationFailed) as error:
        account_team_add(
            user=rep, account=account, member_user=other_rep, team_role="boss", access="all"
        )
    assert set(error.value.errors) == {"team_role", "access"}
    account_team_add(user=rep, account=account, member_user=other_rep, team_role="support")
    with pytest.raises(ValidationFailed) as again:
        account_team_add(user=rep, account=account, member_user=other_rep, team_role="support")
    assert "already on this account's team" in again.value.errors["user"][0]


def test_team_changes_are_security_events_and_in_the_change_log(rep, other_rep, account):
    member = account_team_add(user=rep, account=account, member_user=other_rep, team_role="other")
    account_team_update(user=rep, member=member, access="edit")
    account_team_remove(user=rep, member=member)
    changes = [
        e.detail["change"]
        for e in SecurityEvent.objects.filter(kind=SecurityEventKind.PERMISSION_CHANGE)
        if e.detail["change"].startswith("account_team")
    ]
    assert sorted(changes) == ["account_team_added", "account_team_changed", "account_team_removed"]
    logged = ChangeLogEntry.objects.filter(object_id=account.pk, changes__has_key="account team")
    assert logged.count() == 3
    assert list(Account.objects.visible_to(other_rep)) == []


def test_visibility_matrix_for_a_member_and_a_non_member(rep, other_rep, outsider, account):
    account_team_add(user=rep, account=account, member_user=other_rep, team_role="support")
    endpoints = [
        Endpoint("account list page", "/accounts/", "list"),
        Endpoint("account detail page", f"/accounts/{account.pk}/", "detail"),
        Endpoint("API account list", "/api/v1/accounts", "list"),
        Endpoint("API account", f"/api/v1/accounts/{account.pk}", "detail"),
        Endpoint("API account team", f"/api/v1/accounts/{account.pk}/team", "detail"),
    ]
    check_visibility_matrix(endpoints, marker=MARKER, allowed=other_rep, denied=outsider)


def test_account_page_team_card_has_bounded_queries(rep, account):
    for _ in range(3):
        account_team_add(user=rep, account=account, member_user=UserFactory(), team_role="support")
    client = _client(rep)
    client.get(f"/accounts/{account.pk}/")
    with assert_max_queries(34) as few:
        client.get(f"/accounts/{account.pk}/")
    for _ in range(5):
        account_team_add(user=rep, account=account, member_user=UserFactory(), team_role="other")
    with assert_max_queries(len(few.captured_queries)):
        response = client.get(f"/accounts/{account.pk}/")
    html = response.content.decode()
    assert 'id="team-title"' in html
    assert len(response.context["team_members"]) == 8
    assert "Add to team" in html


def test_team_card_forms_add_change_and_remove(rep, other_rep, account):
    client = _client(rep)
    added = client.post(
        f"/accounts/{account.pk}/team/add/",
        {"user": other_rep.pk, "team_role": "account_manager", "access": "read"},
    )
    assert added.status_code == 302
    member = AccountTeamMember.objects.get(account=account, user=other_rep)
    client.post(
        f"/accounts/{account.pk}/team/{member.pk}/edit/",
        {"team_role": "executive_sponsor", "access": "edit"},
    )
    member.refresh_from_db()
    assert (member.team_role, member.access) == ("executive_sponsor", "edit")
    bad = client.post(
        f"/accounts/{account.pk}/team/add/", {"user": "", "team_role": "support"}, follow=True
    )
    assert "Choose an active user." in bad.content.decode()
    client.post(f"/accounts/{account.pk}/team/{member.pk}/remove/")
    assert not AccountTeamMember.objects.filter(pk=member.pk).exists()


def test_a_read_member_gets_403_from_the_team_forms(rep, other_rep, outsider, account):
    account_team_add(user=rep, account=account, member_user=other_rep, team_role="support")
    response = _client(other_rep).post(
        f"/accounts/{account.pk}/team/add/", {"user": outsider.pk, "team_role": "support"}
    )
    assert response.status_code == 403
    stranger = _client(outsider).post(
        f"/accounts/{account.pk}/team/add/", {"user": outsider.pk, "team_role": "support"}
    )
    assert stranger.status_code == 404


def test_team_api_add_list_change_remove(rep, other_rep, account):
    api = _api(rep)
    url = f"/api/v1/accounts/{account.pk}/team"
    created = api.post(url, {"user": other_rep.pk, "team_role": "support"}, JSON)
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["user_name"], body["access"], body["added_by"]) == ("Otto Other", "read", rep.pk)
    with assert_max_queries(10):
        listed = api.get(url).json()
    assert [m["id"] for m in listed] == [body["id"]]
    changed = api.patch(f"{url}/{body['id']}", {"access": "edit"}, JSON)
    assert changed.status_code == 200
    assert changed.json()["team_role"] == "support"
    assert changed.json()["access"] == "edit"
    assert api.delete(f"{url}/{body['id']}").status_code == 204
    assert_problem(api.delete(f"{url}/{body['id']}"), 404)


def test_team_api_errors_are_problems(rep, other_rep, account):
    url = f"/api/v1/accounts/{account.pk}/team"
    api = _api(rep)
    missing = assert_problem(api.post(url, {"user": 99999, "team_role": "support"}, JSON), 422)
    assert "user" in missing["errors"]
    assert_problem(api.post(url, {"user": other_rep.pk, "team_role": "boss"}, JSON), 422)
    assert_problem(api.post(url, {"user": other_rep.pk, "team_role": "x", "y": 1}, JSON), 422)
    api.post(url, {"user": other_rep.pk, "team_role": "support"}, JSON)
    refused = _api(other_rep).post(url, {"user": rep.pk, "team_role": "support"}, JSON)
    assert_problem(refused, 403)
