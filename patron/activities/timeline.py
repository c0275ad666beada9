"""Activities on the 360° timeline: tasks, appointments, calls, notes and logged emails.

One query per page: the activities the user may see (``visible_to``) that are linked to any
of the timeline's records, or have one of them as an attendee, newest ``occurred_at`` first.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.text import Truncator

from patron.activities.choices import ActivityKind
from patron.activities.models import Activity, ActivityAttendee, ActivityLink
from patron.core.record_pages import record_detail_url
from patron.core.timeline import (
    Before,
    Target,
    TimelineEntry,
    TimelineKind,
    TimelineSource,
    register_timeline_source,
)
from patron.core.visibility import Principal

SOURCE_KEY = "activities"
# Activities carry no department of their own; until one exists they are the sales team's.
DEPARTMENT = "sales"
_ICONS = {
    ActivityKind.TASK: "☑",
    ActivityKind.APPOINTMENT: "📅",
    ActivityKind.CALL: "☎",
    ActivityKind.NOTE: "🗒",
    ActivityKind.EMAIL: "✉",
}
KINDS = tuple(
    TimelineKind(kind.value, str(kind.label), DEPARTMENT, _ICONS[kind]) for kind in ActivityKind
)
_SUMMARY_CHARS = 200


def _targets_q(targets: list[Target]) -> Q:
    condition = Q(pk__in=[])
    for target in targets:
        condition |= Q(content_type_id=target.content_type_id(), object_id__in=target.ids)
    return condition


def _summary(activity: Activity) -> str:
    parts: list[str] = []
    if activity.kind == ActivityKind.TASK:
        parts = [activity.get_status_display(), activity.get_priority_display()]
    elif activity.kind == ActivityKind.APPOINTMENT:
        parts = [activity.location]
    elif activity.kind == ActivityKind.CALL:
        seconds = activity.duration_seconds
        minutes = f"{seconds // 60} min" if seconds is not None else ""
        parts = [activity.get_direction_display(), activity.get_outcome_display(), minutes]
    elif activity.kind == ActivityKind.EMAIL:
        parts = [f"To {activity.email_to}" if activity.email_to else ""]
    details = " · ".join(part for part in parts if part)
    text = Truncator(activity.description).chars(_SUMMARY_CHARS)
    return " — ".join(part for part in (details, text) if part)


def _title(activity: Activity) -> str:
    if activity.subject:
        return activity.subject
    if activity.description:
        return Truncator(activity.description).words(12)
    return str(activity.get_kind_display())


def activities_fetch(
    user: Principal,
    targets: list[Target],
    before: Before | None,
    limit: int,
    kinds: frozenset[str],
) -> list[TimelineEntry]:
    """Activities ``user`` may see that concern the targets, newest first."""
    targets_q = _targets_q(targets)
    # One IN over a UNION (not an OR of two INs) lets the database start from the links'
    # index and fetch candidate activities by id, instead of scanning every activity.
    concerned = (
        ActivityLink.objects.filter(targets_q)
        .values("activity_id")
        .union(ActivityAttendee.objects.filter(targets_q).values("activity_id"))
    )
    candidates = Activity.objects.visible_to(user).filter(pk__in=concerned, kind__in=kinds)
    if before is not None:
        candidates = candidates.filter(before.q("occurred_at", "id"))
    # Sorting only (occurred_at, id) of the candidates and loading the full rows of the page
    # alone halves the time on accounts with thousands of activities (bench/timeline.py).
    page_ids = candidates.order_by("-occurred_at", "-id").values("pk")[:limit]
    rows = Activity.objects.filter(pk__in=page_ids).select_related("owner")
    entries = []
    for activity in rows.order_by("-occurred_at", "-id"):
        kind = ActivityKind(activity.kind)
        entries.append(
            TimelineEntry(
                at=activity.occurred_at,
                kind=kind.value,
                department=DEPARTMENT,
                title=_title(activity),
                summary=_summary(activity),
                url=record_detail_url(Activity.object_type(), activity.pk),
                actor=str(activity.owner),
                source=SOURCE_KEY,
                id=activity.pk,
                icon=_ICONS[kind],
                badge=str(kind.label),
            )
        )
    return entries


def register_activities_timeline() -> None:
    register_timeline_source(TimelineSource(SOURCE_KEY, KINDS, activities_fetch))
