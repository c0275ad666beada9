"""Leads as a routable object type: what the routing engine reads from a lead, and how it
writes the owner or queue it chose back onto the lead.

The engine (routing) sits below leads, so it never imports this module: ``register_lead_routing``
hands it a ``Routable`` from ``LeadsConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from patron.core import records
from patron.core.choices import Via
from patron.leads.models import Lead
from patron.leads.policy_services import first_response_due, lead_settings
from patron.routing.models import RoutingQueue
from patron.routing.registry import Routable, RoutingTarget, register_routable
from patron.territories.selectors import territory_user_ids_for
from patron.users.models import User

LEAD_OBJECT_TYPE = "leads.lead"

# Offered in the assignment rule editor, in this order.
CONDITION_FIELDS: tuple[tuple[str, str], ...] = (
    ("source", "Source"),
    ("campaign", "Campaign"),
    ("country", "Country (ISO code)"),
    ("region", "Region or state"),
    ("postal_code", "Postal code"),
    ("language", "Language"),
    ("industry", "Industry"),
    ("company", "Company"),
    ("employee_count", "Employees"),
    ("deal_size", "Annual revenue"),
    ("score", "Score"),
    ("status", "Status"),
)


def lead_routing_attributes(lead: Lead) -> Mapping[str, Any]:
    """The values assignment rules and strategies read from ``lead``."""
    affinity_user_id = None
    if lead.matched_account_id is not None:
        account = lead.matched_account
        affinity_user_id = account.owner_id if account is not None else None
    return {
        "language": lead.language,
        "country": lead.country,
        "region": lead.region,
        "postal_code": lead.postal_code,
        "industry": lead.industry,
        "source": lead.source,
        "campaign": lead.campaign,
        "company": lead.company,
        "employee_count": lead.employee_count,
        "deal_size": lead.annual_revenue,
        "score": lead.score,
        "status": lead.status,
        "territory_user_ids": territory_user_ids_for(obj=lead),
        "affinity_user_id": affinity_user_id,
    }


def lead_apply_routing(lead: Lead, target: RoutingTarget, reason: str) -> None:
    """Give ``lead`` to the user or queue the engine chose and start its first-response clock.

    Written through the change log (the lead's history shows who routed it where and why)
    at the lead's current version, read under a row lock, so a user editing the lead at the
    same moment gets a clear conflict instead of silently undoing the assignment.
    """
    now = timezone.now()
    policy = lead_settings()
    changes: dict[str, Any] = {
        "routed_at": now,
        "first_response_due_at": first_response_due(now, policy),
    }
    # record_update sets fields by name, so foreign keys go in as rows; the engine has just
    # chosen them, so an unsaved row carrying the id is enough (no query).
    if target.user_id is not None:
        changes["owner"] = User(pk=target.user_id)
        changes["queue"] = None
    elif target.queue_id is not None:
        changes["queue"] = RoutingQueue(pk=target.queue_id)
    else:
        raise ValueError("A routing target names a user or a queue.")
    with transaction.atomic():
        current = Lead.all_objects.select_for_update().get(pk=lead.pk)
        records.record_update(
            current,
            changes=changes,
            actor=None,
            via=Via.SYSTEM,
            expected_version=current.version,
        )
    _copy_routing_fields(current, lead)


def lead_mark_routed(lead: Lead) -> Lead:
    """Count ``lead`` as routed where it is (no rule matched: it keeps its default owner)."""
    now = timezone.now()
    policy = lead_settings()
    with transaction.atomic():
        current = Lead.all_objects.select_for_update().get(pk=lead.pk)
        if current.routed_at is None:
            records.record_update(
                current,
                changes={
                    "routed_at": now,
                    "first_response_due_at": first_response_due(now, policy),
                },
                actor=None,
                via=Via.SYSTEM,
                expected_version=current.version,
            )
    _copy_routing_fields(current, lead)
    return lead


def _copy_routing_fields(source: Lead, target: Lead) -> None:
    for name in ("owner_id", "queue_id", "routed_at", "first_response_due_at", "version"):
        setattr(target, name, getattr(source, name))


def register_lead_routing() -> None:
    register_routable(
        Routable(
            object_type=LEAD_OBJECT_TYPE,
            model=Lead,
            label="Leads",
            attributes=lead_routing_attributes,
            apply=lead_apply_routing,
            condition_fields=CONDITION_FIELDS,
        )
    )
