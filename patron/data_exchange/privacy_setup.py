"""Start-up wiring of privacy requests (called from DataExchangeConfig.ready)."""

from __future__ import annotations


def register() -> None:
    # The task module is imported so the worker knows its task (autodiscovery reads tasks.py).
    from patron.core.context_processors import NavItem, register_nav_item
    from patron.core.jobs import JobKind, register_job_kind
    from patron.data_exchange import privacy_tasks  # noqa: F401
    from patron.data_exchange.privacy_capture_consent import register_capture_consent
    from patron.data_exchange.privacy_services import PRIVACY_JOB_KIND
    from patron.data_exchange.privacy_views import register_privacy_panel

    register_job_kind(
        JobKind(
            kind=PRIVACY_JOB_KIND, label="Privacy request", url_name="data_exchange:privacy_job"
        )
    )
    register_nav_item(
        NavItem(
            area="Admin",
            label="Privacy requests",
            url_name="data_exchange:privacy_list",
            admin_only=True,
            order=70,
        )
    )
    register_privacy_panel()
    register_capture_consent()
