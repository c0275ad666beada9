"""Creating, changing and linking activities through the services."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from patron.activities.models import ActivityAttendee, ActivityLink
from patron.activities.services import (
    activity_create,
    activity_delete,
    activity_link,
    activity_restore,
    activity_update,
    task_complete,
)
from patron.contacts.services import account_create
from patron.core.exceptions import PermissionDenied, ValidationFailed, VersionConflict
from patron.core.models import ChangeLogEntry

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def errors_of(excinfo: pytest.ExceptionInfo[ValidationFailed]) -> set[str]:
    return set(excinfo.value.errors)


def test_task_defaults_to_open_normal_assigned_to_owner_and_orders_by_due(rep, acme):
    task = activity_create(
        user=rep,
        kind="task",
        subject="Send proposal",
        due_at=NOON,
        links=[{"object_type": "contacts.account", "id": acme.pk}],
    )
    assert (task.status, task.priority, task.assignee_id) == ("open", "normal", rep.pk)
    assert task.occurred_at == NOON
    assert ActivityLink.objects.get(activity=task).object_id == acme.pk
    assert ChangeLogEntry.objects.filter(object_id=task.pk, action="create").exists()


def test_appointment_ending_before_it_starts_is_refused(rep, activity_roles):
    with pytest.raises(ValidationFailed) as excinfo:
        activity_create(
            user=rep,
            kind="appointment",
            subject="Demo",
            starts_at=NOON,
            ends_at=NOON - datetime.timedelta(hours=1),
        )
    assert errors_of(excinfo) == {"ends_at"}


def test_bad_phone_and_bad_email_are_named(rep, activity_roles):
    with pytest.raises(ValidationFailed) as call:
        activity_create(user=rep, kind="call", subject="Call", phone_number="12")
    assert errors_of(call) == {"phone_number"}
    with pytest.raises(ValidationFailed) as mail:
        activity_create(
            user=rep, kind="email", subject="Hi", email_from="a@example.com", email_to="b@, c@x.io"
        )
    assert errors_of(mail) == {"email_to"}


def test_call_phone_is_stored_e164_and_emails_lower_cased(rep, activity_roles):
    call = activity_create(user=rep, kind="call", subject="Call", phone_number="+1 415 555 0100")
    assert call.phone_number == "+14155550100"
    mail = activity_create(
        user=rep,
        kind="email",
        subject="Hi",
        email_to="Bob@Example.com, ann@example.com",
        sent_at=NOON,
    )
    assert mail.email_to == "bob@example.com, ann@example.com"
    assert mail.occurred_at == NOON


def test_subject_required_except_for_notes(rep, activity_roles):
    with pytest.raises(ValidationFailed) as excinfo:
        activity_create(user=rep, kind="task", subject="  ")
    assert errors_of(excinfo) == {"subject"}
    note = activity_create(user=rep, kind="note", description="Prefers email.")
    assert note.subject == ""


def test_field_of_another_kind_is_refused(rep, activity_roles):
    with pytest.raises(ValidationFailed) as excinfo:
        activity_create(user=rep, kind="note", description="x", due_at=NOON)
    assert errors_of(excinfo) == {"due_at"}


def test_unknown_link_type_and_invisible_target_name_the_link(rep, other_rep, activity_roles):
    hidden = account_create(user=other_rep, name="Not yours")
    with pytest.raises(ValidationFailed) as excinfo:
        activity_create(
            user=rep,
            kind="note",
            description="x",
            links=[
                {"object_type": "nothing.here", "id": 1},
                {"object_type": "contacts.account", "id": hidden.pk},
                {"object_type": "users.user", "id": rep.pk},
            ],
        )
    assert errors_of(excinfo) == {"links.0", "links.1", "links.2"}


def test_role_without_activity_permission_may_not_create(rep):
    with pytest.raises(PermissionDenied):
        activity_create(user=rep, kind="note", description="x")


def test_update_checks_version_and_recomputes_occurred_at(rep, activity_roles):
    task = activity_create(user=rep, kind="task", subject="Follow up")
    later = NOON + datetime.timedelta(days=2)
    task = activity_update(user=rep, activity=task, expected_version=1, due_at=later)
    assert (task.version, task.occurred_at) == (2, later)
    with pytest.raises(VersionConflict):
        activity_update(user=rep, activity=task, expected_version=1, subject="Stale")


def test_complete_task_sets_completed_at_and_reopen_clears_it(rep, activity_roles):
    task = activity_create(user=rep, kind="task", subject="Call back")
    task = task_complete(user=rep, activity=task)
    assert task.status == "done"
    assert task.completed_at is not None
    task = activity_update(user=rep, activity=task, status="open")
    assert task.completed_at is None
    note = activity_create(user=rep, kind="note", description="x")
    with pytest.raises(ValidationFailed):
        task_complete(user=rep, activity=note)


def test_attendees_are_users_or_visible_records(rep, manager, acme):
    meeting = activity_create(
        user=rep,
        kind="appointment",
        subject="Kick-off",
        starts_at=NOON,
        attendees=[{"user": manager.pk}, {"object_type": "contacts.account", "id": acme.pk}],
    )
    assert ActivityAttendee.objects.filter(activity=meeting).count() == 2
    with pytest.raises(ValidationFailed) as excinfo:
        activity_create(
            user=rep,
            kind="appointment",
            subject="Bad",
            starts_at=NOON,
            attendees=[{"user": manager.pk, "object_type": "contacts.account", "id": acme.pk}],
        )
    assert errors_of(excinfo) == {"attendees.0"}


def test_link_twice_is_harmless_and_soft_delete_restores(rep, acme):
    note = activity_create(user=rep, kind="note", description="x")
    activity_link(user=rep, activity=note, object_type="contacts.account", object_id=acme.pk)
    activity_link(user=rep, activity=note, object_type="contacts.account", object_id=acme.pk)
    assert note.links.count() == 1
    activity_delete(user=rep, activity=note)
    assert note.deleted_at is not None
    activity_restore(user=rep, activity=note)
    assert note.deleted_at is None
    assert timezone.now() >= note.created_at
