"""Lead-handling settings, leads at risk and scoring in /api/v1/.

- ``GET /leads-at-risk``: open leads you can see that are late to be assigned, past or near
  their first-response deadline, or untouched (filters, sort, keyset pages);
- ``GET/PATCH /lead-settings``: the policy (changing it is for administrators);
- scoring (scoring_api.py): ``GET /leads/{id}/score``, the rules, behaviours and model.

This module has no ``from __future__ import annotations``: Ninja reads the handlers'
annotations.
"""

import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field

from patron.core.api.auth import request_user
from patron.core.api.openapi import filter_parameters
from patron.core.api.pagination import ListParams, Page, keyset_page, page_body, sort_columns
from patron.core.api.problems import problem_responses
from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.filters import FilterContext
from patron.leads.models import Lead, LeadSettings
from patron.leads.policy_filters import AT_RISK_DEFAULT_SORT, AT_RISK_SORTS, AtRiskFilter
from patron.leads.policy_services import (
    RiskReason,
    at_risk_candidates,
    lead_settings,
    lead_settings_update,
    risk_reasons,
)
from patron.leads.scoring_api import router as scoring_router

router = Router(tags=["Lead policy"])
router.add_router("", scoring_router)

LIST_PARAMETERS = frozenset({"limit", "cursor", "sort"})


class AtRiskOut(Schema):
    id: int
    name: str
    company: str
    email: str
    status: str
    owner: int = Field(description="The id of the owning user.")
    queue: int | None = Field(description="The id of the routing queue holding it, if any.")
    reasons: list[str] = Field(
        description="Why it is at risk: " + ", ".join(f"{k} ({v})" for k, v in RiskReason.CHOICES)
    )
    created_at: datetime.datetime
    routed_at: datetime.datetime | None
    first_response_due_at: datetime.datetime | None
    deadline_breaches: int
    score: int


def _at_risk_filterset(request: HttpRequest) -> AtRiskFilter:
    user = request_user(request)
    if not user.access_profile().may(Lead.object_type(), Action.READ):
        raise PermissionDenied("Your role may not see leads.")
    params = {k: v for k, v in request.GET.items() if k not in LIST_PARAMETERS}
    known = set(AtRiskFilter.base_filters)
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValidationFailed(
            "Unknown query parameter(s): " + ", ".join(unknown) + ".",
            errors={
                name: [f"Not a filter of this list; filters are: {', '.join(sorted(known))}."]
                for name in unknown
            },
        )
    filterset = AtRiskFilter(
        params, queryset=at_risk_candidates(user=user), request=FilterContext(user=user)
    )
    if not filterset.is_valid():
        errors = {name: [str(m) for m in ms] for name, ms in filterset.errors.items()}
        raise ValidationFailed(
            "Some filters are not valid: " + ", ".join(sorted(errors)) + ".", errors=errors
        )
    return filterset


@router.get(
    "/leads-at-risk",
    response={200: Page[AtRiskOut], **problem_responses(400, 401, 403, 422)},
    summary="List leads at risk",
    description=(
        "Open leads you can see that were not assigned within the settings' "
        "assign_within_minutes, whose first-response deadline has passed or is within "
        "due_within minutes (default 15), or that nobody changed or logged an activity on for "
        "untouched_days (default 7). Keyset pages: pass next_cursor as ?cursor=. Sort keys: "
        + ", ".join(AT_RISK_SORTS)
        + f" (default {AT_RISK_DEFAULT_SORT}). An unknown filter is refused with 422."
    ),
    operation_id="leads_at_risk_list",
    openapi_extra={"parameters": filter_parameters(AtRiskFilter)},
)
def at_risk_list(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    filterset = _at_risk_filterset(request)
    sort, columns = sort_columns(params.sort, AT_RISK_SORTS, AT_RISK_DEFAULT_SORT)
    rows, next_cursor = keyset_page(
        filterset.qs, sort=sort, columns=columns, limit=params.limit, cursor=params.cursor
    )
    window = filterset.window()
    items = [
        {
            "id": lead.pk,
            "name": f"{lead.first_name} {lead.last_name}".strip(),
            "company": lead.company,
            "email": lead.email,
            "status": lead.status,
            "owner": lead.owner_id,
            "queue": lead.queue_id,
            "reasons": risk_reasons(lead, window),
            "created_at": lead.created_at,
            "routed_at": lead.routed_at,
            "first_response_due_at": lead.first_response_due_at,
            "deadline_breaches": lead.deadline_breaches,
            "score": lead.score,
        }
        for lead in rows
    ]
    return page_body(items, next_cursor)


class LeadSettingsOut(Schema):
    assign_within_minutes: int = Field(
        description="Every new lead gets an owner or queue within this."
    )
    first_response_minutes: int = Field(
        description="The first response is due this long after assignment."
    )
    extra_public_domains: list[str] = Field(
        description="Mail domains (besides the built-in list) never matched to an account."
    )
    hot_score: int = Field(description="A score at or above this counts as hot.")
    model_refit_days: int = Field(description="The score model is learned again this often.")
    updated_at: datetime.datetime


class LeadSettingsPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    assign_within_minutes: int | None = Field(None, description="1 to 1440.")
    first_response_minutes: int | None = Field(None, description="1 to 20160.")
    extra_public_domains: list[str] | None = Field(None, description="Up to 500 domains.")
    hot_score: int | None = Field(None, description="-10000 to 10000.")
    model_refit_days: int | None = Field(None, description="1 to 365.")


def _settings_out(row: LeadSettings) -> dict[str, Any]:
    return {
        "assign_within_minutes": row.assign_within_minutes,
        "first_response_minutes": row.first_response_minutes,
        "extra_public_domains": list(row.extra_public_domains or []),
        "hot_score": row.hot_score,
        "model_refit_days": row.model_refit_days,
        "updated_at": row.updated_at,
    }


@router.get(
    "/lead-settings",
    response={200: LeadSettingsOut, **problem_responses(401, 403)},
    summary="Read the lead settings",
    description="Administrators only.",
    operation_id="lead_settings_get",
)
def settings_get(request: HttpRequest) -> dict[str, Any]:
    user = request_user(request)
    if not user.access_profile().is_admin:
        raise PermissionDenied("Only administrators may see the lead settings.")
    return _settings_out(lead_settings())


@router.patch(
    "/lead-settings",
    response={200: LeadSettingsOut, **problem_responses(400, 401, 403, 422)},
    summary="Change the lead settings",
    description="Administrators only. Only the fields sent change; each is validated and a "
    "bad one is named in the 422 problem's errors.",
    operation_id="lead_settings_update",
)
def settings_update(request: HttpRequest, payload: LeadSettingsPatch) -> dict[str, Any]:
    user = request_user(request)
    values = payload.model_dump(include=payload.model_fields_set)
    nulls = sorted(name for name, value in values.items() if value is None)
    if nulls:
        raise ValidationFailed(
            "Settings cannot be null.",
            errors={name: ["Give a value or leave the field out."] for name in nulls},
        )
    return _settings_out(lead_settings_update(user=user, **values))
