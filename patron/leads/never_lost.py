"""Leads are never lost: every new lead is routed within minutes, a missed first-response
deadline alerts the owner and their manager and hands the lead to someone else, and a closed
lead frees its owner's routing capacity.

Routing a new lead runs in a task enqueued on ``lead.created``; the scheduler's sweep every
minute routes whatever is still unrouted (the worker may have been down) and handles
deadline breaches. Every step is safe to run twice: routing is a no-op for a routed lead,
alerts carry a dedupe key per breach, and a breach is handled under the lead's row lock.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from patron.core import events, records
from patron.core.choices import Via
from patron.core.jobs import enqueue
from patron.core.notifications import notification_send
from patron.core.record_pages import record_detail_url
from patron.leads.choices import LeadStatus
from patron.leads.models import Lead, LeadSettings
from patron.leads.policy_services import first_response_due, lead_settings, open_leads
from patron.leads.routing import lead_apply_routing, lead_mark_routed
from patron.routing import services as routing
from patron.routing.choices import DecisionKind
from patron.routing.models import Pool
from patron.routing.registry import RoutingTarget
from patron.users.models import User

logger = logging.getLogger(__name__)

ROUTE_LEAD_TASK = "leads.route_lead"
SWEEP_LIMIT = 500
NOTIFICATION_KIND = "lead_first_response_missed"


def is_open(lead: Lead) -> bool:
    return (
        lead.converted_at is None
        and lead.archived_at is None
        and lead.status != LeadStatus.DISQUALIFIED
    )


# --- routing new leads ------------------------------------------------------------------------


def on_lead_created(event: str, payload: dict[str, Any]) -> None:
    enqueue(ROUTE_LEAD_TASK, int(payload["pk"]))


def route_lead(*, lead_id: int) -> Lead | None:
    """Give lead ``lead_id`` an owner or a queue if it has neither yet (safe to repeat).

    No assignment rule matching is not a failure: the lead keeps the owner it was created
    with and counts as routed. A lead waiting in a pool's queue belongs to that queue.
    """
    lead = Lead.objects.filter(pk=lead_id).first()
    if lead is None or lead.routed_at is not None or not is_open(lead):
        return lead
    # The engine hands this very object to lead_apply_routing, which updates it.
    outcome = routing.route_item(item=lead)
    if lead.routed_at is None:
        queue_id = outcome.decision.assigned_queue_id
        if queue_id is None and outcome.queued and outcome.decision.pool_id is not None:
            queue_id = (
                Pool.objects.filter(pk=outcome.decision.pool_id)
                .values_list("queue_id", flat=True)
                .first()
            )
        if queue_id is not None:
            lead_apply_routing(lead, RoutingTarget(queue_id=queue_id), "Waiting in the queue")
        else:
            lead_mark_routed(lead)
    return lead


# --- the sweep --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    routed: int
    breaches: int


def never_lost_sweep(
    *, now: datetime.datetime | None = None, limit: int = SWEEP_LIMIT
) -> SweepResult:
    """Route leads still unrouted and handle first-response deadlines missed by ``now``."""
    moment = now or timezone.now()
    unrouted = list(
        open_leads(Lead.objects.filter(routed_at__isnull=True))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    routed = 0
    for lead_id in unrouted:
        lead = route_lead(lead_id=lead_id)
        routed += int(lead is not None and lead.routed_at is not None)
    overdue = list(
        open_leads(
            Lead.objects.filter(first_responded_at__isnull=True, first_response_due_at__lte=moment)
        )
        .order_by("first_response_due_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    policy = lead_settings()
    breaches = sum(
        int(deadline_breach_handle(lead_id=pk, now=moment, policy=policy)) for pk in overdue
    )
    return SweepResult(routed=routed, breaches=breaches)


def managers_of(user: User) -> list[User]:
    """The active users in the nearest role above ``user``'s that anyone holds."""
    path = user.role.path if user.role_id and user.role else ""
    parts = [part for part in path.split(".") if part][:-1]
    ancestors = [".".join(parts[:size]) + "." for size in range(1, len(parts) + 1)]
    if not ancestors:
        return []
    candidates = list(
        User.objects.filter(is_active=True, role__path__in=ancestors)
        .exclude(pk=user.pk)
        .select_related("role")
    )
    if not candidates:
        return []
    nearest = max(len(c.role.path) for c in candidates if c.role)
    return [c for c in candidates if c.role and len(c.role.path) == nearest]


def deadline_breach_handle(
    *, lead_id: int, now: datetime.datetime, policy: LeadSettings | None = None
) -> bool:
    """Alert and reassign one lead whose first-response deadline passed; False when it no
    longer needs it (someone responded, it closed, or another sweep handled it)."""
    policy = policy or lead_settings()
    with transaction.atomic():
        lead = (
            Lead.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("owner__role")
            .filter(pk=lead_id, first_responded_at__isnull=True, first_response_due_at__lte=now)
            .first()
        )
        if lead is None or not is_open(lead):
            return False
        missed_owner, due = lead.owner, lead.first_response_due_at
        breach = lead.deadline_breaches + 1
        records.record_update(
            lead,
            changes={"deadline_breaches": breach, "last_breach_at": now},
            actor=None,
            via=Via.SYSTEM,
        )
        minutes = policy.first_response_minutes
        routing.reroute_item(
            item=lead,
            reason=f"No first response within {minutes} minutes (breach {breach}).",
            kind=DecisionKind.DEADLINE,
        )
        lead.refresh_from_db()
        if lead.first_response_due_at is None or lead.first_response_due_at <= now:
            # Nobody else could take it: the same owner gets a fresh deadline and, if it is
            # missed again, a fresh alert.
            records.record_update(
                lead,
                changes={"first_response_due_at": first_response_due(now, policy)},
                actor=None,
                via=Via.SYSTEM,
            )
        _alert(lead, missed_owner=missed_owner, due=due, breach=breach)
    return True


def _alert(lead: Lead, *, missed_owner: User, due: datetime.datetime | None, breach: int) -> None:
    """Tell the owner who missed the deadline and their manager(s), once per breach."""
    if lead.owner_id != missed_owner.pk:
        outcome = f"It was reassigned to {User.objects.get(pk=lead.owner_id)}."
    elif lead.queue_id is not None:
        outcome = "It was moved to a queue."
    else:
        outcome = "Nobody else was available, so it stays with its owner with a new deadline."
    when = timezone.localtime(due).strftime("%Y-%m-%d %H:%M %Z") if due else "its deadline"
    url = record_detail_url(Lead.object_type(), lead.pk) or ""
    recipients = [missed_owner, *managers_of(missed_owner)]
    for person in recipients:
        whose = "your" if person.pk == missed_owner.pk else f"{missed_owner}'s"
        notification_send(
            user=person,
            kind=NOTIFICATION_KIND,
            title=f"Lead {lead} missed {whose} first-response deadline",
            body=f"No call, email, meeting or completed task was logged by {when}. {outcome}",
            url=url,
            dedupe_key=f"lead-first-response:{lead.pk}:{breach}",
        )


# --- closing a lead ---------------------------------------------------------------------------


def on_lead_closed(event: str, payload: dict[str, Any]) -> None:
    """A converted, disqualified, archived or deleted lead frees its owner's capacity."""
    lead = Lead.all_objects.filter(pk=int(payload["pk"])).first()
    if lead is not None:
        routing.release_item(item=lead)


CLOSING_EVENTS = ("lead.converted", "lead.disqualified", "lead.archived", "lead.deleted")


def connect() -> None:
    events.subscribe("lead.created", on_lead_created)
    for event in CLOSING_EVENTS:
        events.subscribe(event, on_lead_closed)
