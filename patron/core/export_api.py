"""List export in the API: start a CSV or XLSX export of any list, follow it, fetch the file.

The same background job as the list page's Export button (``core.exports``), so the file,
the permission checks and the security log entry are the same whichever way it started.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from ninja import Router, Schema, Status
from ninja.decorators import decorate_view
from ninja.params import Query
from pydantic import ConfigDict, Field

from patron.core.api import idempotency
from patron.core.api.auth import request_user
from patron.core.api.openapi import filter_parameters
from patron.core.api.pagination import ListParams, filtered, keyset_page, sort_columns
from patron.core.api.problems import problem_response, problem_responses
from patron.core.choices import JobStatus
from patron.core.exceptions import RecordNotFound
from patron.core.export_filters import DEFAULT_EXPORT_JOB_SORT, EXPORT_JOB_SORTS, ExportJobFilter
from patron.core.export_selectors import export_job_get, export_jobs
from patron.core.export_services import FilterValue, export_start
from patron.core.jobs import job_file_name
from patron.core.models import Job

router = Router(tags=["exports"])

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# How long a client polling a running export should wait before asking again.
RETRY_AFTER_SECONDS = 5


class ExportIn(Schema):
    model_config = ConfigDict(extra="forbid")

    object: str = Field(
        max_length=100, description="The object type of the list, e.g. contacts.contact."
    )
    format: Literal["csv", "xlsx"] = Field("csv", description="The file's format.")
    filters: dict[str, FilterValue] = Field(
        default_factory=dict,
        description=(
            "The list's filters by name, the same names and values its list endpoint takes "
            'as query parameters (e.g. {"q": "acme", "mine": true}); an unknown name '
            "or a bad value is refused with 422 naming filters.<name>."
        ),
    )
    sort: str | None = Field(
        None,
        max_length=50,
        description="A sort key of the list endpoint; leave out for the list's default.",
    )


class ProgressOut(Schema):
    done: int = Field(description="Rows written so far.")
    total: int | None = Field(description="Rows to write; null until the job has counted them.")


class ExportOut(Schema):
    id: int
    object: str = Field(description="The object type of the list exported.")
    format: str = Field(description="csv or xlsx.")
    status: str = Field(description="queued, running, done or failed.")
    progress: ProgressOut
    message: str = Field(description="The job's last progress message, for a person to read.")
    rows: int | None = Field(description="Rows in the file, once done.")
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    download_url: str | None = Field(description="Where to fetch the file, once done.")
    error: str | None = Field(description="Why the export failed, once failed.")


class ExportPage(Schema):
    items: list[ExportOut]
    next_cursor: str | None


def _export_out(job: Job) -> dict[str, Any]:
    done = job.status == JobStatus.DONE
    failed = job.status == JobStatus.FAILED
    return {
        "id": job.pk,
        "object": str(job.params.get("object", "")),
        "format": str(job.params.get("format") or "csv"),
        "status": job.status,
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "message": job.message,
        "rows": job.result.get("rows") if done else None,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "download_url": (
            reverse("api-v1:export_file", args=[job.pk]) if done and job.result_file else None
        ),
        "error": job.error if failed else None,
    }


@router.post(
    "/exports",
    response={202: ExportOut, **problem_responses(400, 401, 403, 413, 422, 503)},
    summary="Start a list export (CSV or XLSX)",
    operation_id="export_start",
    description=(
        "Exports the rows the list endpoint of `object` returns for `filters` and `sort`, "
        "limited to the records you may export, without the fields hidden from you, formula-"
        "like text neutralised. Runs in the background: the answer is the job (202, with "
        "Location); poll it until `status` is done, then fetch `download_url`. An unknown "
        "object, format, filter or sort is refused with 422 naming it; no export permission "
        "on the object with 403."
    ),
    openapi_extra={
        "parameters": [idempotency.PARAMETER],
        "responses": {
            202: {
                "headers": {
                    "Location": {
                        "description": "The export job's URL.",
                        "schema": {"type": "string"},
                    }
                }
            }
        },
    },
)
@decorate_view(idempotency.idempotent)
def export_create(
    request: HttpRequest, payload: ExportIn, response: HttpResponse
) -> Status[dict[str, Any]]:
    job = export_start(
        user=request_user(request),
        object_type=payload.object,
        file_format=payload.format,
        filters=payload.filters,
        sort=payload.sort,
    )
    response["Location"] = reverse("api-v1:export_get", args=[job.pk])
    return Status(202, _export_out(job))


@router.get(
    "/exports",
    response={200: ExportPage, **problem_responses(400, 401, 422)},
    summary="List your exports",
    operation_id="export_list",
    description=(
        "The list exports you started (in the API or on a list page), newest first by "
        f"default; sort keys: {', '.join(EXPORT_JOB_SORTS)}. Keyset pages: pass next_cursor "
        "as ?cursor=. An unknown filter or value is refused with 422."
    ),
    openapi_extra={"parameters": filter_parameters(ExportJobFilter)},
)
def export_list(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    user = request_user(request)
    sort, columns = sort_columns(params.sort, EXPORT_JOB_SORTS, DEFAULT_EXPORT_JOB_SORT)
    rows, next_cursor = keyset_page(
        filtered(request, export_jobs(user=user), ExportJobFilter),
        sort=sort,
        columns=columns,
        limit=params.limit,
        cursor=params.cursor,
    )
    return {"items": [_export_out(job) for job in rows], "next_cursor": next_cursor}


@router.get(
    "/exports/{int:job_id}",
    response={200: ExportOut, **problem_responses(401, 404)},
    summary="An export's progress",
    operation_id="export_get",
    url_name="export_get",
    description="Only the exports you started; any other id answers 404.",
)
def export_get(request: HttpRequest, job_id: int) -> dict[str, Any]:
    return _export_out(export_job_get(user=request_user(request), pk=job_id))


@router.get(
    "/exports/{int:job_id}/file",
    response=problem_responses(401, 404, 409),
    summary="Download an export's file",
    operation_id="export_file",
    url_name="export_file",
    description=(
        "The finished file (CSV or XLSX) as an attachment. While the export is queued or "
        "running the answer is 409 with Retry-After; after it failed, 409 giving the reason. "
        "Only the exports you started; any other id answers 404."
    ),
    openapi_extra={
        "responses": {
            200: {
                "description": "The file.",
                "content": {
                    content_type.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                    for content_type in CONTENT_TYPES.values()
                },
            }
        }
    },
)
def export_file(request: HttpRequest, job_id: int) -> HttpResponseBase:
    job = export_job_get(user=request_user(request), pk=job_id)
    if job.status == JobStatus.FAILED:
        return problem_response(
            request, 409, f"This export failed, so it has no file: {job.error} Start it again."
        )
    if job.status != JobStatus.DONE:
        return problem_response(
            request,
            409,
            "This export is still running; fetch the file once its status is done.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if not job.result_file:
        raise RecordNotFound("This export's file is no longer kept; start the export again.")
    file_format = str(job.params.get("format") or "csv")
    filename = job_file_name(job)
    return FileResponse(
        job.result_file.open("rb"),
        as_attachment=True,
        filename=filename,
        content_type=CONTENT_TYPES.get(file_format, "application/octet-stream"),
    )
