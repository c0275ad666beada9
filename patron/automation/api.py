"""Workflows in /api/v1/automation/: definitions as JSON, versions, test mode, manual runs,
the run log with retries, and the trigger / step / event catalogue for builders.

Writes and the run log are for administrators; the catalogue is readable by any user of
the automation area, and anyone who may edit a record may start its manual workflows.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from patron.automation import conditions, selectors, services
from patron.automation.access import WORKFLOWS, request_admin
from patron.automation.filters import RUN_SORTS, WORKFLOW_SORTS, RunFilter, WorkflowFilter
from patron.automation.models import StepRun, Workflow, WorkflowRun, WorkflowVersion
from patron.automation.registry import events_catalogue, step_types, trigger_types
from patron.core.api.auth import request_user
from patron.core.api.openapi import filter_parameters
from patron.core.api.pagination import (
    ListParams,
    Page,
    filtered,
    keyset_page,
    page_body,
    sort_columns,
)
from patron.core.api.problems import problem_responses
from patron.core.choices import Action
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.models import BusinessRecord
from patron.core.visibility import can_access
from patron.users.selectors import business_object_types

router = Router(tags=["Automation"])

LIST_ERRORS = problem_responses(400, 401, 403, 422)
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 422)
ADMIN_ONLY = "Administrators only. "
INBOUND_PATH = "/api/v1/automation/hooks/"


# --- schemas ---------------------------------------------------------------------------------


class WorkflowIn(Schema):
    name: str
    description: str = ""
    object_type: str = Field("", description='Record type, e.g. "pipeline.opportunity".')
    is_enabled: bool = True
    trigger: dict[str, Any] = Field(description='{"type": "record_updated", ...}')
    conditions: dict[str, Any] = Field(default_factory=dict)
    steps: list[Any] = Field(description='[{"id": "s1", "type": "notify", "config": {...}}]')
    activate: bool = Field(False, description="Activate the first version at once.")


class WorkflowPatch(Schema):
    name: str | None = None
    description: str | None = None
    object_type: str | None = None
    is_enabled: bool | None = None
    trigger: dict[str, Any] | None = None
    conditions: dict[str, Any] | None = None
    steps: list[Any] | None = None


class VersionOut(Schema):
    id: int
    number: int
    state: str
    trigger: dict[str, Any]
    conditions: dict[str, Any]
    steps: list[Any]
    next_fire_at: str | None
    created_at: str
    activated_at: str | None


class WorkflowOut(Schema):
    id: int
    name: str
    description: str
    object_type: str
    is_enabled: bool
    active_version: VersionOut | None
    draft: VersionOut | None
    has_inbound_url: bool
    inbound_url: str | None = Field(None, description="Shown once, when the token is new.")
    updated_at: str


class StepRunOut(Schema):
    id: int
    step_id: str
    step_type: str
    attempt: int
    status: str
    input: dict[str, Any]
    output: dict[str, Any]
    error: str
    started_at: str
    finished_at: str | None
    duration_ms: int | None
    next_retry_at: str | None


class RunOut(Schema):
    id: int
    workflow_id: int
    workflow_name: str
    version_id: int
    version_number: int
    trigger_type: str
    object_type: str
    object_id: int | None
    status: str
    is_test: bool
    chain: list[int]
    error: str
    resume_at: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None


class RunDetailOut(RunOut):
    context: dict[str, Any]
    steps: list[StepRunOut]


class TestIn(Schema):
    version_id: int | None = None
    object_id: int | None = None
    changes: dict[str, Any] = Field(
        default_factory=dict, description='Simulated changes, {"field": [old, new]}.'
    )


class TestOut(Schema):
    matches: bool
    conditions: str
    steps: list[dict[str, Any]]
    run_id: int | None


class RunIn(Schema):
    object_type: str
    object_id: int


class TokenOut(Schema):
    inbound_url: str


# --- serialisers -----------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _version(version: WorkflowVersion | None) -> dict[str, Any] | None:
    if version is None:
        return None
    return {
        "id": version.pk,
        "number": version.number,
        "state": version.state,
        "trigger": version.trigger,
        "conditions": version.conditions,
        "steps": version.steps,
        "next_fire_at": _iso(version.next_fire_at),
        "created_at": version.created_at.isoformat(),
        "activated_at": _iso(version.activated_at),
    }


def _workflow(
    workflow: Workflow, *, draft: WorkflowVersion | None = None, token: str | None = None
) -> dict[str, Any]:
    return {
        "id": workflow.pk,
        "name": workflow.name,
        "description": workflow.description,
        "object_type": workflow.object_type,
        "is_enabled": workflow.is_enabled,
        "active_version": _version(workflow.active_version),
        "draft": _version(draft),
        "has_inbound_url": bool(workflow.inbound_token_digest),
        "inbound_url": f"{INBOUND_PATH}{token}" if token else None,
        "updated_at": workflow.updated_at.isoformat(),
    }


def _run(run: WorkflowRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "workflow_id": run.workflow_id,
        "workflow_name": run.workflow.name,
        "version_id": run.version_id,
        "version_number": run.version.number,
        "trigger_type": run.trigger_type,
        "object_type": run.object_type,
        "object_id": run.object_id,
        "status": run.status,
        "is_test": run.is_test,
        "chain": run.chain,
        "error": run.error,
        "resume_at": _iso(run.resume_at),
        "created_at": run.created_at.isoformat(),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
    }


def _step_run(row: StepRun) -> dict[str, Any]:
    return {
        "id": row.pk,
        "step_id": row.step_id,
        "step_type": row.step_type,
        "attempt": row.attempt,
        "status": row.status,
        "input": row.input,
        "output": row.output,
        "error": row.error,
        "started_at": row.started_at.isoformat(),
        "finished_at": _iso(row.finished_at),
        "duration_ms": row.duration_ms,
        "next_retry_at": _iso(row.next_retry_at),
    }


def _record(object_type: str, object_id: int | None) -> BusinessRecord | None:
    if object_id is None:
        return None
    model = conditions.model_for(object_type)
    record = model.objects.filter(pk=object_id).first() if model is not None else None
    if record is None:
        raise ValidationFailed(
            "No such record.", errors={"object_id": [f"No {object_type} with id {object_id}."]}
        )
    return record


def _sent(payload: Schema) -> dict[str, Any]:
    return payload.model_dump(include=payload.model_fields_set)


# --- catalogue -------------------------------------------------------------------------------


class CatalogueOut(Schema):
    triggers: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    events: list[dict[str, str]]
    object_types: list[dict[str, str]]
    operators: dict[str, list[str]]


@router.get(
    "/automation/catalogue",
    response={200: CatalogueOut, **problem_responses(401, 403)},
    summary="Trigger types, step types, events and record types for building workflows",
    operation_id="automation_catalogue",
)
def catalogue(request: HttpRequest) -> dict[str, Any]:
    return {
        "triggers": [kind.as_dict() for kind in trigger_types()],
        "steps": [kind.as_dict() for kind in step_types()],
        "events": [info.as_dict() for info in events_catalogue()],
        "object_types": [
            {"object_type": key, "label": label} for key, label in business_object_types()
        ],
        "operators": {kind: list(ops) for kind, ops in conditions.OPERATORS_BY_TYPE.items()},
    }


@router.get(
    "/automation/fields",
    response={200: list[dict[str, Any]], **problem_responses(401, 403, 422)},
    summary="Fields of a record type for conditions, updates and merge fields",
    description="Own fields, active custom fields and one level of related fields "
    '("account.industry"), each with its type, choices and the operators that apply.',
    operation_id="automation_fields",
)
def fields(request: HttpRequest, object_type: str) -> list[dict[str, Any]]:
    if conditions.model_for(object_type) is None:
        raise ValidationFailed(
            "Unknown record type.", errors={"object_type": [f"Unknown type {object_type!r}."]}
        )
    return [spec.as_dict() for spec in conditions.describe_fields(object_type)]


# --- workflows -------------------------------------------------------------------------------


@router.get(
    "/automation/workflows",
    response={200: Page[WorkflowOut], **LIST_ERRORS},
    summary="List workflows",
    description=ADMIN_ONLY + "Keyset pagination; sort keys: " + ", ".join(WORKFLOW_SORTS) + ".",
    operation_id="automation_workflow_list",
    openapi_extra={"parameters": filter_parameters(WorkflowFilter)},
)
def workflow_index(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    user = request_admin(request, WORKFLOWS)
    sort, columns = sort_columns(params.sort, WORKFLOW_SORTS, "name")
    rows, next_cursor = keyset_page(
        filtered(request, selectors.workflow_list(user=user), WorkflowFilter),
        sort=sort,
        columns=columns,
        limit=params.limit,
        cursor=params.cursor,
    )
    drafts = selectors.drafts_by_workflow([row.pk for row in rows])
    return page_body([_workflow(w, draft=drafts.get(w.pk)) for w in rows], next_cursor)


@router.post(
    "/automation/workflows",
    response={201: WorkflowOut, **WRITE_ERRORS},
    summary="Create a workflow",
    description=ADMIN_ONLY
    + "The definition is validated; errors name the path of the bad part, e.g. "
    '"steps[2].config.subject". Saved as a draft version unless activate is true.',
    operation_id="automation_workflow_create",
)
def workflow_create(request: HttpRequest, payload: WorkflowIn) -> Status[Any]:
    user = request_admin(request, WORKFLOWS)
    data = payload.model_dump()
    activate = data.pop("activate")
    workflow = services.workflow_create(user=user, data=data)
    token = None
    if activate:
        token = services.workflow_activate(user=user, workflow=workflow).inbound_token
        workflow.refresh_from_db()
    return Status(201, _workflow(workflow, draft=services.draft_of(workflow), token=token))


@router.post(
    "/automation/workflows/import",
    response={201: WorkflowOut, **WRITE_ERRORS},
    summary="Import a workflow from its JSON definition (as exported)",
    operation_id="automation_workflow_import",
)
def workflow_import(request: HttpRequest, payload: WorkflowIn) -> Status[Any]:
    user = request_admin(request, WORKFLOWS)
    data = payload.model_dump()
    data.pop("activate")
    workflow = services.workflow_import(user=user, data=data)
    return Status(201, _workflow(workflow, draft=services.draft_of(workflow)))


@router.get(
    "/automation/workflows/{workflow_id}",
    response={200: WorkflowOut, **problem_responses(401, 403, 404)},
    summary="A workflow with its active and draft versions",
    operation_id="automation_workflow_detail",
)
def workflow_detail(request: HttpRequest, workflow_id: int) -> dict[str, Any]:
    user = request_admin(request, WORKFLOWS)
    workflow = selectors.workflow_get(user=user, pk=workflow_id)
    return _workflow(workflow, draft=services.draft_of(workflow))


@router.patch(
    "/automation/workflows/{workflow_id}",
    response={200: WorkflowOut, **WRITE_ERRORS},
    summary="Change a workflow",
    description=ADMIN_ONLY + "A changed trigger, conditions or steps go to the draft version "
    "(created from the active one if needed); the active version keeps running until the "
    "draft is activated.",
    operation_id="automation_workflow_update",
)
def workflow_update(request: HttpRequest, workflow_id: int, payload: WorkflowPatch) -> Any:
    user = request_admin(request, WORKFLOWS)
    workflow = selectors.workflow_get(user=user, pk=workflow_id)
    workflow = services.workflow_update(user=user, workflow=workflow, data=_sent(payload))
    return _workflow(workflow, draft=services.draft_of(workflow))


@router.delete(
    "/automation/workflows/{workflow_id}",
    response={204: None, **problem_responses(401, 403, 404)},
    summary="Delete a workflow with its versions and run log",
    operation_id="automation_workflow_delete",
)
def workflow_remove(request: HttpRequest, workflow_id: int) -> Status[None]:
    user = request_admin(request, WORKFLOWS)
    services.workflow_delete(user=user, workflow=selectors.workflow_get(user=user, pk=workflow_id))
    return Status(204, None)


@router.get(
    "/automation/workflows/{workflow_id}/export",
    response={200: dict[str, Any], **problem_responses(401, 403, 404)},
    summary="The workflow's JSON definition (draft, else active)",
    operation_id="automation_workflow_export",
)
def workflow_export(request: HttpRequest, workflow_id: int) -> dict[str, Any]:
    user = request_admin(request, WORKFLOWS)
    return services.workflow_export(selectors.workflow_get(user=user, pk=workflow_id))


@router.get(
    "/automation/workflows/{workflow_id}/versions",
    response={200: list[VersionOut], **problem_responses(401, 403, 404)},
    summary="Versions of a workflow, newest first",
    operation_id="automation_version_list",
)
def version_index(request: HttpRequest, workflow_id: int) -> list[dict[str, Any]]:
    user = request_admin(request, WORKFLOWS)
    workflow = selectors.workflow_get(user=user, pk=workflow_id)
    return [_version(v) for v in selectors.version_list(user=user, workflow=workflow)]  # type: ignore[misc]


@router.post(
    "/automation/workflows/{workflow_id}/activate",
    response={200: WorkflowOut, **WRITE_ERRORS},
    summary="Activate the draft (or ?version_id=) version; the active one is retired",
    operation_id="automation_workflow_activate",
)
def workflow_activate(
    request: HttpRequest, workflow_id: int, version_id: int | None = None
) -> dict[str, Any]:
    user = request_admin(request, WORKFLOWS)
    workflow = selectors.workflow_get(user=user, pk=workflow_id)
    version = (
        selectors.version_get(user=user, workflow=workflow, pk=version_id)
        if version_id is not None
        else None
    )
    activation = services.workflow_activate(user=user, workflow=workflow, version=version)
    workflow.refresh_from_db()
    return _workflow(workflow, draft=services.draft_of(workflow), token=activation.inbound_token)


@router.post(
    "/automation/workflows/{workflow_id}/deactivate",
    response={200: WorkflowOut, **WRITE_ERRORS},
    summary="Stop a workflow (its active version is retired)",
    operation_id="automation_workflow_deactivate",
)
def workflow_deactivate(request: HttpRequest, workflow_id: int) -> dict[str, Any]:
    user = request_admin(request, WORKFLOWS)
    workflow = selectors.workflow_get(user=user, pk=workflow_id)
    workflow = services.workflow_deactivate(user=user, workflow=workflow)
    return _workflow(workflow, draft=services.draft_of(workflow))


@router.post(
    "/automation/workflows/{workflow_id}/inbound-token",
    response={200: TokenOut, **WRITE_ERRORS},
    summary="A new secret URL for an inbound-webhook workflow (the old one stops working)",
    operation_id="automation_workflow_inbound_token",
)
def workflow_inbound_token(request: HttpRequest, workflow_id: int) -> dict[str, Any]:
    user = request_admin(request, WORKFLOWS)
    workflow = selectors.workflow_get(user=user, pk=workflow_id)
    token = services.workflow_rotate_inbound_token(user=user, workflow=workflow)
    return {"inbound_url": f"{INBOUND_PATH}{token}"}


@router.post(
    "/automation/workflows/{workflow_id}/test",
    response={200: TestOut, **WRITE_ERRORS},
    summary="Test mode: what the workflow would do to a record, without doing it",
    description=ADMIN_ONLY + "Evaluates the conditions (with optional simulated changes) and "
    "describes each step on the path taken. Nothing changes; an is_test run is logged.",
    operation_id="automation_workflow_test",
)
def workflow_test(request: HttpRequest, workflow_id: int, payload: TestIn) -> dict[str, Any]:
    user = request_admin(request, WORKFLOWS)
    workflow = selectors.workflow_get(user=user, pk=workflow_id)
    version = (
        selectors.version_get(user=user, workflow=workflow, pk=payload.version_id)
        if payload.version_id is not None
        else None
    )
    record = _record(workflow.object_type, payload.object_id) if workflow.object_type else None
    report = services.workflow_test(
        user=user, workflow=workflow, version=version, record=record, changes=payload.changes
    )
    return {
        "matches": report.matches,
        "conditions": report.conditions,
        "steps": report.steps,
        "run_id": report.run.pk if report.run else None,
    }


@router.post(
    "/automation/workflows/{workflow_id}/run",
    response={202: RunOut, **WRITE_ERRORS},
    summary="Run a manual-trigger workflow on a record",
    description="Anyone who may edit the record. The run executes in the background; poll "
    "the run for its outcome.",
    operation_id="automation_workflow_run",
)
def workflow_run(request: HttpRequest, workflow_id: int, payload: RunIn) -> Status[Any]:
    user = request_user(request)
    workflow = Workflow.objects.select_related("active_version").filter(pk=workflow_id).first()
    if workflow is None:
        raise RecordNotFound(f"No workflow with id {workflow_id}.")
    record = _record(payload.object_type, payload.object_id)
    assert record is not None
    if not can_access(user, record, Action.READ):
        raise RecordNotFound(f"No {payload.object_type} with id {payload.object_id}.")
    run = services.run_manual(user=user, workflow=workflow, record=record)
    return Status(202, _run(run))


@router.get(
    "/automation/manual-workflows",
    response={200: list[dict[str, Any]], **problem_responses(401, 403)},
    summary="Manual workflows offered on a record type's pages",
    operation_id="automation_manual_workflows",
)
def manual_workflow_index(request: HttpRequest, object_type: str) -> list[dict[str, Any]]:
    return [
        {"id": w.pk, "name": w.name, "description": w.description}
        for w in selectors.manual_workflows(object_type=object_type)
    ]


# --- runs ------------------------------------------------------------------------------------


@router.get(
    "/automation/runs",
    response={200: Page[RunOut], **LIST_ERRORS},
    summary="The run log",
    description=ADMIN_ONLY + "Filter by workflow, status, object_type and object_id; newest "
    "first (keyset pagination).",
    operation_id="automation_run_list",
    openapi_extra={"parameters": filter_parameters(RunFilter)},
)
def run_index(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    user = request_admin(request, WORKFLOWS)
    sort, columns = sort_columns(params.sort, RUN_SORTS, "-created")
    rows, next_cursor = keyset_page(
        filtered(request, selectors.run_list(user=user), RunFilter),
        sort=sort,
        columns=columns,
        limit=params.limit,
        cursor=params.cursor,
    )
    return page_body([_run(run) for run in rows], next_cursor)


@router.get(
    "/automation/runs/{run_id}",
    response={200: RunDetailOut, **problem_responses(401, 403, 404)},
    summary="A run with its step log",
    operation_id="automation_run_detail",
)
def run_detail(request: HttpRequest, run_id: int) -> dict[str, Any]:
    user = request_admin(request, WORKFLOWS)
    run = selectors.run_get(user=user, pk=run_id)
    return {
        **_run(run),
        "context": run.context,
        "steps": [_step_run(row) for row in selectors.step_runs(run)],
    }


@router.post(
    "/automation/runs/{run_id}/steps/{step_run_id}/retry",
    response={202: RunOut, **WRITE_ERRORS},
    summary="Retry the step a run failed on",
    description=ADMIN_ONLY + "Effects already made are not repeated (same run and step).",
    operation_id="automation_run_retry_step",
)
def run_retry_step(request: HttpRequest, run_id: int, step_run_id: int) -> Status[Any]:
    user = request_admin(request, WORKFLOWS)
    run = selectors.run_get(user=user, pk=run_id)
    step_run = selectors.step_run_get(user=user, run=run, pk=step_run_id)
    run = services.run_retry_step(user=user, step_run=step_run)
    return Status(202, _run(selectors.run_get(user=user, pk=run.pk)))
