"""Wire approvals into the other apps (called from AutomationConfig.ready)."""

from __future__ import annotations

from patron.automation import approval_services, approval_tasks
from patron.automation.approval_quotes import register_quote_approval
from patron.automation.approval_steps import register_approval_step_and_events
from patron.automation.approval_timeline import register_approval_timeline
from patron.automation.approval_views import register_approval_ui
from patron.core.records import register_write_guard

# Imported for its Celery task (autodiscovery only reads tasks.py modules).
ESCALATION_TASK = approval_tasks.approval_escalate


def register_approvals() -> None:
    register_write_guard(approval_services.approval_write_guard)
    register_approval_step_and_events()
    register_approval_timeline()
    register_approval_ui()
    register_quote_approval()
