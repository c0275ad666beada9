"""Reminders: set them on an appointment or a task, keep them in step with its time, and
deliver the due ones (the scheduler runs ``reminders_deliver`` every minute).

Delivery is safe to run twice and from two workers at once: each reminder is claimed with a
conditional UPDATE before anything is sent, and notifications carry a dedupe key.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from patron.activities.choices import (
    ActivityKind,
    AttendeeResponse,
    ReminderChannel,
    TaskStatus,
)
from patron.activities.ics import zone_of
from patron.activities.models import Activity, ActivityAttendee, ActivityReminder
from patron.core.exceptions import ValidationFailed
from patron.core.notifications import notification_send
from patron.core.record_pages import record_detail_url

logger = logging.getLogger(__name__)

MAX_REMINDERS = 5
MAX_MINUTES_BEFORE = 60 * 24 * 28
BATCH_SIZE = 200
# A reminder whose appointment started (or task fell due) longer ago than this is not
# delivered late, e.g. after the scheduler was down for a day: it would only be noise.
STALE_AFTER = datetime.timedelta(hours=1)


def reminder_anchor(activity: Activity) -> datetime.datetime | None:
    """The moment reminders count back from: an appointment's start, a task's due time."""
    if activity.kind == ActivityKind.APPOINTMENT:
        return activity.starts_at
    if activity.kind == ActivityKind.TASK:
        return activity.due_at
    return None


def _clean_minutes(minutes: Any) -> list[int]:
    if not isinstance(minutes, list | tuple):
        raise ValidationFailed(
            "Give the reminders as a list of minutes.",
            errors={"minutes": ["Give a list of minutes before the start, e.g. [15, 1440]."]},
        )
    problems: list[str] = []
    cleaned: list[int] = []
    for value in minutes:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{value!r} is not a whole number of minutes.")
        elif not 0 <= value <= MAX_MINUTES_BEFORE:
            problems.append(f"{value} is not between 0 and {MAX_MINUTES_BEFORE} (four weeks).")
        elif value not in cleaned:
            cleaned.append(value)
    if len(cleaned) > MAX_REMINDERS:
        problems.append(f"Set at most {MAX_REMINDERS} reminders.")
    if problems:
        raise ValidationFailed("Some reminders are not valid.", errors={"minutes": problems})
    return sorted(cleaned)


def reminders_set(
    *, activity: Activity, minutes: list[int], channel: str = ReminderChannel.IN_APP
) -> list[ActivityReminder]:
    """Replace the reminders of ``activity`` with one per entry of ``minutes`` (minutes before
    its start or due time) on ``channel``; an empty list removes them all."""
    if channel not in ReminderChannel.values:
        raise ValidationFailed(
            "Unknown reminder channel.",
            errors={"channel": [f"Choose one of: {', '.join(ReminderChannel.values)}."]},
        )
    cleaned = _clean_minutes(minutes)
    anchor = reminder_anchor(activity)
    if anchor is None:
        if cleaned:
            what = "a due date" if activity.kind == ActivityKind.TASK else "a start time"
            raise ValidationFailed(
                "This activity has no time to remind of.",
                errors={"minutes": [f"Reminders need {what}; set it first."]},
            )
        ActivityReminder.objects.filter(activity=activity).delete()
        return []
    with transaction.atomic():
        ActivityReminder.objects.filter(activity=activity).exclude(
            minutes_before__in=cleaned, channel=channel
        ).delete()
        kept = {
            r.minutes_before: r
            for r in ActivityReminder.objects.filter(activity=activity, channel=channel)
        }
        rows: list[ActivityReminder] = []
        for value in cleaned:
            row = kept.get(value)
            if row is None:
                row = ActivityReminder.objects.create(
                    activity=activity,
                    minutes_before=value,
                    channel=channel,
                    remind_at=anchor - datetime.timedelta(minutes=value),
                )
            rows.append(row)
    return rows


def reminders_reschedule(*, activity: Activity) -> None:
    """Move the reminders of ``activity`` with its start or due time; a reminder whose moment
    moves into the future will be delivered again. Without a time they are removed."""
    anchor = reminder_anchor(activity)
    reminders = list(ActivityReminder.objects.filter(activity=activity))
    if anchor is None:
        ActivityReminder.objects.filter(activity=activity).delete()
        return
    now = timezone.now()
    for reminder in reminders:
        moment = anchor - datetime.timedelta(minutes=reminder.minutes_before)
        if moment == reminder.remind_at:
            continue
        reminder.remind_at = moment
        if moment > now:
            reminder.sent_at = None
        reminder.save(update_fields=["remind_at", "sent_at"])


def _recipients(activity: Activity) -> list[Any]:
    """Owner, assignee and user attendees who have not declined: active, each once."""
    people: list[Any] = [activity.owner, activity.assignee]
    people += [
        row.user
        for row in activity.attendees.all()
        if row.user is not None and row.response != AttendeeResponse.DECLINED
    ]
    seen: set[int] = set()
    result = []
    for person in people:
        if person is None or not person.is_active or person.pk in seen:
            continue
        seen.add(person.pk)
        result.append(person)
    return result


def _when(activity: Activity, user: Any) -> str:
    anchor = reminder_anchor(activity)
    if anchor is None:
        return ""
    local = anchor.astimezone(zone_of(user))
    if activity.all_day:
        return local.strftime("%a %d %b %Y")
    return local.strftime("%a %d %b %Y %H:%M ") + str(local.tzname() or "")


def _message(activity: Activity, user: Any) -> tuple[str, str]:
    verb = "starts" if activity.kind == ActivityKind.APPOINTMENT else "is due"
    title = f"{activity.subject or activity}: {verb} {_when(activity, user)}".strip()
    lines = []
    if activity.location:
        lines.append(f"Where: {activity.location}")
    if activity.description:
        lines.append(activity.description)
    return title, "\n".join(lines)


def _deliver(reminder: ActivityReminder) -> None:
    activity = reminder.activity
    url = record_detail_url(Activity.object_type(), activity.pk) or ""
    channel = reminder.channel
    emails: list[EmailMessage] = []
    for user in _recipients(activity):
        title, body = _message(activity, user)
        if channel in (ReminderChannel.IN_APP, ReminderChannel.BOTH):
            notification_send(
                user=user,
                kind="reminder",
                title=title,
                body=body,
                url=url,
                # The moment is part of the key so a reminder moved with its appointment
                # is delivered again, while a repeated run for the same moment is not.
                dedupe_key=f"reminder:{reminder.pk}:{user.pk}:{int(reminder.remind_at.timestamp())}",
            )
        if channel in (ReminderChannel.EMAIL, ReminderChannel.BOTH) and user.email:
            emails.append(
                EmailMessage(
                    subject=f"Reminder: {title}",
                    body=body or title,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    to=[user.email],
                )
            )
    for message in emails:
        message.send()


def _is_void(activity: Activity, now: datetime.datetime) -> bool:
    """True when the reminder no longer makes sense: deleted, done, or long past."""
    if activity.deleted_at is not None:
        return True
    if activity.kind == ActivityKind.TASK and activity.status in (
        TaskStatus.DONE,
        TaskStatus.CANCELLED,
    ):
        return True
    anchor = reminder_anchor(activity)
    return anchor is None or anchor < now - STALE_AFTER


def _due_batch(now: datetime.datetime, size: int) -> list[ActivityReminder]:
    return list(
        ActivityReminder.objects.filter(sent_at__isnull=True, remind_at__lte=now)
        .select_related("activity__owner", "activity__assignee")
        .prefetch_related(
            Prefetch(
                "activity__attendees",
                queryset=ActivityAttendee.objects.filter(user__isnull=False).select_related("user"),
            )
        )
        .order_by("remind_at", "pk")[:size]
    )


def reminders_deliver(
    *, now: datetime.datetime | None = None, batch_size: int = BATCH_SIZE, max_batches: int = 10
) -> int:
    """Deliver reminders that are due and not yet sent; the number delivered.

    Works in batches of ``batch_size`` so a backlog never loads at once; what is left after
    ``max_batches`` waits for the next run.
    """
    now = now or timezone.now()
    delivered = 0
    for _ in range(max_batches):
        batch = _due_batch(now, batch_size)
        for reminder in batch:
            delivered += _claim_and_deliver(reminder, now)
        if len(batch) < batch_size:
            break
    return delivered


def _claim_and_deliver(reminder: ActivityReminder, now: datetime.datetime) -> int:
    try:
        with transaction.atomic():
            claimed = ActivityReminder.objects.filter(
                pk=reminder.pk, sent_at__isnull=True, remind_at=reminder.remind_at
            ).update(sent_at=now)
            if not claimed:
                return 0
            if _is_void(reminder.activity, now):
                return 0
            _deliver(reminder)
    except Exception:
        # The claim rolls back with the failure, so the next run tries this reminder again;
        # one broken address must not hold up the rest of the batch.
        logger.exception("reminder %s could not be delivered", reminder.pk)
        return 0
    return 1
