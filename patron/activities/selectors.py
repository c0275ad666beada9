"""The read path for activities."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, TypeVar

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import F, Prefetch, Q, QuerySet

from patron.activities.choices import ActivityKind, TaskStatus
from patron.activities.models import Activity, ActivityAttendee, ActivityLink
from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, RecordNotFound
from patron.core.models import BusinessRecord
from patron.core.querysets import RecordQuerySet
from patron.core.visibility import AccessProfile, Principal, ProfilePrincipal, can_access

_Q = TypeVar("_Q", bound=QuerySet[Activity])


def _with_related(queryset: _Q) -> _Q:
    return queryset.prefetch_related(
        Prefetch("links", queryset=ActivityLink.objects.select_related("content_type")),
        Prefetch("attendees", queryset=ActivityAttendee.objects.select_related("content_type")),
    )


def activity_list(*, user: Principal) -> RecordQuerySet[Activity]:
    """The activities ``user`` may see, with their links and attendees (two extra queries)."""
    return _with_related(Activity.objects.visible_to(user))


def activity_get(*, user: Principal, pk: Any, action: str = Action.READ) -> Activity:
    try:
        record = _with_related(Activity.objects.select_related("owner", "owner__role")).get(pk=pk)
    except (Activity.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"No activity with id {pk}.") from None
    if not can_access(user, record, Action.READ):
        # Activities a user may not read are reported as missing, so ids reveal nothing.
        raise RecordNotFound(f"No activity with id {pk}.")
    if action != Action.READ and not can_access(user, record, action):
        raise PermissionDenied(
            f"You may not {action} this activity; ask its owner or an administrator."
        )
    return record


def activities_for_record(*, user: Principal, record: BusinessRecord) -> RecordQuerySet[Activity]:
    """Visible activities linked to ``record``, newest first (a fixed number of queries)."""
    linked = ActivityLink.objects.filter(
        content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk
    ).values("activity_id")
    return activity_list(user=user).filter(pk__in=linked).order_by("-occurred_at", "-id")


# --- visibility: a task's assignee and an appointment's user attendees see it --------------


def assignee_and_attendee_rule(profile: AccessProfile, action: str) -> Q:
    if action == Action.DELETE:
        return Q(pk__in=[])
    condition = Q(assignee_id=profile.user_id)
    if action == Action.UPDATE:
        return condition
    attending = ActivityAttendee.objects.filter(user_id=profile.user_id).values("activity_id")
    return condition | Q(pk__in=attending)


def explain_assignee_and_attendee(profile: AccessProfile, record: Any) -> list[str]:
    reasons: list[str] = []
    if getattr(record, "assignee_id", None) == profile.user_id:
        reasons.append("The task is assigned to you.")
    if (
        getattr(record, "kind", None) == ActivityKind.APPOINTMENT
        and ActivityAttendee.objects.filter(activity_id=record.pk, user_id=profile.user_id).exists()
    ):
        reasons.append("You are an attendee of the appointment.")
    return reasons


# --- visibility: whoever may see a record sees the activities linked to it -----------------


def _linkable_models() -> list[type[BusinessRecord]]:
    """Every kind of business record an activity can be linked to (not activities)."""
    return [
        model
        for model in apps.get_models()
        if issubclass(model, BusinessRecord) and model is not Activity
    ]


def linked_record_rule(profile: AccessProfile, action: str) -> Q:
    """Read access to activities linked to any record the user can read (one subquery per
    kind of record). Changing them still needs access to the activity itself."""
    if action != Action.READ:
        return Q(pk__in=[])
    principal = ProfilePrincipal(profile)
    condition = Q(pk__in=[])
    for model in _linkable_models():
        visible_ids = model.objects.visible_to(principal).values("pk")
        links = ActivityLink.objects.filter(
            content_type=ContentType.objects.get_for_model(model), object_id__in=visible_ids
        )
        condition |= Q(pk__in=links.values("activity_id"))
    return condition


def explain_linked_record(profile: AccessProfile, record: Any) -> list[str]:
    principal = ProfilePrincipal(profile)
    reasons: list[str] = []
    for link in ActivityLink.objects.filter(activity_id=record.pk).select_related("content_type"):
        model = link.content_type.model_class()
        if model is None or not issubclass(model, BusinessRecord):
            continue
        target = model.objects.visible_to(principal).filter(pk=link.object_id).first()
        if target is not None:
            label = model._meta.verbose_name
            reasons.append(f"It is linked to the {label} {target}, which you can see.")
    return reasons


# --- pages: names of linked records, my open tasks ------------------------------------------


def record_names(*, user: Principal, refs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """The names of the records ``refs`` (content type id, record id) points at that ``user``
    may see, keyed like ``refs``; one query per kind of record, whatever the number of refs.
    Records the user may not see are left out, so a link never reveals a name."""
    wanted: dict[int, set[int]] = defaultdict(set)
    for content_type_id, object_id in refs:
        wanted[content_type_id].add(object_id)
    names: dict[tuple[int, int], str] = {}
    for content_type_id, ids in wanted.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is None or not issubclass(model, BusinessRecord):
            continue
        for record in model.objects.visible_to(user).filter(pk__in=ids):
            names[(content_type_id, record.pk)] = str(record)
    return names


def open_tasks_of(*, user: Principal) -> RecordQuerySet[Activity]:
    """Tasks assigned to ``user`` that are not done or cancelled, soonest due first."""
    return (
        activity_list(user=user)
        .filter(
            kind=ActivityKind.TASK,
            assignee_id=user.pk,
            status__in=[TaskStatus.OPEN, TaskStatus.IN_PROGRESS],
        )
        .order_by(F("due_at").asc(nulls_last=True), "id")
    )
