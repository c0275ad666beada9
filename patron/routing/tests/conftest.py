"""Routing test fixtures: a test-only Routable for leads, pools and members.

The real lead Routable lives in the leads app (written separately); these tests register
their own with a simple ``apply`` that writes owner/queue by queryset update, and restore
the registry afterwards so nothing leaks into other apps' tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from django.db.models import F

from patron.leads.models import Lead
from patron.routing import registry
from patron.routing.models import AgentAvailability, Pool, PoolMember, RoutingQueue
from patron.routing.registry import Routable, RoutingTarget, register_routable
from patron.users.models import User
from patron.users.tests.factories import UserFactory

CONDITION_FIELDS = (
    ("country", "Country"),
    ("language", "Language"),
    ("source", "Source"),
    ("deal_size", "Deal size"),
    ("employee_count", "Employees"),
    ("company", "Company"),
    ("postal_code", "Postal code"),
    ("industry", "Industry"),
)


def lead_attributes(lead: Lead) -> Mapping[str, Any]:
    custom = lead.custom or {}
    return {
        "country": lead.country,
        "language": lead.language,
        "source": lead.source,
        "deal_size": lead.annual_revenue,
        "employee_count": lead.employee_count,
        "company": lead.company,
        "postal_code": lead.postal_code,
        "industry": lead.industry,
        "territory_user_ids": custom.get("territory_user_ids", []),
        "affinity_user_id": custom.get("affinity_user_id"),
    }


def lead_apply(lead: Lead, target: RoutingTarget, reason: str) -> None:
    if target.user_id is not None:
        Lead.all_objects.filter(pk=lead.pk).update(
            owner_id=target.user_id, queue=None, version=F("version") + 1
        )
    else:
        Lead.all_objects.filter(pk=lead.pk).update(queue_id=target.queue_id)


LEAD_ROUTABLE = Routable(
    object_type="leads.lead",
    model=Lead,
    label="Leads",
    attributes=lead_attributes,
    apply=lead_apply,
    condition_fields=CONDITION_FIELDS,
)


@pytest.fixture
def lead_routable() -> Iterator[Routable]:
    saved = dict(registry._routables)
    register_routable(LEAD_ROUTABLE)
    yield LEAD_ROUTABLE
    registry._routables.clear()
    registry._routables.update(saved)


@pytest.fixture
def lead_owner(db: Any) -> User:
    """Owns leads before routing (the capture form's default owner)."""
    return UserFactory(full_name="Default Owner", email="default-owner@example.com")


def make_lead(owner: User, **fields: Any) -> Lead:
    fields.setdefault("last_name", "Lead")
    return Lead.objects.create(owner=owner, **fields)


def make_pool(name: str = "Inbound", *, strategy: str = "round_robin", **fields: Any) -> Pool:
    return Pool.objects.create(name=name, object_type="leads.lead", strategy=strategy, **fields)


def make_member(pool: Pool, user: User | None = None, **fields: Any) -> PoolMember:
    if "position" not in fields:
        fields["position"] = PoolMember.objects.filter(pool=pool).count()
    return PoolMember.objects.create(pool=pool, user=user, **fields)


def make_agent(name: str, *, time_zone: str = "UTC", **availability: Any) -> User:
    user: User = UserFactory(full_name=name, time_zone=time_zone)
    if availability:
        AgentAvailability.objects.create(user=user, **availability)
    return user


def make_queue(name: str = "Inbound queue") -> RoutingQueue:
    return RoutingQueue.objects.create(name=name)
