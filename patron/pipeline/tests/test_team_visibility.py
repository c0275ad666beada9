"""Who sees an opportunity through its team, and who does not through its account."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from patron.contacts.services import account_team_add
from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied
from patron.core.visibility import can_access, explain_access
from patron.pipeline.models import Opportunity, OpportunityTeamMember
from patron.pipeline.related_services import (
    opportunity_team_add,
    opportunity_team_remove,
    opportunity_team_update,
)
from patron.pipeline.services import opportunity_create, opportunity_update

pytestmark = pytest.mark.django_db
MARKER = "Zephyrine"


@pytest.fixture
def deal(rep, acme, stages, django_capture_on_commit_callbacks):
    # Committed, so that the search index the list's text filter reads has it.
    with django_capture_on_commit_callbacks(execute=True):
        return opportunity_create(
            user=rep, name=f"{MARKER} deal", account=acme, close_date=datetime.date(2027, 6, 30)
        )


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _fresh(user):
    """The user as a new request would load it (access profiles are per request)."""
    return type(user).objects.get(pk=user.pk)


def _sees(user, deal) -> bool:
    return Opportunity.objects.visible_to(_fresh(user)).filter(pk=deal.pk).exists()


def test_a_team_member_sees_the_opportunity_and_no_longer_once_they_leave(rep, other_rep, deal):
    assert not _sees(other_rep, deal)
    member = opportunity_team_add(
        user=rep, opportunity=deal, member_user=other_rep, role="sales_engineer"
    )
    assert _sees(other_rep, deal)
    page = _client(other_rep).get(f"/opportunities/{deal.pk}/")
    assert page.status_code == 200
    listing = _client(other_rep).get("/opportunities/?q=Zephyr").content.decode()
    assert MARKER in listing
    opportunity_team_remove(user=rep, member=member)
    assert not _sees(other_rep, deal)
    assert _client(other_rep).get(f"/opportunities/{deal.pk}/").status_code == 404


def test_read_access_does_not_let_a_member_change_the_opportunity_and_edit_access_does(
    rep, other_rep, deal
):
    member = opportunity_team_add(
        user=rep, opportunity=deal, member_user=other_rep, role="specialist", access="read"
    )
    assert not can_access(_fresh(other_rep), deal, Action.UPDATE)
    assert _client(other_rep).get(f"/opportunities/{deal.pk}/edit/").status_code == 403
    opportunity_team_update(user=rep, member=member, access="edit")
    editor = _fresh(other_rep)
    assert can_access(editor, deal, Action.UPDATE)
    updated = opportunity_update(user=editor, opportunity=deal, next_step="Send the proposal")
    assert updated.next_step == "Send the proposal"
    # Deleting stays with the owner and the hierarchy above.
    assert not can_access(editor, deal, Action.DELETE)


def test_a_read_only_member_cannot_manage_the_team(rep, other_rep, manager, deal):
    opportunity_team_add(user=rep, opportunity=deal, member_user=other_rep, role="other")
    with pytest.raises(PermissionDenied):
        opportunity_team_add(
            user=_fresh(other_rep), opportunity=deal, member_user=manager, role="other"
        )
    assert OpportunityTeamMember.objects.count() == 1


def test_why_can_i_see_this_names_the_team_role_and_access(rep, other_rep, deal):
    opportunity_team_add(
        user=rep, opportunity=deal, member_user=other_rep, role="sales_engineer", access="edit"
    )
    reasons = explain_access(_fresh(other_rep), deal)
    assert "You are on the opportunity team as Sales engineer (read and edit)." in reasons
    assert not any("opportunity team" in reason for reason in explain_access(rep, deal))


def test_seeing_the_account_does_not_show_its_opportunities(rep, other_rep, acme, deal):
    account_team_add(user=rep, account=acme, member_user=other_rep, team_role="support")
    viewer = _fresh(other_rep)
    assert _client(viewer).get(f"/accounts/{acme.pk}/").status_code == 200
    assert not _sees(other_rep, deal)
    assert _client(viewer).get(f"/opportunities/{deal.pk}/").status_code == 404
    listing = _client(viewer).get("/opportunities/?q=Zephyr").content.decode()
    assert MARKER not in listing
