"""The competitors resource of /api/v1/ and competitors' presence at accounts (thin
handlers: selectors in, services out)."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.contacts.choices import CompetitorStatus
from patron.contacts.competitor_filters import COMPETITOR_SORTS, CompetitorFilter
from patron.contacts.competitor_selectors import (
    account_competitor_get,
    account_competitor_list,
    competitor_account_list,
    competitor_get,
    competitor_list,
)
from patron.contacts.competitor_services import (
    account_competitor_add,
    account_competitor_remove,
    account_competitor_update,
    competitor_create,
    competitor_delete,
    competitor_update,
)
from patron.contacts.models import AccountCompetitor, Competitor
from patron.contacts.selectors import account_get
from patron.core.api.auth import request_user
from patron.core.api.openapi import custom_field_schema
from patron.core.api.problems import problem_responses
from patron.core.api.resources import RecordResource, add_record_routes
from patron.core.api.shares import add_share_routes
from patron.core.choices import Via
from patron.users.api import api_auth

router = Router(tags=["competitors"], auth=api_auth("contacts"))


class CompetitorOut(Schema):
    id: int
    version: int
    name: str
    website: str
    strengths: str
    weaknesses: str
    products: str = Field(description="One product per line.")
    description: str
    owner: int = Field(description="The id of the owning user.")
    team: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    custom: dict[str, Any] = Field(json_schema_extra=custom_field_schema("contacts.competitor"))


class CompetitorInput(Schema):
    """Fields to set; on PATCH only the fields sent change. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    website: str | None = Field(None, description="http(s) address; example.com gets https://.")
    strengths: str | None = None
    weaknesses: str | None = None
    products: str | None = Field(None, description="One product per line.")
    description: str | None = None
    owner: int | None = Field(None, description="The id of the owning user (default: you).")
    team: int | None = None
    custom: dict[str, Any] | None = Field(
        None, json_schema_extra=custom_field_schema("contacts.competitor")
    )


_COMPETITOR_FIELDS = tuple(
    name for name in CompetitorOut.model_fields if name not in {"id", "version", "custom"}
)

add_record_routes(
    router,
    RecordResource(
        prefix="/competitors",
        noun="competitor",
        plural="competitors",
        model=Competitor,
        out_schema=CompetitorOut,
        in_schema=CompetitorInput,
        fields=_COMPETITOR_FIELDS,
        list_selector=competitor_list,
        get=competitor_get,
        create=competitor_create,
        update=competitor_update,
        delete=competitor_delete,
        filterset=CompetitorFilter,
        sorts=COMPETITOR_SORTS,
    ),
)
add_share_routes(router, prefix="/competitors", noun="competitor", get_record=competitor_get)


# --- competitors at accounts ---------------------------------------------------------------


class AccountCompetitorOut(Schema):
    id: int
    account: int
    account_name: str
    competitor: int
    competitor_name: str
    status: CompetitorStatus
    products_sold: str = Field(description="What the competitor sells at the account.")
    contract_end: datetime.date | None
    notes: str
    created_at: datetime.datetime


class AccountCompetitorInput(Schema):
    model_config = ConfigDict(extra="forbid")

    competitor: int = Field(description="The id of a competitor you can see.")
    status: CompetitorStatus = CompetitorStatus.INCUMBENT
    products_sold: str = ""
    contract_end: datetime.date | None = None
    notes: str = ""


class AccountCompetitorPatch(Schema):
    """Fields to change; the ones left out keep their value; null clears contract_end."""

    model_config = ConfigDict(extra="forbid")

    status: CompetitorStatus | None = None
    products_sold: str | None = None
    contract_end: datetime.date | None = None
    notes: str | None = None


def _link(link: AccountCompetitor) -> dict[str, Any]:
    return {
        "id": link.pk,
        "account": link.account_id,
        "account_name": str(link.account),
        "competitor": link.competitor_id,
        "competitor_name": str(link.competitor),
        "status": link.status,
        "products_sold": link.products_sold,
        "contract_end": link.contract_end,
        "notes": link.notes,
        "created_at": link.created_at,
    }


_LINKS = "/accounts/{int:record_id}/competitors"
_LINKS_DOC = (
    "Only users who may edit the account change its competitors. A competitor you cannot see "
    "is a 422 naming the field, as is a competitor already listed at the account."
)


@router.get(
    _LINKS,
    response={200: list[AccountCompetitorOut], **problem_responses(401, 403, 404)},
    summary="List the competitors present at an account",
    description="By competitor name; only competitors you can see (at most 100).",
    operation_id="account_competitor_list",
)
def links_index(request: HttpRequest, record_id: int) -> list[dict[str, Any]]:
    user = request_user(request)
    account = account_get(user=user, pk=record_id)
    links = account_competitor_list(user=user, account=account)
    for link in links:
        link.account = account
    return [_link(link) for link in links]


@router.post(
    _LINKS,
    response={201: AccountCompetitorOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Record a competitor present at an account",
    description=_LINKS_DOC,
    operation_id="account_competitor_create",
)
def links_add(request: HttpRequest, record_id: int, payload: AccountCompetitorInput) -> Status[Any]:
    user = request_user(request)
    account = account_get(user=user, pk=record_id)
    fields = payload.model_dump()
    link = account_competitor_add(
        user=user, account=account, competitor_id=fields.pop("competitor"), via=Via.API, **fields
    )
    return Status(201, _link(link))


@router.patch(
    f"{_LINKS}/{{int:link_id}}",
    response={200: AccountCompetitorOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Change what a competitor sells at an account",
    description=_LINKS_DOC,
    operation_id="account_competitor_update",
)
def links_change(
    request: HttpRequest, record_id: int, link_id: int, payload: AccountCompetitorPatch
) -> dict[str, Any]:
    user = request_user(request)
    account = account_get(user=user, pk=record_id)
    link = account_competitor_get(account=account, pk=link_id)
    sent = payload.model_dump(include=payload.model_fields_set)
    if "status" in sent and sent["status"] is None:
        del sent["status"]
    for name in ("products_sold", "notes"):
        if name in sent and sent[name] is None:
            sent[name] = ""
    link = account_competitor_update(user=user, link=link, via=Via.API, **sent)
    return _link(link)


@router.delete(
    f"{_LINKS}/{{int:link_id}}",
    response={204: None, **problem_responses(401, 403, 404)},
    summary="Remove a competitor from an account",
    description="Only users who may edit the account may.",
    operation_id="account_competitor_delete",
)
def links_remove(request: HttpRequest, record_id: int, link_id: int) -> HttpResponse:
    user = request_user(request)
    account = account_get(user=user, pk=record_id)
    link = account_competitor_get(account=account, pk=link_id)
    account_competitor_remove(user=user, link=link, via=Via.API)
    return HttpResponse(status=204)


@router.get(
    "/competitors/{int:record_id}/accounts",
    response={200: list[AccountCompetitorOut], **problem_responses(401, 403, 404)},
    summary="List the accounts where a competitor is present",
    description="By account name; only accounts you can see (at most 100).",
    operation_id="competitor_account_list",
)
def competitor_accounts(request: HttpRequest, record_id: int) -> list[dict[str, Any]]:
    user = request_user(request)
    competitor = competitor_get(user=user, pk=record_id)
    links = competitor_account_list(user=user, competitor=competitor)
    for link in links:
        link.competitor = competitor
    return [_link(link) for link in links]
