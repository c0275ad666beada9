"""The first response to a lead: the first call, email or meeting a user logs on it, the first
task on it they complete, or its owner moving its status off "new".

Recorded once (``first_responded_at`` and the seconds since the lead arrived) by reacting to
the events the activities and leads services emit; the deadline sweep stops at a lead that
has one. The stamp is written with a conditional UPDATE, so two reactions racing record the
earliest one only once, and it does not bump the lead's version (a user editing the lead is
not interrupted by it), but the change log shows it.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from patron.activities.choices import ActivityKind, TaskStatus
from patron.activities.models import Activity, ActivityLink
from patron.core import events, records
from patron.core.choices import Via
from patron.leads.choices import LeadStatus
from patron.leads.models import Lead
from patron.users.models import User

# Logging one of these on a lead answers it; a note does not (nobody heard from us).
RESPONSE_KINDS = frozenset({ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.APPOINTMENT})


def first_response_record(
    *, lead: Lead, at: datetime.datetime, actor_id: int | None, how: str
) -> bool:
    """Stamp ``lead``'s first response at ``at`` unless it has one; True if this did."""
    moment = max(at, lead.created_at)
    seconds = int((moment - lead.created_at).total_seconds())
    with transaction.atomic():
        stamped = Lead.all_objects.filter(pk=lead.pk, first_responded_at__isnull=True).update(
            first_responded_at=moment, first_response_seconds=seconds
        )
        if stamped:
            records.log_change(
                lead,
                actor=_user(actor_id),
                via=Via.SYSTEM,
                action="update",
                changes={
                    "first_responded_at": [None, moment.isoformat()],
                    "first_response_seconds": [None, seconds],
                    "first_response": [None, how],
                },
            )
    if stamped:
        lead.first_responded_at, lead.first_response_seconds = moment, seconds
    return bool(stamped)


def _user(actor_id: int | None) -> User | None:
    return User.objects.filter(pk=actor_id).first() if actor_id else None


def _linked_leads(activity_id: int) -> list[Lead]:
    lead_ids = ActivityLink.objects.filter(
        activity_id=activity_id, content_type=ContentType.objects.get_for_model(Lead)
    ).values("object_id")
    return list(Lead.objects.filter(pk__in=lead_ids, first_responded_at__isnull=True))


def _response_moment(activity: Activity, now: datetime.datetime) -> datetime.datetime | None:
    """When ``activity`` answered its leads, or None when it does not count (yet)."""
    if activity.kind in (ActivityKind.CALL, ActivityKind.EMAIL):
        # A call logged after it happened counts from when it happened, never the future.
        return min(activity.occurred_at or now, now)
    if activity.kind == ActivityKind.APPOINTMENT:
        return now
    if activity.kind == ActivityKind.TASK and activity.status == TaskStatus.DONE:
        return min(activity.completed_at or now, now)
    return None


def on_activity_event(event: str, payload: dict[str, Any]) -> None:
    actor_id = payload.get("actor_id")
    if event == "activity.updated":
        status = (payload.get("changes") or {}).get("status")
        if not status or status[-1] != TaskStatus.DONE:
            return
    elif event == "activity.created" and actor_id is None:
        # Made by the system (an import, a sync), not a person answering the lead.
        return
    activity = Activity.objects.filter(pk=int(payload["pk"])).first()
    if activity is None:
        return
    moment = _response_moment(activity, timezone.now())
    if moment is None:
        return
    for lead in _linked_leads(activity.pk):
        first_response_record(
            lead=lead,
            at=moment,
            actor_id=actor_id or activity.owner_id,
            how=f"{activity.get_kind_display()} “{activity}”",
        )


def on_status_changed(event: str, payload: dict[str, Any]) -> None:
    """The owner moving a lead off "new" has responded to it."""
    if payload.get("old") != LeadStatus.NEW or payload.get("new") == LeadStatus.NEW:
        return
    lead = Lead.objects.filter(pk=int(payload["pk"]), first_responded_at__isnull=True).first()
    actor_id = payload.get("actor_id")
    if lead is None or actor_id is None or actor_id != lead.owner_id:
        return
    status = LeadStatus(payload["new"]).label if payload.get("new") in LeadStatus.values else ""
    first_response_record(
        lead=lead, at=timezone.now(), actor_id=actor_id, how=f"Status set to {status}"
    )


def connect() -> None:
    for event in ("activity.created", "activity.linked", "activity.updated"):
        events.subscribe(event, on_activity_event)
    events.subscribe("lead.status_changed", on_status_changed)
