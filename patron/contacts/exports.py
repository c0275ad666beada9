"""The CSV export columns of accounts and contacts (the job itself is core.exports)."""

from __future__ import annotations

from patron.contacts.filters import ACCOUNT_SORTS, CONTACT_SORTS, AccountFilter, ContactFilter
from patron.contacts.models import Account, Contact
from patron.core.exports import ExportSpec, owner_email, register_export, team_name

ACCOUNT_EXPORT, CONTACT_EXPORT = (
    ExportSpec(
        model=Account,
        plural="accounts",
        filterset=AccountFilter,
        sorts=ACCOUNT_SORTS,
        related=("owner", "team", "parent"),
        columns=(
            ("id", "id"),
            ("name", "name"),
            ("kind", "kind"),
            ("industry", "industry"),
            ("tier", "tier"),
            ("owner", owner_email),
            ("team", team_name),
            ("parent_id", "parent_id"),
            ("parent", lambda r: r.parent.name if r.parent_id and r.parent else ""),
            ("email", "email"),
            ("phone", "phone"),
            ("website", "website"),
            ("domain", "domain"),
            ("employee_count", "employee_count"),
            ("annual_revenue", "annual_revenue"),
            ("revenue_currency", "revenue_currency"),
            ("year_established", "year_established"),
            ("billing_street", "billing_street"),
            ("billing_city", "billing_city"),
            ("billing_region", "billing_region"),
            ("billing_postal_code", "billing_postal_code"),
            ("billing_country", "billing_country"),
            ("description", "description"),
            ("created_at", "created_at"),
            ("updated_at", "updated_at"),
        ),
    ),
    ExportSpec(
        model=Contact,
        plural="contacts",
        filterset=ContactFilter,
        sorts=CONTACT_SORTS,
        related=("owner", "team", "account"),
        columns=(
            ("id", "id"),
            ("salutation", "salutation"),
            ("first_name", "first_name"),
            ("last_name", "last_name"),
            ("title", "title"),
            ("department", "department"),
            ("account_id", "account_id"),
            ("account", lambda r: r.account.name if r.account_id and r.account else ""),
            ("email", "email"),
            ("phone", "phone"),
            ("language", "language"),
            ("time_zone", "time_zone"),
            ("birthdate", "birthdate"),
            ("do_not_call", "do_not_call"),
            ("email_opt_out", "email_opt_out"),
            ("owner", owner_email),
            ("team", team_name),
            ("description", "description"),
            ("created_at", "created_at"),
            ("updated_at", "updated_at"),
        ),
    ),
)


def register_exports() -> None:
    register_export(ACCOUNT_EXPORT)
    register_export(CONTACT_EXPORT)
