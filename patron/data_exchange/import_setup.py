"""Start-up wiring of imports (called from DataExchangeConfig.ready)."""

from __future__ import annotations


def register() -> None:
    # The task module is imported so the worker knows its tasks (autodiscovery reads tasks.py).
    from patron.core.context_processors import NavItem, register_nav_item
    from patron.core.jobs import JobKind, register_job_kind
    from patron.data_exchange import import_tasks  # noqa: F401
    from patron.data_exchange.import_services import IMPORT_KIND, REVERT_KIND

    register_job_kind(
        JobKind(kind=IMPORT_KIND, label="Import", url_name="data_exchange:import_job")
    )
    register_job_kind(
        JobKind(kind=REVERT_KIND, label="Import revert", url_name="data_exchange:import_job")
    )
    register_nav_item(
        NavItem(
            area="Workspace", label="Import data", url_name="data_exchange:import_list", order=60
        )
    )
