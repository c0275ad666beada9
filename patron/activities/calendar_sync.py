"""Keeps invitations and reminders in step with appointments and tasks, by reacting to the
activity events the services emit after commit (no change to the write path itself)."""

from __future__ import annotations

from typing import Any

from patron.activities.choices import ActivityKind
from patron.activities.invitations import appointment_invitations_queue
from patron.activities.models import Activity, ActivityAttendee
from patron.activities.reminders import reminders_reschedule
from patron.core import events

# A change to any of these sends attendees an updated invitation.
INVITATION_FIELDS = frozenset({"starts_at", "ends_at", "all_day", "location", "subject"})
# A change to any of these moves the reminders.
REMINDER_FIELDS = frozenset({"starts_at", "due_at"})


def _send_invitations(pk: int) -> None:
    # Recorded as pending before it is enqueued, so a broker that is down neither fails the
    # request whose appointment is already saved nor loses the send: the sweep makes it.
    appointment_invitations_queue(activity_id=pk)


def on_activity_event(event: str, payload: dict[str, Any]) -> None:
    activity = Activity.all_objects.filter(pk=int(payload["pk"])).first()
    if activity is None:
        return
    appointment = activity.kind == ActivityKind.APPOINTMENT
    if event == "activity.updated":
        changed = set(payload.get("changes") or {})
        if changed & REMINDER_FIELDS:
            reminders_reschedule(activity=activity)
        if appointment and changed & INVITATION_FIELDS:
            _send_invitations(activity.pk)
    elif appointment and ActivityAttendee.objects.filter(activity=activity).exists():
        # Created (invite), deleted (cancel) or restored (invite again).
        _send_invitations(activity.pk)


def connect() -> None:
    for verb in ("created", "updated", "deleted", "restored"):
        events.subscribe(f"activity.{verb}", on_activity_event)
