"""The activities resource of /api/v1/ (thin: selectors in, services out)."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Manager
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, field_validator

from patron.activities.choices import (
    ActivityKind,
    AttendeeResponse,
    CallDirection,
    CallOutcome,
    TaskPriority,
    TaskStatus,
)
from patron.activities.filters import ACTIVITY_SORTS, ActivityFilter
from patron.activities.models import Activity, ActivityAttendee, ActivityLink
from patron.activities.selectors import activity_get, activity_list
from patron.activities.services import (
    activity_create,
    activity_delete,
    activity_link,
    activity_unlink,
    activity_update,
    task_complete,
)
from patron.core.api.auth import request_user
from patron.core.api.records import expected_version
from patron.core.api.resources import (
    ETAG_HEADER,
    IF_MATCH,
    WRITE_ERRORS,
    RecordResource,
    add_record_routes,
    record_response,
)
from patron.core.choices import Action, Via
from patron.core.exceptions import RecordNotFound
from patron.users.api import api_auth

router = Router(tags=["activities"], auth=api_auth("activities"))


class LinkRef(Schema):
    object_type: str = Field(description="The record's type, e.g. contacts.account.")
    id: int


class LinkOut(LinkRef):
    link_id: int = Field(description="The id of the link itself (to unlink it).")


class AttendeeIn(Schema):
    """A user (``user``) or a contact-like record (``object_type`` and ``id``)."""

    model_config = ConfigDict(extra="forbid")

    user: int | None = None
    object_type: str | None = None
    id: int | None = None
    response: AttendeeResponse | None = None


class AttendeeOut(Schema):
    user: int | None
    object_type: str | None
    id: int | None
    response: AttendeeResponse


def _rows(value: Any) -> list[Any]:
    return list(value.all()) if isinstance(value, Manager) else list(value)


class ActivityOut(Schema):
    id: int
    version: int
    kind: ActivityKind
    subject: str
    description: str
    occurred_at: datetime.datetime = Field(
        description="When it happens on the timeline: due, start or sent time, else creation."
    )
    due_at: datetime.datetime | None
    priority: str
    status: str
    assignee: int | None
    completed_at: datetime.datetime | None
    starts_at: datetime.datetime | None
    ends_at: datetime.datetime | None
    all_day: bool
    location: str
    direction: str
    phone_number: str = Field(description="E.164, e.g. +14155550100.")
    duration_seconds: int | None
    outcome: str
    email_from: str
    email_to: str = Field(description="Comma-separated addresses.")
    sent_at: datetime.datetime | None
    owner: int
    team: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    links: list[LinkOut]
    attendees: list[AttendeeOut]
    custom: dict[str, Any]

    @field_validator("links", mode="before")
    @classmethod
    def _link_rows(cls, value: Any) -> list[Any]:
        return [
            {"object_type": row.object_type, "id": row.object_id, "link_id": row.pk}
            if isinstance(row, ActivityLink)
            else row
            for row in _rows(value)
        ]

    @field_validator("attendees", mode="before")
    @classmethod
    def _attendee_rows(cls, value: Any) -> list[Any]:
        return [
            {
                "user": row.user_id,
                "object_type": row.object_type,
                "id": row.object_id,
                "response": row.response,
            }
            if isinstance(row, ActivityAttendee)
            else row
            for row in _rows(value)
        ]


class ActivityInput(Schema):
    """Fields to set; on PATCH only the fields sent change. Unknown fields are refused.

    ``kind`` is required on create and cannot change. Fields of another kind are refused.
    """

    model_config = ConfigDict(extra="forbid")

    kind: ActivityKind | None = None
    subject: str | None = Field(None, description="Required for every kind but notes.")
    description: str | None = None
    due_at: datetime.datetime | None = None
    priority: TaskPriority | None = None
    status: TaskStatus | None = None
    assignee: int | None = Field(None, description="A user id (tasks; default: the owner).")
    starts_at: datetime.datetime | None = None
    ends_at: datetime.datetime | None = None
    all_day: bool | None = None
    location: str | None = None
    direction: CallDirection | None = None
    phone_number: str | None = Field(None, description="Any format; stored as E.164.")
    duration_seconds: int | None = Field(None, ge=0)
    outcome: CallOutcome | None = None
    email_from: str | None = None
    email_to: str | None = Field(None, description="Comma-separated addresses.")
    sent_at: datetime.datetime | None = None
    owner: int | None = Field(None, description="The id of the owning user (default: you).")
    team: int | None = None
    links: list[LinkRef] | None = Field(
        None, description="Records this activity concerns (create only; then use /links)."
    )
    attendees: list[AttendeeIn] | None = Field(None, description="Appointments, create only.")


_ACTIVITY_FIELDS = tuple(
    name for name in ActivityOut.model_fields if name not in {"id", "version", "custom"}
)


def _create(*, user: Any, via: str, **fields: Any) -> Activity:
    return activity_create(user=user, kind=fields.pop("kind", None) or "", via=via, **fields)


add_record_routes(
    router,
    RecordResource(
        prefix="/activities",
        noun="activity",
        plural="activities",
        model=Activity,
        out_schema=ActivityOut,
        in_schema=ActivityInput,
        fields=_ACTIVITY_FIELDS,
        list_selector=activity_list,
        get=activity_get,
        create=_create,
        update=activity_update,
        delete=activity_delete,
        filterset=ActivityFilter,
        sorts=ACTIVITY_SORTS,
        default_sort="-occurred",
    ),
)


@router.post(
    "/activities/{int:record_id}/complete",
    response={200: ActivityOut, **WRITE_ERRORS},
    summary="Complete a task",
    operation_id="task_complete",
    openapi_extra={"parameters": [IF_MATCH], "responses": {200: {"headers": ETAG_HEADER}}},
)
def complete(request: HttpRequest, record_id: int, response: HttpResponse) -> dict[str, Any]:
    user = request_user(request)
    record = activity_get(user=user, pk=record_id, action=Action.UPDATE)
    record = task_complete(
        user=user, activity=record, expected_version=expected_version(request, record), via=Via.API
    )
    return record_response(response, record, _ACTIVITY_FIELDS, user)


@router.post(
    "/activities/{int:record_id}/links",
    response={201: LinkOut, **WRITE_ERRORS},
    summary="Link an activity to a record",
    operation_id="activity_link",
)
def link(request: HttpRequest, record_id: int, payload: LinkRef) -> Status[dict[str, Any]]:
    user = request_user(request)
    record = activity_get(user=user, pk=record_id, action=Action.UPDATE)
    row = activity_link(
        user=user,
        activity=record,
        object_type=payload.object_type,
        object_id=payload.id,
        via=Via.API,
    )
    return Status(201, {"object_type": payload.object_type, "id": payload.id, "link_id": row.pk})


@router.delete(
    "/activities/{int:record_id}/links/{int:link_id}",
    response={204: None, **WRITE_ERRORS},
    summary="Unlink an activity from a record",
    operation_id="activity_unlink",
)
def unlink(request: HttpRequest, record_id: int, link_id: int) -> HttpResponse:
    user = request_user(request)
    record = activity_get(user=user, pk=record_id, action=Action.UPDATE)
    row = ActivityLink.objects.filter(activity=record, pk=link_id).first()
    if row is None:
        raise RecordNotFound(f"No link with id {link_id} on this activity.")
    activity_unlink(user=user, link=row, via=Via.API)
    return HttpResponse(status=204)
