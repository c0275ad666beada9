"""Appointment invitations by email, each with the appointment as an .ics attachment.

An attendee is invited once per version of the appointment: ``invited_sequence`` records
the SEQUENCE (the activity's version) last sent, so running the task twice sends nothing
the second time, and a change of time, place or attendees sends an update.

Each send to do is first recorded as a PendingInvitation and only then handed to the
broker; the scheduler's sweep sends what is still pending after a grace period (a broker
that refused the task, a worker lost mid-send), so no invitation is lost, and the
per-attendee claim keeps a late task and the sweep from sending one twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from patron.activities.choices import ActivityKind
from patron.activities.ics import (
    Address,
    activity_uid,
    attendee_address,
    invitation_ics,
    record_addresses,
    with_calendar_parts,
    zone_of,
)
from patron.activities.models import Activity, ActivityAttendee, PendingInvitation
from patron.core import jobs
from patron.core.notifications import notification_send
from patron.core.record_pages import record_detail_url

logger = logging.getLogger(__name__)

SEND_TASK = "activities.send_invitations"
# The task usually sends within seconds; the sweep leaves a pending send this long to it.
SWEEP_GRACE = timedelta(minutes=2)
# After the sweep takes a send, it waits this long before trying again should that attempt
# not finish (mail server down, worker lost); the last delay repeats until MAX_ATTEMPTS.
SWEEP_RETRY_DELAYS = (
    timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=6)
)
MAX_ATTEMPTS = 6
SWEEP_BATCH = 200


def _load(activity_id: int) -> Activity | None:
    return (
        with_calendar_parts(Activity.all_objects.filter(kind=ActivityKind.APPOINTMENT))
        .filter(pk=activity_id)
        .first()
    )


def _when(activity: Activity) -> str:
    zone = zone_of(activity.owner)
    starts = (activity.starts_at or activity.occurred_at).astimezone(zone)
    if activity.all_day:
        return starts.strftime("%A %d %B %Y (all day)")
    text = starts.strftime("%A %d %B %Y, %H:%M")
    if activity.ends_at:
        text += activity.ends_at.astimezone(zone).strftime(" - %H:%M")
    return f"{text} ({zone.key})"


def _headline(activity: Activity, *, cancelled: bool, update: bool) -> tuple[str, str]:
    """The subject line and the opening sentence of an invitation, update or cancellation."""
    subject = activity.subject or "Appointment"
    organiser = activity.owner.get_full_name() or activity.owner.email
    if cancelled:
        return f"Cancelled: {subject}", f"{organiser} cancelled this appointment."
    if update:
        return f"Updated invitation: {subject}", f"{organiser} changed this appointment."
    return f"Invitation: {subject}", f"{organiser} invites you to this appointment."


def _notify(activity: Activity, row: ActivityAttendee, *, cancelled: bool, update: bool) -> None:
    """Tell a user attendee in the app too (once per version of the appointment)."""
    heading, first = _headline(activity, cancelled=cancelled, update=update)
    notification_send(
        user=row.user,
        kind="invitation",
        title=heading,
        body=f"{first}\nWhen: {_when(activity)}",
        url="" if cancelled else record_detail_url(Activity.object_type(), activity.pk) or "",
        dedupe_key=f"invitation:{activity.pk}:{row.user_id}:{activity.version}",
    )


def _message(
    activity: Activity, address: Address, ics: bytes, *, cancelled: bool, update: bool
) -> EmailMultiAlternatives:
    heading, first = _headline(activity, cancelled=cancelled, update=update)
    lines = [f"Hello {address.name or address.email},", "", first, "", f"When: {_when(activity)}"]
    if activity.location:
        lines.append(f"Where: {activity.location}")
    if activity.description:
        lines += ["", activity.description]
    lines += ["", "Open the attached invite.ics to add it to your calendar."]
    method = "CANCEL" if cancelled else "REQUEST"
    message = EmailMultiAlternatives(
        subject=heading,
        body="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address.email],
        reply_to=[activity.owner.email] if activity.owner.email else None,
        headers={"X-Patron-Event-UID": activity_uid(activity)},
    )
    # The calendar both inline (so mail programs show Accept/Decline) and as a file.
    message.attach_alternative(ics.decode(), f"text/calendar; method={method}; charset=utf-8")
    message.attach("invite.ics", ics, f"text/calendar; method={method}")
    return message


def _pending(activity: Activity, *, cancelled: bool) -> list[ActivityAttendee]:
    """Attendees owed this version: not yet invited to it (or, for a cancellation, invited
    before and not yet told)."""
    rows = list(activity.attendees.all())
    if cancelled:
        return [
            r
            for r in rows
            if r.invited_sequence is not None and r.invited_sequence < activity.version
        ]
    return [r for r in rows if r.invited_sequence is None or r.invited_sequence < activity.version]


def appointment_invitations_send(*, activity_id: int) -> int:
    """Email the appointment to every attendee with an address who has not had this version;
    a deleted appointment sends a cancellation to those invited before. The number sent."""
    activity = _load(activity_id)
    if activity is None:
        return 0
    cancelled = activity.deleted_at is not None
    pending = _pending(activity, cancelled=cancelled)
    if not pending:
        return 0
    ics = invitation_ics(activity, cancelled=cancelled)
    records = record_addresses(pending)
    sent = 0
    for row in pending:
        address = attendee_address(row, records)
        if address.email and (row.user is None or row.user.is_active):
            update = row.invited_sequence is not None
            with transaction.atomic():
                # Claim the row first, so a concurrent run of the same task sends nothing.
                claimed = ActivityAttendee.objects.filter(
                    pk=row.pk, invited_sequence=row.invited_sequence
                ).update(invited_at=timezone.now(), invited_sequence=activity.version)
                if not claimed:
                    continue
                if row.user is not None:
                    _notify(activity, row, cancelled=cancelled, update=update)
                _message(activity, address, ics, cancelled=cancelled, update=update).send()
            sent += 1
        elif not cancelled:
            # Nobody to email (no address): record this version as handled all the same.
            ActivityAttendee.objects.filter(pk=row.pk).update(invited_sequence=activity.version)
    return sent


def appointment_invitations_queue(*, activity_id: int) -> None:
    """Record that ``activity_id``'s attendees are owed its current version, then hand the
    send to the broker; should the broker refuse it, the sweep sends it."""
    now = timezone.now()
    pending = {"queued_at": now, "send_after": now + SWEEP_GRACE, "attempts": 0}
    PendingInvitation.objects.update_or_create(activity_id=activity_id, defaults=pending)
    jobs.enqueue(SEND_TASK, activity_id)


def appointment_invitations_deliver(*, activity_id: int) -> int:
    """Send what ``activity_id``'s attendees are owed and clear its pending row, unless a
    newer change was queued meanwhile (that one is sent by its own task or the sweep)."""
    pending = PendingInvitation.objects.filter(activity_id=activity_id).first()
    sent = appointment_invitations_send(activity_id=activity_id)
    if pending is not None:
        PendingInvitation.objects.filter(pk=pending.pk, queued_at=pending.queued_at).delete()
    return sent


def _take_due(now: datetime) -> list[PendingInvitation]:
    """Lock the due rows no other sweep holds and push their next attempt back."""
    with transaction.atomic():
        due = list(
            PendingInvitation.objects.select_for_update(skip_locked=True)
            .filter(send_after__lte=now)
            .order_by("send_after")[:SWEEP_BATCH]
        )
        for row in due:
            row.attempts += 1
            delay = SWEEP_RETRY_DELAYS[min(row.attempts, len(SWEEP_RETRY_DELAYS)) - 1]
            row.send_after = now + delay
        PendingInvitation.objects.bulk_update(due, ["attempts", "send_after"])
    return due


def pending_invitations_send() -> int:
    """The sweep: send invitations still pending after the grace period. The number sent."""
    sent = 0
    for row in _take_due(timezone.now()):
        if row.attempts > MAX_ATTEMPTS:
            logger.error(
                "Gave up sending invitations for activity %s after %s attempts",
                row.activity_id, MAX_ATTEMPTS,
            )
            PendingInvitation.objects.filter(pk=row.pk, queued_at=row.queued_at).delete()
            continue
        try:
            sent += appointment_invitations_deliver(activity_id=row.activity_id)
        except Exception:
            # Left pending: taken again at its send_after.
            logger.exception("Sending invitations for activity %s failed", row.activity_id)
    return sent
