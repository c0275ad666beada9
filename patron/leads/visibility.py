"""Who else may see a lead: members of the routing queue that owns it."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from patron.core.visibility import AccessProfile, register_visibility_rule
from patron.leads.models import Lead
from patron.routing.models import RoutingQueue


def _member_queue_ids(profile: AccessProfile) -> models.QuerySet[RoutingQueue, Any]:
    return RoutingQueue.objects.filter(members__id=profile.user_id).values("pk")


def queue_member_rule(profile: AccessProfile, action: str) -> Q:
    """Members of a lead's queue read and edit it (they are the ones meant to take it)."""
    return Q(queue_id__in=_member_queue_ids(profile))


def queue_member_explain(profile: AccessProfile, record: models.Model) -> list[str]:
    queue_id = getattr(record, "queue_id", None)
    if queue_id is None:
        return []
    queue = RoutingQueue.objects.filter(pk=queue_id, members__id=profile.user_id).first()
    return [f"You are a member of the queue {queue}, which holds this lead."] if queue else []


def register_lead_visibility() -> None:
    register_visibility_rule(Lead, queue_member_rule, queue_member_explain)
