"""What hangs off an opportunity in /api/v1/: contact roles, competitors, the team and
revenue splits (thin handlers: selectors in, services out)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.core.api.auth import request_user
from patron.core.api.problems import problem_responses
from patron.core.choices import Action, Via
from patron.core.exceptions import ValidationFailed
from patron.pipeline import related_selectors as selectors
from patron.pipeline import related_services as services
from patron.pipeline.choices import (
    OpportunityContactRoleKind,
    OpportunityTeamRole,
    SplitType,
    TeamAccess,
)
from patron.pipeline.models import (
    Opportunity,
    OpportunityCompetitor,
    OpportunityContact,
    OpportunityTeamMember,
    RevenueSplit,
)
from patron.pipeline.selectors import opportunity_get
from patron.users.models import User

router = Router(tags=["opportunities"])

READ = problem_responses(401, 403, 404)
WRITE = problem_responses(400, 401, 403, 404, 422)
_BASE = "/opportunities/{int:opportunity_id}"
_EDIT_DOC = (
    "Needs edit access to the opportunity (its owner, the hierarchy above, or a team member "
    "with edit access)."
)


def _readable(request: HttpRequest, opportunity_id: int) -> Opportunity:
    return opportunity_get(user=request_user(request), pk=opportunity_id)


def _editable(request: HttpRequest, opportunity_id: int) -> Opportunity:
    return opportunity_get(
        user=request_user(request), pk=opportunity_id, action=Action.UPDATE
    )


# --- contact roles ----------------------------------------------------------------------------


class ContactRoleOut(Schema):
    id: int
    contact: int
    contact_name: str
    role: OpportunityContactRoleKind
    is_primary: bool = Field(description="One contact per opportunity is the primary one.")


class ContactRoleInput(Schema):
    model_config = ConfigDict(extra="forbid")

    contact: int = Field(description="The id of a contact you can see.")
    role: OpportunityContactRoleKind
    is_primary: bool = Field(
        default=False, description="Make this the primary contact (the first one added is)."
    )


class ContactRolePatch(Schema):
    """Fields to change; the ones left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    role: OpportunityContactRoleKind | None = None
    is_primary: bool | None = None


def _contact_role(link: OpportunityContact) -> dict[str, Any]:
    return {
        "id": link.pk,
        "contact": link.contact_id,
        "contact_name": str(link.contact),
        "role": link.role,
        "is_primary": link.is_primary,
    }


@router.get(
    f"{_BASE}/contacts",
    response={200: list[ContactRoleOut], **READ},
    summary="List an opportunity's contacts and their roles",
    description="Only the contacts you can see are listed.",
    operation_id="opportunity_contact_list",
)
def contact_index(request: HttpRequest, opportunity_id: int) -> list[dict[str, Any]]:
    user = request_user(request)
    opportunity = _readable(request, opportunity_id)
    links = selectors.opportunity_contact_list(user=user, opportunity=opportunity)
    return [_contact_role(link) for link in links]


@router.post(
    f"{_BASE}/contacts",
    response={201: ContactRoleOut, **WRITE},
    summary="Add a contact with a role to an opportunity",
    description=_EDIT_DOC,
    operation_id="opportunity_contact_create",
)
def contact_add(
    request: HttpRequest, opportunity_id: int, payload: ContactRoleInput
) -> Status[Any]:
    link = services.opportunity_contact_add(
        user=request_user(request),
        opportunity=_editable(request, opportunity_id),
        contact_id=payload.contact,
        role=payload.role,
        is_primary=payload.is_primary,
        via=Via.API,
    )
    return Status(201, _contact_role(link))


@router.patch(
    f"{_BASE}/contacts/{{int:contact_role_id}}",
    response={200: ContactRoleOut, **WRITE},
    summary="Change a contact's role, or make them primary",
    description=_EDIT_DOC,
    operation_id="opportunity_contact_update",
)
def contact_change(
    request: HttpRequest, opportunity_id: int, contact_role_id: int, payload: ContactRolePatch
) -> dict[str, Any]:
    opportunity = _editable(request, opportunity_id)
    link = selectors.opportunity_contact_get(opportunity=opportunity, pk=contact_role_id)
    link = services.opportunity_contact_update(
        user=request_user(request),
        contact_role=link,
        role=payload.role,
        is_primary=payload.is_primary,
        via=Via.API,
    )
    return _contact_role(link)


@router.delete(
    f"{_BASE}/contacts/{{int:contact_role_id}}",
    response={204: None, **READ},
    summary="Take a contact off an opportunity",
    description=_EDIT_DOC,
    operation_id="opportunity_contact_delete",
)
def contact_remove(request: HttpRequest, opportunity_id: int, contact_role_id: int) -> HttpResponse:
    opportunity = _editable(request, opportunity_id)
    link = selectors.opportunity_contact_get(opportunity=opportunity, pk=contact_role_id)
    services.opportunity_contact_remove(user=request_user(request), contact_role=link, via=Via.API)
    return HttpResponse(status=204)


# --- competitors ------------------------------------------------------------------------------


class CompetitorLinkOut(Schema):
    id: int
    competitor: int
    competitor_name: str
    notes: str


class CompetitorLinkInput(Schema):
    model_config = ConfigDict(extra="forbid")

    competitor: int = Field(description="The id of a competitor you can see.")
    notes: str = ""


class CompetitorLinkPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    notes: str


def _competitor_link(link: OpportunityCompetitor) -> dict[str, Any]:
    return {
        "id": link.pk,
        "competitor": link.competitor_id,
        "competitor_name": str(link.competitor),
        "notes": link.notes,
    }


@router.get(
    f"{_BASE}/competitors",
    response={200: list[CompetitorLinkOut], **READ},
    summary="List the competitors on an opportunity",
    description="Only the competitors you can see are listed.",
    operation_id="opportunity_competitor_list",
)
def competitor_index(request: HttpRequest, opportunity_id: int) -> list[dict[str, Any]]:
    user = request_user(request)
    opportunity = _readable(request, opportunity_id)
    links = selectors.opportunity_competitor_list(user=user, opportunity=opportunity)
    return [_competitor_link(link) for link in links]


@router.post(
    f"{_BASE}/competitors",
    response={201: CompetitorLinkOut, **WRITE},
    summary="Add a competitor to an opportunity",
    description=_EDIT_DOC,
    operation_id="opportunity_competitor_create",
)
def competitor_add(
    request: HttpRequest, opportunity_id: int, payload: CompetitorLinkInput
) -> Status[Any]:
    link = services.opportunity_competitor_add(
        user=request_user(request),
        opportunity=_editable(request, opportunity_id),
        competitor_id=payload.competitor,
        notes=payload.notes,
        via=Via.API,
    )
    return Status(201, _competitor_link(link))


@router.patch(
    f"{_BASE}/competitors/{{int:link_id}}",
    response={200: CompetitorLinkOut, **WRITE},
    summary="Change the notes on a competitor of an opportunity",
    description=_EDIT_DOC,
    operation_id="opportunity_competitor_update",
)
def competitor_change(
    request: HttpRequest, opportunity_id: int, link_id: int, payload: CompetitorLinkPatch
) -> dict[str, Any]:
    opportunity = _editable(request, opportunity_id)
    link = selectors.opportunity_competitor_get(opportunity=opportunity, pk=link_id)
    link = services.opportunity_competitor_update(
        user=request_user(request), link=link, notes=payload.notes, via=Via.API
    )
    return _competitor_link(link)


@router.delete(
    f"{_BASE}/competitors/{{int:link_id}}",
    response={204: None, **READ},
    summary="Take a competitor off an opportunity",
    description=_EDIT_DOC,
    operation_id="opportunity_competitor_delete",
)
def competitor_remove(request: HttpRequest, opportunity_id: int, link_id: int) -> HttpResponse:
    opportunity = _editable(request, opportunity_id)
    link = selectors.opportunity_competitor_get(opportunity=opportunity, pk=link_id)
    services.opportunity_competitor_remove(user=request_user(request), link=link, via=Via.API)
    return HttpResponse(status=204)


# --- the team ---------------------------------------------------------------------------------


class TeamMemberOut(Schema):
    id: int
    user: int
    user_name: str
    role: OpportunityTeamRole
    access: TeamAccess = Field(description="read, or edit (read and edit the opportunity).")
    added_at: datetime.datetime


class TeamMemberInput(Schema):
    model_config = ConfigDict(extra="forbid")

    user: int = Field(description="The id of an active user other than the owner.")
    role: OpportunityTeamRole
    access: TeamAccess = TeamAccess.READ


class TeamMemberPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    role: OpportunityTeamRole | None = None
    access: TeamAccess | None = None


def _team_member(member: OpportunityTeamMember) -> dict[str, Any]:
    return {
        "id": member.pk,
        "user": member.user_id,
        "user_name": str(member.user),
        "role": member.role,
        "access": member.access,
        "added_at": member.added_at,
    }


_TEAM_DOC = f"Members see the opportunity; with edit access they change it too. {_EDIT_DOC}"


@router.get(
    f"{_BASE}/team",
    response={200: list[TeamMemberOut], **READ},
    summary="List an opportunity's team",
    operation_id="opportunity_team_list",
)
def team_index(request: HttpRequest, opportunity_id: int) -> list[dict[str, Any]]:
    opportunity = _readable(request, opportunity_id)
    return [_team_member(m) for m in selectors.opportunity_team_list(opportunity=opportunity)]


@router.post(
    f"{_BASE}/team",
    response={201: TeamMemberOut, **WRITE},
    summary="Add a user to an opportunity's team",
    description=_TEAM_DOC,
    operation_id="opportunity_team_create",
)
def team_add(request: HttpRequest, opportunity_id: int, payload: TeamMemberInput) -> Status[Any]:
    opportunity = _editable(request, opportunity_id)
    member = services.opportunity_team_add(
        user=request_user(request),
        opportunity=opportunity,
        member_user=User.objects.filter(pk=payload.user).first(),
        role=payload.role,
        access=payload.access,
        via=Via.API,
    )
    return Status(201, _team_member(member))


@router.patch(
    f"{_BASE}/team/{{int:member_id}}",
    response={200: TeamMemberOut, **WRITE},
    summary="Change a team member's role or access",
    description=_TEAM_DOC,
    operation_id="opportunity_team_update",
)
def team_change(
    request: HttpRequest, opportunity_id: int, member_id: int, payload: TeamMemberPatch
) -> dict[str, Any]:
    opportunity = _editable(request, opportunity_id)
    member = selectors.opportunity_team_member_get(opportunity=opportunity, pk=member_id)
    member = services.opportunity_team_update(
        user=request_user(request),
        member=member,
        role=payload.role,
        access=payload.access,
        via=Via.API,
    )
    return _team_member(member)


@router.delete(
    f"{_BASE}/team/{{int:member_id}}",
    response={204: None, **WRITE},
    summary="Take a user off an opportunity's team",
    description=f"{_TEAM_DOC} Refused (422) while the member holds a revenue split.",
    operation_id="opportunity_team_delete",
)
def team_remove(request: HttpRequest, opportunity_id: int, member_id: int) -> HttpResponse:
    opportunity = _editable(request, opportunity_id)
    member = selectors.opportunity_team_member_get(opportunity=opportunity, pk=member_id)
    services.opportunity_team_remove(user=request_user(request), member=member, via=Via.API)
    return HttpResponse(status=204)


# --- revenue splits ---------------------------------------------------------------------------


class ShareOut(Schema):
    user: int
    user_name: str
    percent: Decimal


class SplitsOut(Schema):
    split_type: SplitType
    shares: list[ShareOut]


class ShareInput(Schema):
    model_config = ConfigDict(extra="forbid")

    user: int = Field(description="The owner or a team member.")
    percent: Decimal = Field(description="More than 0, at most 100, two decimals at most.")


class SplitsInput(Schema):
    model_config = ConfigDict(extra="forbid")

    shares: list[ShareInput] = Field(
        description="The whole set; the percents total exactly 100. Empty clears the split."
    )


def _splits(split_type: str, splits: list[RevenueSplit]) -> dict[str, Any]:
    return {
        "split_type": split_type,
        "shares": [
            {"user": s.user_id, "user_name": str(s.user), "percent": s.percent} for s in splits
        ],
    }


def _split_type(value: str) -> str:
    if value not in SplitType.values:
        raise ValidationFailed(
            "Unknown split type.",
            errors={"split_type": [f"Choose one of: {', '.join(SplitType.values)}."]},
        )
    return value


@router.get(
    f"{_BASE}/splits/{{split_type}}",
    response={200: SplitsOut, **problem_responses(401, 403, 404, 422)},
    summary="Read an opportunity's revenue split of one type",
    operation_id="opportunity_splits_get",
)
def splits_read(request: HttpRequest, opportunity_id: int, split_type: str) -> dict[str, Any]:
    split_type = _split_type(split_type)
    opportunity = _readable(request, opportunity_id)
    return _splits(
        split_type, selectors.opportunity_split_list(opportunity=opportunity, split_type=split_type)
    )


@router.put(
    f"{_BASE}/splits/{{split_type}}",
    response={200: SplitsOut, **WRITE},
    summary="Replace an opportunity's revenue split of one type",
    description=(
        "The whole set is checked at once: each user is the owner or on the team, each "
        f"percent is above 0 and at most 100, and they total exactly 100. {_EDIT_DOC}"
    ),
    operation_id="opportunity_splits_replace",
)
def splits_replace(
    request: HttpRequest, opportunity_id: int, split_type: str, payload: SplitsInput
) -> dict[str, Any]:
    split_type = _split_type(split_type)
    splits = services.opportunity_splits_replace(
        user=request_user(request),
        opportunity=_editable(request, opportunity_id),
        split_type=split_type,
        shares=[(share.user, share.percent) for share in payload.shares],
        via=Via.API,
    )
    return _splits(split_type, splits)
