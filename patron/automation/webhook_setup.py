"""Start-up wiring of outbound webhooks (called from AutomationConfig.ready)."""

from __future__ import annotations


def register_webhooks() -> None:
    # The task module is imported so the worker knows its tasks (autodiscovery reads tasks.py).
    from patron.automation import webhook_services, webhook_tasks  # noqa: F401
    from patron.core import events
    from patron.core.context_processors import NavItem, register_nav_item

    events.subscribe("*", webhook_services.on_event)
    register_nav_item(
        NavItem(area="Admin", label="Webhooks", url_name="webhooks:list", admin_only=True, order=60)
    )
