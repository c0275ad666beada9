from __future__ import annotations

import pytest

from patron.contacts.models import Account
from patron.contacts.services import account_create
from patron.core.exceptions import PermissionDenied
from patron.core.models import SecurityEvent
from patron.core.sharing import share_grant, share_revoke
from patron.core.visibility import can_access, explain_access
from patron.users.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def test_read_share_lets_a_user_see_but_not_edit(rep, other_rep):
    account = account_create(user=rep, name="Shared Co")
    share_grant(user=rep, record=account, grantee_user=other_rep, access="read")
    assert list(Account.objects.visible_to(other_rep)) == [account]
    assert not can_access(other_rep, account, "update")
    assert "The record is shared with you (Read)." in explain_access(other_rep, account)
    granted = SecurityEvent.objects.filter(kind="permission_change", detail__change="share_granted")
    assert granted.count() == 1


def test_edit_share_with_a_team_grants_update(rep, other_rep):
    team = TeamFactory()
    team.members.add(other_rep)
    account = account_create(user=rep, name="Team Co")
    share_grant(user=rep, record=account, grantee_team=team, access="edit")
    assert can_access(other_rep, account, "update")


def test_a_stranger_cannot_share_and_revoke_removes_access(rep, other_rep):
    account = account_create(user=rep, name="Private Co")
    with pytest.raises(PermissionDenied):
        share_grant(user=other_rep, record=account, grantee_user=other_rep)
    share = share_grant(user=rep, record=account, grantee_user=other_rep)
    share_revoke(user=rep, share=share)
    assert list(Account.objects.visible_to(other_rep)) == []


def test_explain_access_names_owner_and_hierarchy(rep, manager):
    account = account_create(user=rep, name="Explained Co")
    assert explain_access(rep, account) == ["You own this record."]
    (reason,) = explain_access(manager, account)
    assert "below your role" in reason
