"""Appointment invitations: one email per attendee per version, with the .ics attached."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import icalendar
import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from patron.activities import calendar_sync, invitations
from patron.activities.invitations import appointment_invitations_send, pending_invitations_send
from patron.activities.models import ActivityAttendee, PendingInvitation
from patron.activities.services import activity_create, activity_delete, activity_update
from patron.activities.tasks import send_invitations
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


@pytest.fixture
def broker(monkeypatch):
    """The broker as the enqueue after commit sees it: up (messages recorded) or down."""
    from celery import current_app

    state: dict[str, Any] = {"up": True, "sent": []}

    def send_task(name: str, args: Any = (), kwargs: Any = None) -> None:
        if not state["up"]:
            raise ConnectionRefusedError("broker down")
        state["sent"].append((name, tuple(args)))

    monkeypatch.setattr(current_app, "send_task", send_task)
    return state


def save(django_capture_on_commit_callbacks, change: Callable[[], Any]) -> Any:
    """Run a service and what follows its commit (events, then the enqueue)."""
    with django_capture_on_commit_callbacks(execute=True):
        return change()


def grace_passes(activity_id: int) -> None:
    PendingInvitation.objects.filter(activity_id=activity_id).update(
        send_after=timezone.now() - datetime.timedelta(seconds=1)
    )


def create_meeting(rep, other_rep, ana) -> Any:
    return activity_create(
        user=rep,
        kind="appointment",
        subject="Kick-off",
        starts_at=START,
        attendees=[{"user": other_rep.pk}, {"object_type": "contacts.contact", "id": ana.pk}],
    )


def test_invitations_the_broker_refused_are_sent_by_the_sweep_after_the_grace_period(
    rep, other_rep, ana, broker, django_capture_on_commit_callbacks
):
    broker["up"] = False
    meeting = save(django_capture_on_commit_callbacks, lambda: create_meeting(rep, other_rep, ana))
    assert mail.outbox == []
    assert PendingInvitation.objects.filter(activity=meeting).exists()
    # Within the grace period the sweep leaves it to the task.
    assert pending_invitations_send() == 0
    grace_passes(meeting.pk)
    assert pending_invitations_send() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@acme.com", "other@example.com"]
    assert not PendingInvitation.objects.exists()
    assert pending_invitations_send() == 0
    assert len(mail.outbox) == 2


def test_the_task_sends_and_clears_what_is_pending(
    rep, other_rep, ana, broker, django_capture_on_commit_callbacks
):
    meeting = save(django_capture_on_commit_callbacks, lambda: create_meeting(rep, other_rep, ana))
    assert broker["sent"] == [("activities.send_invitations", (meeting.pk,))]
    send_invitations.run(meeting.pk)
    assert len(mail.outbox) == 2
    assert not PendingInvitation.objects.exists()


def test_the_sweep_and_a_late_task_send_each_invitation_once(
    rep, other_rep, ana, broker, django_capture_on_commit_callbacks
):
    meeting = save(django_capture_on_commit_callbacks, lambda: create_meeting(rep, other_rep, ana))
    grace_passes(meeting.pk)
    assert pending_invitations_send() == 2
    send_invitations.run(meeting.pk)  # the task, delivered late
    assert len(mail.outbox) == 2

    moved = save(
        django_capture_on_commit_callbacks,
        lambda: activity_update(user=rep, activity=meeting, location="Room 2"),
    )
    grace_passes(moved.pk)
    send_invitations.run(moved.pk)  # the task first this time, then the sweep
    assert pending_invitations_send() == 0
    assert [m.subject for m in mail.outbox[2:]] == ["Updated invitation: Kick-off"] * 2


def test_a_change_queued_while_sending_stays_pending_for_its_own_send(
    rep, other_rep, ana, broker, monkeypatch, django_capture_on_commit_callbacks
):
    meeting = save(django_capture_on_commit_callbacks, lambda: create_meeting(rep, other_rep, ana))
    real_send = invitations.appointment_invitations_send

    def send_then_someone_moves_it(*, activity_id: int) -> int:
        sent = real_send(activity_id=activity_id)
        save(
            django_capture_on_commit_callbacks,
            lambda: activity_update(user=rep, activity=meeting, location="Room 2"),
        )
        return sent

    monkeypatch.setattr(invitations, "appointment_invitations_send", send_then_someone_moves_it)
    assert invitations.appointment_invitations_deliver(activity_id=meeting.pk) == 2
    monkeypatch.undo()
    # The move's send is still owed: the sweep makes it if its task never comes.
    grace_passes(meeting.pk)
    assert pending_invitations_send() == 2
    assert [m.subject for m in mail.outbox[2:]] == ["Updated invitation: Kick-off"] * 2


def test_a_send_that_fails_is_retried_later_and_given_up_after_the_last_attempt(
    rep, other_rep, ana, broker, monkeypatch, django_capture_on_commit_callbacks
):
    meeting = save(django_capture_on_commit_callbacks, lambda: create_meeting(rep, other_rep, ana))
    grace_passes(meeting.pk)

    def mail_server_down(self: EmailMultiAlternatives, fail_silently: bool = False) -> int:
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(EmailMultiAlternatives, "send", mail_server_down)
    assert pending_invitations_send() == 0
    pending = PendingInvitation.objects.get(activity=meeting)
    assert pending.attempts == 1
    assert pending.send_after > timezone.now() + datetime.timedelta(minutes=4)
    assert pending_invitations_send() == 0  # not before its retry time
    assert PendingInvitation.objects.get(activity=meeting).attempts == 1

    PendingInvitation.objects.filter(pk=pending.pk).update(attempts=invitations.MAX_ATTEMPTS)
    grace_passes(meeting.pk)
    assert pending_invitations_send() == 0
    assert not PendingInvitation.objects.exists()
