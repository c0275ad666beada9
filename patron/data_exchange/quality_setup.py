"""Start-up wiring of the data-quality page (called from DataExchangeConfig.ready)."""

from __future__ import annotations


def register() -> None:
    from patron.core.context_processors import NavItem, register_nav_item

    register_nav_item(
        NavItem(area="Workspace", label="Data quality", url_name="data_exchange:quality", order=80)
    )
