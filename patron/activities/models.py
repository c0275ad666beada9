"""Activities: tasks, appointments, calls, notes and logged emails in one table.

One table (not one per kind) because the 360° timeline pages over every kind at once with
one keyset index on ``occurred_at``; kind-specific columns are nullable or blank.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models

from patron.activities.choices import (
    ActivityKind,
    AttendeeResponse,
    CallDirection,
    CallOutcome,
    ReminderChannel,
    TaskPriority,
    TaskStatus,
)
from patron.core.models import BusinessRecord


class Activity(BusinessRecord):
    kind = models.CharField(max_length=20, choices=ActivityKind.choices)
    subject = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    # The moment the timeline orders by: due (task), start (appointment), sent (email),
    # else creation; computed by the services, never sent by clients.
    occurred_at = models.DateTimeField()

    due_at = models.DateTimeField(null=True, blank=True)
    priority = models.CharField(max_length=10, choices=TaskPriority.choices, blank=True)
    status = models.CharField(max_length=20, choices=TaskStatus.choices, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    all_day = models.BooleanField(default=False)
    location = models.CharField(max_length=300, blank=True)

    direction = models.CharField(max_length=10, choices=CallDirection.choices, blank=True)
    phone_number = models.CharField(max_length=32, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=CallOutcome.choices, blank=True)

    email_from = models.CharField(max_length=254, blank=True)
    email_to = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["kind", "occurred_at", "id"], name="activity_kind_occurred"),
            models.Index(fields=["owner", "occurred_at", "id"], name="activity_owner_occurred"),
            models.Index(fields=["assignee", "status", "due_at"], name="activity_assignee_due"),
        ]

    def __str__(self) -> str:
        return self.subject or f"{self.get_kind_display()} {self.pk}"


class ActivityLink(models.Model):
    """The one generic link from an activity to any business record it concerns."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="links")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["content_type", "object_id"], name="activity_link_target")]
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "content_type", "object_id"], name="uniq_activity_link"
            )
        ]

    @property
    def object_type(self) -> str:
        return f"{self.content_type.app_label}.{self.content_type.model}"


class ActivityAttendee(models.Model):
    """Someone invited to an appointment: a user, or a contact-like business record."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="attendees")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    object_id = models.BigIntegerField(null=True, blank=True)
    response = models.CharField(
        max_length=20, choices=AttendeeResponse.choices, default=AttendeeResponse.NEEDS_ACTION
    )
    # When the last invitation (or update) went out, and which SEQUENCE it carried (RFC 5545).
    invited_at = models.DateTimeField(null=True, blank=True)
    invited_sequence = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "activity"], name="activity_attendee_user")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, content_type__isnull=True, object_id__isnull=True)
                    | models.Q(
                        user__isnull=True, content_type__isnull=False, object_id__isnull=False
                    )
                ),
                name="attendee_is_user_or_record",
            )
        ]

    @property
    def object_type(self) -> str | None:
        if self.content_type is None:
            return None
        return f"{self.content_type.app_label}.{self.content_type.model}"


class PendingInvitation(models.Model):
    """An appointment whose attendees are owed an invitation, update or cancellation.

    Written before the send is handed to the broker and deleted once it is done, so a send
    the broker refused (or a worker lost) is picked up by the scheduler's sweep instead of
    being forgotten. ``queued_at`` changes with every new change to send, so a finished send
    only clears the row when no newer change arrived meanwhile.
    """

    activity = models.OneToOneField(Activity, on_delete=models.CASCADE, related_name="+")
    queued_at = models.DateTimeField()
    # The sweep takes the row at this time: a grace period after queueing (the task usually
    # sends first), then later after each attempt that did not finish.
    send_after = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["send_after"], name="pending_invitation_due")]

    def __str__(self) -> str:
        return f"Invitations for activity {self.activity_id}"


class ActivityReminder(models.Model):
    """A reminder ``minutes_before`` an appointment starts or a task is due.

    ``remind_at`` is recomputed by the services whenever the activity's time moves; the
    scheduler delivers due reminders once (``sent_at``) to the owner, the assignee and user
    attendees.
    """

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="reminders")
    minutes_before = models.PositiveIntegerField()
    channel = models.CharField(
        max_length=10, choices=ReminderChannel.choices, default=ReminderChannel.IN_APP
    )
    remind_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["sent_at", "remind_at"], name="activity_reminder_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "minutes_before", "channel"], name="uniq_activity_reminder"
            )
        ]


class CalendarFeed(models.Model):
    """A user's secret iCalendar subscription URL; only a digest of the secret is stored."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
