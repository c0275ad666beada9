"""The CSV export columns of leads (the job itself is core.exports)."""

from __future__ import annotations

from patron.core.exports import ExportSpec, owner_email, register_export, team_name
from patron.leads.filters import LEAD_SORTS, LeadFilter
from patron.leads.models import Lead

LEAD_EXPORT = ExportSpec(
    model=Lead,
    plural="leads",
    filterset=LeadFilter,
    sorts=LEAD_SORTS,
    related=("owner", "team", "queue"),
    columns=(
        ("id", "id"),
        ("salutation", "salutation"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("title", "title"),
        ("email", "email"),
        ("phone", "phone"),
        ("mobile", "mobile"),
        ("company", "company"),
        ("website", "website"),
        ("domain", "domain"),
        ("industry", "industry"),
        ("employee_count", "employee_count"),
        ("annual_revenue", "annual_revenue"),
        ("street", "street"),
        ("city", "city"),
        ("region", "region"),
        ("postal_code", "postal_code"),
        ("country", "country"),
        ("language", "language"),
        ("source", "source"),
        ("source_detail", "source_detail"),
        ("campaign", "campaign"),
        ("status", "status"),
        ("disqualification_reason", "disqualification_reason"),
        ("score", "score"),
        ("owner", owner_email),
        ("team", team_name),
        ("queue", lambda r: r.queue.name if r.queue_id and r.queue else ""),
        ("email_opt_out", "email_opt_out"),
        ("opt_in_state", "opt_in_state"),
        ("converted_at", "converted_at"),
        ("converted_account_id", "converted_account_id"),
        ("converted_contact_id", "converted_contact_id"),
        ("converted_opportunity_id", "converted_opportunity_id"),
        ("archived_at", "archived_at"),
        ("created_at", "created_at"),
        ("updated_at", "updated_at"),
    ),
)


def register_exports() -> None:
    register_export(LEAD_EXPORT)
