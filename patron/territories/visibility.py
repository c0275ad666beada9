"""Territory membership widens visibility: a rule any territory subject can register.

Members (any role) of a record's territory in the active model read it; a manager also reads
and edits the records of their territory and of every territory below it. Reps, overlay and
support members do not edit through a territory (their own records they edit as owners).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, Q

from patron.core.choices import Action
from patron.core.visibility import AccessProfile, VisibilityRule, register_visibility_rule
from patron.territories.choices import MemberRole
from patron.territories.models import TerritoryMember
from patron.territories.selectors import records_in_user_territories, territories_of_cached


def territory_visibility_rule(model: type[Model]) -> VisibilityRule:
    """A visibility rule for ``model``: members of a record's territory read it, managers
    also read and edit the records of the territories below theirs (and their own)."""

    def rule(profile: AccessProfile, action: str) -> Q:
        if action == Action.CREATE:
            return Q(pk__in=[])
        edit = action in (Action.UPDATE, Action.DELETE)
        return Q(
            pk__in=records_in_user_territories(user_id=profile.user_id, model=model, edit=edit)
        )

    return rule


def explain_territory_access(profile: AccessProfile, record: Any) -> list[str]:
    territories = territories_of_cached(record)
    if not territories:
        return []
    ids = [territory.pk for territory in territories]
    memberships = TerritoryMember.objects.filter(
        user_id=profile.user_id, territory_id__in=ids
    ).select_related("territory")
    own = territories[-1]
    reasons = []
    for member in memberships:
        if member.territory_id == own.pk:
            reasons.append(
                f"You are a {member.get_role_display().lower()} of the record's territory, "
                f"{own.name}."
            )
        elif member.role == MemberRole.MANAGER:
            reasons.append(
                f"You manage the territory {member.territory.name}, which contains "
                f"{own.name}, the record's territory."
            )
    return reasons


def register_territory_visibility(model: type[Model]) -> None:
    """Let territory members see ``model``'s records (call from the app's ready())."""
    register_visibility_rule(model, territory_visibility_rule(model), explain_territory_access)
