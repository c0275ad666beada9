"""The accounts and contacts resources of /api/v1/ (thin: selectors in, services out)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import models
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.decorators import decorate_view
from pydantic import ConfigDict, Field

from patron.contacts.choices import AccountKind, AccountTier, AddressKind, EmailKind, PhoneKind
from patron.contacts.filters import ACCOUNT_SORTS, CONTACT_SORTS, AccountFilter, ContactFilter
from patron.contacts.models import Account, Contact
from patron.contacts.selectors import account_get, account_list, contact_get, contact_list
from patron.contacts.services import (
    account_create,
    account_delete,
    account_update,
    contact_channels_replace,
    contact_create,
    contact_delete,
    contact_update,
)
from patron.core.api import idempotency
from patron.core.api.auth import request_user
from patron.core.api.openapi import custom_field_schema, filter_parameters
from patron.core.api.pagination import (
    ListParams,
    Page,
    filtered,
    keyset_page,
    page_body,
    sort_columns,
)
from patron.core.api.problems import problem_responses
from patron.core.api.records import expected_version, hidden_fields, record_data, with_etag
from patron.core.api.shares import add_share_routes
from patron.core.choices import Action, Via
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.models import BusinessRecord
from patron.users.api import api_auth
from patron.users.models import Team, User

router = Router(tags=["contacts"], auth=api_auth("contacts"))

_LIST_ERRORS = problem_responses(400, 401, 403, 422)
_READ_ERRORS = problem_responses(401, 403, 404)
_WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 412, 413, 422)
_ETAG_HEADER = {
    "ETag": {
        "description": "The record's version tag; send it as If-Match.",
        "schema": {"type": "string"},
    }
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": (
        "The ETag you last read. If the record changed since, nothing is written and the "
        "answer is 412. Without it the write applies to the version read by this request."
    ),
    "schema": {"type": "string"},
}

# --- schemas -----------------------------------------------------------------------------


class AccountOut(Schema):
    id: int
    version: int
    kind: AccountKind
    name: str
    first_name: str
    last_name: str
    email: str
    phone: str = Field(description="E.164, e.g. +14155550100.")
    website: str
    domain: str
    industry: str
    employee_count: int | None
    annual_revenue: Decimal | None = Field(
        None, description="Sensitive: left out for users whose role may not see it."
    )
    revenue_currency: str
    tier: str
    year_established: int | None
    parent: int | None = Field(description="The id of the parent account.")
    billing_street: str
    billing_city: str
    billing_region: str
    billing_postal_code: str
    billing_country: str
    description: str
    owner: int = Field(description="The id of the owning user.")
    team: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    custom: dict[str, Any] = Field(json_schema_extra=custom_field_schema("contacts.account"))


class AccountInput(Schema):
    """Fields to set; on PATCH only the fields sent change. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    kind: AccountKind | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = Field(None, description="Any format; stored as E.164.")
    website: str | None = None
    domain: str | None = None
    industry: str | None = None
    employee_count: int | None = Field(None, ge=0)
    annual_revenue: Decimal | None = Field(None, max_digits=18, decimal_places=2)
    revenue_currency: str | None = None
    tier: AccountTier | None = None
    year_established: int | None = Field(None, ge=1000, le=9999)
    parent: int | None = Field(None, description="The id of the parent account.")
    billing_street: str | None = None
    billing_city: str | None = None
    billing_region: str | None = None
    billing_postal_code: str | None = None
    billing_country: str | None = Field(None, description="ISO 3166 two-letter code.")
    description: str | None = None
    owner: int | None = Field(None, description="The id of the owning user (default: you).")
    team: int | None = None
    custom: dict[str, Any] | None = Field(
        None, json_schema_extra=custom_field_schema("contacts.account")
    )


class ContactOut(Schema):
    id: int
    version: int
    first_name: str
    last_name: str
    salutation: str
    title: str
    department: str
    account: int | None = Field(description="The id of the contact's account.")
    email: str
    phone: str = Field(description="E.164, e.g. +14155550100.")
    language: str
    time_zone: str
    birthdate: datetime.date | None = Field(
        None, description="Sensitive: left out for users whose role may not see it."
    )
    social: dict[str, Any]
    do_not_call: bool
    email_opt_out: bool
    description: str
    owner: int
    team: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    custom: dict[str, Any] = Field(json_schema_extra=custom_field_schema("contacts.contact"))


class ContactInput(Schema):
    """Fields to set; on PATCH only the fields sent change. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    first_name: str | None = None
    last_name: str | None = None
    salutation: str | None = None
    title: str | None = None
    department: str | None = None
    account: int | None = Field(None, description="The id of the contact's account.")
    email: str | None = None
    phone: str | None = Field(None, description="Any format; stored as E.164.")
    language: str | None = None
    time_zone: str | None = None
    birthdate: datetime.date | None = None
    social: dict[str, str] | None = None
    do_not_call: bool = False
    email_opt_out: bool = False
    description: str | None = None
    owner: int | None = Field(None, description="The id of the owning user (default: you).")
    team: int | None = None
    custom: dict[str, Any] | None = Field(
        None, json_schema_extra=custom_field_schema("contacts.contact")
    )


_ACCOUNT_FIELDS = tuple(
    name for name in AccountOut.model_fields if name not in {"id", "version", "custom"}
)
_CONTACT_FIELDS = tuple(
    name for name in ContactOut.model_fields if name not in {"id", "version", "custom"}
)

# --- shared handler steps ----------------------------------------------------------------


def _service_fields(model: type[BusinessRecord], payload: Schema, *, user: User) -> dict[str, Any]:
    """The fields a client sent, as the service expects them (references as records).

    A null text or mapping field means empty; an id that names nothing the user can see is
    an error on that field.
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


def _reference(
    field: models.ForeignKey[Any, Any], pk: int | None, *, user: User
) -> tuple[Any, str]:
    target = field.related_model
    if pk is None:
        if not field.null:
            return None, "This field cannot be empty."
        return None, ""
    if target is Account:
        try:
            return account_get(user=user, pk=pk), ""
        except RecordNotFound:
            return None, f"No account with id {pk} that you can see."
    if target is Team:
        team = Team.objects.filter(pk=pk).first()
        return team, "" if team else f"No team with id {pk}."
    owner = User.objects.filter(pk=pk, is_active=True).first()
    return owner, "" if owner else f"No active user with id {pk}."


def _record_response(
    response: HttpResponse, record: BusinessRecord, fields: tuple[str, ...], user: User
) -> dict[str, Any]:
    with_etag(response, record)
    return record_data(record, fields, hidden_fields(user, type(record)))


def _list(
    request: HttpRequest,
    params: ListParams,
    *,
    queryset: Any,
    model: type[BusinessRecord],
    filterset: Any,
    sorts: dict[str, tuple[str, ...]],
    fields: tuple[str, ...],
) -> dict[str, Any]:
    user = request_user(request)
    hidden = hidden_fields(user, model)
    sort, columns = sort_columns(params.sort, sorts, "name", hidden=hidden)
    rows, next_cursor = keyset_page(
        filtered(request, queryset, filterset),
        sort=sort,
        columns=columns,
        limit=params.limit,
        cursor=params.cursor,
    )
    return page_body([record_data(row, fields, hidden) for row in rows], next_cursor)


def _list_description(noun: str, sorts: dict[str, tuple[str, ...]]) -> str:
    return (
        f"The {noun} you may see, one page at a time (keyset pagination: pass next_cursor as "
        f"?cursor=). Sort keys: {', '.join(sorts)} (default name). Filters are the query "
        "parameters below; an unknown parameter is refused with 422."
    )


# --- accounts ----------------------------------------------------------------------------


@router.get(
    "/accounts",
    response={200: Page[AccountOut], **_LIST_ERRORS},
    summary="List accounts",
    description=_list_description("accounts", ACCOUNT_SORTS),
    exclude_unset=True,
    openapi_extra={"parameters": filter_parameters(AccountFilter)},
)
def account_index(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    user = request_user(request)
    return _list(
        request,
        params,
        queryset=account_list(user=user),
        model=Account,
        filterset=AccountFilter,
        sorts=ACCOUNT_SORTS,
        fields=_ACCOUNT_FIELDS,
    )


@router.post(
    "/accounts",
    response={201: AccountOut, **_WRITE_ERRORS},
    summary="Create an account",
    exclude_unset=True,
    openapi_extra={
        "parameters": [idempotency.PARAMETER],
        "responses": {201: {"headers": _ETAG_HEADER}},
    },
)
@decorate_view(idempotency.idempotent)
def account_add(
    request: HttpRequest, payload: AccountInput, response: HttpResponse
) -> Status[dict[str, Any]]:
    user = request_user(request)
    account = account_create(user=user, via=Via.API, **_service_fields(Account, payload, user=user))
    response["Location"] = f"{request.path.rstrip('/')}/{account.pk}"
    return Status(201, _record_response(response, account, _ACCOUNT_FIELDS, user))


@router.get(
    "/accounts/{int:account_id}",
    response={200: AccountOut, **_READ_ERRORS},
    summary="Get an account",
    exclude_unset=True,
    openapi_extra={"responses": {200: {"headers": _ETAG_HEADER}}},
)
def account_detail(request: HttpRequest, account_id: int, response: HttpResponse) -> dict[str, Any]:
    user = request_user(request)
    account = account_get(user=user, pk=account_id)
    return _record_response(response, account, _ACCOUNT_FIELDS, user)


@router.patch(
    "/accounts/{int:account_id}",
    response={200: AccountOut, **_WRITE_ERRORS},
    summary="Change an account",
    exclude_unset=True,
    openapi_extra={"parameters": [_IF_MATCH], "responses": {200: {"headers": _ETAG_HEADER}}},
)
def account_change(
    request: HttpRequest, account_id: int, payload: AccountInput, response: HttpResponse
) -> dict[str, Any]:
    user = request_user(request)
    account = account_get(user=user, pk=account_id, action=Action.UPDATE)
    version = expected_version(request, account)
    account = account_update(
        user=user,
        account=account,
        expected_version=version,
        via=Via.API,
        **_service_fields(Account, payload, user=user),
    )
    return _record_response(response, account, _ACCOUNT_FIELDS, user)


@router.delete(
    "/accounts/{int:account_id}",
    response={204: None, **_WRITE_ERRORS},
    summary="Delete an account (to the recycle bin)",
    openapi_extra={"parameters": [_IF_MATCH]},
)
def account_remove(request: HttpRequest, account_id: int) -> HttpResponse:
    user = request_user(request)
    account = account_get(user=user, pk=account_id, action=Action.DELETE)
    expected_version(request, account)
    account_delete(user=user, account=account, via=Via.API)
    return HttpResponse(status=204)


# --- contacts ----------------------------------------------------------------------------


@router.get(
    "/contacts",
    response={200: Page[ContactOut], **_LIST_ERRORS},
    summary="List contacts",
    description=_list_description("contacts", CONTACT_SORTS),
    exclude_unset=True,
    openapi_extra={"parameters": filter_parameters(ContactFilter)},
)
def contact_index(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    user = request_user(request)
    return _list(
        request,
        params,
        queryset=contact_list(user=user),
        model=Contact,
        filterset=ContactFilter,
        sorts=CONTACT_SORTS,
        fields=_CONTACT_FIELDS,
    )


@router.post(
    "/contacts",
    response={201: ContactOut, **_WRITE_ERRORS},
    summary="Create a contact",
    exclude_unset=True,
    openapi_extra={
        "parameters": [idempotency.PARAMETER],
        "responses": {201: {"headers": _ETAG_HEADER}},
    },
)
@decorate_view(idempotency.idempotent)
def contact_add(
    request: HttpRequest, payload: ContactInput, response: HttpResponse
) -> Status[dict[str, Any]]:
    user = request_user(request)
    contact = contact_create(user=user, via=Via.API, **_service_fields(Contact, payload, user=user))
    response["Location"] = f"{request.path.rstrip('/')}/{contact.pk}"
    return Status(201, _record_response(response, contact, _CONTACT_FIELDS, user))


@router.get(
    "/contacts/{int:contact_id}",
    response={200: ContactOut, **_READ_ERRORS},
    summary="Get a contact",
    exclude_unset=True,
    openapi_extra={"responses": {200: {"headers": _ETAG_HEADER}}},
)
def contact_detail(request: HttpRequest, contact_id: int, response: HttpResponse) -> dict[str, Any]:
    user = request_user(request)
    contact = contact_get(user=user, pk=contact_id)
    return _record_response(response, contact, _CONTACT_FIELDS, user)


@router.patch(
    "/contacts/{int:contact_id}",
    response={200: ContactOut, **_WRITE_ERRORS},
    summary="Change a contact",
    exclude_unset=True,
    openapi_extra={"parameters": [_IF_MATCH], "responses": {200: {"headers": _ETAG_HEADER}}},
)
def contact_change(
    request: HttpRequest, contact_id: int, payload: ContactInput, response: HttpResponse
) -> dict[str, Any]:
    user = request_user(request)
    contact = contact_get(user=user, pk=contact_id, action=Action.UPDATE)
    version = expected_version(request, contact)
    contact = contact_update(
        user=user,
        contact=contact,
        expected_version=version,
        via=Via.API,
        **_service_fields(Contact, payload, user=user),
    )
    return _record_response(response, contact, _CONTACT_FIELDS, user)


@router.delete(
    "/contacts/{int:contact_id}",
    response={204: None, **_WRITE_ERRORS},
    summary="Delete a contact (to the recycle bin)",
    openapi_extra={"parameters": [_IF_MATCH]},
)
def contact_remove(request: HttpRequest, contact_id: int) -> HttpResponse:
    user = request_user(request)
    contact = contact_get(user=user, pk=contact_id, action=Action.DELETE)
    expected_version(request, contact)
    contact_delete(user=user, contact=contact, via=Via.API)
    return HttpResponse(status=204)


# --- a contact's typed emails, phones and addresses --------------------------------------


class ContactEmailItem(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: EmailKind = EmailKind.WORK
    email: str
    is_primary: bool = False


class ContactPhoneItem(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: PhoneKind = PhoneKind.WORK
    number: str = Field(description="Any format; stored as E.164.")
    is_primary: bool = False


class ContactAddressItem(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: AddressKind = AddressKind.WORK
    street: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = Field("", description="ISO 3166 two-letter code.")
    is_primary: bool = False


class ContactChannels(Schema):
    emails: list[ContactEmailItem]
    phones: list[ContactPhoneItem]
    addresses: list[ContactAddressItem]


class ContactChannelsInput(Schema):
    """Lists to replace; a list left out is kept as it is. One primary per list."""

    model_config = ConfigDict(extra="forbid")

    emails: list[ContactEmailItem] | None = None
    phones: list[ContactPhoneItem] | None = None
    addresses: list[ContactAddressItem] | None = None


def _channels(contact: Contact) -> dict[str, Any]:
    return {
        "emails": [
            {"kind": e.kind, "email": e.email, "is_primary": e.is_primary}
            for e in contact.emails.all()
        ],
        "phones": [
            {"kind": p.kind, "number": p.number, "is_primary": p.is_primary}
            for p in contact.phones.all()
        ],
        "addresses": [
            {
                "kind": a.kind,
                "street": a.street,
                "city": a.city,
                "region": a.region,
                "postal_code": a.postal_code,
                "country": a.country,
                "is_primary": a.is_primary,
            }
            for a in contact.addresses.all()
        ],
    }


@router.get(
    "/contacts/{int:contact_id}/channels",
    response={200: ContactChannels, **_READ_ERRORS},
    summary="Get a contact's emails, phones and addresses",
    openapi_extra={"responses": {200: {"headers": _ETAG_HEADER}}},
)
def contact_channels(
    request: HttpRequest, contact_id: int, response: HttpResponse
) -> dict[str, Any]:
    contact = contact_get(user=request_user(request), pk=contact_id)
    with_etag(response, contact)
    return _channels(contact)


@router.put(
    "/contacts/{int:contact_id}/channels",
    response={200: ContactChannels, **_WRITE_ERRORS},
    summary="Replace a contact's emails, phones and/or addresses",
    description=(
        "Each list sent replaces the contact's list of that kind; the primary email and "
        "phone become the contact's email and phone. Errors name the entry, e.g. "
        "emails.1.email."
    ),
    openapi_extra={"parameters": [_IF_MATCH], "responses": {200: {"headers": _ETAG_HEADER}}},
)
def contact_channels_change(
    request: HttpRequest, contact_id: int, payload: ContactChannelsInput, response: HttpResponse
) -> dict[str, Any]:
    user = request_user(request)
    contact = contact_get(user=user, pk=contact_id, action=Action.UPDATE)
    version = expected_version(request, contact)
    sent = payload.model_dump(include=payload.model_fields_set)
    contact = contact_channels_replace(
        user=user, contact=contact, expected_version=version, via=Via.API, **sent
    )
    contact = contact_get(user=user, pk=contact.pk)
    with_etag(response, contact)
    return _channels(contact)


add_share_routes(router, prefix="/accounts", noun="account", get_record=account_get)
add_share_routes(router, prefix="/contacts", noun="contact", get_record=contact_get)
