"""Reminders: set, moved with their activity, delivered once by the scheduler."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from patron.activities.models import ActivityAttendee, ActivityReminder
from patron.activities.reminders import reminders_deliver, reminders_set
from patron.activities.services import activity_create, activity_delete, activity_update
from patron.activities.tasks import deliver_reminders
from patron.core.exceptions import ValidationFailed
from patron.core.models import Notification
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
START = NOW + datetime.timedelta(minutes=10)


@pytest.fixture
def meeting(rep, other_rep, manager, activity_roles):
    return activity_create(
        user=rep,
        kind="appointment",
        subject="Pipeline review",
        location="Room 2",
        starts_at=START,
        attendees=[{"user": other_rep.pk}, {"user": manager.pk, "response": "declined"}],
    )


def test_set_computes_when_and_replaces_earlier_reminders(meeting):
    reminders_set(activity=meeting, minutes=[60, 15, 15])
    assert sorted(
        ActivityReminder.objects.filter(activity=meeting).values_list("minutes_before", "remind_at")
    ) == [(15, START - datetime.timedelta(minutes=15)), (60, START - datetime.timedelta(hours=1))]
    reminders_set(activity=meeting, minutes=[5], channel="both")
    assert list(
        ActivityReminder.objects.filter(activity=meeting).values_list("minutes_before", "channel")
    ) == [(5, "both")]
    reminders_set(activity=meeting, minutes=[])
    assert not ActivityReminder.objects.filter(activity=meeting).exists()


@pytest.mark.parametrize(
    ("minutes", "channel", "field"),
    [
        ([-5], "in_app", "minutes"),
        ([60 * 24 * 29], "in_app", "minutes"),
        ([1, 2, 3, 4, 5, 6], "in_app", "minutes"),
        (["soon"], "in_app", "minutes"),
        ([15], "pigeon", "channel"),
    ],
)
def test_bad_reminders_are_refused_naming_the_field(meeting, minutes, channel, field):
    with pytest.raises(ValidationFailed) as excinfo:
        reminders_set(activity=meeting, minutes=minutes, channel=channel)
    assert set(excinfo.value.errors) == {field}
    assert not ActivityReminder.objects.filter(activity=meeting).exists()


def test_a_task_without_a_due_date_cannot_have_reminders(rep, activity_roles):
    task = activity_create(user=rep, kind="task", subject="Someday")
    with pytest.raises(ValidationFailed) as excinfo:
        reminders_set(activity=task, minutes=[10])
    assert "due date" in excinfo.value.errors["minutes"][0]


def test_due_reminder_notifies_owner_and_attendees_who_did_not_decline_once(
    rep, other_rep, manager, meeting
):
    reminders_set(activity=meeting, minutes=[15], channel="both")
    assert reminders_deliver(now=NOW) == 1
    notified = Notification.objects.filter(kind="reminder")
    assert sorted(n.user_id for n in notified) == sorted([rep.pk, other_rep.pk])
    assert notified[0].title.startswith("Pipeline review: starts ")
    assert "Where: Room 2" in notified[0].body
    assert sorted(m.to[0] for m in mail.outbox) == ["other@example.com", "rep@example.com"]
    assert ActivityReminder.objects.get(activity=meeting).sent_at == NOW

    # The scheduler running again (or twice at once) delivers nothing more.
    assert reminders_deliver(now=NOW + datetime.timedelta(minutes=1)) == 0
    assert Notification.objects.filter(kind="reminder").count() == 2
    assert len(mail.outbox) == 2


def test_reminder_not_yet_due_waits(meeting):
    reminders_set(activity=meeting, minutes=[5])
    assert reminders_deliver(now=NOW) == 0
    assert not Notification.objects.exists()


def test_moving_the_appointment_moves_its_reminders_and_they_fire_again(
    rep, meeting, django_capture_on_commit_callbacks
):
    reminders_set(activity=meeting, minutes=[15])
    reminders_deliver(now=NOW)
    later = START + datetime.timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        activity_update(user=rep, activity=meeting, starts_at=later)
    reminder = ActivityReminder.objects.get(activity=meeting)
    assert reminder.remind_at == later - datetime.timedelta(minutes=15)
    assert reminder.sent_at is None
    assert reminders_deliver(now=later) == 1
    assert Notification.objects.filter(user=rep, kind="reminder").count() == 2


def test_reminders_of_deleted_done_or_long_past_activities_are_dropped(rep, activity_roles):
    deleted = activity_create(user=rep, kind="appointment", subject="Gone", starts_at=START)
    reminders_set(activity=deleted, minutes=[15])
    activity_delete(user=rep, activity=deleted)
    done = activity_create(user=rep, kind="task", subject="Done", due_at=START, status="done")
    reminders_set(activity=done, minutes=[15])
    past = activity_create(
        user=rep, kind="appointment", subject="Old", starts_at=NOW - datetime.timedelta(days=2)
    )
    reminders_set(activity=past, minutes=[0])

    assert reminders_deliver(now=NOW) == 0
    assert not Notification.objects.exists()
    assert ActivityReminder.objects.filter(sent_at__isnull=True).count() == 0


def test_a_task_reminder_goes_to_owner_and_assignee(rep, other_rep, activity_roles):
    task = activity_create(
        user=rep, kind="task", subject="Send quote", due_at=START, assignee=other_rep
    )
    reminders_set(activity=task, minutes=[10])
    assert reminders_deliver(now=NOW) == 1
    titles = set(Notification.objects.values_list("user_id", "title"))
    assert {user for user, _ in titles} == {rep.pk, other_rep.pk}
    assert all(" is due " in title for _, title in titles)


def test_delivery_works_in_bounded_batches(rep, activity_roles):
    for index in range(5):
        activity = activity_create(
            user=rep, kind="appointment", subject=f"Call {index}", starts_at=START
        )
        reminders_set(activity=activity, minutes=[15])
    assert reminders_deliver(now=NOW, batch_size=2, max_batches=2) == 4
    assert reminders_deliver(now=NOW, batch_size=2, max_batches=2) == 1


def test_inactive_users_get_nothing(rep, meeting, other_rep):
    other_rep.is_active = False
    other_rep.save(update_fields=["is_active"])
    reminders_set(activity=meeting, minutes=[15])
    reminders_deliver(now=NOW)
    assert list(Notification.objects.values_list("user_id", flat=True)) == [rep.pk]


def test_the_scheduler_runs_the_delivery_task_every_minute(rep, meeting):
    schedule = settings.CELERY_BEAT_SCHEDULE["deliver-reminders"]
    assert schedule == {"task": "activities.deliver_reminders", "schedule": 60}
    assert deliver_reminders.name == "activities.deliver_reminders"
    reminders_set(activity=meeting, minutes=[60 * 24])
    deliver_reminders()
    assert Notification.objects.count() == 2


def test_reminders_api_sets_and_lists(client, rep, other_rep, meeting):
    client.force_login(rep)
    url = f"/api/v1/activities/{meeting.pk}/reminders"
    response = client.put(
        url, {"minutes": [30, 10], "channel": "email"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert [(r["minutes_before"], r["channel"]) for r in response.json()["items"]] == [
        (10, "email"),
        (30, "email"),
    ]
    assert len(client.get(url).json()["items"]) == 2
    bad = client.put(url, {"minutes": [-1]}, content_type="application/json")
    assert bad.status_code == 422
    assert "minutes" in bad.json()["errors"]


def test_reminders_api_hides_activities_the_caller_cannot_see(client, rep, meeting):
    stranger = UserFactory(role=rep.role, email="stranger@example.com")
    client.force_login(stranger)
    url = f"/api/v1/activities/{meeting.pk}/reminders"
    assert client.get(url).status_code == 404
    response = client.put(url, {"minutes": [5]}, content_type="application/json")
    assert response.status_code == 404
    assert not ActivityAttendee.objects.filter(user=stranger).exists()
    assert not ActivityReminder.objects.filter(activity=meeting).exists()


def test_reminders_card_ticks_and_saves_reminders(client, rep, meeting):
    from django.test import RequestFactory

    from patron.activities.calendar_views import reminders_panel

    reminders_set(activity=meeting, minutes=[45])
    request = RequestFactory().get("/")
    request.user = rep
    panel = reminders_panel(request, meeting)
    assert panel is not None
    assert panel["may_change"]
    assert [o["minutes"] for o in panel["options"] if o["checked"]] == [45]
    assert "45 minutes before" in [o["label"] for o in panel["options"]]

    client.force_login(rep)
    response = client.post(
        f"/calendar/reminders/{meeting.pk}/", {"minutes": ["15", "1440"], "channel": "both"}
    )
    assert response.status_code == 302
    assert sorted(
        ActivityReminder.objects.filter(activity=meeting).values_list("minutes_before", "channel")
    ) == [(15, "both"), (1440, "both")]


def test_reminders_card_is_read_only_for_attendees_and_absent_for_notes(
    client, rep, other_rep, meeting
):
    from django.test import RequestFactory

    from patron.activities.calendar_views import reminders_panel

    request = RequestFactory().get("/")
    request.user = other_rep
    panel = reminders_panel(request, meeting)
    assert panel is not None
    assert not panel["may_change"]
    note = activity_create(user=rep, kind="note", description="Just a note")
    assert reminders_panel(request, note) is None

    client.force_login(other_rep)
    response = client.post(f"/calendar/reminders/{meeting.pk}/", {"minutes": ["15"]})
    assert response.status_code == 403
    assert not ActivityReminder.objects.filter(activity=meeting).exists()


def test_reminders_card_reports_a_task_without_due_date(client, rep, activity_roles):
    task = activity_create(user=rep, kind="task", subject="Someday")
    client.force_login(rep)
    response = client.post(f"/calendar/reminders/{task.pk}/", {"minutes": ["15"]}, follow=True)
    assert "Reminders need a due date" in response.content.decode()
    assert not ActivityReminder.objects.exists()
