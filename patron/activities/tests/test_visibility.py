"""Who sees an activity: owner, managers above, the task's assignee, user attendees."""

from __future__ import annotations

import datetime

import pytest

from patron.activities.models import Activity
from patron.activities.selectors import activities_for_record, activity_get
from patron.activities.services import activity_create
from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, RecordNotFound
from patron.core.testing import assert_max_queries
from patron.core.visibility import explain_access
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def stranger(activity_roles):
    return UserFactory(role=activity_roles["rep"], email="stranger@example.com")


def visible_ids(user) -> set[int]:
    return set(Activity.objects.visible_to(user).values_list("pk", flat=True))


def test_owner_and_manager_see_it_a_stranger_does_not(rep, manager, stranger):
    note = activity_create(user=rep, kind="note", description="x")
    assert note.pk in visible_ids(rep)
    assert note.pk in visible_ids(manager)
    assert note.pk not in visible_ids(stranger)
    with pytest.raises(RecordNotFound):
        activity_get(user=stranger, pk=note.pk)


def test_assignee_sees_and_may_update_but_not_delete(rep, other_rep, activity_roles):
    task = activity_create(user=rep, kind="task", subject="Call", assignee=other_rep)
    assert task.pk in visible_ids(other_rep)
    assert activity_get(user=other_rep, pk=task.pk, action=Action.UPDATE) == task
    with pytest.raises(PermissionDenied):
        activity_get(user=other_rep, pk=task.pk, action=Action.DELETE)
    assert "The task is assigned to you." in explain_access(other_rep, task)


def test_user_attendee_sees_the_appointment_read_only(rep, other_rep, stranger):
    meeting = activity_create(
        user=rep,
        kind="appointment",
        subject="Review",
        starts_at=NOON,
        attendees=[{"user": other_rep.pk}],
    )
    assert meeting.pk in visible_ids(other_rep)
    assert meeting.pk not in visible_ids(stranger)
    with pytest.raises(PermissionDenied):
        activity_get(user=other_rep, pk=meeting.pk, action=Action.UPDATE)
    assert "You are an attendee of the appointment." in explain_access(other_rep, meeting)


def test_activities_for_record_newest_first_in_constant_queries(rep, other_rep, acme):
    link = [{"object_type": "contacts.account", "id": acme.pk}]
    older = activity_create(user=rep, kind="task", subject="Old", due_at=NOON, links=link)
    newer = activity_create(
        user=rep, kind="task", subject="New", due_at=NOON + datetime.timedelta(days=1), links=link
    )
    activity_create(user=other_rep, kind="note", description="hidden", links=[])
    activity_create(user=rep, kind="note", description="unlinked")
    with assert_max_queries(8):
        rows = list(activities_for_record(user=rep, record=acme))
        assert [row.pk for row in rows] == [newer.pk, older.pk]
        assert [link.object_id for link in rows[0].links.all()] == [acme.pk]


def test_whoever_sees_the_linked_record_sees_the_activity_read_only(rep, other_rep, acme):
    from patron.core.sharing import share_grant

    link = [{"object_type": "contacts.account", "id": acme.pk}]
    call = activity_create(user=rep, kind="call", subject="Intro call", links=link)
    assert call.pk not in visible_ids(other_rep)
    share_grant(user=rep, record=acme, grantee_user=other_rep)
    assert call.pk in visible_ids(other_rep)
    assert "It is linked to the account Acme Corporation, which you can see." in explain_access(
        other_rep, call
    )
    with pytest.raises(PermissionDenied):
        activity_get(user=other_rep, pk=call.pk, action=Action.UPDATE)
    assert [a.pk for a in activities_for_record(user=other_rep, record=acme)] == [call.pk]


def test_linked_record_visibility_is_one_query_however_many_records_are_linked(
    rep, other_rep, acme
):
    from patron.contacts.services import account_create
    from patron.core.sharing import share_grant

    for index in range(5):
        account = account_create(user=rep, name=f"Linked {index}")
        share_grant(user=rep, record=account, grantee_user=other_rep)
        activity_create(
            user=rep,
            kind="note",
            description=f"note {index}",
            links=[{"object_type": "contacts.account", "id": account.pk}],
        )
    other_rep.forget_access_profile()
    other_rep.access_profile()
    with assert_max_queries(1):
        assert len(visible_ids(other_rep)) == 5
