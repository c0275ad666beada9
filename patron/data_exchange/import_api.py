"""Imports in the API (thin handlers over import_services): upload, mapping, preview, start,
status, the error file and revert; saved mappings."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from ninja import Router, Schema, Status
from ninja.params import Query
from pydantic import Field

from patron.core.api.auth import request_user
from patron.core.api.openapi import filter_parameters
from patron.core.api.pagination import ListParams, filtered, keyset_page, sort_columns
from patron.core.api.problems import problem_responses
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.importing import import_specs
from patron.data_exchange.choices import ImportMode
from patron.data_exchange.import_filters import DEFAULT_SORT, IMPORT_SORTS, ImportRunFilter
from patron.data_exchange.import_mapping_filters import MAPPING_SORTS
from patron.data_exchange.import_selectors import importable_mappings
from patron.data_exchange.import_services import (
    _spec,
    import_configure,
    import_errors_csv,
    import_mapping_delete,
    import_mapping_may_change,
    import_mapping_save,
    import_preview,
    import_revert_start,
    import_run_get,
    import_runs_visible,
    import_start,
    import_upload,
    require_import,
)
from patron.data_exchange.models import ImportMapping, ImportRun

router = Router(tags=["data management"])

# The saved mappings list was one body of at most 500 before it paged; the default keeps it.
MAPPING_PAGE_MAX = 500
# The order the list always had: object type, then name (unique per object type).
MAPPING_API_SORT = "object"


class FieldOut(Schema):
    name: str
    label: str
    type: str
    required: bool


class MatchKeyOut(Schema):
    name: str
    label: str


class ObjectOut(Schema):
    object_type: str
    label: str
    fields: list[FieldOut]
    match_keys: list[MatchKeyOut]
    presets: list[str]


class RunOut(Schema):
    id: int
    object_type: str
    status: str
    file_name: str
    file_size: int
    encoding: str
    delimiter: str
    headers: list[str]
    columns: dict[str, str] = Field(description="{column header: field name}")
    defaults: dict[str, Any]
    mode: str
    match_key: str
    mapping_id: int | None
    job_id: int | None
    total_rows: int | None
    rows_done: int
    created_count: int
    updated_count: int
    skipped_count: int
    failed_count: int
    progress_percent: int | None = None
    created_by_id: int | None = Field(
        None, description="The id of the user who uploaded the file."
    )
    created_at: datetime.datetime
    started_at: datetime.datetime | None = None
    finished_at: datetime.datetime | None = None
    reverted_at: datetime.datetime | None = None
    reverted_kept: int = Field(
        0,
        description="Records the revert left as they were because they changed after the "
        "import finished.",
    )


class RunPage(Schema):
    items: list[RunOut]
    next_cursor: str | None


class MappingIn(Schema):
    columns: dict[str, str] = Field(description="{column header: field name}; '' skips a column.")
    defaults: dict[str, Any] = Field(default_factory=dict)
    mode: str = ImportMode.CREATE
    match_key: str = ""
    mapping_id: int | None = Field(None, description="Use (and link) this saved mapping.")
    save_as: str = Field("", description="Also save the mapping under this name.")


class StartIn(Schema):
    allow_duplicates: bool = Field(False, description="Import rows a 'warn' duplicate rule flags.")


class PreviewRowOut(Schema):
    number: int
    action: str = Field(description="create, update, skip or error")
    values: dict[str, str]
    error: str


class SavedMappingIn(Schema):
    name: str
    object_type: str
    columns: dict[str, str]
    defaults: dict[str, Any] = Field(default_factory=dict)
    mode: str = ImportMode.CREATE
    match_key: str = ""


class SavedMappingOut(Schema):
    id: int
    name: str
    object_type: str
    columns: dict[str, str]
    defaults: dict[str, Any]
    mode: str
    match_key: str
    owner: int | None = Field(
        description="The id of the user who saved it; null when that user no longer exists."
    )
    editable: bool = Field(
        description="Whether you may change or delete it (its owner or an administrator); "
        "everyone who may import the object type may use it."
    )


def _run_out(run: ImportRun) -> dict[str, Any]:
    percent = None
    if run.total_rows:
        percent = min(100, int(run.rows_done * 100 / run.total_rows))
    return {
        **{f: getattr(run, f) for f in RunOut.model_fields if hasattr(run, f)},
        "mapping_id": run.mapping_id,
        "job_id": run.job_id,
        "progress_percent": percent,
    }


def _mapping_out(m: ImportMapping, user: Any) -> dict[str, Any]:
    return {
        **{f: getattr(m, f) for f in SavedMappingOut.model_fields if hasattr(m, f)},
        "owner": m.created_by_id,
        "editable": import_mapping_may_change(user, m),
    }


@router.get(
    "/data/imports/objects",
    response={200: list[ObjectOut], **problem_responses(401)},
    summary="Importable object types",
    operation_id="import_objects",
)
def import_objects(request: HttpRequest) -> list[dict[str, Any]]:
    user = request_user(request)
    return [
        {
            "object_type": s.object_type,
            "label": str(s.label_plural),
            "fields": [
                {"name": f.name, "label": str(f.label), "type": f.type, "required": f.required}
                for f in s.fields
            ],
            "match_keys": [{"name": k.name, "label": k.label} for k in s.match_keys],
            "presets": sorted(s.presets),
        }
        for s in import_specs()
        if s.may_import(user)
    ]


@router.get(
    "/data/imports",
    response={200: RunPage, **problem_responses(400, 401, 422)},
    summary="List imports",
    operation_id="import_list",
    description=(
        "Your imports (every import for administrators), newest first by default; sort keys: "
        f"{', '.join(IMPORT_SORTS)}. Keyset pages: pass next_cursor as ?cursor=. An unknown "
        "filter or value is refused with 422."
    ),
    openapi_extra={"parameters": filter_parameters(ImportRunFilter)},
)
def import_list(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    user = request_user(request)
    sort, columns = sort_columns(params.sort, IMPORT_SORTS, DEFAULT_SORT)
    rows, next_cursor = keyset_page(
        filtered(request, import_runs_visible(user), ImportRunFilter),
        sort=sort,
        columns=columns,
        limit=params.limit,
        cursor=params.cursor,
    )
    return {"items": [_run_out(r) for r in rows], "next_cursor": next_cursor}


@router.post(
    "/data/imports",
    response={201: RunOut, **problem_responses(401, 403, 413, 422)},
    summary="Upload a file to import",
    operation_id="import_upload",
    description=(
        "Multipart fields 'object_type' and 'file' (CSV or .xlsx). Returns the run with its "
        "headers and suggested column mapping. Empty, binary, undecodable or too large files "
        "are refused with 422 and nothing is kept."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "object_type": {"type": "string"},
                            "file": {"type": "string", "format": "binary"},
                        },
                        "required": ["object_type", "file"],
                    }
                }
            },
        }
    },
)
def import_upload_api(request: HttpRequest) -> Status[dict[str, Any]]:
    user = request_user(request)
    upload = request.FILES.get("file")
    object_type = request.POST.get("object_type", "")
    if upload is None:
        raise ValidationFailed(
            "Send the file as the multipart field 'file'.",
            errors={"file": ["This field is required."]},
        )
    run = import_upload(
        user=user, object_type=object_type, upload=upload, file_name=str(upload.name or "")
    )
    return Status(201, _run_out(run))


@router.get(
    "/data/imports/{int:run_id}",
    response={200: RunOut, **problem_responses(401, 403, 404)},
    summary="An import's status",
    operation_id="import_get",
)
def import_get(request: HttpRequest, run_id: int) -> dict[str, Any]:
    return _run_out(import_run_get(user=request_user(request), pk=run_id))


@router.put(
    "/data/imports/{int:run_id}/mapping",
    response={200: RunOut, **problem_responses(401, 403, 404, 422)},
    summary="Set an import's mapping",
    operation_id="import_map",
    description=(
        "Columns mapped twice, unknown fields or match keys, and required fields left "
        "unmapped are refused with 422; a save_as naming someone else's saved mapping with 403 "
        "(nothing is changed)."
    ),
)
def import_map(request: HttpRequest, run_id: int, payload: MappingIn) -> dict[str, Any]:
    user = request_user(request)
    run = import_run_get(user=user, pk=run_id)
    mapping = None
    if payload.mapping_id:
        mapping = ImportMapping.objects.filter(
            pk=payload.mapping_id, object_type=run.object_type
        ).first()
        if mapping is None:
            raise ValidationFailed(
                "No such mapping.",
                errors={"mapping_id": ["No saved mapping with this id for this object."]},
            )
    run = import_configure(
        user=user,
        run=run,
        columns=payload.columns,
        defaults=payload.defaults,
        mode=payload.mode,
        match_key=payload.match_key,
        mapping=mapping,
        save_as=payload.save_as,
    )
    return _run_out(run)


@router.get(
    "/data/imports/{int:run_id}/preview",
    response={200: list[PreviewRowOut], **problem_responses(401, 403, 404, 422)},
    summary="Preview an import",
    operation_id="import_preview",
    description="The first rows as they will be saved, with their errors. Writes nothing.",
)
def import_preview_api(request: HttpRequest, run_id: int, limit: int = 10) -> list[dict[str, Any]]:
    user = request_user(request)
    run = import_run_get(user=user, pk=run_id)
    if not run.columns:
        raise ValidationFailed(
            "Set the mapping first.", errors={"columns": ["No column is mapped."]}
        )
    return [r.__dict__ for r in import_preview(user=user, run=run, limit=max(1, min(limit, 100)))]


@router.post(
    "/data/imports/{int:run_id}/start",
    response={202: RunOut, **problem_responses(401, 403, 404, 422)},
    summary="Start an import in the background",
    operation_id="import_start",
)
def import_start_api(
    request: HttpRequest, run_id: int, payload: StartIn
) -> Status[dict[str, Any]]:
    user = request_user(request)
    run = import_start(
        user=user,
        run=import_run_get(user=user, pk=run_id),
        allow_duplicates=payload.allow_duplicates,
    )
    return Status(202, _run_out(run))


@router.get(
    "/data/imports/{int:run_id}/errors",
    response={**problem_responses(401, 403, 404)},
    summary="The failed rows as CSV",
    operation_id="import_errors",
    description=(
        "The failed rows as they were in the file plus an 'Import error' column, ready to "
        "fix and import again."
    ),
    openapi_extra={
        "responses": {
            200: {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
        }
    },
)
def import_errors_api(request: HttpRequest, run_id: int) -> StreamingHttpResponse:
    run = import_run_get(user=request_user(request), pk=run_id)
    response = StreamingHttpResponse(import_errors_csv(run), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        content_disposition_header(True, f"import-{run.pk}-errors.csv") or ""
    )
    return response


@router.post(
    "/data/imports/{int:run_id}/revert",
    response={202: RunOut, **problem_responses(401, 403, 404, 422)},
    summary="Revert an import",
    operation_id="import_revert",
    description=(
        "In the background: records the import created go to the recycle bin, updated "
        "records get their previous values back; records changed since the import finished "
        "are kept as they are (counted in `reverted_kept`)."
    ),
)
def import_revert_api(request: HttpRequest, run_id: int) -> Status[dict[str, Any]]:
    user = request_user(request)
    run = import_revert_start(user=user, run=import_run_get(user=user, pk=run_id))
    return Status(202, _run_out(run))


class MappingPageParams(Schema):
    limit: int = Field(
        MAPPING_PAGE_MAX,
        ge=1,
        le=MAPPING_PAGE_MAX,
        description=f"Mappings per page (1 to {MAPPING_PAGE_MAX}).",
    )
    cursor: str | None = Field(
        None,
        description="The cursor of the previous page's `Link: <…>; rel=\"next\"` URL; leave "
        "out for the first page.",
    )
    object_type: str | None = None


@router.get(
    "/data/import-mappings",
    response={200: list[SavedMappingOut], **problem_responses(400, 401)},
    summary="Saved import mappings",
    operation_id="import_mapping_list",
    description=(
        "The saved mappings of the object types you may import, by object type, then name. "
        "The body is a plain list; when more mappings follow, the response has a "
        '`Link: <URL>; rel="next"` header (RFC 8288) whose URL gives the next page '
        f"(`cursor`). `limit` defaults to {MAPPING_PAGE_MAX}. A cursor that was altered is "
        "refused with 400 naming `cursor`."
    ),
    openapi_extra={
        "responses": {
            200: {
                "headers": {
                    "Link": {
                        "description": 'The next page\'s URL as `<URL>; rel="next"`; absent '
                        "on the last page.",
                        "schema": {"type": "string"},
                    }
                }
            }
        }
    },
)
def mapping_list(
    request: HttpRequest, params: Query[MappingPageParams], response: HttpResponse
) -> list[dict[str, Any]]:
    user = request_user(request)
    mappings = importable_mappings(user)
    if params.object_type:
        mappings = mappings.filter(object_type=params.object_type)
    rows, next_cursor = keyset_page(
        mappings,
        sort=MAPPING_API_SORT,
        columns=MAPPING_SORTS[MAPPING_API_SORT],
        limit=params.limit,
        cursor=params.cursor,
    )
    if next_cursor:
        query = request.GET.copy()
        query["cursor"] = next_cursor
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        response["Link"] = f'<{next_url}>; rel="next"'
    return [_mapping_out(m, user) for m in rows]


def _mapping(request: HttpRequest, mapping_id: int) -> ImportMapping:
    mapping = ImportMapping.objects.filter(pk=mapping_id).first()
    if mapping is None:
        raise RecordNotFound("No saved mapping with this id.")
    require_import(request_user(request), _spec(mapping.object_type))
    return mapping


@router.post(
    "/data/import-mappings",
    response={201: SavedMappingOut, **problem_responses(401, 403, 422)},
    summary="Save an import mapping",
    operation_id="import_mapping_create",
    description=(
        "A name already used for the object type replaces that mapping when it is yours (or "
        "you are an administrator); someone else's is refused with 403."
    ),
)
def mapping_create(request: HttpRequest, payload: SavedMappingIn) -> Status[dict[str, Any]]:
    mapping = import_mapping_save(
        user=request_user(request),
        object_type=payload.object_type,
        name=payload.name,
        columns=payload.columns,
        defaults=payload.defaults,
        mode=payload.mode,
        match_key=payload.match_key,
    )
    return Status(201, _mapping_out(mapping, request_user(request)))


@router.get(
    "/data/import-mappings/{int:mapping_id}",
    response={200: SavedMappingOut, **problem_responses(401, 403, 404)},
    summary="A saved import mapping",
    operation_id="import_mapping_get",
)
def mapping_get(request: HttpRequest, mapping_id: int) -> dict[str, Any]:
    return _mapping_out(_mapping(request, mapping_id), request_user(request))


@router.put(
    "/data/import-mappings/{int:mapping_id}",
    response={200: SavedMappingOut, **problem_responses(401, 403, 404, 422)},
    summary="Change a saved import mapping",
    operation_id="import_mapping_update",
    description="Only the mapping's owner or an administrator; others get 403 saying whose it is.",
)
def mapping_update(
    request: HttpRequest, mapping_id: int, payload: SavedMappingIn
) -> dict[str, Any]:
    mapping = _mapping(request, mapping_id)
    mapping = import_mapping_save(
        user=request_user(request),
        object_type=mapping.object_type,
        name=payload.name,
        columns=payload.columns,
        defaults=payload.defaults,
        mode=payload.mode,
        match_key=payload.match_key,
        mapping=mapping,
    )
    return _mapping_out(mapping, request_user(request))


@router.delete(
    "/data/import-mappings/{int:mapping_id}",
    response={204: None, **problem_responses(401, 403, 404)},
    summary="Delete a saved import mapping",
    operation_id="import_mapping_delete",
    description="Only the mapping's owner or an administrator; others get 403 saying whose it is.",
)
def mapping_delete(request: HttpRequest, mapping_id: int) -> Status[None]:
    import_mapping_delete(user=request_user(request), mapping=_mapping(request, mapping_id))
    return Status(204, None)
