"""The read path for what hangs off an opportunity: contact roles, competitors, the
opportunity team and revenue splits, and the team's share of opportunity visibility."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from patron.contacts.models import Competitor, Contact
from patron.core.choices import Action
from patron.core.exceptions import RecordNotFound
from patron.core.visibility import AccessProfile, Principal, register_visibility_rule
from patron.pipeline.choices import TeamAccess
from patron.pipeline.models import (
    Opportunity,
    OpportunityCompetitor,
    OpportunityContact,
    OpportunityTeamMember,
    RevenueSplit,
)

# A related list on a detail page or in the API shows at most this many rows.
RELATED_LIMIT = 200


def _get(queryset: models.QuerySet[Any], pk: Any, what: str) -> Any:
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"This opportunity has no {what} with id {pk}.") from None


# --- contact roles ----------------------------------------------------------------------------


def opportunity_contact_list(
    *, user: Principal, opportunity: Opportunity
) -> list[OpportunityContact]:
    """The opportunity's contacts ``user`` may see, the primary one first (one query)."""
    return list(
        OpportunityContact.objects.filter(
            opportunity=opportunity, contact__in=Contact.objects.visible_to(user).values("pk")
        )
        .select_related("contact")
        .order_by("-is_primary", "contact__last_name", "contact__first_name", "id")[:RELATED_LIMIT]
    )


def opportunity_contact_get(*, opportunity: Opportunity, pk: Any) -> OpportunityContact:
    queryset = OpportunityContact.objects.filter(opportunity=opportunity).select_related(
        "contact", "opportunity"
    )
    role: OpportunityContact = _get(queryset, pk, "contact role")
    return role


# --- competitors ------------------------------------------------------------------------------


def opportunity_competitor_list(
    *, user: Principal, opportunity: Opportunity
) -> list[OpportunityCompetitor]:
    """The competitors on the opportunity that ``user`` may see, by name (one query)."""
    return list(
        OpportunityCompetitor.objects.filter(
            opportunity=opportunity,
            competitor__in=Competitor.objects.visible_to(user).values("pk"),
        )
        .select_related("competitor")
        .order_by("competitor__name", "id")[:RELATED_LIMIT]
    )


def opportunity_competitor_get(*, opportunity: Opportunity, pk: Any) -> OpportunityCompetitor:
    queryset = OpportunityCompetitor.objects.filter(opportunity=opportunity).select_related(
        "competitor", "opportunity"
    )
    link: OpportunityCompetitor = _get(queryset, pk, "competitor")
    return link


# --- team and splits --------------------------------------------------------------------------


def opportunity_team_list(*, opportunity: Opportunity) -> list[OpportunityTeamMember]:
    return list(
        OpportunityTeamMember.objects.filter(opportunity=opportunity)
        .select_related("user")
        .order_by("user__full_name", "id")[:RELATED_LIMIT]
    )


def opportunity_team_member_get(*, opportunity: Opportunity, pk: Any) -> OpportunityTeamMember:
    queryset = OpportunityTeamMember.objects.filter(opportunity=opportunity).select_related(
        "user", "opportunity"
    )
    member: OpportunityTeamMember = _get(queryset, pk, "team member")
    return member


def opportunity_split_list(
    *, opportunity: Opportunity, split_type: str | None = None
) -> list[RevenueSplit]:
    """The opportunity's revenue splits (of one type, or all), largest share first."""
    splits = RevenueSplit.objects.filter(opportunity=opportunity)
    if split_type is not None:
        splits = splits.filter(split_type=split_type)
    return list(splits.select_related("user").order_by("split_type", "-percent", "user_id"))


# --- the team's share of visibility -----------------------------------------------------------


def opportunity_team_rule(profile: AccessProfile, action: str) -> Q:
    """Team members read the opportunity; members with edit access also change it.

    Deleting stays with the owner and the hierarchy above them: a team member helps sell the
    deal, but does not decide to drop it.
    """
    if action == Action.DELETE:
        return Q(pk__in=[])
    memberships = OpportunityTeamMember.objects.filter(user_id=profile.user_id)
    if action == Action.UPDATE:
        memberships = memberships.filter(access=TeamAccess.EDIT)
    return Q(pk__in=memberships.values("opportunity_id"))


def opportunity_team_explain(profile: AccessProfile, record: models.Model) -> list[str]:
    member = OpportunityTeamMember.objects.filter(
        user_id=profile.user_id, opportunity_id=record.pk
    ).first()
    if member is None:
        return []
    return [
        f"You are on the opportunity team as {member.get_role_display()} "
        f"({member.get_access_display().lower()})."
    ]


def register_visibility_rules() -> None:
    """Widen opportunity visibility to its team (from AppConfig.ready).

    Nothing widens it to those who see the account: opportunities stay private to their
    owner, the hierarchy above, shares and the team.
    """
    register_visibility_rule(Opportunity, opportunity_team_rule, opportunity_team_explain)
