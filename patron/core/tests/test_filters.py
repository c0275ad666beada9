"""MineFilter: "mine" means the asking user on pages, in the API and in export jobs."""

from __future__ import annotations

import pytest

from patron.contacts.filters import AccountFilter
from patron.contacts.models import Account
from patron.core.filters import FilterContext
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_owners():
    ana, bo = UserFactory(), UserFactory()
    Account.objects.create(owner=ana, name="Ana's")
    Account.objects.create(owner=bo, name="Bo's")
    return ana, bo


def _names(params, user):
    filterset = AccountFilter(
        params, queryset=Account.objects.all(), request=FilterContext(user=user)
    )
    assert filterset.is_valid(), filterset.errors
    return sorted(a.name for a in filterset.qs)


def test_mine_true_keeps_the_asking_users_rows(two_owners):
    ana, bo = two_owners
    assert _names({"mine": "true"}, ana) == ["Ana's"]
    assert _names({"mine": "true"}, bo) == ["Bo's"]


def test_mine_false_keeps_everyone_elses_rows(two_owners):
    ana, _bo = two_owners
    assert _names({"mine": "false"}, ana) == ["Bo's"]


def test_mine_without_an_asking_user_matches_nothing(two_owners):
    filterset = AccountFilter({"mine": "true"}, queryset=Account.objects.all())
    assert list(filterset.qs) == []


def test_mine_refuses_values_other_than_true_or_false(two_owners):
    ana, _bo = two_owners
    filterset = AccountFilter(
        {"mine": "yes"}, queryset=Account.objects.all(), request=FilterContext(user=ana)
    )
    assert not filterset.is_valid()
    assert "mine" in filterset.errors
