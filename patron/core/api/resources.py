"""The five standard routes of a business-record resource, built once for every app.

``add_record_routes(router, RecordResource(...))`` adds list, create, retrieve, update (PATCH
with If-Match) and delete (to the recycle bin) with the API conventions: keyset paging over
the list's FilterSet, ETags, idempotent creates, field-level security, problem documents.

This module deliberately has no ``from __future__ import annotations``: Ninja reads the
handlers' annotations, which name the resource's own schemas (closure variables).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.decorators import decorate_view
from ninja.renderers import JSONRenderer

from patron.core.api import idempotency
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
from patron.core.api.records import (
    expected_version,
    hidden_fields,
    record_columns,
    record_data,
    row_data,
    row_values,
    with_etag,
)
from patron.core.choices import Action, Via
from patron.core.exceptions import ValidationFailed
from patron.core.models import BusinessRecord
from patron.core.records import create_warnings_confirmed

# The API's renderer (config.api_v1 keeps Ninja's default), for pages built without Ninja.
_RENDERER = JSONRenderer()
_LIST_TYPE = f"{_RENDERER.media_type}; charset={_RENDERER.charset}"
LIST_ERRORS = problem_responses(400, 401, 403, 422)
READ_ERRORS = problem_responses(401, 403, 404)
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 412, 413, 422)
# A create that a duplicate rule warns about answers 409 listing the matches; sending this
# header saves it anyway (rules that block still refuse).
CONFIRM_DUPLICATE_HEADER = "X-Confirm-Duplicate"
CONFIRM_DUPLICATE_PARAMETER = {
    "name": CONFIRM_DUPLICATE_HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "enum": ["true", "false"]},
    "description": (
        "Send true to create the record although a duplicate rule warns that it may exist "
        "(the 409 problem lists the matching records under errors.duplicates)."
    ),
}
ETAG_HEADER = {
    "ETag": {
        "description": "The record's version tag; send it as If-Match.",
        "schema": {"type": "string"},
    }
}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": (
        "The ETag you last read. If the record changed since, nothing is written and the "
        "answer is 412. Without it the write applies to the version read by this request."
    ),
    "schema": {"type": "string"},
}


@dataclass(frozen=True)
class RecordResource:
    """What the standard routes need to know about one kind of record.

    ``get(user=, pk=, action=)`` is the app's ``<entity>_get`` selector; ``create(user=,
    via=, **fields)``, ``update(user=, <noun>=, expected_version=, via=, **fields)`` and
    ``delete(user=, <noun>=, via=)`` are its services.
    """

    prefix: str
    noun: str
    plural: str
    model: type[BusinessRecord]
    out_schema: type[Schema]
    in_schema: type[Schema]
    fields: tuple[str, ...]
    list_selector: Callable[..., Any]
    get: Callable[..., Any]
    create: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., Any]
    filterset: Any
    sorts: dict[str, tuple[str, ...]]
    default_sort: str = "name"


# Every resource given routes, for checks over all of them (filled as the API is built).
_resources: list[RecordResource] = []


def record_resources() -> tuple[RecordResource, ...]:
    return tuple(_resources)


def service_fields(model: type[BusinessRecord], payload: Schema, *, user: Any) -> dict[str, Any]:
    """The fields a client sent, as the services expect them (references as records).

    A null text or mapping field means empty; an id naming nothing the user can see is an
    error on that field.
    """
    sent = payload.model_dump(include=payload.model_fields_set)
    fields: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in sent.items():
        if name == "custom":
            fields[name] = value or {}
            continue
        field = model._meta.get_field(name)
        if isinstance(field, models.ForeignKey):
            fields[name], problem = _reference(field, value, user=user)
            if problem:
                errors[name] = [problem]
        elif value is None and isinstance(field, models.CharField | models.TextField):
            fields[name] = ""
        elif value is None and isinstance(field, models.JSONField):
            fields[name] = {}
        else:
            fields[name] = value
    if errors:
        raise ValidationFailed("Some references are not valid.", errors=errors)
    return fields


def _reference(field: Any, pk: int | None, *, user: Any) -> tuple[Any, str]:
    """The record an id in a request names, if the user may see it, else a message."""
    target = field.related_model
    if pk is None:
        return None, "" if field.null else "This field cannot be empty."
    label = target._meta.verbose_name
    if issubclass(target, BusinessRecord):
        record = target.objects.visible_to(user).filter(pk=pk).first()
        return record, "" if record else f"No {label} with id {pk} that you can see."
    if target is get_user_model():
        owner = target._default_manager.filter(pk=pk, is_active=True).first()
        return owner, "" if owner else f"No active user with id {pk}."
    found = target._default_manager.filter(pk=pk).first()
    return found, "" if found else f"No {label} with id {pk}."


def record_response(
    response: HttpResponse, record: BusinessRecord, fields: tuple[str, ...], user: Any
) -> dict[str, Any]:
    with_etag(response, record)
    return record_data(record, fields, hidden_fields(user, type(record)))


def renders_as_is(resource: RecordResource) -> bool:
    """Whether a list row (``record_data``) is already what the output schema makes of it:
    every field is a column of the model, and the schema has no validators, serialisers or
    resolvers that reshape values (activities turn their links into rows, for example)."""
    schema = resource.out_schema
    own = schema.__pydantic_decorators__
    reshaping = (
        own.field_validators
        or own.field_serializers
        or own.model_serializers
        or set(own.model_validators) - set(Schema.__pydantic_decorators__.model_validators)
        or getattr(schema, "_ninja_resolvers", None)
    )
    if reshaping:
        return False
    fields = (resource.model._meta.get_field(name) for name in resource.fields)
    return all(isinstance(field, models.Field) and not field.many_to_many for field in fields)


def add_record_routes(router: Router, resource: RecordResource) -> None:
    """Add the five standard routes of ``resource`` to ``router``."""
    r = resource
    _resources.append(r)
    item = f"{r.prefix}/{{int:record_id}}"
    Out, In = r.out_schema, r.in_schema  # noqa: N806 - schema classes
    as_is = renders_as_is(r)

    @router.get(
        r.prefix,
        response={200: Page[Out], **LIST_ERRORS},  # type: ignore[valid-type]
        summary=f"List {r.plural}",
        description=(
            f"The {r.plural} you may see, one page at a time (keyset pagination: pass "
            f"next_cursor as ?cursor=). Sort keys: {', '.join(r.sorts)} (default "
            f"{r.default_sort}). Filters are the query parameters below; an unknown parameter "
            "is refused with 422."
        ),
        exclude_unset=True,
        operation_id=f"{r.noun}_list",
        openapi_extra={"parameters": filter_parameters(r.filterset)},
    )
    def index(request: HttpRequest, params: Query[ListParams]) -> HttpResponse | dict[str, Any]:
        user = request_user(request)
        hidden = hidden_fields(user, r.model)
        sort, columns = sort_columns(params.sort, r.sorts, r.default_sort, hidden=hidden)
        # The API gives related records as ids, so the page's joins (the selector's
        # select_related is for the HTML list) would only build objects nobody reads.
        rows = filtered(request, r.list_selector(user=user).select_related(None), r.filterset)
        if not as_is:
            records, next_cursor = keyset_page(
                rows, sort=sort, columns=columns, limit=params.limit, cursor=params.cursor
            )
            return page_body([record_data(row, r.fields, hidden) for row in records], next_cursor)
        # Rows as values, not model instances: a row is only read into the page (issue 8).
        names = dict.fromkeys([*row_values(r.model, r.fields), *(c.lstrip("-") for c in columns)])
        page_rows, next_cursor = keyset_page(
            rows.values(*names),
            sort=sort,
            columns=columns,
            limit=params.limit,
            cursor=params.cursor,
        )
        sent = record_columns(r.model, r.fields)
        body = page_body([row_data(row, sent, hidden) for row in page_rows], next_cursor)
        # The rows hold the model's own values, which render as the schema documents them (a
        # test checks every such resource), so the page goes out rendered as the API renders
        # it without Ninja validating each row again (a sixth of the request, issue 8).
        return HttpResponse(
            _RENDERER.render(request, body, response_status=200), content_type=_LIST_TYPE
        )

    @router.post(
        r.prefix,
        response={201: Out, **WRITE_ERRORS},
        summary=f"Create {_article(r.noun)} {r.noun}",
        exclude_unset=True,
        operation_id=f"{r.noun}_create",
        openapi_extra={
            "parameters": [idempotency.PARAMETER, CONFIRM_DUPLICATE_PARAMETER],
            "responses": {201: {"headers": ETAG_HEADER}},
        },
    )
    @decorate_view(idempotency.idempotent)
    def create(request: HttpRequest, payload: In, response: HttpResponse) -> Status[dict[str, Any]]:  # type: ignore[valid-type]
        user = request_user(request)
        confirmed = request.headers.get(CONFIRM_DUPLICATE_HEADER, "").lower() in ("true", "1")
        with create_warnings_confirmed(confirmed):
            record = r.create(user=user, via=Via.API, **service_fields(r.model, payload, user=user))
        response["Location"] = f"{request.path.rstrip('/')}/{record.pk}"
        return Status(201, record_response(response, record, r.fields, user))

    @router.get(
        item,
        response={200: Out, **READ_ERRORS},
        summary=f"Get {_article(r.noun)} {r.noun}",
        exclude_unset=True,
        operation_id=f"{r.noun}_get",
        openapi_extra={"responses": {200: {"headers": ETAG_HEADER}}},
    )
    def detail(request: HttpRequest, record_id: int, response: HttpResponse) -> dict[str, Any]:
        user = request_user(request)
        return record_response(response, r.get(user=user, pk=record_id), r.fields, user)

    @router.patch(
        item,
        response={200: Out, **WRITE_ERRORS},
        summary=f"Change {_article(r.noun)} {r.noun}",
        exclude_unset=True,
        operation_id=f"{r.noun}_update",
        openapi_extra={"parameters": [IF_MATCH], "responses": {200: {"headers": ETAG_HEADER}}},
    )
    def change(
        request: HttpRequest,
        record_id: int,
        payload: In,  # type: ignore[valid-type]
        response: HttpResponse,
    ) -> dict[str, Any]:
        user = request_user(request)
        record = r.get(user=user, pk=record_id, action=Action.UPDATE)
        record = r.update(
            user=user,
            expected_version=expected_version(request, record),
            via=Via.API,
            **{r.noun: record},
            **service_fields(r.model, payload, user=user),
        )
        return record_response(response, record, r.fields, user)

    @router.delete(
        item,
        response={204: None, **WRITE_ERRORS},
        summary=f"Delete {_article(r.noun)} {r.noun} (to the recycle bin)",
        operation_id=f"{r.noun}_delete",
        openapi_extra={"parameters": [IF_MATCH]},
    )
    def remove(request: HttpRequest, record_id: int) -> HttpResponse:
        user = request_user(request)
        record = r.get(user=user, pk=record_id, action=Action.DELETE)
        expected_version(request, record)
        r.delete(user=user, via=Via.API, **{r.noun: record})
        return HttpResponse(status=204)


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"
