"""The CSV export columns of opportunities (the job itself is core.exports)."""

from __future__ import annotations

from patron.core.exports import ExportSpec, owner_email, register_export, team_name
from patron.pipeline.filters import OPPORTUNITY_SORTS, OpportunityFilter
from patron.pipeline.models import Opportunity

OPPORTUNITY_EXPORT = ExportSpec(
    model=Opportunity,
    plural="opportunities",
    filterset=OpportunityFilter,
    sorts=OPPORTUNITY_SORTS,
    related=("owner", "team", "account", "pipeline", "stage", "loss_reason"),
    columns=(
        ("id", "id"),
        ("name", "name"),
        ("account_id", "account_id"),
        ("account", lambda r: r.account.name if r.account_id and r.account else ""),
        ("pipeline", lambda r: r.pipeline.name),
        ("stage", lambda r: r.stage.name),
        ("amount", "amount"),
        ("currency", "currency"),
        ("amount_org", "amount_org"),
        ("close_date", "close_date"),
        ("probability", "probability"),
        ("forecast_category", "forecast_category"),
        ("is_closed", "is_closed"),
        ("is_won", "is_won"),
        ("closed_on", "closed_on"),
        ("loss_reason", lambda r: r.loss_reason.name if r.loss_reason_id else ""),
        ("next_step", "next_step"),
        ("source", "source"),
        ("owner", owner_email),
        ("team", team_name),
        ("created_at", "created_at"),
        ("updated_at", "updated_at"),
    ),
)


def register_exports() -> None:
    register_export(OPPORTUNITY_EXPORT)
