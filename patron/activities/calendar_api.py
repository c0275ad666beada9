"""Calendar resources of /api/v1/: ICS import, the subscription URL and reminders."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.activities.calendar import calendar_feed_delete, calendar_feed_reset
from patron.activities.choices import ReminderChannel
from patron.activities.ics import MAX_IMPORT_BYTES, ics_import
from patron.activities.models import ActivityReminder
from patron.activities.reminders import reminders_set
from patron.activities.selectors import activity_get
from patron.core.api.auth import request_user
from patron.core.api.problems import problem_responses
from patron.core.choices import Action, Via
from patron.core.exceptions import ValidationFailed
from patron.users.api import api_auth

router = Router(tags=["calendar"], auth=api_auth("activities"))


class ImportProblemOut(Schema):
    number: int = Field(description="The event's position in the file, from 1.")
    summary: str
    uid: str
    messages: list[str] = Field(description="Why it was not imported and what to fix.")


class ImportOut(Schema):
    created: list[int] = Field(description="Ids of the appointments created.")
    problems: list[ImportProblemOut] = Field(description="Events that were not imported.")
    notes: list[str] = Field(description="Events skipped as already present, repeats cut.")


class FeedOut(Schema):
    url: str = Field(description="The secret subscription URL; shown only in this answer.")


class RemindersIn(Schema):
    model_config = ConfigDict(extra="forbid")

    minutes: list[int] = Field(
        description="Minutes before the start (appointment) or due time (task); [] removes all."
    )
    channel: ReminderChannel = ReminderChannel.IN_APP


class ReminderOut(Schema):
    id: int
    minutes_before: int
    channel: ReminderChannel
    remind_at: datetime.datetime
    sent_at: datetime.datetime | None


class RemindersOut(Schema):
    items: list[ReminderOut]


def _upload(request: HttpRequest) -> bytes:
    """The .ics sent as the body (text/calendar) or as the multipart field ``file``."""
    if (request.content_type or "").startswith("multipart/"):
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed(
                "Send the .ics as the multipart field 'file'.",
                errors={"file": ["This field is required."]},
            )
        if upload.size is not None and upload.size > MAX_IMPORT_BYTES:
            raise ValidationFailed(
                "The file is too large.",
                errors={"file": [f"Upload at most {MAX_IMPORT_BYTES // 1_048_576} MB of .ics."]},
            )
        content: bytes = upload.read()
        return content
    return bytes(request.body)


@router.post(
    "/calendar/import",
    response={200: ImportOut, **problem_responses(401, 403, 422)},
    summary="Import appointments from an iCalendar file",
    description=(
        "Send an .ics (RFC 5545) as the body with Content-Type text/calendar, or as the "
        "multipart field 'file' (at most 2 MB). Each VEVENT becomes an appointment you own; "
        "events that cannot be read (no DTSTART, an end before the start, a broken date) are "
        "listed in problems with their number and the others are still created. Events "
        "already in your calendar (same title and start) are skipped, so a retry is harmless. "
        "A file that is not iCalendar is refused with 422 naming 'file'."
    ),
    operation_id="calendar_import",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/calendar": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        },
    },
)
def calendar_import(request: HttpRequest) -> dict[str, Any]:
    result = ics_import(user=request_user(request), data=_upload(request), via=Via.API)
    return {
        "created": [row.pk for row in result.created],
        "problems": [vars(problem) for problem in result.problems],
        "notes": result.notes,
    }


@router.post(
    "/calendar/feed",
    response={201: FeedOut, **problem_responses(401, 403)},
    summary="Create or reset my calendar subscription URL",
    description=(
        "Returns a new secret URL of your iCalendar feed (appointments you own or attend, "
        "tasks assigned to you, 90 days back to a year ahead). Any earlier URL stops working. "
        "The URL is not stored and cannot be shown again: call this again to get a new one."
    ),
    operation_id="calendar_feed_reset",
)
def calendar_feed(request: HttpRequest) -> Status[dict[str, str]]:
    token = calendar_feed_reset(user=request_user(request))
    return Status(201, {"url": request.build_absolute_uri(reverse("calendar:feed", args=[token]))})


@router.delete(
    "/calendar/feed",
    response={204: None, **problem_responses(401, 403)},
    summary="Turn off my calendar subscription",
    description="The subscription URL stops working; POST /calendar/feed makes a new one.",
    operation_id="calendar_feed_delete",
)
def calendar_feed_off(request: HttpRequest) -> HttpResponse:
    calendar_feed_delete(user=request_user(request))
    return HttpResponse(status=204)


def _reminders(activity_id: int) -> dict[str, Any]:
    rows = ActivityReminder.objects.filter(activity_id=activity_id).order_by(
        "minutes_before", "channel"
    )
    return {"items": list(rows)}


@router.get(
    "/activities/{int:record_id}/reminders",
    response={200: RemindersOut, **problem_responses(401, 403, 404)},
    summary="List an activity's reminders",
    operation_id="activity_reminders_get",
)
def reminders_get(request: HttpRequest, record_id: int) -> dict[str, Any]:
    activity = activity_get(user=request_user(request), pk=record_id)
    return _reminders(activity.pk)


@router.put(
    "/activities/{int:record_id}/reminders",
    response={200: RemindersOut, **problem_responses(401, 403, 404, 422)},
    summary="Set an activity's reminders",
    description=(
        "Replaces the reminders of an appointment or a dated task with one per entry of "
        "minutes, delivered on channel (in_app, email or both) to the owner, the assignee and "
        "the user attendees. They move when the start or due time moves."
    ),
    operation_id="activity_reminders_set",
)
def reminders_put(request: HttpRequest, record_id: int, payload: RemindersIn) -> dict[str, Any]:
    activity = activity_get(user=request_user(request), pk=record_id, action=Action.UPDATE)
    reminders_set(activity=activity, minutes=payload.minutes, channel=payload.channel)
    return _reminders(activity.pk)
