"""Data-quality checks for accounts and contacts (registered from ``ContactsConfig.ready``)."""

from __future__ import annotations

from patron.contacts.models import Account, Contact
from patron.core.quality import (
    MISSING,
    QualityCheck,
    blank,
    malformed_contact_point_checks,
    register_quality_check,
)


def register_quality() -> None:
    for check in (
        QualityCheck(
            key="contact_no_reach",
            model=Contact,
            label="Contacts without email and phone",
            kind=MISSING,
            condition=lambda: blank("email") & blank("phone"),
            fields=("email", "phone"),
            hint="Add an email address or a phone number on each contact.",
            order=10,
        ),
        *malformed_contact_point_checks(
            Contact,
            key_prefix="contact",
            plural="Contacts",
            order=20,
            email_hint="Correct the address (name@example.com).",
            phone_hint="Enter the number with its country code, e.g. +44 20 7946 0000.",
        ),
        QualityCheck(
            key="account_no_industry",
            model=Account,
            label="Accounts without an industry",
            kind=MISSING,
            condition=lambda: blank("industry"),
            fields=("industry",),
            hint="Select them and use Set industry in the bulk bar.",
            order=10,
        ),
        QualityCheck(
            key="account_no_country",
            model=Account,
            label="Accounts without a country",
            kind=MISSING,
            condition=lambda: blank("billing_country"),
            fields=("billing_country",),
            hint="Add the billing country on each account.",
            order=20,
        ),
        *malformed_contact_point_checks(Account, key_prefix="account", plural="Accounts", order=30),
    ):
        register_quality_check(check)
