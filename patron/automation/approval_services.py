"""Approval processes: configuration, submitting a record, deciding, recalling, escalating.

A process applies to one object type. Its entry criteria (a condition tree, the workflow
format) decide whether a record may be submitted; its ordered steps each name approvers (a
user, everyone in a role, the submitter's manager or the members of a routing queue) and
whether the first response decides or everyone must approve. A step whose conditions do not
hold for the record is skipped. The record is locked against edits while a request is
pending when the process says so (a core write guard); the approval engine's own follow-up
writes (an app's outcome hook, e.g. a quote's status) pass the lock.

Every submission, decision, escalation and recall is a ``ApprovalHistory`` row: the record's
timeline and the audit trail. Apps react to outcomes through ``register_approval_hooks`` (no
import of automation from below) or workflows through the "approval.*" events.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, QuerySet
from django.urls import reverse
from django.utils import timezone

from patron.automation import conditions
from patron.automation.access import APPROVAL_PROCESSES, require_admin
from patron.automation.choices import (
    ApprovalStatus,
    ApprovalTaskStatus,
    ApproverKind,
    DecisionMode,
    EscalationAction,
)
from patron.automation.models import (
    ApprovalHistory,
    ApprovalProcess,
    ApprovalRequest,
    ApprovalStep,
    ApprovalTask,
    WorkflowRun,
)
from patron.core import events
from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.models import BusinessRecord
from patron.core.notifications import notification_send
from patron.core.record_pages import record_detail_url
from patron.core.visibility import Principal, can_access
from patron.routing.models import RoutingQueue
from patron.users.models import Role, User
from patron.users.selectors import managers_of

logger = logging.getLogger(__name__)

NOTIFY_KIND = "approval"
EVENT_SUBMITTED = "approval.submitted"
EVENT_APPROVED = "approval.approved"
EVENT_REJECTED = "approval.rejected"
EVENT_RECALLED = "approval.recalled"
APPROVAL_EVENTS = (
    (EVENT_SUBMITTED, "Approval requested"),
    (EVENT_APPROVED, "Approval granted"),
    (EVENT_REJECTED, "Approval rejected"),
    (EVENT_RECALLED, "Approval request recalled"),
)


class HistoryAction:
    SUBMITTED = "submitted"
    TASK_APPROVED = "task_approved"
    TASK_REJECTED = "task_rejected"
    APPROVED = "approved"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    REMINDED = "reminded"
    RECALLED = "recalled"


# --- hooks for the apps whose records are approved -----------------------------------------

# on_outcome(request, status, actor, comment): runs inside the deciding transaction, with
# the record lock lifted, when a request ends approved, rejected or recalled.
OutcomeHook = Callable[[ApprovalRequest, str, Any, str], None]
# submit(user, record, process, comment): how the app's own "submit" starts a request (the
# quote's submit also moves the quote to "waiting for approval").
SubmitHook = Callable[[Any, BusinessRecord, ApprovalProcess | None, str], ApprovalRequest]


@dataclass(frozen=True)
class ApprovalHooks:
    on_outcome: OutcomeHook | None = None
    submit: SubmitHook | None = None


_hooks: dict[str, ApprovalHooks] = {}


def register_approval_hooks(object_type: str, hooks: ApprovalHooks) -> None:
    _hooks[object_type] = hooks


# Processes another feature needs (the quote discount process): (name, object type, create).
_seeds: list[tuple[str, str, Callable[[], ApprovalProcess]]] = []


def register_seeded_process(
    name: str, object_type: str, create: Callable[[], ApprovalProcess]
) -> None:
    """Offer a process that exists from the start: the process lists create it (``create``
    must be idempotent) when no process of ``object_type`` has ``name``."""
    _seeds.append((name, object_type, create))


def seed_missing_processes(existing: Iterable[ApprovalProcess]) -> bool:
    """Create the seeded processes missing from ``existing`` (a list already loaded, so
    nothing is queried once they exist); True when one was created."""
    have = {(process.name, process.object_type) for process in existing}
    created = False
    for name, object_type, create in _seeds:
        if (name, object_type) not in have:
            create()
            created = True
    return created


_applying_outcome: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "approval_applying_outcome", default=False
)


@contextlib.contextmanager
def _outcome_writes() -> Iterator[None]:
    token = _applying_outcome.set(True)
    try:
        yield
    finally:
        _applying_outcome.reset(token)


# --- configuration ---------------------------------------------------------------------------

PROCESS_FIELDS = (
    "name",
    "description",
    "object_type",
    "entry_conditions",
    "lock_record",
    "allow_recall",
    "is_active",
    "position",
)
STEP_FIELDS = (
    "name",
    "conditions",
    "approver_kind",
    "approver_user",
    "approver_role",
    "approver_queue",
    "decision_mode",
    "timeout_hours",
    "escalation",
    "escalate_to",
)


def _error(errors: dict[str, list[str]], key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)


def _pk(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, User | Role | RoutingQueue):
        return int(value.pk)
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _clean_process(data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    unknown = set(data) - set(PROCESS_FIELDS)
    for name in sorted(unknown):
        _error(errors, name, "Unknown field.")
    clean: dict[str, Any] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        _error(errors, "name", "Give the process a name.")
    clean["name"] = name[:150]
    clean["description"] = str(data.get("description") or "")
    object_type = str(data.get("object_type") or "")
    if conditions.model_for(object_type) is None:
        _error(errors, "object_type", f"“{object_type}” is not a business object type.")
    clean["object_type"] = object_type
    entry = data.get("entry_conditions") or {}
    if object_type and conditions.model_for(object_type) is not None:
        for path, message in conditions.validate_conditions(
            entry, object_type, "entry_conditions"
        ).items():
            _error(errors, path, message)
    clean["entry_conditions"] = entry
    for flag in ("lock_record", "allow_recall", "is_active"):
        clean[flag] = bool(data.get(flag, True))
    try:
        clean["position"] = max(0, int(data.get("position") or 0))
    except (TypeError, ValueError):
        _error(errors, "position", "Enter a whole number.")
    return clean


def _clean_step(
    index: int, data: Any, object_type: str, errors: dict[str, list[str]]
) -> dict[str, Any]:
    prefix = f"steps[{index}]"
    if not isinstance(data, dict):
        _error(errors, prefix, "A step is an object with a name and its approvers.")
        return {}
    clean: dict[str, Any] = {"id": _pk(data.get("id"))}
    for name in sorted(set(data) - {*STEP_FIELDS, "id"}):
        _error(errors, f"{prefix}.{name}", "Unknown field.")
    name = str(data.get("name") or "").strip()
    if not name:
        _error(errors, f"{prefix}.name", "Give the step a name.")
    clean["name"] = name[:150]
    tree = data.get("conditions") or {}
    if conditions.model_for(object_type) is not None:
        for path, message in conditions.validate_conditions(
            tree, object_type, f"{prefix}.conditions"
        ).items():
            _error(errors, path, message)
    clean["conditions"] = tree
    kind = data.get("approver_kind")
    if kind not in ApproverKind.values:
        _error(
            errors,
            f"{prefix}.approver_kind",
            "Choose who approves: " + ", ".join(ApproverKind.values) + ".",
        )
    clean["approver_kind"] = kind
    targets: dict[str, tuple[str, Any, str]] = {
        ApproverKind.USER: ("approver_user", User.objects.filter(is_active=True), "an active user"),
        ApproverKind.ROLE: ("approver_role", Role.objects.all(), "a role"),
        ApproverKind.QUEUE: ("approver_queue", RoutingQueue.objects.all(), "a routing queue"),
    }
    for target_kind, (field, queryset, noun) in targets.items():
        pk = _pk(data.get(field))
        clean[field] = None
        if kind != target_kind:
            continue
        if pk is None:
            _error(errors, f"{prefix}.{field}", f"Choose {noun}: this step's approvers need it.")
        elif (found := queryset.filter(pk=pk).first()) is None:
            _error(errors, f"{prefix}.{field}", f"There is no {noun} with id {pk}.")
        else:
            clean[field] = found
    mode = data.get("decision_mode") or DecisionMode.FIRST
    if mode not in DecisionMode.values:
        _error(errors, f"{prefix}.decision_mode", "Choose “first” or “unanimous”.")
    clean["decision_mode"] = mode
    timeout: Any = data.get("timeout_hours")
    clean["timeout_hours"] = None
    if timeout not in (None, ""):
        try:
            hours = int(timeout)
        except (TypeError, ValueError):
            hours = 0
        if hours < 1:
            _error(
                errors,
                f"{prefix}.timeout_hours",
                "A timeout is a whole number of hours, 1 or more.",
            )
        else:
            clean["timeout_hours"] = hours
    escalation = data.get("escalation") or EscalationAction.NONE
    if escalation not in EscalationAction.values:
        _error(errors, f"{prefix}.escalation", "Unknown escalation.")
    clean["escalation"] = escalation
    clean["escalate_to"] = None
    if escalation != EscalationAction.NONE and clean["timeout_hours"] is None:
        _error(errors, f"{prefix}.timeout_hours", "An escalation needs a timeout in hours.")
    if escalation == EscalationAction.USER:
        pk = _pk(data.get("escalate_to"))
        found = User.objects.filter(pk=pk, is_active=True).first() if pk else None
        if found is None:
            _error(errors, f"{prefix}.escalate_to", "Choose the active user to escalate to.")
        clean["escalate_to"] = found
    return clean


def _clean_steps(
    steps: Any, object_type: str, errors: dict[str, list[str]]
) -> list[dict[str, Any]]:
    if not isinstance(steps, list) or not steps:
        _error(errors, "steps", "A process needs at least one step.")
        return []
    return [_clean_step(index, step, object_type, errors) for index, step in enumerate(steps)]


def invalidate_process_types() -> None:
    transaction.on_commit(lambda: cache.delete(TYPES_CACHE_KEY))
    cache.delete(TYPES_CACHE_KEY)


def _save_steps(process: ApprovalProcess, steps: list[dict[str, Any]]) -> None:
    kept: list[int] = []
    for position, data in enumerate(steps):
        fields = {name: data[name] for name in STEP_FIELDS}
        step_id = data.get("id")
        if step_id:
            updated = ApprovalStep.objects.filter(pk=step_id, process=process).update(
                position=position, **fields
            )
            if not updated:
                raise ValidationFailed(
                    f"Step {position + 1} is not a step of this process.",
                    errors={f"steps[{position}].id": ["Not a step of this process."]},
                )
            kept.append(step_id)
        else:
            kept.append(
                ApprovalStep.objects.create(process=process, position=position, **fields).pk
            )
    for step in process.steps.exclude(pk__in=kept):
        try:
            with transaction.atomic():
                step.delete()
        except ProtectedError as error:
            raise ValidationFailed(
                f"Step “{step.name}” has requests and cannot be removed; deactivate the process "
                "and create a new one instead.",
                errors={"steps": [f"Step “{step.name}” is in use."]},
            ) from error


def approval_process_create(*, user: Any, steps: Any, **fields: Any) -> ApprovalProcess:
    require_admin(user, APPROVAL_PROCESSES)
    errors: dict[str, list[str]] = {}
    clean = _clean_process(fields, errors)
    clean_steps = _clean_steps(steps, clean.get("object_type", ""), errors)
    if clean.get("name") and ApprovalProcess.objects.filter(name=clean["name"]).exists():
        _error(errors, "name", "Another process has this name.")
    if errors:
        raise ValidationFailed("The approval process has errors; nothing was saved.", errors=errors)
    with transaction.atomic():
        process = ApprovalProcess.objects.create(**clean)
        _save_steps(process, clean_steps)
    invalidate_process_types()
    return process


def approval_process_update(
    *, user: Any, process: ApprovalProcess, steps: Any = None, **fields: Any
) -> ApprovalProcess:
    require_admin(user, APPROVAL_PROCESSES)
    errors: dict[str, list[str]] = {}
    current = {name: getattr(process, name) for name in PROCESS_FIELDS}
    clean = _clean_process({**current, **fields}, errors)
    clean_steps = (
        _clean_steps(steps, clean.get("object_type", ""), errors) if steps is not None else None
    )
    if clean["object_type"] != process.object_type and process.requests.exists():
        _error(errors, "object_type", "The process has requests; its object type is fixed.")
    if ApprovalProcess.objects.filter(name=clean["name"]).exclude(pk=process.pk).exists():
        _error(errors, "name", "Another process has this name.")
    if errors:
        raise ValidationFailed("The approval process has errors; nothing was saved.", errors=errors)
    with transaction.atomic():
        for name, value in clean.items():
            setattr(process, name, value)
        process.save()
        if clean_steps is not None:
            _save_steps(process, clean_steps)
    invalidate_process_types()
    return process


def approval_process_delete(*, user: Any, process: ApprovalProcess) -> None:
    require_admin(user, APPROVAL_PROCESSES)
    if process.requests.exists():
        raise ValidationFailed(
            f"“{process}” has approval requests, which keep their history: deactivate it instead."
        )
    process.delete()
    invalidate_process_types()


# --- records ---------------------------------------------------------------------------------


def record_for(object_type: str, object_id: int) -> BusinessRecord | None:
    model = conditions.model_for(object_type)
    if model is None:
        return None
    return model._base_manager.filter(pk=object_id).first()


def pending_request_for(record: BusinessRecord) -> ApprovalRequest | None:
    return (
        ApprovalRequest.objects.filter(
            object_type=record.object_type(), object_id=record.pk, status=ApprovalStatus.PENDING
        )
        .select_related("process", "current_step", "submitted_by")
        .first()
    )


def request_url(request: ApprovalRequest) -> str:
    return reverse("approvals:request_detail", args=[request.pk])


# --- approvers ------------------------------------------------------------------------------


def step_approvers(step: ApprovalStep, submitter_id: int) -> list[User]:
    """The active users who approve ``step`` for a request submitted by ``submitter_id``."""
    if step.approver_kind == ApproverKind.USER:
        users = User.objects.filter(pk=step.approver_user_id or 0, is_active=True)
    elif step.approver_kind == ApproverKind.ROLE:
        users = User.objects.filter(role_id=step.approver_role_id or 0, is_active=True)
    elif step.approver_kind == ApproverKind.QUEUE:
        users = User.objects.filter(routing_queues=step.approver_queue_id, is_active=True)
    else:
        return managers_of(submitter_id)
    return list(users.order_by("full_name", "id"))


def _no_approvers_message(step: ApprovalStep) -> str:
    if step.approver_kind == ApproverKind.MANAGER:
        return (
            f"Nobody can approve step “{step.name}”: the submitter's role has no parent role "
            "with an active user. Ask an administrator to set up the role hierarchy."
        )
    return (
        f"Nobody can approve step “{step.name}”: its {step.get_approver_kind_display().lower()} "
        "has no active user. Ask an administrator to fix the approval process."
    )


def _applicable_steps(
    process: ApprovalProcess, record: BusinessRecord, after: int | None = None
) -> list[ApprovalStep]:
    steps = [step for step in process.steps.all() if after is None or step.position > after]
    return [step for step in steps if conditions.evaluate(step.conditions, record)]


def _history(
    request: ApprovalRequest, action: str, actor: Any, *, step: ApprovalStep | None, comment: str
) -> None:
    ApprovalHistory.objects.create(
        request=request,
        object_type=request.object_type,
        object_id=request.object_id,
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        step_name=step.name if step is not None else "",
        comment=comment,
    )


def _start_step(request: ApprovalRequest, step: ApprovalStep, approvers: list[User]) -> None:
    now = timezone.now()
    due = now + datetime.timedelta(hours=step.timeout_hours) if step.timeout_hours else None
    request.current_step = step
    request.save(update_fields=["current_step"])
    tasks = ApprovalTask.objects.bulk_create(
        [ApprovalTask(request=request, step=step, approver=user, due_at=due) for user in approvers]
    )
    for task in tasks:
        _notify_approver(task, request)


def _record_url(request: ApprovalRequest) -> str:
    """The record's page (its Approval card has the buttons), else the request's page."""
    return record_detail_url(request.object_type, request.object_id) or request_url(request)


def _notify_approver(task: ApprovalTask, request: ApprovalRequest) -> None:
    notification_send(
        user=task.approver,
        kind=NOTIFY_KIND,
        title=f"Approve {request.process.name}: {_record_label(request)}",
        body=f"{request.submitted_by} asks for your approval. {request.comment}".strip(),
        url=_record_url(request),
        dedupe_key=f"approval-task:{task.pk}",
    )


def _record_label(request: ApprovalRequest) -> str:
    record = record_for(request.object_type, request.object_id)
    return str(record) if record is not None else f"{request.object_type} #{request.object_id}"


def _emit(event: str, request: ApprovalRequest, actor: Any) -> None:
    events.emit(
        event,
        pk=request.object_id,
        object_type=request.object_type,
        object_id=request.object_id,
        request_id=request.pk,
        process=request.process.name,
        actor_id=getattr(actor, "pk", None),
    )


# --- submit ----------------------------------------------------------------------------------


def _pick_process(record: BusinessRecord, process: ApprovalProcess | None) -> ApprovalProcess:
    object_type = record.object_type()
    if process is not None:
        if not process.is_active or process.object_type != object_type:
            raise ValidationFailed(
                f"“{process}” is not an active approval process for this kind of record.",
                errors={"process": ["Not an active process for this record type."]},
            )
        if not conditions.evaluate(process.entry_conditions, record):
            raise ValidationFailed(
                f"This record does not meet the entry criteria of “{process}”: "
                f"{conditions.describe_conditions(process.entry_conditions)}.",
                errors={"process": ["The record does not meet the entry criteria."]},
            )
        return process
    for candidate in ApprovalProcess.objects.filter(object_type=object_type, is_active=True):
        if conditions.evaluate(candidate.entry_conditions, record):
            return candidate
    raise ValidationFailed(
        "No active approval process applies to this record (none exists for its type, or the "
        "record does not meet any process's entry criteria)."
    )


def approval_submit(
    *,
    user: Principal,
    record: BusinessRecord,
    process: ApprovalProcess | None = None,
    comment: str = "",
    workflow_run: WorkflowRun | None = None,
) -> ApprovalRequest:
    """Start the approval of ``record``: the first step that applies gets its tasks.

    A workflow's "start approval" step passes its run: the workflow decided, so the
    submitter's edit access is not asked."""
    if workflow_run is None and not can_access(user, record, Action.UPDATE):
        raise PermissionDenied("You may not submit this record for approval: you cannot edit it.")
    existing = pending_request_for(record)
    if existing is not None:
        raise ValidationFailed(
            f"This record is already waiting for approval (“{existing.process}”, submitted by "
            f"{existing.submitted_by}); recall that request or wait for its decision."
        )
    chosen = _pick_process(record, process)
    steps = _applicable_steps(chosen, record)
    if not steps:
        raise ValidationFailed(f"No step of “{chosen}” applies to this record.")
    submitter_id = int(getattr(user, "pk", 0))
    plan = [(step, step_approvers(step, submitter_id)) for step in steps]
    for step, approvers in plan:
        if not approvers:
            raise ValidationFailed(_no_approvers_message(step))
    try:
        with transaction.atomic():
            request = ApprovalRequest.objects.create(
                process=chosen,
                object_type=record.object_type(),
                object_id=record.pk,
                submitted_by=cast(User, user),
                comment=comment.strip(),
                workflow_run=workflow_run,
            )
            _history(request, HistoryAction.SUBMITTED, user, step=None, comment=request.comment)
            _start_step(request, plan[0][0], plan[0][1])
            _emit(EVENT_SUBMITTED, request, user)
    except IntegrityError as error:
        # Two submits at once: the partial unique index keeps one pending request.
        raise ValidationFailed("This record is already waiting for approval.") from error
    return request


def approval_start(
    *,
    user: Principal,
    record: BusinessRecord,
    process: ApprovalProcess | None = None,
    comment: str = "",
) -> ApprovalRequest:
    """Submit from the generic panel and API: an app's own submit (hooks) goes first."""
    hooks = _hooks.get(record.object_type())
    if hooks is not None and hooks.submit is not None:
        return hooks.submit(user, record, process, comment)
    return approval_submit(user=user, record=record, process=process, comment=comment)


# --- decide ----------------------------------------------------------------------------------


def _finish(request: ApprovalRequest, status: str, actor: Any, comment: str) -> None:
    request.status = status
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_at"])
    ApprovalTask.objects.filter(request=request, status=ApprovalTaskStatus.PENDING).update(
        status=ApprovalTaskStatus.CANCELLED, decided_at=request.decided_at
    )
    action = {
        ApprovalStatus.APPROVED: HistoryAction.APPROVED,
        ApprovalStatus.REJECTED: HistoryAction.REJECTED,
        ApprovalStatus.RECALLED: HistoryAction.RECALLED,
    }[ApprovalStatus(status)]
    _history(request, action, actor, step=request.current_step, comment=comment)
    hooks = _hooks.get(request.object_type)
    if hooks is not None and hooks.on_outcome is not None:
        with _outcome_writes():
            hooks.on_outcome(request, status, actor, comment)
    if status != ApprovalStatus.RECALLED:
        notification_send(
            user=request.submitted_by,
            kind=NOTIFY_KIND,
            title=f"{_record_label(request)} was {status} ({request.process.name})",
            body=comment,
            url=request_url(request),
            dedupe_key=f"approval-outcome:{request.pk}",
        )
    _emit(
        {
            ApprovalStatus.APPROVED: EVENT_APPROVED,
            ApprovalStatus.REJECTED: EVENT_REJECTED,
            ApprovalStatus.RECALLED: EVENT_RECALLED,
        }[ApprovalStatus(status)],
        request,
        actor,
    )


def _advance(request: ApprovalRequest, actor: Any, comment: str) -> None:
    record = record_for(request.object_type, request.object_id)
    current = request.current_step
    after = current.position if current is not None else None
    steps = _applicable_steps(request.process, record, after) if record is not None else []
    for step in steps:
        approvers = step_approvers(step, request.submitted_by_id)
        if not approvers:
            raise ValidationFailed(_no_approvers_message(step))
        _start_step(request, step, approvers)
        return
    _finish(request, ApprovalStatus.APPROVED, actor, comment)


def _group(task: ApprovalTask) -> int:
    return task.escalated_from_id or task.pk


def _decide_task(task: ApprovalTask, *, approve: bool, actor: Any, comment: str) -> None:
    """Record one decision and move the request on (caller holds the request's lock)."""
    request = task.request
    now = timezone.now()
    task.status = ApprovalTaskStatus.APPROVED if approve else ApprovalTaskStatus.REJECTED
    task.comment = comment
    task.decided_at = now
    task.save(update_fields=["status", "comment", "decided_at"])
    _history(
        request,
        HistoryAction.TASK_APPROVED if approve else HistoryAction.TASK_REJECTED,
        actor,
        step=task.step,
        comment=comment,
    )
    if not approve:
        _finish(request, ApprovalStatus.REJECTED, actor, comment)
        return
    step_tasks = ApprovalTask.objects.filter(
        request=request, step=task.step, status=ApprovalTaskStatus.PENDING
    )
    if task.step.decision_mode == DecisionMode.UNANIMOUS:
        # The task and its escalations are one approver's part: one approval settles it.
        group = _group(task)
        siblings = [t.pk for t in step_tasks if _group(t) == group]
        ApprovalTask.objects.filter(pk__in=siblings).update(
            status=ApprovalTaskStatus.CANCELLED, decided_at=now
        )
        if step_tasks.exists():
            return
    else:
        step_tasks.update(status=ApprovalTaskStatus.CANCELLED, decided_at=now)
    _advance(request, actor, comment)


def _locked(task: ApprovalTask) -> ApprovalTask:
    ApprovalRequest.objects.select_for_update().filter(pk=task.request_id).first()
    return ApprovalTask.objects.select_related("request__process", "step", "approver").get(
        pk=task.pk
    )


def approval_decide(
    *, user: Principal, task: ApprovalTask, approve: bool, comment: str = ""
) -> ApprovalRequest:
    """The task's approver approves or rejects; the request moves on or ends."""
    if task.approver_id != getattr(user, "pk", None):
        raise PermissionDenied("Only this task's approver may approve or reject it.")
    comment = comment.strip()
    with transaction.atomic():
        task = _locked(task)
        if (
            task.status != ApprovalTaskStatus.PENDING
            or task.request.status != ApprovalStatus.PENDING
        ):
            raise ValidationFailed(
                "This approval is no longer waiting for you: it was decided, recalled or "
                "settled by another approver.",
                errors={"task": [f"The task is {task.get_status_display().lower()}."]},
            )
        _decide_task(task, approve=approve, actor=user, comment=comment)
    task.request.refresh_from_db()
    return task.request


def approval_recall(
    *, user: Principal, request: ApprovalRequest, comment: str = ""
) -> ApprovalRequest:
    if request.submitted_by_id != getattr(user, "pk", None):
        raise PermissionDenied("Only the person who submitted this request may recall it.")
    if not request.process.allow_recall:
        raise ValidationFailed(f"Requests of “{request.process}” cannot be recalled.")
    with transaction.atomic():
        request = ApprovalRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != ApprovalStatus.PENDING:
            raise ValidationFailed(
                f"This request is {request.get_status_display().lower()}; only a pending one "
                "can be recalled."
            )
        _finish(request, ApprovalStatus.RECALLED, user, comment.strip())
    return request


# --- escalation ------------------------------------------------------------------------------


def _escalate(task: ApprovalTask, now: datetime.datetime) -> None:
    step = task.step
    request = task.request
    hours = step.timeout_hours or 0
    task.escalated_at = now
    task.save(update_fields=["escalated_at"])
    if step.escalation in (EscalationAction.APPROVE, EscalationAction.REJECT):
        approve = step.escalation == EscalationAction.APPROVE
        verb = "approved" if approve else "rejected"
        note = f"Automatically {verb}: {task.approver} did not answer within {hours} h."
        _history(request, HistoryAction.ESCALATED, None, step=step, comment=note)
        _decide_task(task, approve=approve, actor=None, comment=note)
        return
    added: list[User] = []
    if step.escalation == EscalationAction.APPROVER_MANAGER:
        added = managers_of(task.approver_id)
    elif step.escalation == EscalationAction.USER and step.escalate_to is not None:
        added = [step.escalate_to]
    busy = set(
        ApprovalTask.objects.filter(
            request=request, step=step, status=ApprovalTaskStatus.PENDING
        ).values_list("approver_id", flat=True)
    )
    added = [user for user in added if user.pk not in busy]
    if not added:
        _history(
            request,
            HistoryAction.REMINDED,
            None,
            step=step,
            comment=f"{task.approver} was reminded after {hours} h without an answer.",
        )
        notification_send(
            user=task.approver,
            kind=NOTIFY_KIND,
            title=f"Reminder: approve {request.process.name}: {_record_label(request)}",
            body=f"Waiting for you for more than {hours} h.",
            url=request_url(request),
            dedupe_key=f"approval-remind:{task.pk}",
        )
        return
    for user in added:
        new = ApprovalTask.objects.create(
            request=request, step=step, approver=user, escalated_from=task
        )
        _notify_approver(new, request)
    names = ", ".join(str(user) for user in added)
    _history(
        request,
        HistoryAction.ESCALATED,
        None,
        step=step,
        comment=f"{task.approver} did not answer within {hours} h; added {names} as approver.",
    )


def approval_escalate_due(*, now: datetime.datetime | None = None) -> int:
    """Apply the step's escalation to every pending task past its due time, once each."""
    now = now or timezone.now()
    due = ApprovalTask.objects.filter(
        status=ApprovalTaskStatus.PENDING,
        due_at__lte=now,
        escalated_at__isnull=True,
        request__status=ApprovalStatus.PENDING,
    ).values_list("pk", flat=True)
    count = 0
    for pk in list(due[:500]):
        started = time.monotonic()
        with transaction.atomic():
            task = _locked(ApprovalTask(pk=pk, request_id=_request_id(pk)))
            if (
                task.status != ApprovalTaskStatus.PENDING
                or task.escalated_at is not None
                or task.request.status != ApprovalStatus.PENDING
            ):
                continue
            _escalate(task, now)
        count += 1
        logger.info(
            "approval task %s escalated (%s) in %.1f ms",
            pk,
            task.step.escalation,
            (time.monotonic() - started) * 1000,
        )
    return count


def _request_id(task_pk: int) -> int:
    return int(ApprovalTask.objects.values_list("request_id", flat=True).get(pk=task_pk))


# --- record lock -----------------------------------------------------------------------------

TYPES_CACHE_KEY = "approvals:object-types"


@dataclass(frozen=True)
class ProcessTypes:
    locking: frozenset[str]
    active: frozenset[str]
    # Every type with a process, active or not: the only ones with approval history.
    any: frozenset[str]


def process_types() -> ProcessTypes:
    """Object types with a locking process and with an active one, from the shared cache
    (every write asks: records of other types must not pay a query)."""
    cached = cache.get(TYPES_CACHE_KEY)
    if isinstance(cached, ProcessTypes):
        return cached
    rows = list(ApprovalProcess.objects.values_list("object_type", "lock_record", "is_active"))
    types = ProcessTypes(
        locking=frozenset(object_type for object_type, lock, _active in rows if lock),
        active=frozenset(object_type for object_type, _lock, active in rows if active),
        any=frozenset(object_type for object_type, _lock, _active in rows),
    )
    cache.set(TYPES_CACHE_KEY, types, None)
    return types


def approval_write_guard(record: BusinessRecord) -> str | None:
    """The reason ``record`` may not be changed now, or None (a core write guard)."""
    if _applying_outcome.get() or record.pk is None:
        return None
    object_type = record.object_type()
    if object_type not in process_types().locking:
        return None
    request = (
        ApprovalRequest.objects.filter(
            object_type=object_type,
            object_id=record.pk,
            status=ApprovalStatus.PENDING,
            process__lock_record=True,
        )
        .select_related("process")
        .first()
    )
    if request is None:
        return None
    names = ", ".join(
        sorted(
            {
                str(task.approver)
                for task in request.tasks.filter(status=ApprovalTaskStatus.PENDING).select_related(
                    "approver"
                )
            }
        )
    )
    return (
        f"This record is waiting for approval by {names or 'its approvers'} "
        f"(“{request.process}”); recall the request to edit it."
    )


# --- reads -----------------------------------------------------------------------------------


def processes_for_type(object_type: str) -> QuerySet[ApprovalProcess]:
    return ApprovalProcess.objects.filter(object_type=object_type, is_active=True)


def request_get(*, user: Principal, pk: Any) -> ApprovalRequest:
    """A request ``user`` may read: its record is visible to them, or they approve it."""
    request = (
        ApprovalRequest.objects.select_related("process", "current_step", "submitted_by")
        .filter(pk=pk if str(pk).isdigit() else -1)
        .first()
    )
    if request is None:
        raise RecordNotFound("No such approval request.")
    is_approver = request.tasks.filter(approver_id=getattr(user, "pk", None)).exists()
    record = record_for(request.object_type, request.object_id)
    if not is_approver and (record is None or not can_access(user, record, Action.READ)):
        raise RecordNotFound("No such approval request.")
    return request


def task_get(*, user: Principal, pk: Any) -> ApprovalTask:
    task = (
        ApprovalTask.objects.select_related("request__process", "step", "approver")
        .filter(pk=pk if str(pk).isdigit() else -1)
        .first()
    )
    if task is None or task.approver_id != getattr(user, "pk", None):
        raise RecordNotFound("No such approval task of yours.")
    return task
