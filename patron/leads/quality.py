"""Data-quality checks for leads (registered from ``LeadsConfig.ready``)."""

from __future__ import annotations

from patron.core.quality import (
    MISSING,
    QualityCheck,
    blank,
    malformed_contact_point_checks,
    register_quality_check,
)
from patron.leads.models import Lead


def register_quality() -> None:
    for check in (
        QualityCheck(
            key="lead_no_email",
            model=Lead,
            label="Leads without an email",
            kind=MISSING,
            condition=lambda: blank("email"),
            fields=("email",),
            hint="Add an email address on each lead.",
            order=10,
        ),
        QualityCheck(
            key="lead_no_company",
            model=Lead,
            label="Leads without a company",
            kind=MISSING,
            condition=lambda: blank("company"),
            fields=("company",),
            hint="Add the company on each lead.",
            order=20,
        ),
        *malformed_contact_point_checks(Lead, key_prefix="lead", plural="Leads", order=30),
    ):
        register_quality_check(check)
