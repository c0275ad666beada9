"""Visibility predicates and page access checks are remembered per request, never stale."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from conftest import ALL_ACTIONS
from patron.activities.models import Activity
from patron.activities.services import activity_create
from patron.contacts.models import Account, Contact
from patron.contacts.services import (
    account_create,
    account_team_add,
    account_update,
    contact_create,
)
from patron.core.choices import Action, OrgWideAccess
from patron.core.sharing import share_grant
from patron.core.testing import assert_max_queries, grant, set_org_default
from patron.core.visibility import (
    access_answers,
    can_access,
    can_access_cached,
    visibility_filter,
)
from patron.users.models import User
from patron.users.tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

ACTIONS = (Action.READ, Action.UPDATE, Action.DELETE)


def fresh(user: User) -> User:
    """The same user as a new request would load it: nothing remembered."""
    return User.objects.get(pk=user.pk)


@pytest.fixture
def world(sales_roles: dict[str, Any], rep: User, other_rep: User, manager: User) -> dict[str, Any]:
    """Records each reachable by exactly one kind of rule, and a user for each rule."""
    for role in sales_roles.values():
        grant(role, "activities.activity", *ALL_ACTIONS)
    set_org_default("activities.activity", OrgWideAccess.PRIVATE)
    team = TeamFactory()
    teammate = UserFactory(role=sales_roles["rep"])
    team.members.add(teammate)
    sharee = UserFactory(role=sales_roles["rep"])
    account_member = UserFactory(role=sales_roles["rep"])
    owned = account_create(user=rep, name="Owned Co")
    team_account = account_create(user=other_rep, name="Team Co", team=team)
    shared = account_create(user=other_rep, name="Shared Co")
    share_grant(user=other_rep, record=shared, grantee_user=sharee, access="edit")
    with_member = account_create(user=other_rep, name="Member Co")
    account_team_add(
        user=other_rep,
        account=with_member,
        member_user=account_member,
        team_role="account_manager",
        access="edit",
    )
    member_contact = contact_create(user=other_rep, last_name="Member", account=with_member)
    call = activity_create(
        user=other_rep,
        kind="call",
        subject="Linked call",
        links=[{"object_type": "contacts.account", "id": with_member.pk}],
    )
    return {
        "users": [rep, other_rep, manager, teammate, sharee, account_member],
        "records": [owned, team_account, shared, with_member, member_contact, call],
    }


def test_remembered_answers_equal_fresh_ones_for_every_rule(world: dict[str, Any]) -> None:
    """Owner, role subtree, team, share, account team and linked-record rules alike."""
    owned, team_account, shared, with_member, member_contact, call = world["records"]
    rep, other_rep, manager, teammate, sharee, account_member = world["users"]
    readable = {
        rep: [owned],
        other_rep: [team_account, shared, with_member, member_contact, call],
        manager: world["records"],
        teammate: [team_account],
        sharee: [shared],
        account_member: [with_member, member_contact, call],
    }
    for user, records in readable.items():
        seen = [r for r in world["records"] if can_access_cached(user, r, Action.READ)]
        assert seen == records, user
    for user in world["users"]:
        for record in world["records"]:
            expected = {action: can_access(fresh(user), record, action) for action in ACTIONS}
            assert access_answers(user, record, ACTIONS) == expected, (user, record)
            for action in ACTIONS:
                assert can_access_cached(user, record, action) == expected[action]


def test_remembered_predicates_select_the_same_rows(world: dict[str, Any]) -> None:
    record_models: tuple[Any, ...] = (Account, Contact, Activity)
    for user in world["users"]:
        for model in record_models:
            for action in ACTIONS:
                manager = model.objects
                expected = set(manager.visible_to(fresh(user), action).values_list("pk", flat=True))
                first = set(manager.visible_to(user, action).values_list("pk", flat=True))
                again = set(manager.visible_to(user, action).values_list("pk", flat=True))
                assert first == again == expected, (user, model, action)


def test_each_predicate_is_compiled_once_per_profile(rep: User) -> None:
    first = visibility_filter(Account, rep, Action.UPDATE)
    assert visibility_filter(Account, rep, Action.UPDATE) is first
    assert visibility_filter(Account, fresh(rep), Action.UPDATE) is not first


def test_a_page_asking_several_times_runs_one_query(rep: User) -> None:
    account = account_create(user=rep, name="Asked Co")
    rep.access_profile()
    with assert_max_queries(1):
        assert access_answers(rep, account, (Action.UPDATE, Action.DELETE)) == {
            Action.UPDATE: True,
            Action.DELETE: True,
        }
        for _ in range(3):
            assert can_access_cached(rep, account, Action.UPDATE)
        assert can_access_cached(rep, account, Action.DELETE)


def test_account_detail_page_asks_edit_and_delete_in_one_query(
    rep: User, sales_roles: dict[str, Any]
) -> None:
    """Before, the page asked read, update and delete, then the competitors card update
    again: four queries. Now the card reuses the page's answer."""
    grant(sales_roles["rep"], "contacts.competitor", "read")
    account = account_create(user=rep, name="Page Co")
    client = Client()
    client.force_login(rep)
    client.get(f"/accounts/{account.pk}/")
    with assert_max_queries(40) as ctx:
        response = client.get(f"/accounts/{account.pk}/")
    assert response.status_code == 200
    sql = [query["sql"] for query in ctx.captured_queries]
    lookups = [q for q in sql if q.startswith('SELECT 1 AS "a" FROM "contacts_account"')]
    together = [q for q in sql if q.startswith("SELECT EXISTS(") and '"may_1"' in q]
    assert (len(lookups), len(together)) == (1, 1)
    assert 'id="competitors-title"' in response.content.decode()


def test_ownership_change_is_seen_by_the_next_check(rep: User, other_rep: User) -> None:
    account = account_create(user=rep, name="Handed Over Co")
    assert can_access_cached(rep, account, Action.UPDATE)
    account_update(user=rep, account=account, owner=other_rep)
    assert not can_access_cached(rep, account, Action.UPDATE)
    reloaded = Account.objects.get(pk=account.pk)
    assert not can_access_cached(rep, reloaded, Action.READ)


def test_ownership_change_on_another_instance_is_seen_after_the_write_check(
    rep: User, other_rep: User
) -> None:
    """The page's copy is stale, but the service's check forgot the remembered answers."""
    page_copy = account_create(user=rep, name="Two Copies Co")
    assert can_access_cached(rep, page_copy, Action.UPDATE)
    service_copy = Account.objects.get(pk=page_copy.pk)
    assert can_access(rep, service_copy, Action.UPDATE)
    account_update(user=rep, account=service_copy, owner=other_rep)
    assert not can_access_cached(rep, page_copy, Action.UPDATE)


def test_team_change_is_seen_by_the_next_check(rep: User, other_rep: User) -> None:
    team = TeamFactory()
    team.members.add(rep)
    account = account_create(user=other_rep, name="Team Move Co")
    assert not can_access_cached(rep, account, Action.READ)
    account_update(user=other_rep, account=account, team=team)
    assert can_access_cached(rep, account, Action.READ)


def test_share_grant_is_seen_by_the_grantee_in_the_same_request(rep: User, other_rep: User) -> None:
    account = account_create(user=rep, name="Shared Later Co")
    assert not can_access_cached(other_rep, account, Action.READ)
    assert not can_access_cached(other_rep, account, Action.UPDATE)
    share_grant(user=rep, record=account, grantee_user=other_rep, access="edit")
    assert can_access_cached(other_rep, account, Action.READ)
    assert can_access_cached(other_rep, account, Action.UPDATE)


def test_asking_for_rows_to_change_forgets_remembered_answers(rep: User, other_rep: User) -> None:
    account = account_create(user=other_rep, name="Bulk Co")
    assert not can_access_cached(rep, account, Action.READ)
    share_grant(user=other_rep, record=account, grantee_user=fresh(rep), access="edit")
    assert not can_access_cached(rep, account, Action.READ), "remembered until a write path"
    assert list(Account.objects.visible_to(rep, Action.UPDATE)) == [account]
    assert can_access_cached(rep, account, Action.READ)


def test_inactive_users_may_do_nothing(rep: User) -> None:
    account = account_create(user=rep, name="Gone Co")
    rep.is_active = False
    assert access_answers(rep, account, ACTIONS) == dict.fromkeys(ACTIONS, False)
