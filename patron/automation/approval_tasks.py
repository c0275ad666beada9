"""The approval escalation task: thin and idempotent (each task escalates once)."""

from __future__ import annotations

from celery import shared_task

from patron.automation.approval_services import approval_escalate_due


@shared_task(name="automation.approval_escalate_due")
def approval_escalate() -> int:
    """Apply the step's escalation to pending approval tasks past their due time."""
    return approval_escalate_due()
