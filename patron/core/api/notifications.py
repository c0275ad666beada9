"""/api/v1/notifications/: the caller's own in-app notifications.

Authentication (a token with the users scope, or a session) is set where config.api_v1
mounts this router.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from patron.core.api.auth import request_user
from patron.core.api.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Page,
    keyset_page,
    page_body,
)
from patron.core.api.problems import problem_responses
from patron.core.notifications import (
    notification_get,
    notification_list,
    notification_mark_all_read,
    notification_mark_read,
    notification_unread_count,
)

router = Router(tags=["notifications"])

_SORT = "-created"
_COLUMNS = ("-created_at", "-id")


class NotificationOut(Schema):
    id: int
    kind: str = Field(description="What it is about, e.g. reminder or invitation.")
    title: str
    body: str
    url: str = Field(description="The page it concerns in the web app; empty if none.")
    created_at: datetime.datetime
    read_at: datetime.datetime | None = Field(description="Null while unread.")


class NotificationPage(Page[NotificationOut]):
    unread: int = Field(description="How many of the caller's notifications are unread.")


class NotificationParams(Schema):
    limit: int = Field(
        DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Rows per page (1 to {MAX_LIMIT})."
    )
    cursor: str | None = Field(None, description="The next_cursor of the previous page.")
    unread: bool = Field(False, description="Only unread notifications.")


class ReadAll(Schema):
    marked: int = Field(description="How many notifications were marked read.")


@router.get(
    "/",
    response={200: NotificationPage, **problem_responses(400, 401, 403)},
    summary="List my notifications",
    operation_id="notification_list",
)
def list_notifications(request: HttpRequest, params: Query[NotificationParams]) -> dict[str, Any]:
    """The caller's notifications, newest first, in keyset pages."""
    user = request_user(request)
    queryset = notification_list(user=user)
    if params.unread:
        queryset = queryset.filter(read_at__isnull=True)
    rows, next_cursor = keyset_page(
        queryset, sort=_SORT, columns=_COLUMNS, limit=params.limit, cursor=params.cursor
    )
    body = page_body(rows, next_cursor)
    body["unread"] = notification_unread_count(user=user)
    return body


@router.post(
    "/{int:notification_id}/read",
    response={200: NotificationOut, **problem_responses(401, 403, 404)},
    summary="Mark a notification read",
    operation_id="notification_read",
)
def read(request: HttpRequest, notification_id: int) -> Any:
    user = request_user(request)
    row = notification_get(user=user, pk=notification_id)
    return notification_mark_read(user=user, notification=row)


@router.post(
    "/read-all",
    response={200: ReadAll, **problem_responses(401, 403)},
    summary="Mark all my notifications read",
    operation_id="notification_read_all",
)
def read_all(request: HttpRequest) -> dict[str, int]:
    return {"marked": notification_mark_all_read(user=request_user(request))}
