"""How opportunities appear in global search (see patron.core.search).

The opportunity services do not index: the entries follow the record events (delivered after
commit), and an account's rename reindexes its opportunities, whose text quotes its name.
"""

from __future__ import annotations

from typing import Any

from patron.core import events, search
from patron.pipeline.models import Opportunity


def describe_opportunity(opportunity: Opportunity) -> tuple[str, str, str]:
    account = opportunity.account if opportunity.account_id else None
    account_name = account.name if account else ""
    stage_name = opportunity.stage.name if opportunity.stage_id else ""
    subtitle = " · ".join(p for p in (account_name, stage_name, str(opportunity.close_date)) if p)
    text = " ".join(
        dict.fromkeys(p for p in (opportunity.name, account_name, opportunity.next_step) if p)
    )
    return opportunity.name, subtitle, text


def _reindex(event: str, payload: dict[str, Any]) -> None:
    opportunity = (
        Opportunity.all_objects.select_related("account", "stage").filter(pk=payload["pk"]).first()
    )
    if opportunity is None:
        return
    if opportunity.deleted_at is not None:
        search.unindex_record(opportunity)
    else:
        search.index_record(opportunity)


def _account_renamed(event: str, payload: dict[str, Any]) -> None:
    if "name" not in (payload.get("changes") or {}):
        return
    search.index_records(
        Opportunity.objects.filter(account_id=payload["pk"]).select_related("account", "stage")
    )


def register_search() -> None:
    search.register(
        Opportunity,
        describe_opportunity,
        url=lambda pk: f"/opportunities/{pk}/",
        label="Opportunities",
        prefetch=("account", "stage"),
    )
    for verb in ("created", "updated", "deleted", "restored"):
        events.subscribe(f"opportunity.{verb}", _reindex)
    events.subscribe("account.updated", _account_renamed)
