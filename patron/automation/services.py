"""Workflow writes: definitions and versions, activation, test mode, manual runs and retries.

Definitions are validated here for every path (the builder and the API share it), with
errors keyed by the path of the bad part ("steps[2].config.subject"), so a saved workflow
never fails at run time because of its shape.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from patron.automation import conditions, engine
from patron.automation.access import WORKFLOWS, require_admin
from patron.automation.choices import RunStatus, StepStatus, VersionState
from patron.automation.models import StepRun, Workflow, WorkflowRun, WorkflowVersion
from patron.automation.registry import StepContext, step_type, trigger_type
from patron.automation.schedule import parse_cron
from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import BusinessRecord
from patron.core.visibility import can_access

Errors = dict[str, str]
MAX_STEPS = 100
DEFINITION_KEYS = ("trigger", "conditions", "steps")


def _raise(errors: Errors, detail: str = "The workflow is not valid.") -> None:
    if errors:
        raise ValidationFailed(detail, errors={key: [message] for key, message in errors.items()})


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------- validation


def validate_definition(
    *, object_type: str, trigger: Any, conditions_tree: Any, steps: Any
) -> Errors:
    """Every problem of a definition, keyed by its path; empty when it is valid."""
    errors: Errors = {}
    if object_type and conditions.model_for(object_type) is None:
        errors["object_type"] = f"Unknown record type {object_type!r}."
        return errors
    if not isinstance(trigger, dict) or trigger_type(str(trigger.get("type"))) is None:
        errors["trigger.type"] = "Choose a trigger type from the catalogue."
    else:
        kind = trigger_type(str(trigger["type"]))
        assert kind is not None
        if kind.needs_object_type and not object_type:
            errors["object_type"] = f"A “{kind.label}” trigger needs a record type."
        else:
            config = {k: v for k, v in trigger.items() if k != "type"}
            for key, message in kind.validate(config, object_type).items():
                errors[f"trigger.{key}"] = message
    errors.update(conditions.validate_conditions(conditions_tree or {}, object_type))
    if not isinstance(steps, list) or not steps:
        errors["steps"] = "Add at least one step."
        return errors
    seen: set[str] = set()
    count = 0
    for path, step in engine.iter_steps(steps):
        count += 1
        if count > MAX_STEPS:
            errors["steps"] = f"A workflow has at most {MAX_STEPS} steps."
            break
        if not isinstance(step, dict):
            errors[path] = 'A step is {"id": ..., "type": ..., "config": {...}}.'
            continue
        step_id = step.get("id")
        if not isinstance(step_id, str) or not step_id or len(step_id) > 50:
            errors[f"{path}.id"] = "Give the step an id (up to 50 characters)."
        elif step_id in seen:
            errors[f"{path}.id"] = f"The id {step_id!r} is used by another step."
        else:
            seen.add(step_id)
        step_kind = step_type(str(step.get("type")))
        if step_kind is None:
            errors[f"{path}.type"] = f"Unknown step type {step.get('type')!r}."
            continue
        config = step.get("config", {})
        if not isinstance(config, dict):
            errors[f"{path}.config"] = "The step's settings are an object."
            continue
        if step_kind.needs_record and not object_type:
            errors[f"{path}.type"] = f"“{step_kind.label}” needs a workflow on a record type."
            continue
        for key, message in step_kind.validate(config, object_type).items():
            errors[f"{path}.config.{key}"] = message
    return errors


def _definition(data: dict[str, Any], base: WorkflowVersion | None) -> dict[str, Any]:
    return {
        "trigger": data.get("trigger", base.trigger if base else {}),
        "conditions": data.get("conditions", base.conditions if base else {}),
        "steps": data.get("steps", base.steps if base else []),
    }


def _check(object_type: str, definition: dict[str, Any]) -> None:
    _raise(
        validate_definition(
            object_type=object_type,
            trigger=definition["trigger"],
            conditions_tree=definition["conditions"] or {},
            steps=definition["steps"],
        )
    )


def _clean_header(data: dict[str, Any], workflow: Workflow | None) -> dict[str, Any]:
    errors: Errors = {}
    values: dict[str, Any] = {}
    if "name" in data or workflow is None:
        name = str(data.get("name") or "").strip()
        if not name:
            errors["name"] = "Give the workflow a name."
        elif len(name) > 150:
            errors["name"] = "Use at most 150 characters."
        elif (
            Workflow.objects.filter(name__iexact=name)
            .exclude(pk=workflow.pk if workflow else 0)
            .exists()
        ):
            errors["name"] = "Another workflow has this name."
        values["name"] = name
    if "description" in data:
        values["description"] = str(data.get("description") or "")
    if "is_enabled" in data:
        if not isinstance(data["is_enabled"], bool):
            errors["is_enabled"] = "true or false."
        values["is_enabled"] = data["is_enabled"]
    if "object_type" in data or workflow is None:
        values["object_type"] = str(data.get("object_type") or "")
        if (
            workflow is not None
            and values["object_type"] != workflow.object_type
            and workflow.active_version_id is not None
        ):
            errors["object_type"] = (
                "The record type of an active workflow cannot change; deactivate it first."
            )
    _raise(errors)
    return values


# ---------------------------------------------------------------- workflows and versions


@transaction.atomic
def workflow_create(*, user: Any, data: dict[str, Any]) -> Workflow:
    """A workflow with its first (draft) version; ``data`` has name, description,
    object_type, trigger, conditions, steps."""
    require_admin(user, WORKFLOWS)
    header = _clean_header(data, None)
    definition = _definition(data, None)
    _check(header["object_type"], definition)
    workflow = Workflow.objects.create(created_by=user, **header)
    WorkflowVersion.objects.create(
        workflow=workflow, number=1, state=VersionState.DRAFT, created_by=user, **definition
    )
    engine.invalidate_index()
    return workflow


def draft_of(workflow: Workflow) -> WorkflowVersion | None:
    return workflow.versions.filter(state=VersionState.DRAFT).first()


@transaction.atomic
def workflow_update(*, user: Any, workflow: Workflow, data: dict[str, Any]) -> Workflow:
    """Change the name, description or enabled flag in place; a changed definition goes to
    the draft version (created from the active one when there is none), never to the
    version that runs."""
    require_admin(user, WORKFLOWS)
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    header = _clean_header(data, workflow)
    for name, value in header.items():
        setattr(workflow, name, value)
    if any(key in data for key in DEFINITION_KEYS) or "object_type" in header:
        draft = draft_of(workflow)
        base = draft or workflow.active_version or workflow.versions.first()
        definition = _definition(data, base)
        _check(workflow.object_type, definition)
        if draft is None:
            number = (workflow.versions.aggregate(top=Max("number"))["top"] or 0) + 1
            draft = WorkflowVersion(
                workflow=workflow, number=number, state=VersionState.DRAFT, created_by=user
            )
        for name, value in definition.items():
            setattr(draft, name, value)
        draft.save()
    workflow.save()
    engine.invalidate_index()
    return workflow


@dataclass
class Activation:
    version: WorkflowVersion
    # Shown once: the secret URL's token of an inbound-webhook workflow, when new.
    inbound_token: str | None = None
    warnings: list[str] = field(default_factory=list)


@transaction.atomic
def workflow_activate(
    *, user: Any, workflow: Workflow, version: WorkflowVersion | None = None
) -> Activation:
    """Make ``version`` (default: the draft) the one that runs; the previous active version
    is retired. The definition is validated again (fields may have changed since)."""
    require_admin(user, WORKFLOWS)
    given = workflow
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    target = version or draft_of(workflow)
    if target is None or target.workflow_id != workflow.pk:
        raise ValidationFailed(
            "There is no draft to activate.", errors={"version": ["Edit the workflow first."]}
        )
    if target.state == VersionState.ACTIVE:
        return Activation(version=target)
    _check(
        workflow.object_type,
        {"trigger": target.trigger, "conditions": target.conditions, "steps": target.steps},
    )
    now = timezone.now()
    workflow.versions.filter(state=VersionState.ACTIVE).update(
        state=VersionState.RETIRED, next_fire_at=None
    )
    target.state = VersionState.ACTIVE
    target.activated_at = now
    target.activated_by = user
    target.next_fire_at = None
    if target.trigger.get("type") == "schedule":
        target.next_fire_at = parse_cron(str(target.trigger["cron"])).next_after(now)
    target.save()
    activation = Activation(version=target)
    if target.trigger.get("type") == "inbound_webhook" and not workflow.inbound_token_digest:
        activation.inbound_token = _new_token(workflow)
    workflow.active_version = target
    workflow.save()
    # The caller's instance follows, so it can be used (run, shown) right away.
    given.active_version = target
    given.inbound_token_digest = workflow.inbound_token_digest
    given.updated_at = workflow.updated_at
    engine.invalidate_index()
    return activation


def _new_token(workflow: Workflow) -> str:
    token = secrets.token_urlsafe(32)
    workflow.inbound_token_digest = token_digest(token)
    return token


@transaction.atomic
def workflow_rotate_inbound_token(*, user: Any, workflow: Workflow) -> str:
    """A new secret URL token (the old URL stops working); shown once."""
    require_admin(user, WORKFLOWS)
    token = _new_token(workflow)
    workflow.save(update_fields=["inbound_token_digest", "updated_at"])
    return token


@transaction.atomic
def workflow_deactivate(*, user: Any, workflow: Workflow) -> Workflow:
    """Stop the workflow: its active version is retired (runs in flight finish)."""
    require_admin(user, WORKFLOWS)
    workflow.versions.filter(state=VersionState.ACTIVE).update(
        state=VersionState.RETIRED, next_fire_at=None
    )
    workflow.active_version = None
    workflow.save()
    engine.invalidate_index()
    return workflow


@transaction.atomic
def workflow_delete(*, user: Any, workflow: Workflow) -> None:
    require_admin(user, WORKFLOWS)
    WorkflowRun.objects.filter(workflow=workflow).delete()
    workflow.delete()
    engine.invalidate_index()


def workflow_export(workflow: Workflow, version: WorkflowVersion | None = None) -> dict[str, Any]:
    """The JSON definition (import it elsewhere with workflow_import)."""
    source = version or draft_of(workflow) or workflow.active_version or workflow.versions.first()
    return {
        "name": workflow.name,
        "description": workflow.description,
        "object_type": workflow.object_type,
        "trigger": source.trigger if source else {},
        "conditions": source.conditions if source else {},
        "steps": source.steps if source else [],
    }


def workflow_import(*, user: Any, data: dict[str, Any]) -> Workflow:
    return workflow_create(user=user, data=data)


# ---------------------------------------------------------------- test mode


@dataclass
class TestReport:
    matches: bool
    conditions: str
    steps: list[dict[str, Any]]
    run: WorkflowRun | None = None


def workflow_test(
    *,
    user: Any,
    workflow: Workflow,
    version: WorkflowVersion | None,
    record: BusinessRecord | None,
    changes: dict[str, Any] | None = None,
    log: bool = True,
) -> TestReport:
    """What ``version`` (default: the draft, else the active one) would do to ``record``:
    whether its conditions match and what each step on the path taken would do. Nothing
    changes; with ``log`` an is_test run records the simulation."""
    require_admin(user, WORKFLOWS)
    target = version or draft_of(workflow) or workflow.active_version
    if target is None:
        raise ValidationFailed(
            "The workflow has no version to test.", errors={"version": ["None."]}
        )
    if workflow.object_type and record is None:
        raise ValidationFailed(
            "Choose a record to test with.", errors={"object_id": ["Choose a record."]}
        )
    changes = changes or {}
    trigger = target.trigger or {}
    kind = trigger_type(str(trigger.get("type")))
    extra = kind.conditions(trigger) if kind is not None else {}
    tree = (
        {"all": [extra, target.conditions]}
        if extra and target.conditions
        else (extra or target.conditions or {})
    )
    matches = conditions.evaluate(tree, record, changes)
    described: list[dict[str, Any]] = []
    actor = engine.run_actor(workflow)
    if matches:
        described = _simulate(target.steps or [], workflow, record, actor, changes)
    report = TestReport(
        matches=matches, conditions=conditions.describe_conditions(tree), steps=described
    )
    if log:
        report.run = _log_test(workflow, target, record, user, report)
    return report


def _simulate(
    steps: list[Any],
    workflow: Workflow,
    record: BusinessRecord | None,
    actor: Any,
    changes: dict[str, Any],
) -> list[dict[str, Any]]:
    described: list[dict[str, Any]] = []
    cursor: list[Any] = [0] if steps else []
    for _ in range(engine.MAX_STEPS_PER_EXECUTION):
        step = engine.step_at(steps, cursor)
        if step is None:
            break
        kind = step_type(str(step.get("type")))
        ctx = StepContext(
            step_id=str(step.get("id")),
            step_type=str(step.get("type")),
            config=step.get("config") or {},
            object_type=workflow.object_type,
            record=record,
            actor=actor,
            payload={"changes": changes},
            is_test=True,
        )
        try:
            text = kind.describe(ctx) if kind is not None else "Unknown step type."
        except Exception as exc:  # test mode reports what would fail, never crashes
            text = f"Would fail: {exc}"
        described.append(
            {"id": ctx.step_id, "type": ctx.step_type, "path": list(cursor), "description": text}
        )
        branch = None
        if ctx.step_type == "branch":
            taken = conditions.evaluate(ctx.config.get("conditions"), record, changes)
            branch = "then" if taken else "else"
        nested = (ctx.config.get(branch) or []) if branch else []
        cursor = [*cursor, branch, 0] if nested else engine.advance(steps, cursor)
    return described


def _log_test(
    workflow: Workflow,
    version: WorkflowVersion,
    record: BusinessRecord | None,
    user: Any,
    report: TestReport,
) -> WorkflowRun:
    now = timezone.now()
    run = WorkflowRun.objects.create(
        workflow=workflow,
        version=version,
        trigger_type="test",
        object_type=workflow.object_type,
        object_id=record.pk if record is not None else None,
        idempotency_key=f"test:{uuid.uuid4().hex}",
        status=RunStatus.SUCCEEDED,
        is_test=True,
        context={"matches": report.matches, "conditions": report.conditions},
        started_by=user,
        started_at=now,
        finished_at=now,
    )
    StepRun.objects.bulk_create(
        StepRun(
            run=run,
            step_id=item["id"][:50],
            step_type=item["type"][:40],
            status=StepStatus.SIMULATED,
            input={"path": item["path"]},
            output={"description": item["description"]},
            started_at=now,
            finished_at=now,
            duration_ms=0,
        )
        for item in report.steps
    )
    return run


# ---------------------------------------------------------------- runs


def run_manual(*, user: Any, workflow: Workflow, record: BusinessRecord) -> WorkflowRun:
    """Start a manual-trigger workflow on ``record`` (the button on its page). Anyone who
    may edit the record may start it."""
    version = workflow.active_version
    if version is None or not workflow.is_enabled:
        raise ValidationFailed("This workflow is not active.", errors={"workflow": ["Inactive."]})
    if version.trigger.get("type") != "manual":
        raise ValidationFailed(
            "Only workflows with a manual trigger run from a record.",
            errors={"workflow": ["Not a manual workflow."]},
        )
    if record.object_type() != workflow.object_type:
        raise ValidationFailed(
            f"This workflow runs on {workflow.object_type} records.",
            errors={"object_type": [f"Use a {workflow.object_type} record."]},
        )
    if not (getattr(user, "is_admin", False) or can_access(user, record, Action.UPDATE)):
        raise PermissionDenied(
            "You may not change this record, so you may not run workflows on it."
        )
    return engine.start_run(
        version,
        trigger="manual",
        key=f"{version.pk}:manual:{record.pk}:{engine.new_key()}",
        record=record,
        context={"started_by": user.pk},
        user=user,
    )


@transaction.atomic
def run_retry_step(*, user: Any, step_run: StepRun) -> WorkflowRun:
    """Try a failed run's failed step again (same effect key: nothing is done twice)."""
    require_admin(user, WORKFLOWS)
    run = WorkflowRun.objects.select_for_update().get(pk=step_run.run_id)
    latest = run.step_runs.order_by("-started_at", "-id").first()
    if run.status != RunStatus.FAILED or latest is None or latest.pk != step_run.pk:
        raise ValidationFailed(
            "Only the step a run failed on can be retried.",
            errors={"step_run": ["This step did not end the run with a failure."]},
        )
    run.status = RunStatus.PENDING
    run.error = ""
    run.finished_at = None
    run.save(update_fields=["status", "error", "finished_at"])
    engine.dispatch([run.pk])
    return run


def inbound_start(*, token: str, payload: Any, request_key: str = "") -> WorkflowRun | None:
    """Start the workflow whose secret URL token is ``token`` with ``payload``; None when no
    active inbound-webhook workflow has that token."""
    if not token:
        return None
    workflow = (
        Workflow.objects.filter(inbound_token_digest=token_digest(token), is_enabled=True)
        .select_related("active_version")
        .first()
    )
    version = workflow.active_version if workflow is not None else None
    if version is None or version.trigger.get("type") != "inbound_webhook":
        return None
    occurrence = request_key[:80] if request_key else engine.new_key()
    return engine.start_run(
        version,
        trigger="inbound_webhook",
        key=f"{version.pk}:inbound:{occurrence}",
        context={"payload": payload},
    )
