"""The access profile loads in one query, afresh for every request: a change to a role's
permissions, a team, an org-wide default or field security applies from the next request."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from patron.contacts.models import Contact
from patron.contacts.services import contact_create
from patron.core.choices import CustomFieldType, FieldAccess, OrgWideAccess
from patron.core.models import CustomFieldDefinition, FieldPermission
from patron.core.testing import assert_max_queries
from patron.users.models import User
from patron.users.services import (
    field_permissions_set,
    org_default_set,
    role_permissions_set,
    team_save,
    token_create,
)
from patron.users.tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

CONTACTS = "/api/v1/contacts"


def token_client(user: User) -> Client:
    _, secret = token_create(user=user, name="test", scopes=["contacts:read"])
    return Client(headers={"Authorization": f"Bearer {secret}"})


def session_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


CLIENTS = {"token": token_client, "session": session_client}


def listed_names(client: Client) -> set[str]:
    response = client.get(CONTACTS)
    assert response.status_code == 200, response.content
    return {item["last_name"] for item in response.json()["items"]}


def test_profile_of_a_user_with_role_teams_and_field_security_loads_in_one_query(
    rep: User, admin_user: User
) -> None:
    team, other_team = TeamFactory(), TeamFactory()
    team.members.add(rep)
    other_team.members.add(rep)
    CustomFieldDefinition.objects.create(
        object_type="contacts.contact",
        key="salary",
        label="Salary",
        field_type=CustomFieldType.NUMBER,
        sensitive=True,
    )
    CustomFieldDefinition.objects.create(
        object_type="contacts.contact",
        key="old_secret",
        label="Old secret",
        field_type=CustomFieldType.TEXT,
        sensitive=True,
        active=False,
    )
    CustomFieldDefinition.objects.create(
        object_type="contacts.contact", key="hobby", label="Hobby", field_type="text"
    )
    assert rep.role is not None
    FieldPermission.objects.create(
        role=rep.role, object_type="contacts.contact", field="custom.salary", access="read_only"
    )
    user = User.objects.select_related("role").get(pk=rep.pk)

    with assert_max_queries(1):
        profile = user.access_profile()

    assert profile.team_ids == {team.pk, other_team.pk}
    assert profile.permissions["contacts.contact"] == {
        "create",
        "read",
        "update",
        "delete",
        "export",
        "import",
    }
    assert profile.org_defaults == {
        "contacts.account": OrgWideAccess.PRIVATE,
        "contacts.contact": OrgWideAccess.PRIVATE,
    }
    assert profile.field_access == {("contacts.contact", "custom.salary"): "read_only"}
    assert profile.sensitive_custom_keys == {"contacts.contact": {"salary"}}
    assert profile.role_path == rep.role.path
    assert not profile.is_admin
    admin_profile = User.objects.get(pk=admin_user.pk).access_profile()
    assert admin_profile.is_admin
    assert admin_profile.team_ids == frozenset()
    assert admin_profile.permissions == {}
    assert admin_profile.field_access == {}


def test_profile_of_a_user_without_role_or_teams_grants_nothing(db: Any) -> None:
    loner = UserFactory(role=None)

    profile = User.objects.get(pk=loner.pk).access_profile()

    assert profile.role_id is None
    assert profile.role_path == ""
    assert profile.permissions == {}
    assert profile.team_ids == frozenset()
    assert not profile.may("contacts.contact", "read")


@pytest.mark.parametrize("login", CLIENTS)
def test_removed_read_permission_applies_to_the_next_request(
    login: str, rep: User, admin_user: User
) -> None:
    contact_create(user=rep, last_name="Mine")
    client = CLIENTS[login](rep)
    assert listed_names(client) == {"Mine"}
    assert rep.role is not None

    role_permissions_set(
        role=rep.role, permissions={"contacts.contact": ["create"]}, actor=admin_user
    )

    assert listed_names(client) == set()
    role_permissions_set(
        role=rep.role, permissions={"contacts.contact": ["read"]}, actor=admin_user
    )
    assert listed_names(client) == {"Mine"}


@pytest.mark.parametrize("login", CLIENTS)
def test_team_membership_applies_to_the_next_request(
    login: str, rep: User, other_rep: User, admin_user: User
) -> None:
    team = team_save(actor=admin_user, name="North", members=[other_rep])
    contact_create(user=other_rep, last_name="Teamed", team=team)
    client = CLIENTS[login](rep)
    assert listed_names(client) == set()

    team_save(actor=admin_user, name="North", team=team, members=[other_rep, rep])
    assert listed_names(client) == {"Teamed"}

    team_save(actor=admin_user, name="North", team=team, members=[other_rep])
    assert listed_names(client) == set()


@pytest.mark.parametrize("login", CLIENTS)
def test_org_wide_default_applies_to_the_next_request(
    login: str, rep: User, other_rep: User, admin_user: User
) -> None:
    contact_create(user=other_rep, last_name="Theirs")
    client = CLIENTS[login](rep)
    assert listed_names(client) == set()

    org_default_set(
        object_type="contacts.contact", access=OrgWideAccess.PUBLIC_READ, actor=admin_user
    )
    assert listed_names(client) == {"Theirs"}

    org_default_set(object_type="contacts.contact", access=OrgWideAccess.PRIVATE, actor=admin_user)
    assert listed_names(client) == set()


def test_field_security_and_new_sensitive_fields_apply_to_the_next_request(
    rep: User, admin_user: User
) -> None:
    CustomFieldDefinition.objects.create(
        object_type="contacts.contact",
        key="salary",
        label="Salary",
        field_type=CustomFieldType.TEXT,
    )
    contact = contact_create(user=rep, last_name="Paid")
    Contact.objects.filter(pk=contact.pk).update(custom={"salary": "100"})
    client = token_client(rep)
    assert client.get(CONTACTS).json()["items"][0]["custom"] == {"salary": "100"}

    CustomFieldDefinition.objects.filter(key="salary").update(sensitive=True)
    assert client.get(CONTACTS).json()["items"][0]["custom"] == {}

    assert rep.role is not None
    field_permissions_set(
        role=rep.role,
        access={("contacts.contact", "custom.salary"): FieldAccess.READ_ONLY},
        actor=admin_user,
    )
    assert client.get(CONTACTS).json()["items"][0]["custom"] == {"salary": "100"}


@pytest.mark.parametrize(("login", "queries"), [("token", 3), ("session", 4)])
def test_api_list_reads_the_access_profile_in_one_query(
    login: str, queries: int, rep: User
) -> None:
    """Token: the token with its user and role, the profile, the page. Session: the session,
    the user with their role, the profile, the page."""
    contact_create(user=rep, last_name="Mine")
    client = CLIENTS[login](rep)
    client.get(CONTACTS)  # the first use of a token records last_used_at

    with assert_max_queries(queries):
        assert listed_names(client) == {"Mine"}
