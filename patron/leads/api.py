"""Lead records, conversion and capture-form administration (/api/v1/leads, /capture-forms)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.contacts.models import Account, Contact
from patron.core.api.auth import request_admin, request_user
from patron.core.api.openapi import custom_field_schema
from patron.core.api.problems import problem_responses
from patron.core.api.records import hidden_fields, record_data
from patron.core.api.resources import (
    IF_MATCH,
    READ_ERRORS,
    WRITE_ERRORS,
    RecordResource,
    add_record_routes,
    record_response,
)
from patron.core.api.shares import add_share_routes
from patron.core.choices import Action, Via
from patron.core.exceptions import ValidationFailed
from patron.leads import selectors, services
from patron.leads.capture import (
    capture_form_create,
    capture_form_new_key,
    capture_form_update,
)
from patron.leads.capture_views import snippets
from patron.leads.choices import (
    CaptureMatchAction,
    DisqualificationReason,
    LeadSource,
    LeadStatus,
    OptInState,
)
from patron.leads.conversion import lead_convert
from patron.leads.filters import LEAD_SORTS, LeadFilter
from patron.leads.models import CaptureForm, Lead
from patron.leads.views import lead_archive_record, lead_create_fields, lead_update_fields
from patron.users.models import User

CAPTURE_FORMS_ADMIN_ONLY = "Only administrators manage lead capture forms."

router = Router(tags=["Leads"])


# --- schemas -----------------------------------------------------------------------------


class LeadOut(Schema):
    id: int
    version: int
    salutation: str
    first_name: str
    last_name: str
    title: str
    email: str
    phone: str = Field(description="E.164, e.g. +14155550100.")
    mobile: str
    language: str
    company: str
    website: str
    domain: str
    industry: str
    employee_count: int | None
    annual_revenue: Decimal | None = Field(
        None, description="Sensitive: left out for users whose role may not see it."
    )
    street: str
    city: str
    region: str
    postal_code: str
    country: str
    description: str
    email_opt_out: bool
    external_id: str = Field(
        description="The record's id in the system it was imported from (Salesforce, HubSpot...)."
    )
    source: LeadSource
    source_detail: str
    campaign: str
    status: LeadStatus
    disqualification_reason: str
    disqualification_note: str
    score: int
    owner: int = Field(description="The id of the owning user.")
    team: int | None
    queue: int | None = Field(description="The routing queue holding the lead, if any.")
    routed_at: datetime.datetime | None
    first_response_due_at: datetime.datetime | None
    first_responded_at: datetime.datetime | None
    opt_in_state: OptInState
    capture_form: int | None
    matched_contact: int | None
    matched_account: int | None
    converted_at: datetime.datetime | None
    converted_by: int | None
    converted_account: int | None
    converted_contact: int | None
    converted_opportunity_id: int | None
    archived_at: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    custom: dict[str, Any] = Field(json_schema_extra=custom_field_schema("leads.lead"))


class LeadInput(Schema):
    """Fields to set; on PATCH only the fields sent change. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    salutation: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    email: str | None = None
    phone: str | None = Field(None, description="Any format; stored as E.164.")
    mobile: str | None = Field(None, description="Any format; stored as E.164.")
    language: str | None = None
    company: str | None = None
    website: str | None = None
    domain: str | None = Field(None, description="Derived from the website or email if left out.")
    industry: str | None = None
    employee_count: int | None = Field(None, ge=0)
    annual_revenue: Decimal | None = Field(None, max_digits=18, decimal_places=2)
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = Field(None, description="ISO 3166 two-letter code.")
    description: str | None = None
    email_opt_out: bool | None = None
    external_id: str | None = Field(
        None,
        max_length=100,
        description="The record's id in the system it was imported from; an import match key.",
    )
    source: LeadSource | None = None
    source_detail: str | None = None
    campaign: str | None = None
    status: LeadStatus | None = Field(
        None, description="Disqualifying needs disqualification_reason (or use /disqualify)."
    )
    disqualification_reason: DisqualificationReason | None = None
    disqualification_note: str | None = None
    owner: int | None = Field(None, description="The id of the owning user (default: you).")
    team: int | None = None
    queue: int | None = Field(None, description="The id of a routing queue.")
    custom: dict[str, Any] | None = Field(None, json_schema_extra=custom_field_schema("leads.lead"))


_LEAD_FIELDS = tuple(
    name for name in LeadOut.model_fields if name not in {"id", "version", "custom"}
)

add_record_routes(
    router,
    RecordResource(
        prefix="/leads",
        noun="lead",
        plural="leads",
        model=Lead,
        out_schema=LeadOut,
        in_schema=LeadInput,
        fields=_LEAD_FIELDS,
        list_selector=selectors.lead_list,
        get=selectors.lead_get,
        create=lead_create_fields,
        update=lead_update_fields,
        delete=lead_archive_record,
        filterset=LeadFilter,
        sorts=LEAD_SORTS,
        default_sort="-created",
    ),
)
add_share_routes(router, prefix="/leads", noun="lead", get_record=selectors.lead_get)


# --- actions -------------------------------------------------------------------------------


class StatusInput(Schema):
    model_config = ConfigDict(extra="forbid")

    status: LeadStatus


class DisqualifyInput(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: DisqualificationReason
    note: str = ""


def _lead_for_update(request: HttpRequest, record_id: int) -> tuple[User, Lead]:
    user = request_user(request)
    return user, selectors.lead_get(user=user, pk=record_id, action=Action.UPDATE)


@router.post(
    "/leads/{int:record_id}/status",
    response={200: LeadOut, **WRITE_ERRORS},
    summary="Set a lead's status (new, working, nurturing, qualified)",
    operation_id="lead_set_status",
    exclude_unset=True,
)
def lead_status(
    request: HttpRequest, record_id: int, payload: StatusInput, response: HttpResponse
) -> dict[str, Any]:
    user, lead = _lead_for_update(request, record_id)
    lead = services.lead_set_status(user=user, lead=lead, status=payload.status, via=Via.API)
    return record_response(response, lead, _LEAD_FIELDS, user)


@router.post(
    "/leads/{int:record_id}/disqualify",
    response={200: LeadOut, **WRITE_ERRORS},
    summary="Disqualify a lead, with a reason",
    operation_id="lead_disqualify",
    exclude_unset=True,
)
def lead_disqualify(
    request: HttpRequest, record_id: int, payload: DisqualifyInput, response: HttpResponse
) -> dict[str, Any]:
    user, lead = _lead_for_update(request, record_id)
    lead = services.lead_disqualify(
        user=user, lead=lead, reason=payload.reason, note=payload.note, via=Via.API
    )
    return record_response(response, lead, _LEAD_FIELDS, user)


@router.post(
    "/leads/{int:record_id}/archive",
    response={200: LeadOut, **WRITE_ERRORS},
    summary="Archive a lead (hidden from lists unless archived=true; never deleted)",
    operation_id="lead_archive",
    exclude_unset=True,
)
def lead_archive(request: HttpRequest, record_id: int, response: HttpResponse) -> dict[str, Any]:
    user, lead = _lead_for_update(request, record_id)
    lead = services.lead_archive(user=user, lead=lead, via=Via.API)
    return record_response(response, lead, _LEAD_FIELDS, user)


@router.post(
    "/leads/{int:record_id}/restore",
    response={200: LeadOut, **WRITE_ERRORS},
    summary="Bring an archived lead back into the lists",
    operation_id="lead_restore",
    exclude_unset=True,
)
def lead_restore(request: HttpRequest, record_id: int, response: HttpResponse) -> dict[str, Any]:
    user, lead = _lead_for_update(request, record_id)
    lead = services.lead_restore(user=user, lead=lead, via=Via.API)
    return record_response(response, lead, _LEAD_FIELDS, user)


class OpportunityInput(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", description="Default: '<company> opportunity'.")
    pipeline: int | None = Field(None, description="Default: the default pipeline.")
    stage: int | None = Field(None, description="Default: the pipeline's first stage.")
    amount: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=2)
    currency: str | None = None
    close_date: datetime.date
    contact_role: str = Field("decision_maker", description="The contact's role on it.")


class ConvertInput(Schema):
    model_config = ConfigDict(extra="forbid")

    account: int | None = Field(None, description="Reuse this account (an id you can see).")
    create_account: bool = Field(
        False, description="Create a new company account even if one matches."
    )
    person_account: bool = Field(False, description="Create a person account (B2C).")
    contact: int | None = Field(None, description="Reuse this contact (an id you can see).")
    opportunity: OpportunityInput | None = Field(
        None, description="Create an opportunity too; left out: none."
    )


class ConvertOut(Schema):
    lead: LeadOut
    account: int
    account_created: bool
    contact: int
    contact_created: bool
    opportunity: int | None


def _visible_reference(model: Any, pk: int | None, user: User, field: str) -> Any:
    if pk is None:
        return None
    record = model.objects.visible_to(user).filter(pk=pk).first()
    if record is None:
        noun = model._meta.verbose_name
        raise ValidationFailed(
            f"The {noun} was not found.",
            errors={field: [f"No {noun} with id {pk} that you can see."]},
        )
    return record


@router.post(
    "/leads/{int:record_id}/convert",
    response={200: ConvertOut, **WRITE_ERRORS},
    summary="Convert a lead to an account, a contact and optionally an opportunity",
    description=(
        "One transaction: reuses the given account, else (unless create_account or "
        "person_account) the account matching the lead's company email domain, else creates "
        "one; reuses the given contact or the contact with the lead's email, else creates one; "
        "creates the opportunity if asked; moves the lead's activities to the contact and "
        "account. A lead already converted is refused with 409 and nothing changes; any error "
        "changes nothing."
    ),
    operation_id="lead_convert",
    openapi_extra={"parameters": [IF_MATCH]},
)
def convert(request: HttpRequest, record_id: int, payload: ConvertInput) -> dict[str, Any]:
    user, lead = _lead_for_update(request, record_id)
    opportunity = payload.opportunity.model_dump() if payload.opportunity is not None else None
    result = lead_convert(
        user=user,
        lead=lead,
        account=_visible_reference(Account, payload.account, user, "account"),
        create_account=payload.create_account,
        person_account=payload.person_account,
        contact=_visible_reference(Contact, payload.contact, user, "contact"),
        opportunity=opportunity,
        via=Via.API,
    )
    return {
        "lead": record_data(result.lead, _LEAD_FIELDS, hidden_fields(user, Lead)),
        "account": result.account.pk,
        "account_created": result.account_created,
        "contact": result.contact.pk,
        "contact_created": result.contact_created,
        "opportunity": result.lead.converted_opportunity_id,
    }


# --- capture forms (administrators) -------------------------------------------------------

ADMIN_ERRORS = problem_responses(400, 401, 403, 404, 422)


class CaptureFieldItem(Schema):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="A lead field: first_name, last_name, email, company, ...")
    label: str = ""
    required: bool = False


class CaptureFormOut(Schema):
    id: int
    name: str
    key: str = Field(description="Public: it is in the embed snippet.")
    is_active: bool
    fields: list[CaptureFieldItem]
    double_opt_in: bool
    match_action: CaptureMatchAction
    default_owner: int
    default_source: LeadSource
    default_campaign: str
    thank_you_message: str
    redirect_url: str
    allowed_origins: list[str]
    max_submissions_per_hour: int
    embed_snippet: str
    created_at: datetime.datetime


class CaptureFormInput(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    is_active: bool | None = None
    fields: list[CaptureFieldItem] | None = None
    double_opt_in: bool | None = None
    match_action: CaptureMatchAction | None = None
    default_owner: int | None = None
    default_source: LeadSource | None = None
    default_campaign: str | None = None
    thank_you_message: str | None = None
    redirect_url: str | None = None
    allowed_origins: list[str] | None = None
    max_submissions_per_hour: int | None = None


def _form_data(request: HttpRequest, form: CaptureForm) -> dict[str, Any]:
    return {
        "id": form.pk,
        "name": form.name,
        "key": form.key,
        "is_active": form.is_active,
        "fields": form.fields,
        "double_opt_in": form.double_opt_in,
        "match_action": form.match_action,
        "default_owner": form.default_owner_id,
        "default_source": form.default_source,
        "default_campaign": form.default_campaign,
        "thank_you_message": form.thank_you_message,
        "redirect_url": form.redirect_url,
        "allowed_origins": form.allowed_origins,
        "max_submissions_per_hour": form.max_submissions_per_hour,
        "embed_snippet": snippets(request, form)["embed"],
        "created_at": form.created_at,
    }


def _config(payload: CaptureFormInput) -> dict[str, Any]:
    data = payload.model_dump(include=payload.model_fields_set)
    if "default_owner" in data:
        owner = User.objects.filter(pk=data["default_owner"], is_active=True).first()
        if owner is None:
            raise ValidationFailed(
                "The default owner was not found.",
                errors={"default_owner": [f"No active user with id {data['default_owner']}."]},
            )
        data["default_owner"] = owner
    for name in ("redirect_url", "default_campaign"):
        if name in data and data[name] is None:
            data[name] = ""
    return data


@router.get(
    "/capture-forms",
    response={200: list[CaptureFormOut], **ADMIN_ERRORS},
    summary="List lead capture forms (administrators)",
    operation_id="capture_form_list",
)
def capture_form_list(request: HttpRequest) -> list[dict[str, Any]]:
    request_admin(request, CAPTURE_FORMS_ADMIN_ONLY)
    return [_form_data(request, form) for form in selectors.capture_form_list()]


@router.post(
    "/capture-forms",
    response={201: CaptureFormOut, **ADMIN_ERRORS},
    summary="Create a lead capture form (administrators)",
    operation_id="capture_form_create",
)
def capture_form_add(request: HttpRequest, payload: CaptureFormInput) -> Status[dict[str, Any]]:
    user = request_admin(request, CAPTURE_FORMS_ADMIN_ONLY)
    data = _config(payload)
    data.setdefault("default_owner", user)
    form = capture_form_create(user=user, data=data)
    return Status(201, _form_data(request, form))


@router.get(
    "/capture-forms/{int:form_id}",
    response={200: CaptureFormOut, **READ_ERRORS},
    summary="Get a lead capture form with its embed snippet (administrators)",
    operation_id="capture_form_get",
)
def capture_form_detail(request: HttpRequest, form_id: int) -> dict[str, Any]:
    request_admin(request, CAPTURE_FORMS_ADMIN_ONLY)
    return _form_data(request, selectors.capture_form_get(pk=form_id))


@router.patch(
    "/capture-forms/{int:form_id}",
    response={200: CaptureFormOut, **ADMIN_ERRORS},
    summary="Change a lead capture form (administrators)",
    operation_id="capture_form_update",
)
def capture_form_change(
    request: HttpRequest, form_id: int, payload: CaptureFormInput
) -> dict[str, Any]:
    user = request_admin(request, CAPTURE_FORMS_ADMIN_ONLY)
    form = capture_form_update(
        user=user, form=selectors.capture_form_get(pk=form_id), data=_config(payload)
    )
    return _form_data(request, form)


@router.post(
    "/capture-forms/{int:form_id}/new-key",
    response={200: CaptureFormOut, **ADMIN_ERRORS},
    summary="Give a capture form a new key (the old snippet stops working)",
    operation_id="capture_form_new_key",
)
def capture_form_rekey(request: HttpRequest, form_id: int) -> dict[str, Any]:
    user = request_admin(request, CAPTURE_FORMS_ADMIN_ONLY)
    form = capture_form_new_key(user=user, form=selectors.capture_form_get(pk=form_id))
    return _form_data(request, form)
