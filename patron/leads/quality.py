"""Data-quality checks for leads (registered from ``LeadsConfig.ready``)."""

from __future__ import annotations

from patron.core.quality import (
    INVALID,
    MISSING,
    QualityCheck,
    blank,
    malformed_email,
    malformed_phone,
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
        QualityCheck(
            key="lead_bad_email",
            model=Lead,
            label="Leads with a malformed email",
            kind=INVALID,
            condition=lambda: malformed_email("email"),
            fields=("email",),
            order=30,
        ),
        QualityCheck(
            key="lead_bad_phone",
            model=Lead,
            label="Leads with a phone that does not parse",
            kind=INVALID,
            condition=lambda: malformed_phone("phone"),
            fields=("phone",),
            order=40,
        ),
    ):
        register_quality_check(check)
