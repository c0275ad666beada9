"""Privacy (GDPR) requests in /api/v1/data/privacy-requests (administrators; token area
"data"). Thin handlers over privacy_services.

No ``from __future__ import annotations``: Ninja reads the handlers' annotations.
"""

import datetime
from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.core.api.auth import request_user
from patron.core.api.openapi import filter_parameters
from patron.core.api.pagination import (
    ListParams,
    Page,
    filtered,
    keyset_page,
    page_body,
    sort_columns,
)
from patron.core.api.problems import problem_responses
from patron.data_exchange.choices import PrivacyRequestKind
from patron.data_exchange.models import PrivacyRequest
from patron.data_exchange.privacy_filters import DEFAULT_SORT, PRIVACY_SORTS, PrivacyRequestFilter
from patron.data_exchange.privacy_selectors import (
    privacy_request_get,
    privacy_requests,
    require_privacy_handler,
)
from patron.data_exchange.privacy_services import (
    privacy_archive_opened,
    privacy_preview,
    privacy_request_create,
)

router = Router(tags=["data management"])

LIST_ERRORS = problem_responses(400, 401, 403, 422)
GET_ERRORS = problem_responses(401, 403, 404)
WRITE_ERRORS = problem_responses(400, 401, 403, 422)
ADMIN_ONLY = "Administrators only (403 otherwise). "
_BASE = "/data/privacy-requests"


class PrivacyRequestOut(Schema):
    id: int
    kind: str
    status: str
    subject_email: str
    contact_id: int | None
    lead_id: int | None
    reason: str
    requested_by_id: int | None
    performed_by_id: int | None
    summary: dict[str, Any]
    job_id: int | None
    progress_percent: int | None
    has_archive: bool
    created_at: datetime.datetime
    completed_at: datetime.datetime | None


class PrivacyRequestIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: PrivacyRequestKind
    email: str = Field("", description="Find the person by this email address.")
    contact_id: int | None = Field(None, description="Or by a contact.")
    lead_id: int | None = Field(None, description="Or by a lead.")
    reason: str = Field("", description="How the request arrived, a reference.")
    confirm: bool = Field(
        False, description="Required (true) for erase and anonymise, which cannot be undone."
    )


class PreviewIn(Schema):
    model_config = ConfigDict(extra="forbid")

    email: str = ""
    contact_id: int | None = None
    lead_id: int | None = None


class PreviewOut(Schema):
    emails: list[str]
    contact_ids: list[int]
    lead_ids: list[int]
    account_ids: list[int]
    found: dict[str, int]


def _out(row: PrivacyRequest) -> dict[str, Any]:
    summary = dict(row.summary or {})
    return {
        "id": row.pk,
        "kind": row.kind,
        "status": row.status,
        "subject_email": row.subject_email,
        "contact_id": row.contact_id,
        "lead_id": row.lead_id,
        "reason": row.reason,
        "requested_by_id": row.requested_by_id,
        "performed_by_id": row.performed_by_id,
        "summary": summary,
        "job_id": row.job_id,
        "progress_percent": row.job.percent if row.job else None,
        "has_archive": bool(row.archive),
        "created_at": row.created_at,
        "completed_at": row.completed_at,
    }


@router.get(
    _BASE,
    response={200: Page[PrivacyRequestOut], **LIST_ERRORS},
    summary="List privacy requests",
    description=f"{ADMIN_ONLY}Newest first by default; sort keys: {', '.join(PRIVACY_SORTS)}. "
    "Keyset pages: pass next_cursor as ?cursor=. An unknown filter is refused with 422.",
    operation_id="privacy_request_list",
    openapi_extra={"parameters": filter_parameters(PrivacyRequestFilter)},
)
def privacy_index(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    user = request_user(request)
    require_privacy_handler(user)
    sort, columns = sort_columns(params.sort, PRIVACY_SORTS, DEFAULT_SORT)
    rows, next_cursor = keyset_page(
        filtered(request, privacy_requests(user), PrivacyRequestFilter),
        sort=sort,
        columns=columns,
        limit=params.limit,
        cursor=params.cursor,
    )
    return page_body([_out(row) for row in rows], next_cursor)


@router.post(
    f"{_BASE}/preview",
    response={200: PreviewOut, **WRITE_ERRORS},
    summary="What a privacy request would cover",
    description=f"{ADMIN_ONLY}Finds the person and counts their records; writes nothing. "
    "An address or id that finds nothing is a 422 saying so.",
    operation_id="privacy_request_preview",
)
def privacy_preview_post(request: HttpRequest, payload: PreviewIn) -> dict[str, Any]:
    subject, counts = privacy_preview(
        user=request_user(request),
        email=payload.email,
        contact_id=payload.contact_id,
        lead_id=payload.lead_id,
    )
    return {
        "emails": sorted(subject.emails),
        "contact_ids": subject.contact_ids,
        "lead_ids": subject.lead_ids,
        "account_ids": subject.account_ids,
        "found": counts,
    }


@router.post(
    _BASE,
    response={202: PrivacyRequestOut, **WRITE_ERRORS},
    summary="Make a privacy request (export, erase or anonymise)",
    description=f"{ADMIN_ONLY}Records the request and starts its background job (poll the "
    "request for progress). Erase and anonymise need confirm=true. An address or id that "
    "finds nothing is a 422 saying so.",
    operation_id="privacy_request_create",
)
def privacy_create(request: HttpRequest, payload: PrivacyRequestIn) -> Status[dict[str, Any]]:
    row = privacy_request_create(
        user=request_user(request),
        kind=payload.kind,
        email=payload.email,
        contact_id=payload.contact_id,
        lead_id=payload.lead_id,
        reason=payload.reason,
        confirmed=payload.confirm,
        ip_address=request.META.get("REMOTE_ADDR") or None,
    )
    return Status(202, _out(row))


@router.get(
    f"{_BASE}/{{int:request_id}}",
    response={200: PrivacyRequestOut, **GET_ERRORS},
    summary="A privacy request with its progress and summary",
    description=ADMIN_ONLY,
    operation_id="privacy_request_get",
)
def privacy_get(request: HttpRequest, request_id: int) -> dict[str, Any]:
    return _out(privacy_request_get(user=request_user(request), pk=request_id))


@router.get(
    f"{_BASE}/{{int:request_id}}/archive",
    response={200: None, **GET_ERRORS},
    summary="Download an export request's archive (zip)",
    description=f"{ADMIN_ONLY}A zip of JSON files and a README.txt; 404 until the export is "
    "done. Each download is written to the security log.",
    operation_id="privacy_request_archive",
)
def privacy_archive(request: HttpRequest, request_id: int) -> FileResponse:
    user = request_user(request)
    row = privacy_request_get(user=user, pk=request_id)
    privacy_archive_opened(user=user, request=row, ip=request.META.get("REMOTE_ADDR") or None)
    return FileResponse(
        row.archive.open("rb"),
        as_attachment=True,
        filename=f"privacy-request-{row.pk}.zip",
        content_type="application/zip",
    )
