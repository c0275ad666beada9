"""The contact related lists in /api/v1/, built once from their specs (related_lists.py).

For each list ``<slug>`` (competitor-products, literature-requests, subscriptions,
training-attendances):

- ``GET/POST /contacts/{id}/<slug>``: the contact's rows (keyset pages), add one
  (Idempotency-Key honoured);
- ``GET/PATCH/DELETE /contacts/{id}/<slug>/{row_id}``;
- ``GET /<slug>``: rows of every contact you can see, with the list's filters.

Consent is one answer per purpose: ``GET /contacts/{id}/consents``, ``PUT
/contacts/{id}/consents/{purpose}`` and ``GET /consents`` across contacts.

Reading needs read access to the contact, writing edit access. This module has no
``from __future__ import annotations``: Ninja reads the handlers' annotations, which name
schemas built here at import time.
"""

import datetime
from typing import Any, Literal

from django.db import models
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.decorators import decorate_view
from pydantic import ConfigDict, Field, create_model

from patron.contacts.choices import ConsentPurpose, ConsentSource, ConsentStatus
from patron.contacts.related_list_selectors import (
    contact_rows,
    related_contact_get,
    related_list,
    related_row_get,
)
from patron.contacts.related_list_services import (
    consent_record,
    related_row_create,
    related_row_delete,
    related_row_update,
)
from patron.contacts.related_lists import CONSENTS, RELATED_LISTS, RelatedListSpec
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
from patron.core.choices import Action, Via
from patron.users.api import api_auth

router = Router(tags=["contact related lists"], auth=api_auth("contacts"))

LIST_ERRORS = problem_responses(400, 401, 403, 404, 422)
READ_ERRORS = problem_responses(401, 403, 404)
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422)
_ACCESS = (
    "Reading needs read access to the contact; adding, changing and removing rows needs edit "
    "access (403 otherwise). A contact you cannot see is a 404."
)


class _Strict(Schema):
    """Unknown fields are refused (422 naming them), so a misspelt field is never ignored."""

    model_config = ConfigDict(extra="forbid")


def _value_type(model_field: "models.Field[Any, Any]") -> Any:
    if isinstance(model_field, models.ForeignKey):
        return int
    if isinstance(model_field, models.DateTimeField):
        return datetime.datetime
    if isinstance(model_field, models.DateField):
        return datetime.date
    if model_field.choices:
        values = tuple(str(value) for value, _label in model_field.flatchoices)
        return Literal[(*values, "") if model_field.blank else values]
    return str


def _field_info(model_field: "models.Field[Any, Any]", default: Any) -> Any:
    described = str(model_field.help_text or "")
    if isinstance(model_field, models.ForeignKey):
        target = model_field.related_model
        assert not isinstance(target, str)
        described = f"The id of a {target._meta.verbose_name} you can see."
    extra: dict[str, Any] = {"description": described or None}
    if isinstance(model_field, models.CharField) and not model_field.choices:
        extra["max_length"] = model_field.max_length
    return Field(default, **extra)


def _schemas(spec: RelatedListSpec) -> tuple[type[Schema], type[Schema], type[Schema]]:
    """The row as returned, as sent to create it, and as sent to change it."""
    name = "".join(part.capitalize() for part in spec.noun.split("_"))
    out: dict[str, Any] = {
        "id": (int, ...),
        "contact": (int, Field(description="The id of the contact.")),
        "contact_name": (str, ...),
    }
    create: dict[str, Any] = {}
    patch: dict[str, Any] = {}
    for field_name in spec.fields:
        model_field = spec.model_field(field_name)
        value_type = _value_type(model_field)
        nullable = value_type | None if model_field.null else value_type
        out[field_name] = (nullable, ...)
        required = not model_field.blank and not model_field.has_default()
        create[field_name] = (
            (value_type, _field_info(model_field, ...))
            if required
            else (value_type | None, _field_info(model_field, None))
        )
        patch[field_name] = (value_type | None, _field_info(model_field, None))
    out["created_at"] = (datetime.datetime, ...)
    out["created_by"] = (int | None, Field(description="The id of the user who added it."))
    return (
        create_model(f"{name}Out", __base__=Schema, **out),
        create_model(f"{name}Input", __base__=_Strict, **create),
        create_model(f"{name}Patch", __base__=_Strict, **patch),
    )


def row_data(spec: RelatedListSpec, row: Any, contact_name: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.pk,
        "contact": row.contact_id,
        "contact_name": contact_name if contact_name is not None else str(row.contact),
    }
    for name in spec.fields:
        model_field = spec.model_field(name)
        data[name] = getattr(row, model_field.attname)
    data["created_at"] = row.created_at
    data["created_by"] = row.created_by_id
    return data


def _sent(payload: Schema) -> dict[str, Any]:
    return payload.model_dump(include=payload.model_fields_set)


def _list_description(spec: RelatedListSpec, scope: str) -> str:
    return (
        f"{scope}, one page at a time (keyset pagination: pass next_cursor as ?cursor=). Sort "
        f"keys: {', '.join(spec.sorts)} (default {spec.default_sort}). Filters are the query "
        "parameters below; an unknown parameter is refused with 422."
    )


def _page(request: HttpRequest, spec: RelatedListSpec, rows: Any, params: ListParams) -> Any:
    sort, columns = sort_columns(params.sort, spec.sorts, spec.default_sort)
    page, next_cursor = keyset_page(
        filtered(request, rows, spec.filterset),
        sort=sort,
        columns=columns,
        limit=params.limit,
        cursor=params.cursor,
    )
    return page, next_cursor


def add_related_routes(router: Router, spec: RelatedListSpec) -> None:
    """The contact's rows of ``spec`` (list, add, get, change, remove) and the list across
    contacts."""
    Out, In, Patch = _schemas(spec)  # noqa: N806 - schema classes
    rows_path = f"/contacts/{{int:contact_id}}/{spec.slug}"
    row_path = f"{rows_path}/{{int:row_id}}"
    label, plural = spec.label.lower(), spec.label_plural.lower()

    @router.get(
        f"/{spec.slug}",
        response={200: Page[Out], **LIST_ERRORS},  # type: ignore[valid-type]
        summary=f"List {plural} of every contact you can see",
        description=_list_description(spec, f"The {plural} of the contacts you may see"),
        operation_id=f"{spec.noun}_list",
        openapi_extra={"parameters": filter_parameters(spec.filterset)},
    )
    def across(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
        user = request_user(request)
        rows, next_cursor = _page(request, spec, related_list(user=user, spec=spec), params)
        return page_body([row_data(spec, row) for row in rows], next_cursor)

    if spec is CONSENTS:
        return

    @router.get(
        rows_path,
        response={200: Page[Out], **LIST_ERRORS},  # type: ignore[valid-type]
        summary=f"List a contact's {plural}",
        description=_list_description(spec, f"The contact's {plural}") + " " + _ACCESS,
        operation_id=f"contact_{spec.noun}_list",
        openapi_extra={"parameters": filter_parameters(spec.filterset)},
    )
    def index(request: HttpRequest, contact_id: int, params: Query[ListParams]) -> dict[str, Any]:
        contact = related_contact_get(user=request_user(request), pk=contact_id)
        rows, next_cursor = _page(request, spec, contact_rows(spec=spec, contact=contact), params)
        return page_body([row_data(spec, row, str(contact)) for row in rows], next_cursor)

    @router.post(
        rows_path,
        response={201: Out, **WRITE_ERRORS},
        summary=f"Add a {label} to a contact",
        description=_ACCESS,
        operation_id=f"contact_{spec.noun}_create",
        openapi_extra={"parameters": [idempotency.PARAMETER]},
    )
    @decorate_view(idempotency.idempotent)
    def create(
        request: HttpRequest,
        contact_id: int,
        payload: In,  # type: ignore[valid-type]
        response: HttpResponse,
    ) -> Status[dict[str, Any]]:
        user = request_user(request)
        contact = related_contact_get(user=user, pk=contact_id, action=Action.UPDATE)
        row = related_row_create(
            user=user, spec=spec, contact=contact, via=Via.API, **_sent(payload)
        )
        response["Location"] = f"{request.path.rstrip('/')}/{row.pk}"
        return Status(201, row_data(spec, row, str(contact)))

    @router.get(
        row_path,
        response={200: Out, **READ_ERRORS},
        summary=f"Get one of a contact's {plural}",
        operation_id=f"contact_{spec.noun}_get",
    )
    def detail(request: HttpRequest, contact_id: int, row_id: int) -> dict[str, Any]:
        contact = related_contact_get(user=request_user(request), pk=contact_id)
        return row_data(spec, related_row_get(spec=spec, contact=contact, pk=row_id), str(contact))

    @router.patch(
        row_path,
        response={200: Out, **WRITE_ERRORS},
        summary=f"Change one of a contact's {plural}",
        description="Only the fields sent change; null empties a text or date. " + _ACCESS,
        operation_id=f"contact_{spec.noun}_update",
    )
    def change(
        request: HttpRequest,
        contact_id: int,
        row_id: int,
        payload: Patch,  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        user = request_user(request)
        contact = related_contact_get(user=user, pk=contact_id, action=Action.UPDATE)
        row = related_row_get(spec=spec, contact=contact, pk=row_id)
        row = related_row_update(
            user=user, spec=spec, contact=contact, row=row, via=Via.API, **_sent(payload)
        )
        return row_data(spec, row, str(contact))

    @router.delete(
        row_path,
        response={204: None, **WRITE_ERRORS},
        summary=f"Remove one of a contact's {plural}",
        description=_ACCESS,
        operation_id=f"contact_{spec.noun}_delete",
    )
    def remove(request: HttpRequest, contact_id: int, row_id: int) -> HttpResponse:
        user = request_user(request)
        contact = related_contact_get(user=user, pk=contact_id, action=Action.UPDATE)
        row = related_row_get(spec=spec, contact=contact, pk=row_id)
        related_row_delete(user=user, spec=spec, contact=contact, row=row, via=Via.API)
        return HttpResponse(status=204)


for _spec in RELATED_LISTS:
    add_related_routes(router, _spec)


# --- consent per purpose ---------------------------------------------------------------------

ConsentOut = _schemas(CONSENTS)[0]


class ConsentAnswer(Schema):
    """The contact's answer for the purpose in the path; it replaces any earlier answer."""

    model_config = ConfigDict(extra="forbid")

    status: ConsentStatus
    source: ConsentSource = Field(description="How the answer was given; required.")
    recorded_at: datetime.datetime | None = Field(
        None, description="When the contact answered (default: now); not in the future."
    )
    evidence: str = Field("", description="Form URL, email id, call notes, ...")


_CONSENTS = "/contacts/{int:contact_id}/consents"


@router.get(
    _CONSENTS,
    response={200: list[ConsentOut], **READ_ERRORS},  # type: ignore[valid-type]
    summary="List a contact's consent, one answer per purpose",
    description=_ACCESS,
    operation_id="contact_consent_list",
)
def consent_index(request: HttpRequest, contact_id: int) -> list[dict[str, Any]]:
    contact = related_contact_get(user=request_user(request), pk=contact_id)
    rows = contact_rows(spec=CONSENTS, contact=contact)
    return [row_data(CONSENTS, row, str(contact)) for row in rows]


@router.put(
    f"{_CONSENTS}/{{purpose}}",
    response={200: ConsentOut, **WRITE_ERRORS},
    summary="Record a contact's consent for one purpose",
    description=(
        "Creates or replaces the answer for the purpose (one of: "
        f"{', '.join(ConsentPurpose.values)}). A marketing_email answer also sets the "
        "contact's email_opt_out (granted: false; denied or withdrawn: true). " + _ACCESS
    ),
    operation_id="contact_consent_put",
)
def consent_put(
    request: HttpRequest, contact_id: int, purpose: ConsentPurpose, payload: ConsentAnswer
) -> dict[str, Any]:
    user = request_user(request)
    contact = related_contact_get(user=user, pk=contact_id, action=Action.UPDATE)
    row = consent_record(
        user=user,
        contact=contact,
        purpose=purpose,
        status=payload.status,
        source=payload.source,
        recorded_at=payload.recorded_at,
        evidence=payload.evidence,
        via=Via.API,
    )
    return row_data(CONSENTS, row, str(contact))
