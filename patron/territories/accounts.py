"""Accounts as a territory subject, and the visibility territory membership gives on them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Model, Q

from patron.contacts.models import Account
from patron.core.choices import Action
from patron.core.visibility import AccessProfile, register_visibility_rule
from patron.territories.registry import TerritorySubject, register_territory_subject
from patron.territories.selectors import records_in_user_territories, territories_of


def account_attributes(account: Account) -> Mapping[str, Any]:
    return {
        "country": account.billing_country,
        "region": account.billing_region,
        "postal_code": account.billing_postal_code,
        "industry": account.industry,
        "employee_count": account.employee_count,
        "annual_revenue": account.annual_revenue,
    }


def territory_visibility_rule(model: type[Model]) -> Any:
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
    territories = territories_of(obj=record)
    if not territories:
        return []
    from patron.territories.models import TerritoryMember

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
        elif member.role == "manager":
            reasons.append(
                f"You manage the territory {member.territory.name}, which contains "
                f"{own.name}, the record's territory."
            )
    return reasons


def register_accounts() -> None:
    register_territory_subject(
        TerritorySubject(
            object_type="contacts.account",
            model=Account,
            attributes=account_attributes,
            label="Accounts",
        )
    )
    register_visibility_rule(Account, territory_visibility_rule(Account), explain_territory_access)
