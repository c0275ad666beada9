"""Approval processes, requests, decisions and recall in /api/v1/approvals/.

Processes are configured by administrators; anyone who may edit a record submits it; only a
task's approver decides it; only the submitter recalls. Requests are readable by whoever may
see the record and by their approvers.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from patron.automation import approval_services as approvals
from patron.automation.access import APPROVAL_PROCESSES, request_admin
from patron.automation.approval_filters import (
    DEFAULT_TASK_SORT,
    TASK_SORTS,
    ApprovalTaskFilter,
    my_tasks,
)
from patron.automation.choices import ApproverKind, DecisionMode, EscalationAction
from patron.automation.models import ApprovalProcess, ApprovalRequest, ApprovalStep, ApprovalTask
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
from patron.core.exceptions import RecordNotFound
from patron.core.visibility import can_access

router = Router(tags=["Approvals"])
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 422)
ADMIN_ONLY = "Administrators only. "


# --- schemas ---------------------------------------------------------------------------------


class StepIO(Schema):
    id: int | None = Field(None, description="Keep an existing step (leave out for a new one).")
    name: str
    conditions: dict[str, Any] = Field(
        default_factory=dict, description="Skip the step unless these hold (workflow format)."
    )
    approver_kind: str = Field(description="One of: " + ", ".join(ApproverKind.values) + ".")
    approver_user: int | None = None
    approver_role: int | None = None
    approver_queue: int | None = None
    decision_mode: str = Field(
        DecisionMode.FIRST, description="One of: " + ", ".join(DecisionMode.values) + "."
    )
    timeout_hours: int | None = Field(None, description="At least 1; empty: no timeout.")
    escalation: str = Field(
        EscalationAction.NONE, description="One of: " + ", ".join(EscalationAction.values) + "."
    )
    escalate_to: int | None = None


class ProcessIn(Schema):
    name: str
    object_type: str = Field(description='A business object type, e.g. "orders.quote".')
    description: str = ""
    entry_conditions: dict[str, Any] = Field(default_factory=dict)
    lock_record: bool = True
    allow_recall: bool = True
    is_active: bool = True
    position: int = 0
    steps: list[StepIO]


class ProcessPatch(Schema):
    name: str | None = None
    object_type: str | None = None
    description: str | None = None
    entry_conditions: dict[str, Any] | None = None
    lock_record: bool | None = None
    allow_recall: bool | None = None
    is_active: bool | None = None
    position: int | None = None
    steps: list[StepIO] | None = Field(None, description="The full new list of steps, in order.")


class ProcessOut(Schema):
    id: int
    name: str
    object_type: str
    description: str
    entry_conditions: dict[str, Any]
    lock_record: bool
    allow_recall: bool
    is_active: bool
    position: int
    steps: list[StepIO]


class TaskOut(Schema):
    id: int
    request: int
    step: str
    approver: int
    approver_name: str
    status: str
    comment: str
    due_at: datetime.datetime | None
    decided_at: datetime.datetime | None
    escalated_from: int | None


class HistoryOut(Schema):
    action: str
    actor: int | None
    step: str
    comment: str
    at: datetime.datetime


class RequestOut(Schema):
    id: int
    process: int
    process_name: str
    object_type: str
    object_id: int
    status: str
    current_step: str | None
    submitted_by: int
    submitted_at: datetime.datetime
    comment: str
    decided_at: datetime.datetime | None
    tasks: list[TaskOut]
    history: list[HistoryOut]


class SubmitIn(Schema):
    object_type: str
    object_id: int
    process: int | None = Field(
        None, description="Leave out: the first active process that applies."
    )
    comment: str = ""


class DecideIn(Schema):
    approve: bool
    comment: str = ""


class RecallIn(Schema):
    comment: str = ""


class RecordRequestsParams(Schema):
    object_type: str
    object_id: int


# --- serialisers -----------------------------------------------------------------------------


def _step(step: ApprovalStep) -> dict[str, Any]:
    return {
        "id": step.pk,
        "name": step.name,
        "conditions": step.conditions,
        "approver_kind": step.approver_kind,
        "approver_user": step.approver_user_id,
        "approver_role": step.approver_role_id,
        "approver_queue": step.approver_queue_id,
        "decision_mode": step.decision_mode,
        "timeout_hours": step.timeout_hours,
        "escalation": step.escalation,
        "escalate_to": step.escalate_to_id,
    }


def _process(process: ApprovalProcess) -> dict[str, Any]:
    return {
        **{name: getattr(process, name) for name in approvals.PROCESS_FIELDS},
        "id": process.pk,
        "steps": [_step(step) for step in process.steps.all()],
    }


def _task(task: ApprovalTask) -> dict[str, Any]:
    return {
        "id": task.pk,
        "request": task.request_id,
        "step": task.step.name,
        "approver": task.approver_id,
        "approver_name": str(task.approver),
        "status": task.status,
        "comment": task.comment,
        "due_at": task.due_at,
        "decided_at": task.decided_at,
        "escalated_from": task.escalated_from_id,
    }


def _request(request: ApprovalRequest) -> dict[str, Any]:
    tasks = request.tasks.select_related("step", "approver").order_by("step__position", "id")
    return {
        "id": request.pk,
        "process": request.process_id,
        "process_name": request.process.name,
        "object_type": request.object_type,
        "object_id": request.object_id,
        "status": request.status,
        "current_step": request.current_step.name if request.current_step else None,
        "submitted_by": request.submitted_by_id,
        "submitted_at": request.submitted_at,
        "comment": request.comment,
        "decided_at": request.decided_at,
        "tasks": [_task(task) for task in tasks],
        "history": [
            {
                "action": row.action,
                "actor": row.actor_id,
                "step": row.step_name,
                "comment": row.comment,
                "at": row.at,
            }
            for row in request.history.order_by("at", "id")
        ],
    }


def _process_get(pk: int) -> ApprovalProcess:
    process = ApprovalProcess.objects.filter(pk=pk).first()
    if process is None:
        raise RecordNotFound("No such approval process.")
    return process


def _steps(steps: list[StepIO]) -> list[dict[str, Any]]:
    return [step.model_dump() for step in steps]


# --- processes -------------------------------------------------------------------------------


@router.get(
    "/approvals/processes",
    response={200: list[ProcessOut], **problem_responses(401, 403)},
    summary="List approval processes",
    description=ADMIN_ONLY,
    operation_id="approval_process_list",
)
def process_index(request: HttpRequest) -> list[dict[str, Any]]:
    request_admin(request, APPROVAL_PROCESSES)
    processes = list(ApprovalProcess.objects.prefetch_related("steps"))
    if approvals.seed_missing_processes(processes):
        processes = list(ApprovalProcess.objects.prefetch_related("steps"))
    return [_process(p) for p in processes]


@router.post(
    "/approvals/processes",
    response={201: ProcessOut, **WRITE_ERRORS},
    summary="Create an approval process",
    description=ADMIN_ONLY + "Approver kinds need their target: approver_user for user, "
    "approver_role for role, approver_queue for queue; the manager kind needs none.",
    operation_id="approval_process_create",
)
def process_create(request: HttpRequest, payload: ProcessIn) -> Status[Any]:
    user = request_admin(request, APPROVAL_PROCESSES)
    data = payload.model_dump()
    steps = _steps(payload.steps)
    data.pop("steps")
    process = approvals.approval_process_create(user=user, steps=steps, **data)
    return Status(201, _process(process))


@router.get(
    "/approvals/processes/{int:process_id}",
    response={200: ProcessOut, **problem_responses(401, 403, 404)},
    summary="Get an approval process",
    description=ADMIN_ONLY,
    operation_id="approval_process_get",
)
def process_detail(request: HttpRequest, process_id: int) -> dict[str, Any]:
    request_admin(request, APPROVAL_PROCESSES)
    return _process(_process_get(process_id))


@router.patch(
    "/approvals/processes/{int:process_id}",
    response={200: ProcessOut, **WRITE_ERRORS},
    summary="Change an approval process",
    description=ADMIN_ONLY + "Send only the fields to change; steps replace the list.",
    operation_id="approval_process_update",
)
def process_update(request: HttpRequest, process_id: int, payload: ProcessPatch) -> dict[str, Any]:
    user = request_admin(request, APPROVAL_PROCESSES)
    process = _process_get(process_id)
    data = payload.model_dump(include=payload.model_fields_set)
    steps = _steps(payload.steps) if payload.steps is not None else None
    data.pop("steps", None)
    process = approvals.approval_process_update(user=user, process=process, steps=steps, **data)
    return _process(process)


@router.delete(
    "/approvals/processes/{int:process_id}",
    response={204: None, **WRITE_ERRORS},
    summary="Delete an approval process without requests",
    description=ADMIN_ONLY + "A process with requests keeps its history: deactivate it.",
    operation_id="approval_process_delete",
)
def process_delete(request: HttpRequest, process_id: int) -> Status[None]:
    user = request_admin(request, APPROVAL_PROCESSES)
    approvals.approval_process_delete(user=user, process=_process_get(process_id))
    return Status(204, None)


# --- requests --------------------------------------------------------------------------------


@router.post(
    "/approvals/requests",
    response={201: RequestOut, **WRITE_ERRORS},
    summary="Submit a record for approval",
    description="Needs edit access to the record. Without a process, the first active process "
    "for the record's type whose entry criteria hold is used.",
    operation_id="approval_submit",
)
def request_submit(request: HttpRequest, payload: SubmitIn) -> Status[Any]:
    user = request_user(request)
    record = approvals.record_for(payload.object_type, payload.object_id)
    if record is None or not can_access(user, record, Action.READ):
        raise RecordNotFound("No such record.")
    process = None
    if payload.process is not None:
        process = _process_get(payload.process)
    approval = approvals.approval_start(
        user=user, record=record, process=process, comment=payload.comment
    )
    return Status(201, _request(approvals.request_get(user=user, pk=approval.pk)))


@router.get(
    "/approvals/requests",
    response={200: list[RequestOut], **problem_responses(401, 404, 422)},
    summary="A record's approval requests, newest first",
    operation_id="approval_request_list",
)
def request_index(
    request: HttpRequest, params: Query[RecordRequestsParams]
) -> list[dict[str, Any]]:
    user = request_user(request)
    record = approvals.record_for(params.object_type, params.object_id)
    if record is None or not can_access(user, record, Action.READ):
        raise RecordNotFound("No such record.")
    rows = ApprovalRequest.objects.filter(
        object_type=params.object_type, object_id=params.object_id
    ).select_related("process", "current_step")
    return [_request(row) for row in rows]


@router.get(
    "/approvals/requests/{int:request_id}",
    response={200: RequestOut, **problem_responses(401, 404)},
    summary="Get an approval request with its tasks and history",
    operation_id="approval_request_get",
)
def request_detail(request: HttpRequest, request_id: int) -> dict[str, Any]:
    return _request(approvals.request_get(user=request_user(request), pk=request_id))


@router.post(
    "/approvals/requests/{int:request_id}/recall",
    response={200: RequestOut, **WRITE_ERRORS},
    summary="Recall a pending request (the submitter only)",
    operation_id="approval_recall",
)
def request_recall(request: HttpRequest, request_id: int, payload: RecallIn) -> dict[str, Any]:
    user = request_user(request)
    approval = approvals.request_get(user=user, pk=request_id)
    approvals.approval_recall(user=user, request=approval, comment=payload.comment)
    return _request(approvals.request_get(user=user, pk=request_id))


# --- my tasks --------------------------------------------------------------------------------


@router.get(
    "/approvals/tasks",
    response={200: Page[TaskOut], **problem_responses(400, 401, 422)},
    summary="My approval tasks",
    description="Sorts: " + ", ".join(TASK_SORTS) + f" (default {DEFAULT_TASK_SORT}).",
    operation_id="approval_task_list",
    openapi_extra={"parameters": filter_parameters(ApprovalTaskFilter)},
)
def task_index(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    user = request_user(request)
    sort, columns = sort_columns(params.sort, TASK_SORTS, DEFAULT_TASK_SORT)
    rows, next_cursor = keyset_page(
        filtered(request, my_tasks(user), ApprovalTaskFilter),
        sort=sort,
        columns=columns,
        limit=params.limit,
        cursor=params.cursor,
    )
    return page_body([_task(task) for task in rows], next_cursor)


@router.post(
    "/approvals/tasks/{int:task_id}/decide",
    response={200: RequestOut, **WRITE_ERRORS},
    summary="Approve or reject (the task's approver only)",
    operation_id="approval_decide",
)
def task_decide(request: HttpRequest, task_id: int, payload: DecideIn) -> dict[str, Any]:
    user = request_user(request)
    task = approvals.task_get(user=user, pk=task_id)
    approval = approvals.approval_decide(
        user=user, task=task, approve=payload.approve, comment=payload.comment
    )
    return _request(approvals.request_get(user=user, pk=approval.pk))
