"""Leads in territories: the values territory rules read from a lead, and the visibility
territory membership gives (members of a lead's territory see it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Q

from patron.core.choices import Action
from patron.core.visibility import AccessProfile, register_visibility_rule
from patron.leads.models import Lead
from patron.territories.registry import TerritorySubject, register_territory_subject
from patron.territories.selectors import records_in_user_territories


def lead_territory_attributes(lead: Lead) -> Mapping[str, Any]:
    return {
        "country": lead.country,
        "region": lead.region,
        "postal_code": lead.postal_code,
        "industry": lead.industry,
        "employee_count": lead.employee_count,
        "annual_revenue": lead.annual_revenue,
    }


# Territory membership lets people see and export leads; changing one stays with its owner.
TERRITORY_ACTIONS = frozenset({Action.READ, Action.EXPORT})


def leads_in_my_territories(profile: AccessProfile, action: str) -> Q:
    """Leads assigned to a territory the user belongs to (a lazy subquery of ids)."""
    if action not in TERRITORY_ACTIONS:
        return Q(pk__in=[])
    return Q(pk__in=records_in_user_territories(user_id=profile.user_id, model=Lead))


def explain_territory(profile: AccessProfile, record: Any) -> list[str]:
    ids = records_in_user_territories(user_id=profile.user_id, model=Lead)
    if Lead.all_objects.filter(pk=record.pk, pk__in=ids).exists():
        return ["The lead is in one of your territories."]
    return []


def register_lead_territories() -> None:
    register_territory_subject(
        TerritorySubject(object_type="leads.lead", model=Lead, attributes=lead_territory_attributes)
    )
    register_visibility_rule(Lead, leads_in_my_territories, explain_territory)
