"""GET /api/v1/timeline/{object_type}/{id}: a record's 360° timeline, newest first."""

from __future__ import annotations

import datetime
from dataclasses import asdict

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from patron.core.api.auth import request_user
from patron.core.api.problems import problem_responses
from patron.core.timeline import (
    DEFAULT_LIMIT,
    DEPARTMENTS,
    MAX_LIMIT,
    timeline_filters,
    timeline_page,
    timeline_record,
)

# Authentication (a token of the area set where config.api_v1 mounts it, or a session).
router = Router(tags=["timeline"])


class TimelineItem(Schema):
    at: datetime.datetime = Field(description="When it happened; the list's order, newest first.")
    kind: str = Field(description="task, appointment, call, note, email, change, ...")
    department: str = Field(
        description=f"One of {', '.join(DEPARTMENTS)}; empty for changes to the record."
    )
    title: str
    summary: str
    url: str | None = Field(description="The page of the entry's record in the web app.")
    actor: str = Field(description="Who did it.")
    source: str = Field(description="The app that contributed the entry.")
    id: int = Field(description="The entry's id within its source.")
    icon: str
    badge: str


class TimelinePageOut(Schema):
    items: list[TimelineItem]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for older entries; null on the last page."
    )


class TimelineParams(Schema):
    kind: list[str] = Field(
        default_factory=list,
        description="Only these kinds (repeat the parameter or separate with commas).",
    )
    department: str = Field("", description=f"Only one department: {', '.join(DEPARTMENTS)}.")
    cursor: str | None = Field(
        None, description="The next_cursor of the previous page; leave out for the newest."
    )
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Entries per page.")


@router.get(
    "/{object_type}/{record_id}",
    response={200: TimelinePageOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="A record's timeline",
)
def timeline_get(
    request: HttpRequest, object_type: str, record_id: int, params: Query[TimelineParams]
) -> TimelinePageOut:
    """Activities, changes and whatever other apps contribute about the record (for an
    account: also its child accounts and their contacts), newest first, keyset paged.
    Entries the caller may not see are left out; a record they may not see is 404."""
    user = request_user(request)
    record = timeline_record(user=user, object_type=object_type, pk=record_id)
    kinds = [part.strip() for value in params.kind for part in value.split(",")]
    filters = timeline_filters(kinds=kinds, department=params.department)
    page = timeline_page(
        user=user, record=record, filters=filters, cursor=params.cursor or "", limit=params.limit
    )
    return TimelinePageOut(
        items=[TimelineItem(**asdict(entry)) for entry in page.entries],
        next_cursor=page.next_cursor,
    )
