"""Who may configure automation: administrators only, with one refusal per area, shared by
the services, selectors, pages and API handlers of the automation app."""

from patron.core.api.auth import request_admin
from patron.core.visibility import require_admin

WORKFLOWS = "Workflows are for administrators."
APPROVAL_PROCESSES = "Approval processes are configured by administrators."
WEBHOOKS = "Webhooks are managed by administrators."

__all__ = ["APPROVAL_PROCESSES", "WEBHOOKS", "WORKFLOWS", "request_admin", "require_admin"]
