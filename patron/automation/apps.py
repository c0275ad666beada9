from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "patron.automation"
    label = "automation"
    verbose_name = "Automation"

    def ready(self) -> None:
        from patron.automation import engine, steps, triggers
        from patron.core import events

        triggers.register_builtin_triggers()
        triggers.register_record_events()
        steps.register_builtin_steps()
        events.subscribe("*", engine.on_event)
        from patron.automation.views import register_pages

        register_pages()
        from patron.automation.webhook_setup import register_webhooks

        register_webhooks()
        from patron.automation.approval_setup import register_approvals

        register_approvals()
