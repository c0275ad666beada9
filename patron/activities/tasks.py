"""Activities tasks. Thin: ids in, one service call, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from patron.activities.invitations import (
    appointment_invitations_deliver,
    pending_invitations_send,
)
from patron.activities.reminders import reminders_deliver


@shared_task(name="activities.send_invitations")
def send_invitations(activity_id: int) -> None:
    """Email appointment ``activity_id`` to attendees who have not had its current version."""
    appointment_invitations_deliver(activity_id=activity_id)


@shared_task(name="activities.send_pending_invitations")
def send_pending_invitations() -> None:
    """Send invitations the broker or a lost worker dropped (the scheduler runs it every
    minute)."""
    pending_invitations_send()


@shared_task(name="activities.deliver_reminders")
def deliver_reminders() -> None:
    """Deliver due reminders (the scheduler runs it every minute)."""
    reminders_deliver()
