"""The write path for activities; the API, and later pages, imports and workflows call these."""

from __future__ import annotations

import datetime
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from patron.activities.choices import ActivityKind, AttendeeResponse, TaskPriority, TaskStatus
from patron.activities.models import Activity, ActivityAttendee, ActivityLink
from patron.core import events, records, search
from patron.core.choices import Action, Via
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import BusinessRecord
from patron.core.values import normalize_email, normalize_phone
from patron.core.visibility import Principal

COMMON_FIELDS = frozenset({"subject", "description", "owner", "team"})
KIND_FIELDS: dict[str, frozenset[str]] = {
    ActivityKind.TASK: frozenset({"due_at", "priority", "status", "assignee", "completed_at"}),
    ActivityKind.APPOINTMENT: frozenset({"starts_at", "ends_at", "all_day", "location"}),
    ActivityKind.CALL: frozenset({"direction", "phone_number", "duration_seconds", "outcome"}),
    ActivityKind.NOTE: frozenset(),
    ActivityKind.EMAIL: frozenset({"email_from", "email_to", "sent_at"}),
}
ACTIVITY_FIELDS = COMMON_FIELDS.union(*KIND_FIELDS.values())
_EMPTY = (None, "", False)


def _may(user: Principal, action: str) -> None:
    if not user.access_profile().may(Activity.object_type(), action):
        raise PermissionDenied(f"Your role may not {action} activities.")


def _model_errors(instance: Activity) -> dict[str, list[str]]:
    try:
        instance.full_clean(
            exclude=[
                "owner",
                "team",
                "assignee",
                "created_by",
                "deleted_by",
                "custom",
                "occurred_at",
            ],
            validate_unique=False,
            validate_constraints=False,
        )
    except DjangoValidationError as exc:
        return {name: [str(m) for m in messages] for name, messages in exc.message_dict.items()}
    return {}


def _field_values(instance: Activity) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def _clean_email_list(raw: str) -> tuple[str, list[str]]:
    addresses, problems = [], []
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        try:
            addresses.append(normalize_email(part))
        except ValueError as exc:
            problems.append(str(exc))
    return ", ".join(addresses), problems


def _clean_activity(fields: dict[str, Any], *, instance: Activity, kind: str) -> dict[str, Any]:
    """Validated changes for ``instance`` of ``kind``; errors keyed by field."""
    errors: dict[str, list[str]] = {}
    for name in sorted(set(fields) - ACTIVITY_FIELDS):
        errors[name] = ["This field does not exist."]
    allowed = COMMON_FIELDS | KIND_FIELDS[kind]
    for name in sorted((set(fields) & ACTIVITY_FIELDS) - allowed):
        if fields[name] not in _EMPTY:
            errors[name] = [f"This field does not apply to a {ActivityKind(kind).label.lower()}."]
    cleaned = {k: v for k, v in fields.items() if k in allowed}
    current = {**_field_values(instance), **cleaned}

    subject_checked = "subject" in cleaned or not instance.pk
    if kind != ActivityKind.NOTE and subject_checked and not (current.get("subject") or "").strip():
        errors["subject"] = ["Enter a subject."]
    if "subject" in cleaned:
        cleaned["subject"] = (cleaned["subject"] or "").strip()

    if kind == ActivityKind.TASK:
        _clean_task(cleaned, instance=instance)
    elif kind == ActivityKind.APPOINTMENT:
        starts, ends = current.get("starts_at"), current.get("ends_at")
        if starts is None:
            errors["starts_at"] = ["An appointment needs a start time."]
        elif ends is not None and ends < starts:
            errors["ends_at"] = ["The end must not be before the start."]
    elif kind == ActivityKind.CALL:
        if cleaned.get("phone_number"):
            try:
                cleaned["phone_number"] = normalize_phone(cleaned["phone_number"])
            except ValueError as exc:
                errors["phone_number"] = [str(exc)]
        if not instance.pk and not cleaned.get("direction"):
            cleaned["direction"] = "outbound"
    elif kind == ActivityKind.EMAIL:
        if cleaned.get("email_from"):
            try:
                cleaned["email_from"] = normalize_email(cleaned["email_from"])
            except ValueError as exc:
                errors["email_from"] = [str(exc)]
        if cleaned.get("email_to"):
            cleaned["email_to"], problems = _clean_email_list(cleaned["email_to"])
            if problems:
                errors["email_to"] = problems

    probe = Activity(**{**_field_values(instance), **cleaned, "kind": kind})
    for name, messages in _model_errors(probe).items():
        errors.setdefault(name, messages)
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", errors=errors)
    occurred = _occurred_at(probe, created=instance.created_at)
    if occurred != instance.occurred_at:
        cleaned["occurred_at"] = occurred
    return cleaned


def _clean_task(cleaned: dict[str, Any], *, instance: Activity) -> None:
    if not instance.pk:
        cleaned["priority"] = cleaned.get("priority") or TaskPriority.NORMAL
        cleaned["status"] = cleaned.get("status") or TaskStatus.OPEN
        if cleaned.get("assignee") is None:
            cleaned["assignee"] = cleaned.get("owner")
    # An emptied priority or status (null in a PATCH) falls back to the default.
    if "priority" in cleaned and not cleaned["priority"]:
        cleaned["priority"] = TaskPriority.NORMAL
    if "status" in cleaned and not cleaned["status"]:
        cleaned["status"] = TaskStatus.OPEN
    if "status" in cleaned:
        if cleaned["status"] == TaskStatus.DONE:
            if instance.status != TaskStatus.DONE or instance.completed_at is None:
                cleaned["completed_at"] = cleaned.get("completed_at") or timezone.now()
        else:
            cleaned["completed_at"] = None


def _occurred_at(activity: Activity, *, created: datetime.datetime) -> datetime.datetime:
    moment: datetime.datetime | None = {
        ActivityKind.TASK: activity.due_at,
        ActivityKind.APPOINTMENT: activity.starts_at,
        ActivityKind.EMAIL: activity.sent_at,
    }.get(ActivityKind(activity.kind))
    return moment or created


def _resolve_target(user: Principal, ref: Any) -> tuple[ContentType, int] | str:
    """The content type and id of a business record ``user`` can see, or what is wrong."""
    if not isinstance(ref, dict) or not {"object_type", "id"} <= set(ref):
        return 'Give the record as {"object_type": "contacts.account", "id": 1}.'
    object_type, pk = ref["object_type"], ref["id"]
    try:
        model = apps.get_model(str(object_type))
    except (LookupError, ValueError):
        return f"{object_type!r} is not a kind of record."
    if not issubclass(model, BusinessRecord):
        return f"{object_type!r} is not a business record that activities can link to."
    if not isinstance(pk, int) or not model.objects.visible_to(user).filter(pk=pk).exists():
        return f"No {model._meta.verbose_name} with id {pk} that you can see."
    return ContentType.objects.get_for_model(model), pk


def _resolve_links(user: Principal, links: list[Any]) -> list[tuple[ContentType, int]]:
    targets: list[tuple[ContentType, int]] = []
    errors: dict[str, list[str]] = {}
    for index, ref in enumerate(links):
        target = _resolve_target(user, ref)
        if isinstance(target, str):
            errors[f"links.{index}"] = [target]
        elif target not in targets:
            targets.append(target)
    if errors:
        raise ValidationFailed("Some links are not valid.", errors=errors)
    return targets


def _build_attendees(user: Principal, attendees: list[Any]) -> list[ActivityAttendee]:
    from django.contrib.auth import get_user_model

    rows: list[ActivityAttendee] = []
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(attendees):
        key = f"attendees.{index}"
        if not isinstance(item, dict):
            errors[key] = ['Give {"user": id} or {"object_type": ..., "id": id}.']
            continue
        response = item.get("response") or AttendeeResponse.NEEDS_ACTION
        if response not in AttendeeResponse.values:
            errors[key] = [f"Response must be one of: {', '.join(AttendeeResponse.values)}."]
            continue
        has_user = item.get("user") is not None
        has_record = item.get("object_type") is not None or item.get("id") is not None
        if has_user == has_record:
            errors[key] = ["Give exactly one of a user or a record (object_type and id)."]
        elif has_user:
            person = (
                get_user_model()._default_manager.filter(pk=item["user"], is_active=True).first()
            )
            if person is None:
                errors[key] = [f"No active user with id {item['user']}."]
            else:
                rows.append(ActivityAttendee(user=person, response=response))
        else:
            target = _resolve_target(user, item)
            if isinstance(target, str):
                errors[key] = [target]
            else:
                rows.append(
                    ActivityAttendee(content_type=target[0], object_id=target[1], response=response)
                )
    if errors:
        raise ValidationFailed("Some attendees are not valid.", errors=errors)
    return rows


def activity_create(
    *,
    user: Principal,
    kind: str,
    links: list[Any] | None = None,
    attendees: list[Any] | None = None,
    via: str = Via.UI,
    **fields: Any,
) -> Activity:
    """Create an activity of ``kind`` linked to ``links`` (records the user can see)."""
    _may(user, Action.CREATE)
    if kind not in ActivityKind.values:
        raise ValidationFailed(
            "Unknown kind of activity.",
            errors={"kind": [f"Choose one of: {', '.join(ActivityKind.values)}."]},
        )
    if attendees and kind != ActivityKind.APPOINTMENT:
        raise ValidationFailed(
            "Only appointments have attendees.",
            errors={"attendees": ["Only appointments have attendees."]},
        )
    if fields.get("owner") is None:
        fields["owner"] = user
    now = timezone.now()
    cleaned = _clean_activity(fields, instance=Activity(created_at=now), kind=kind)
    targets = _resolve_links(user, links or [])
    attendee_rows = _build_attendees(user, attendees or [])
    cleaned.setdefault("occurred_at", now)
    with transaction.atomic():
        activity = records.record_create(
            Activity(kind=kind, created_at=now, updated_at=now, **cleaned), actor=user, via=via
        )
        ActivityLink.objects.bulk_create(
            ActivityLink(activity=activity, content_type=ct, object_id=pk) for ct, pk in targets
        )
        for row in attendee_rows:
            row.activity = activity
        ActivityAttendee.objects.bulk_create(attendee_rows)
        search.index_record(activity)
    return activity


def activity_update(
    *,
    user: Principal,
    activity: Activity,
    expected_version: int | None = None,
    via: str = Via.UI,
    **fields: Any,
) -> Activity:
    if "kind" in fields and fields["kind"] != activity.kind:
        raise ValidationFailed(
            "The kind of an activity cannot change.",
            errors={"kind": ["Create a new activity of the other kind instead."]},
        )
    fields.pop("kind", None)
    fixed = sorted({"links", "attendees"} & set(fields))
    if fixed:
        raise ValidationFailed(
            "Links and attendees are set on create, then changed one at a time.",
            errors={name: ["Use the activity's links sub-resource instead."] for name in fixed},
        )
    if "owner" in fields and fields["owner"] is None:
        raise ValidationFailed("Every activity has an owner.", errors={"owner": ["Choose one."]})
    cleaned = _clean_activity(fields, instance=activity, kind=activity.kind)
    with transaction.atomic():
        updated = records.record_update(
            activity, changes=cleaned, actor=user, via=via, expected_version=expected_version
        )
        search.index_record(updated)
    return updated


def activity_delete(*, user: Principal, activity: Activity, via: str = Via.UI) -> Activity:
    with transaction.atomic():
        deleted = records.record_soft_delete(activity, actor=user, via=via)
        search.unindex_record(deleted)
    return deleted


def activity_restore(*, user: Principal, activity: Activity, via: str = Via.UI) -> Activity:
    with transaction.atomic():
        restored = records.record_restore(activity, actor=user, via=via)
        search.index_record(restored)
    return restored


def task_complete(
    *,
    user: Principal,
    activity: Activity,
    expected_version: int | None = None,
    via: str = Via.UI,
) -> Activity:
    """Mark a task done (completed now); completing a done task changes nothing."""
    if activity.kind != ActivityKind.TASK:
        raise ValidationFailed(
            "Only tasks can be completed.", errors={"kind": ["This activity is not a task."]}
        )
    return activity_update(
        user=user,
        activity=activity,
        expected_version=expected_version,
        via=via,
        status=TaskStatus.DONE,
    )


def activity_link(
    *, user: Principal, activity: Activity, object_type: str, object_id: int, via: str = Via.UI
) -> ActivityLink:
    """Link ``activity`` to one more record the user can see (linking twice is harmless)."""
    target = _resolve_target(user, {"object_type": object_type, "id": object_id})
    if isinstance(target, str):
        raise ValidationFailed("The link is not valid.", errors={"object_type": [target]})
    content_type, pk = target
    with transaction.atomic():
        link, created = ActivityLink.objects.get_or_create(
            activity=activity, content_type=content_type, object_id=pk
        )
        if created:
            records.log_change(
                activity,
                actor=user,
                via=via,
                action="link",
                changes={"links": [None, f"{object_type}:{pk}"]},
            )
            events.emit("activity.linked", pk=activity.pk, object_type=object_type, object_id=pk)
    return link


def activity_unlink(*, user: Principal, link: ActivityLink, via: str = Via.UI) -> None:
    activity = link.activity
    label = f"{link.object_type}:{link.object_id}"
    with transaction.atomic():
        link.delete()
        records.log_change(
            activity, actor=user, via=via, action="unlink", changes={"links": [label, None]}
        )
        events.emit("activity.unlinked", pk=activity.pk, link=label)
