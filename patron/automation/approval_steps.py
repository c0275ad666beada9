"""The "start_approval" workflow step and the approval events in the workflow catalogue."""

from __future__ import annotations

from typing import Any

from patron.automation import approval_services as approvals
from patron.automation.models import ApprovalProcess, ApprovalRequest
from patron.automation.registry import (
    ConfigField,
    FieldErrors,
    StepContext,
    StepError,
    StepResult,
    StepType,
    register_event,
    register_step_type,
)
from patron.core.exceptions import PatronError


def _process(value: Any) -> ApprovalProcess | None:
    text = str(value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return ApprovalProcess.objects.filter(pk=int(text)).first()
    return ApprovalProcess.objects.filter(name=text).first()


def process_choices(object_type: str) -> list[tuple[str, str]]:
    """The active processes of ``object_type``, for the builder's select (by id)."""
    processes = ApprovalProcess.objects.filter(is_active=True).order_by("name", "id")
    if object_type:
        processes = processes.filter(object_type=object_type)
    return [(str(pk), name) for pk, name in processes.values_list("pk", "name")]


def validate_start_approval(config: dict[str, Any], object_type: str) -> FieldErrors:
    process = _process(config.get("process"))
    if process is None:
        return {"process": "Choose an approval process (its name or id)."}
    if process.object_type != object_type:
        return {
            "process": f"“{process}” approves {process.object_type} records, not {object_type}."
        }
    if not process.is_active:
        return {"process": f"“{process}” is not active."}
    return {}


def _existing(ctx: StepContext) -> ApprovalRequest | None:
    if ctx.run is None:
        return None
    return ApprovalRequest.objects.filter(workflow_run=ctx.run).first()


def _submitter(record: Any, actor: Any) -> Any:
    """The record's owner submits (so "the submitter's manager" is the owner's manager);
    without an active owner, the workflow's user."""
    owner = getattr(record, "owner", None)
    if owner is not None and owner.is_active:
        return owner
    return actor if getattr(actor, "pk", None) is not None else None


def execute_start_approval(ctx: StepContext) -> StepResult:
    record = ctx.record
    if record is None:
        raise StepError("The record this run is about no longer exists.", retryable=False)
    done = _existing(ctx)
    if done is not None:
        return StepResult(output={"request_id": done.pk, "status": done.status})
    process = _process(ctx.config.get("process"))
    if process is None:
        raise StepError("The approval process no longer exists.", retryable=False)
    submitter = _submitter(record, ctx.actor)
    if submitter is None:
        raise StepError(
            "Nobody to submit the approval as: the record has no active owner.", retryable=False
        )
    try:
        request = approvals.approval_submit(
            user=submitter,
            record=record,
            process=process,
            comment=str(ctx.config.get("comment") or ""),
            workflow_run=ctx.run,
        )
    except PatronError as error:
        raise StepError(error.detail, retryable=False) from error
    return StepResult(output={"request_id": request.pk, "status": request.status})


def describe_start_approval(ctx: StepContext) -> str:
    process = _process(ctx.config.get("process"))
    name = f"“{process}”" if process is not None else "an approval process"
    return f"Would submit {ctx.record or 'the record'} for approval with {name}."


def register_approval_step_and_events() -> None:
    register_step_type(
        StepType(
            key="start_approval",
            label="Start an approval process",
            fields=(
                ConfigField(
                    "process",
                    "Approval process",
                    "select",
                    required=True,
                    help_text="An active process for this record type (the API also takes "
                    "its name).",
                    dynamic_choices=process_choices,
                ),
                ConfigField("comment", "Comment for the approvers", "textarea"),
            ),
            validate=validate_start_approval,
            execute=execute_start_approval,
            describe=describe_start_approval,
            description="Submits the record to an approval process on behalf of its owner.",
            needs_record=True,
        )
    )
    for name, label in approvals.APPROVAL_EVENTS:
        register_event(name, label)
