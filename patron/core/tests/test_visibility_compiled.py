"""Visibility compiled to SQL once per access profile content and process (issue 8).

``visible_to`` places the compiled SQL in each query instead of building and compiling the
rules again; these tests hold that it selects exactly the rows the rules select, in lists
and subqueries, and that a change of access applies to the next request at once.
"""

from __future__ import annotations

import pytest
from django.db.models import Q

from patron.contacts.models import Account, Contact
from patron.contacts.services import account_create, contact_create
from patron.core import visibility
from patron.core.choices import Action, ShareAccess
from patron.core.sharing import share_grant
from patron.users.models import Team, User

pytestmark = pytest.mark.django_db


def fresh(user: User) -> User:
    """The user as a new request reads them: a new access profile."""
    return User.objects.get(pk=user.pk)


def ids(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


@pytest.fixture
def book(rep, other_rep):
    """Accounts and contacts of two reps; one of the other rep's is on a team."""
    team = Team.objects.create(name="Key accounts")
    mine = account_create(user=rep, name="Mine Ltd")
    theirs = account_create(user=other_rep, name="Theirs Ltd")
    teamed = account_create(user=other_rep, name="Teamed Ltd")
    Account.objects.filter(pk=teamed.pk).update(team=team)
    for account in (mine, theirs, teamed):
        contact_create(user=account.owner, last_name=f"Person at {account.name}", account=account)
    return {"team": team, "mine": mine, "theirs": theirs, "teamed": teamed}


@pytest.fixture
def uncompiled(monkeypatch):
    """Switch compiling off: visible_to filters by the rules' Q, as it did before."""

    def switch_off() -> None:
        visibility.forget_compiled_conditions()
        monkeypatch.setattr(visibility, "_compiled", lambda *args: visibility._UNCOMPILED)

    return switch_off


@pytest.mark.parametrize("action", [Action.READ, Action.UPDATE])
def test_compiled_visibility_selects_the_rows_the_rules_select(
    rep, other_rep, manager, admin_user, book, uncompiled, action
):
    book["team"].members.add(rep)
    share_grant(user=other_rep, record=book["theirs"], grantee_user=rep, access=ShareAccess.READ)
    inactive = User.objects.create(email="gone@example.com", role=rep.role, is_active=False)
    users = (rep, other_rep, manager, admin_user, inactive)
    compiled = {
        (user.pk, model): ids(model.objects.visible_to(fresh(user), action))
        for user in users
        for model in (Account, Contact)
    }
    assert isinstance(
        visibility.visibility_condition(Account, fresh(rep), action, "default"),
        visibility.CompiledCondition,
    )
    uncompiled()
    for user in users:
        for model in (Account, Contact):
            expected = ids(model.objects.visible_to(fresh(user), action))
            assert compiled[(user.pk, model)] == expected, (user, model)
    # The rep reads the shared and the team's records, and changes only the team's.
    assert compiled[(rep.pk, Account)] == (
        {book["mine"].pk, book["teamed"].pk}
        | ({book["theirs"].pk} if action == Action.READ else set())
    )


def test_compiled_visibility_works_inside_a_subquery(rep, other_rep, book):
    visible_contacts = Contact.objects.visible_to(fresh(rep)).values("account_id")
    accounts = Account.all_objects.filter(pk__in=visible_contacts)
    assert ids(accounts) == {book["mine"].pk}
    combined = Account.objects.visible_to(fresh(rep)) | Account.objects.filter(name="Theirs Ltd")
    assert ids(combined) == {book["mine"].pk, book["theirs"].pk}


def test_a_later_request_with_the_same_access_builds_no_rules(rep, book, rule_builds):
    first = ids(Contact.objects.visible_to(fresh(rep)))
    assert rule_builds == ["contacts.contact"]
    rule_builds.clear()
    assert ids(Contact.objects.visible_to(fresh(rep))) == first
    assert rule_builds == []


def test_a_change_of_access_applies_to_the_next_request_at_once(rep, other_rep, book):
    assert ids(Account.objects.visible_to(fresh(rep))) == {book["mine"].pk}
    book["team"].members.add(rep)
    assert ids(Account.objects.visible_to(fresh(rep))) == {book["mine"].pk, book["teamed"].pk}
    # A share is a row the compiled SQL reads when it runs: no new profile needed.
    user = fresh(rep)
    Account.objects.visible_to(user).count()
    share_grant(user=other_rep, record=book["theirs"], grantee_user=rep)
    assert book["theirs"].pk in ids(Account.objects.visible_to(user))


def test_a_rule_that_joins_another_table_keeps_its_q(rep, other_rep, book, monkeypatch):
    def accounts_owned_by_otto(profile, action):
        return Q(owner__full_name="Otto Other")

    rules = dict(visibility._rules)
    rules["contacts.account"] = [
        *rules.get("contacts.account", []),
        (accounts_owned_by_otto, None),
    ]
    monkeypatch.setattr(visibility, "_rules", rules)
    condition = visibility.visibility_condition(Account, fresh(rep), Action.READ, "default")
    assert isinstance(condition, Q)
    assert ids(Account.objects.visible_to(fresh(rep))) == {
        book["mine"].pk, book["theirs"].pk, book["teamed"].pk
    }


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ('"t"."a" = %s OR "t"."b" IN (SELECT U0."x" FROM "u" U0)', False),
        ('"t"."a" IN (SELECT U0."x" FROM "u" U0 WHERE U0."y" = "t"."b")', True),
        ('("t"."a" = %s AND ("t"."b" IN (%s, %s)))', False),
        ('"t"."a" IN (SELECT U0."x" FROM "u" U0 WHERE (U0."y" IN (SELECT "t"."c")))', True),
    ],
)
def test_a_condition_naming_its_table_inside_a_subquery_is_not_compiled(sql, named):
    assert visibility._named_in_subquery(sql, '"t".') is named


def test_compiled_conditions_kept_are_bounded(rep, other_rep, manager, book, monkeypatch):
    monkeypatch.setattr(visibility._compiled_conditions, "size", 2)
    for user in (rep, other_rep, manager):
        ids(Account.objects.visible_to(fresh(user)))
    assert len(visibility._compiled_conditions) == 2
