"""Approval history on the record's timeline: submissions, decisions, escalations, recalls.

One query per page: history rows about the timeline's records (by object type and id), for
records the user may see (the timeline's targets are already visible ones).
"""

from __future__ import annotations

from django.db.models import Q
from django.urls import reverse

from patron.automation.approval_services import HistoryAction, process_types
from patron.automation.models import ApprovalHistory
from patron.core.timeline import (
    Before,
    Target,
    TimelineEntry,
    TimelineKind,
    TimelineSource,
    register_timeline_source,
)
from patron.core.visibility import Principal

SOURCE_KEY = "approvals"
DEPARTMENT = ""
SUBMITTED = TimelineKind("approval_submitted", "Approval requested", DEPARTMENT, "✉")
DECISION = TimelineKind("approval_decision", "Approval decision", DEPARTMENT, "✓")
RESULT = TimelineKind("approval_result", "Approval result", DEPARTMENT, "★")
ESCALATED = TimelineKind("approval_escalated", "Approval escalated", DEPARTMENT, "⏰")
RECALLED = TimelineKind("approval_recalled", "Approval recalled", DEPARTMENT, "↶")
KINDS = (SUBMITTED, DECISION, RESULT, ESCALATED, RECALLED)

ACTIONS_BY_KIND = {
    SUBMITTED.key: (HistoryAction.SUBMITTED,),
    DECISION.key: (HistoryAction.TASK_APPROVED, HistoryAction.TASK_REJECTED),
    RESULT.key: (HistoryAction.APPROVED, HistoryAction.REJECTED),
    ESCALATED.key: (HistoryAction.ESCALATED, HistoryAction.REMINDED),
    RECALLED.key: (HistoryAction.RECALLED,),
}
KIND_BY_ACTION = {action: kind for kind, actions in ACTIONS_BY_KIND.items() for action in actions}
KIND_INFO = {kind.key: kind for kind in KINDS}


def _title(row: ApprovalHistory) -> str:
    process = row.request.process.name
    actor = str(row.actor) if row.actor is not None else "Patron"
    step = f" (step “{row.step_name}”)" if row.step_name else ""
    return {
        HistoryAction.SUBMITTED: f"{actor} submitted for approval: {process}",
        HistoryAction.TASK_APPROVED: f"{actor} approved{step}",
        HistoryAction.TASK_REJECTED: f"{actor} rejected{step}",
        HistoryAction.APPROVED: f"Approved: {process}",
        HistoryAction.REJECTED: f"Rejected: {process}",
        HistoryAction.ESCALATED: f"Approval escalated{step}",
        HistoryAction.REMINDED: f"Approver reminded{step}",
        HistoryAction.RECALLED: f"{actor} recalled the approval request: {process}",
    }.get(row.action, row.action)


def approvals_fetch(
    user: Principal,
    targets: list[Target],
    before: Before | None,
    limit: int,
    kinds: frozenset[str],
) -> list[TimelineEntry]:
    actions = [action for kind in kinds for action in ACTIONS_BY_KIND.get(kind, ())]
    # Timelines of types that never had a process cost no query.
    approved_types = process_types().any
    targets = [target for target in targets if target.object_type in approved_types]
    if not actions or not targets:
        return []
    condition = Q(pk__in=[])
    for target in targets:
        condition |= Q(object_type=target.object_type, object_id__in=target.ids)
    rows = ApprovalHistory.objects.filter(condition, action__in=actions)
    if before is not None:
        rows = rows.filter(before.q("at", "id"))
    entries = []
    for row in rows.select_related("actor", "request__process").order_by("-at", "-id")[:limit]:
        kind = KIND_INFO[KIND_BY_ACTION[row.action]]
        entries.append(
            TimelineEntry(
                at=row.at,
                kind=kind.key,
                department=DEPARTMENT,
                title=_title(row),
                summary=row.comment,
                url=reverse("approvals:request_detail", args=[row.request_id]),
                actor=str(row.actor) if row.actor is not None else "Patron",
                source=SOURCE_KEY,
                id=row.pk,
                icon=kind.icon,
                badge=kind.label,
            )
        )
    return entries


def register_approval_timeline() -> None:
    register_timeline_source(TimelineSource(SOURCE_KEY, KINDS, approvals_fetch))
