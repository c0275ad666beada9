"""Appointment invitations: one email per attendee per version, with the .ics attached."""

from __future__ import annotations

import datetime

import icalendar
import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from patron.activities import calendar_sync
from patron.activities.invitations import appointment_invitations_send
from patron.activities.models import ActivityAttendee
from patron.activities.services import activity_create, activity_delete, activity_update
from patron.contacts.services import contact_create
from patron.core.models import Notification

pytestmark = pytest.mark.django_db

START = (timezone.now() + datetime.timedelta(days=2)).replace(microsecond=0)


@pytest.fixture
def ana(rep, activity_roles):
    return contact_create(user=rep, first_name="Ana", last_name="Lee", email="ana@acme.com")


@pytest.fixture
def meeting(rep, other_rep, ana):
    silent = contact_create(user=rep, first_name="No", last_name="Address")
    return activity_create(
        user=rep,
        kind="appointment",
        subject="Contract review",
        location="Acme HQ",
        starts_at=START,
        ends_at=START + datetime.timedelta(hours=1),
        attendees=[
            {"user": other_rep.pk},
            {"object_type": "contacts.contact", "id": ana.pk},
            {"object_type": "contacts.contact", "id": silent.pk},
        ],
    )


def calendar_of(message) -> icalendar.Calendar:
    [(name, content, mimetype)] = message.attachments
    assert name == "invite.ics"
    assert mimetype.startswith("text/calendar; method=")
    calendar = icalendar.Calendar.from_ical(content)
    assert isinstance(calendar, icalendar.Calendar)
    return calendar


def test_each_attendee_with_an_address_gets_the_ics_once(meeting):
    assert appointment_invitations_send(activity_id=meeting.pk) == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@acme.com", "other@example.com"]
    message = mail.outbox[0]
    assert isinstance(message, EmailMultiAlternatives)
    assert message.subject == "Invitation: Contract review"
    assert message.reply_to == ["rep@example.com"]
    assert "Where: Acme HQ" in message.body
    assert message.alternatives[0][1] == "text/calendar; method=REQUEST; charset=utf-8"
    calendar = calendar_of(message)
    assert str(calendar["METHOD"]) == "REQUEST"
    [event] = calendar.events
    assert str(event["UID"]) == f"activity-{meeting.pk}@patron"
    assert "DTSTAMP" in event
    assert event.sequence == meeting.version

    # The user attendee is told in the app as well.
    [note] = Notification.objects.filter(kind="invitation")
    assert note.user_id == meeting.attendees.get(user__isnull=False).user_id
    assert note.title == "Invitation: Contract review"

    # A second run (a retried task) sends nothing and records nothing new.
    assert appointment_invitations_send(activity_id=meeting.pk) == 0
    assert len(mail.outbox) == 2
    assert Notification.objects.filter(kind="invitation").count() == 1
    rows = ActivityAttendee.objects.filter(activity=meeting)
    assert {row.invited_sequence for row in rows} == {meeting.version}
    # The attendee without an address is handled (not retried) but was never emailed.
    assert sorted(row.invited_at is not None for row in rows) == [False, True, True]


def test_a_change_sends_an_update_with_a_higher_sequence(rep, meeting):
    appointment_invitations_send(activity_id=meeting.pk)
    mail.outbox.clear()
    moved = activity_update(
        user=rep, activity=meeting, starts_at=START + datetime.timedelta(days=1), ends_at=None
    )
    assert appointment_invitations_send(activity_id=meeting.pk) == 2
    assert {m.subject for m in mail.outbox} == {"Updated invitation: Contract review"}
    [event] = calendar_of(mail.outbox[0]).events
    assert event.sequence == moved.version > 1
    assert event.decoded("DTSTART") == START + datetime.timedelta(days=1)


def test_deleting_sends_a_cancellation_once_to_those_invited(rep, meeting):
    appointment_invitations_send(activity_id=meeting.pk)
    mail.outbox.clear()
    activity_delete(user=rep, activity=meeting)
    assert appointment_invitations_send(activity_id=meeting.pk) == 2
    assert {m.subject for m in mail.outbox} == {"Cancelled: Contract review"}
    assert Notification.objects.filter(title="Cancelled: Contract review").count() == 1
    calendar = calendar_of(mail.outbox[0])
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(calendar.events[0]["STATUS"]) == "CANCELLED"
    assert appointment_invitations_send(activity_id=meeting.pk) == 0


def test_deleting_an_appointment_nobody_was_invited_to_sends_nothing(rep, meeting):
    activity_delete(user=rep, activity=meeting)
    assert appointment_invitations_send(activity_id=meeting.pk) == 0
    assert mail.outbox == []


def test_unknown_or_non_appointment_ids_send_nothing(rep, activity_roles):
    task = activity_create(user=rep, kind="task", subject="Call back", due_at=START)
    assert appointment_invitations_send(activity_id=task.pk) == 0
    assert appointment_invitations_send(activity_id=999_999) == 0


@pytest.fixture
def queued(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(calendar_sync, "_send_invitations", sent.append)
    return sent


def test_invitations_are_queued_after_commit_on_create_and_relevant_changes(
    rep, meeting, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        activity_update(user=rep, activity=meeting, description="Agenda attached.")
    assert queued == []
    with django_capture_on_commit_callbacks(execute=True):
        activity_update(user=rep, activity=meeting, location="Video call")
    assert queued == [meeting.pk]
    with django_capture_on_commit_callbacks(execute=True):
        activity_delete(user=rep, activity=meeting)
    assert queued == [meeting.pk, meeting.pk]


def test_creating_an_appointment_queues_invitations_only_with_attendees(
    rep, other_rep, activity_roles, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        alone = activity_create(user=rep, kind="appointment", subject="Focus", starts_at=START)
        shared = activity_create(
            user=rep,
            kind="appointment",
            subject="Sync",
            starts_at=START,
            attendees=[{"user": other_rep.pk}],
        )
    assert alone.pk not in queued
    assert queued == [shared.pk]
