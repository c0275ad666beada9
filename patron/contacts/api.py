"""The accounts and contacts resources of /api/v1/ (thin: selectors in, services out)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.contacts.choices import AccountKind, AccountTier, AddressKind, EmailKind, PhoneKind
from patron.contacts.filters import ACCOUNT_SORTS, CONTACT_SORTS, AccountFilter, ContactFilter
from patron.contacts.models import (
    Account,
    AccountContactRelation,
    AccountTeamMember,
    AccountTeamRole,
    Contact,
    ContactRole,
    TeamAccess,
)
from patron.contacts.rollups import rollup_figures
from patron.contacts.selectors import (
    HierarchyNode,
    account_get,
    account_hierarchy,
    account_list,
    account_relation_list,
    account_team_list,
    account_team_member_get,
    contact_get,
    contact_list,
    contact_relation_list,
    relation_get,
)
from patron.contacts.services import (
    account_create,
    account_delete,
    account_team_add,
    account_team_remove,
    account_team_update,
    account_update,
    contact_channels_replace,
    contact_create,
    contact_delete,
    contact_update,
    relation_add,
    relation_remove,
    relation_update,
)
from patron.core.api.auth import request_user
from patron.core.api.openapi import custom_field_schema
from patron.core.api.problems import problem_responses
from patron.core.api.records import expected_version, with_etag
from patron.core.api.resources import (
    ETAG_HEADER,
    IF_MATCH,
    READ_ERRORS,
    WRITE_ERRORS,
    RecordResource,
    add_record_routes,
)
from patron.core.api.shares import add_share_routes
from patron.core.choices import Action, Via
from patron.core.exceptions import ValidationFailed
from patron.users.api import api_auth
from patron.users.models import User

router = Router(tags=["contacts"], auth=api_auth("contacts"))


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
    external_id: str = Field(
        description="The record's id in the system it was imported from (Salesforce, HubSpot...)."
    )
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
    external_id: str | None = Field(
        None,
        max_length=100,
        description="The record's id in the system it was imported from; an import match key.",
    )
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
    external_id: str = Field(
        description="The record's id in the system it was imported from (Salesforce, HubSpot...)."
    )
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
    external_id: str | None = Field(
        None,
        max_length=100,
        description="The record's id in the system it was imported from; an import match key.",
    )
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

# --- the standard record routes ------------------------------------------------------------

add_record_routes(
    router,
    RecordResource(
        prefix="/accounts",
        noun="account",
        plural="accounts",
        model=Account,
        out_schema=AccountOut,
        in_schema=AccountInput,
        fields=_ACCOUNT_FIELDS,
        list_selector=account_list,
        get=account_get,
        create=account_create,
        update=account_update,
        delete=account_delete,
        filterset=AccountFilter,
        sorts=ACCOUNT_SORTS,
    ),
)
add_record_routes(
    router,
    RecordResource(
        prefix="/contacts",
        noun="contact",
        plural="contacts",
        model=Contact,
        out_schema=ContactOut,
        in_schema=ContactInput,
        fields=_CONTACT_FIELDS,
        list_selector=contact_list,
        get=contact_get,
        create=contact_create,
        update=contact_update,
        delete=contact_delete,
        filterset=ContactFilter,
        sorts=CONTACT_SORTS,
    ),
)


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
    response={200: ContactChannels, **READ_ERRORS},
    summary="Get a contact's emails, phones and addresses",
    operation_id="contact_channels_get",
    openapi_extra={"responses": {200: {"headers": ETAG_HEADER}}},
)
def contact_channels(
    request: HttpRequest, contact_id: int, response: HttpResponse
) -> dict[str, Any]:
    contact = contact_get(user=request_user(request), pk=contact_id)
    with_etag(response, contact)
    return _channels(contact)


@router.put(
    "/contacts/{int:contact_id}/channels",
    response={200: ContactChannels, **WRITE_ERRORS},
    summary="Replace a contact's emails, phones and/or addresses",
    operation_id="contact_channels_replace",
    description=(
        "Each list sent replaces the contact's list of that kind; the primary email and "
        "phone become the contact's email and phone. Errors name the entry, e.g. "
        "emails.1.email."
    ),
    openapi_extra={"parameters": [IF_MATCH], "responses": {200: {"headers": ETAG_HEADER}}},
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


# --- the account team ----------------------------------------------------------------------


class TeamMemberOut(Schema):
    id: int
    user: int = Field(description="The id of the member.")
    user_name: str
    team_role: AccountTeamRole
    access: TeamAccess = Field(description="read, or edit (read and edit the account).")
    added_by: int | None
    added_at: datetime.datetime


class TeamMemberInput(Schema):
    model_config = ConfigDict(extra="forbid")

    user: int = Field(description="The id of an active user.")
    team_role: AccountTeamRole
    access: TeamAccess = TeamAccess.READ


class TeamMemberPatch(Schema):
    """Fields to change; the ones left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    team_role: AccountTeamRole | None = None
    access: TeamAccess | None = None


def _team_member(member: AccountTeamMember) -> dict[str, Any]:
    return {
        "id": member.pk,
        "user": member.user_id,
        "user_name": str(member.user),
        "team_role": member.team_role,
        "access": member.access,
        "added_by": member.added_by_id,
        "added_at": member.added_at,
    }


_TEAM = "/accounts/{int:record_id}/team"
_TEAM_DOC = (
    "Members see the account and its contacts; members with edit access may also change them. "
    "Only users who may edit the account may change its team."
)


@router.get(
    _TEAM,
    response={200: list[TeamMemberOut], **problem_responses(401, 403, 404)},
    summary="List an account's team",
    operation_id="account_team_list",
)
def team_index(request: HttpRequest, record_id: int) -> list[dict[str, Any]]:
    account = account_get(user=request_user(request), pk=record_id)
    return [_team_member(member) for member in account_team_list(account=account)]


@router.post(
    _TEAM,
    response={201: TeamMemberOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Add a user to an account's team",
    description=_TEAM_DOC,
    operation_id="account_team_create",
)
def team_add(request: HttpRequest, record_id: int, payload: TeamMemberInput) -> Status[Any]:
    user = request_user(request)
    account = account_get(user=user, pk=record_id)
    member_user = User.objects.filter(pk=payload.user, is_active=True).first()
    if member_user is None:
        raise ValidationFailed(
            "The user does not exist.", errors={"user": [f"No active user with id {payload.user}."]}
        )
    member = account_team_add(
        user=user,
        account=account,
        member_user=member_user,
        team_role=payload.team_role,
        access=payload.access,
        via=Via.API,
    )
    return Status(201, _team_member(member))


@router.patch(
    f"{_TEAM}/{{int:member_id}}",
    response={200: TeamMemberOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Change a team member's role or access",
    description=_TEAM_DOC,
    operation_id="account_team_update",
)
def team_change(
    request: HttpRequest, record_id: int, member_id: int, payload: TeamMemberPatch
) -> dict[str, Any]:
    user = request_user(request)
    account = account_get(user=user, pk=record_id)
    member = account_team_member_get(account=account, pk=member_id)
    member = account_team_update(
        user=user, member=member, team_role=payload.team_role, access=payload.access, via=Via.API
    )
    return _team_member(member)


@router.delete(
    f"{_TEAM}/{{int:member_id}}",
    response={204: None, **problem_responses(401, 403, 404)},
    summary="Remove a user from an account's team",
    description=_TEAM_DOC,
    operation_id="account_team_delete",
)
def team_remove(request: HttpRequest, record_id: int, member_id: int) -> HttpResponse:
    user = request_user(request)
    account = account_get(user=user, pk=record_id)
    member = account_team_member_get(account=account, pk=member_id)
    account_team_remove(user=user, member=member, via=Via.API)
    return HttpResponse(status=204)


# --- contacts' relations to accounts -----------------------------------------------------------


class RelationOut(Schema):
    id: int
    account: int
    account_name: str
    contact: int
    contact_name: str
    roles: list[ContactRole]
    responsibilities: str
    start_date: datetime.date | None
    end_date: datetime.date | None
    is_primary: bool = Field(description="Whether this is the contact's main account.")
    reports_to: int | None = Field(description="The id of the contact this one reports to.")
    created_at: datetime.datetime


class RelationInput(Schema):
    model_config = ConfigDict(extra="forbid")

    contact: int = Field(description="The id of a contact you can see.")
    roles: list[ContactRole] = []
    responsibilities: str = ""
    start_date: datetime.date | None = None
    end_date: datetime.date | None = Field(None, description="On or after start_date.")
    is_primary: bool = Field(
        False, description="Make this the contact's main account (needs edit access to it)."
    )
    reports_to: int | None = Field(
        None, description="A contact related to the same account; no loops."
    )


class RelationPatch(Schema):
    """Fields to change; the ones left out keep their value; null clears a date or reports_to."""

    model_config = ConfigDict(extra="forbid")

    roles: list[ContactRole] | None = None
    responsibilities: str | None = None
    start_date: datetime.date | None = None
    end_date: datetime.date | None = None
    is_primary: bool | None = None
    reports_to: int | None = None


def _relation(relation: AccountContactRelation) -> dict[str, Any]:
    return {
        "id": relation.pk,
        "account": relation.account_id,
        "account_name": str(relation.account),
        "contact": relation.contact_id,
        "contact_name": str(relation.contact),
        "roles": relation.roles,
        "responsibilities": relation.responsibilities,
        "start_date": relation.start_date,
        "end_date": relation.end_date,
        "is_primary": relation.is_primary,
        "reports_to": relation.reports_to_id,
        "created_at": relation.created_at,
    }


def _relation_fields(sent: dict[str, Any]) -> dict[str, Any]:
    if "reports_to" in sent:
        sent["reports_to_id"] = sent.pop("reports_to")
    if "responsibilities" in sent and sent["responsibilities"] is None:
        sent["responsibilities"] = ""
    return sent


_RELATIONS = "/accounts/{int:record_id}/relations"
_RELATIONS_DOC = (
    "Only users who may edit the account change its relations. A contact or reports_to you "
    "cannot see is a 422 naming the field, as is an end date before the start date."
)


@router.get(
    _RELATIONS,
    response={200: list[RelationOut], **problem_responses(401, 403, 404)},
    summary="List the contacts related to an account, with their roles",
    description="Current relations first; only contacts you can see (at most 100).",
    operation_id="account_relation_list",
)
def relations_index(request: HttpRequest, record_id: int) -> list[dict[str, Any]]:
    user = request_user(request)
    account = account_get(user=user, pk=record_id)
    relations = account_relation_list(user=user, account=account)
    for relation in relations:
        relation.account = account
    return [_relation(relation) for relation in relations]


@router.get(
    "/contacts/{int:record_id}/relations",
    response={200: list[RelationOut], **problem_responses(401, 403, 404)},
    summary="List the accounts a contact is related to",
    description="The main account first; only accounts you can see.",
    operation_id="contact_relation_list",
)
def contact_relations_index(request: HttpRequest, record_id: int) -> list[dict[str, Any]]:
    user = request_user(request)
    contact = contact_get(user=user, pk=record_id)
    relations = contact_relation_list(user=user, contact=contact)
    for relation in relations:
        relation.contact = contact
    return [_relation(relation) for relation in relations]


@router.post(
    _RELATIONS,
    response={201: RelationOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Relate a contact to an account",
    description=_RELATIONS_DOC,
    operation_id="account_relation_create",
)
def relations_add(request: HttpRequest, record_id: int, payload: RelationInput) -> Status[Any]:
    user = request_user(request)
    account = account_get(user=user, pk=record_id)
    fields = _relation_fields(payload.model_dump())
    relation = relation_add(
        user=user, account=account, contact_id=fields.pop("contact"), via=Via.API, **fields
    )
    return Status(201, _relation(relation))


@router.patch(
    f"{_RELATIONS}/{{int:relation_id}}",
    response={200: RelationOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Change a contact's relation to an account",
    description=_RELATIONS_DOC + " Set end_date to end the relation and keep its history.",
    operation_id="account_relation_update",
)
def relations_change(
    request: HttpRequest, record_id: int, relation_id: int, payload: RelationPatch
) -> dict[str, Any]:
    user = request_user(request)
    account = account_get(user=user, pk=record_id)
    relation = relation_get(account=account, pk=relation_id)
    sent = _relation_fields(payload.model_dump(include=payload.model_fields_set))
    relation = relation_update(user=user, relation=relation, via=Via.API, **sent)
    return _relation(relation)


@router.delete(
    f"{_RELATIONS}/{{int:relation_id}}",
    response={204: None, **problem_responses(401, 403, 404)},
    summary="Delete a contact's relation to an account",
    description="For a relation made by mistake; to keep the history, PATCH an end_date.",
    operation_id="account_relation_delete",
)
def relations_remove(request: HttpRequest, record_id: int, relation_id: int) -> HttpResponse:
    user = request_user(request)
    account = account_get(user=user, pk=record_id)
    relation = relation_get(account=account, pk=relation_id)
    relation_remove(user=user, relation=relation, via=Via.API)
    return HttpResponse(status=204)


# --- the account hierarchy ----------------------------------------------------------------------


class HierarchyNodeOut(Schema):
    id: int
    name: str = Field(description="Empty for an account you may not see.")
    parent: int | None
    depth: int = Field(description="0 for the account asked about, 1 for its children, ...")
    visible: bool


class RollupOut(Schema):
    key: str
    label: str
    account: Decimal | int = Field(description="The figure for the account itself.")
    subtree: Decimal | int = Field(description="The figure for the account and all below it.")


class HierarchyOut(Schema):
    ancestors: list[HierarchyNodeOut] = Field(description="The root first, the parent last.")
    descendants: list[HierarchyNodeOut] = Field(
        description="The account and its descendants, each after its parent (depth first)."
    )
    truncated: bool = Field(description="Whether descendants were cut at 500 accounts.")
    rollups: list[RollupOut]


def _hierarchy_node(node: HierarchyNode) -> dict[str, Any]:
    return {
        "id": node.id,
        "name": node.name if node.visible else "",
        "parent": node.parent_id,
        "depth": node.depth,
        "visible": node.visible,
    }


@router.get(
    "/accounts/{int:record_id}/hierarchy",
    response={200: HierarchyOut, **problem_responses(401, 403, 404)},
    summary="Get an account's place in its hierarchy and its roll-ups",
    description=(
        "Ancestors, the tree of descendants (any depth, at most 500 shown) and every "
        "registered roll-up for the account and its whole subtree."
    ),
    operation_id="account_hierarchy",
)
def hierarchy(request: HttpRequest, record_id: int) -> dict[str, Any]:
    user = request_user(request)
    account = account_get(user=user, pk=record_id)
    tree = account_hierarchy(user=user, account=account)
    descendants: list[dict[str, Any]] = []
    stack = [tree.root]
    while stack:
        node = stack.pop()
        descendants.append(_hierarchy_node(node))
        stack.extend(reversed(node.children))
    figures = rollup_figures(account_id=account.pk, subtree_ids=tree.subtree_ids)
    return {
        "ancestors": [_hierarchy_node(node) for node in tree.ancestors],
        "descendants": descendants,
        "truncated": tree.truncated,
        "rollups": [
            {"key": f.key, "label": f.label, "account": f.account, "subtree": f.subtree}
            for f in figures
        ],
    }
