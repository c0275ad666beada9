"""Data-quality checks for accounts and contacts (registered from ``ContactsConfig.ready``)."""

from __future__ import annotations

from patron.contacts.models import Account, Contact
from patron.core.quality import (
    INVALID,
    MISSING,
    QualityCheck,
    blank,
    malformed_email,
    malformed_phone,
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
        QualityCheck(
            key="contact_bad_email",
            model=Contact,
            label="Contacts with a malformed email",
            kind=INVALID,
            condition=lambda: malformed_email("email"),
            fields=("email",),
            hint="Correct the address (name@example.com).",
            order=20,
        ),
        QualityCheck(
            key="contact_bad_phone",
            model=Contact,
            label="Contacts with a phone that does not parse",
            kind=INVALID,
            condition=lambda: malformed_phone("phone"),
            fields=("phone",),
            hint="Enter the number with its country code, e.g. +44 20 7946 0000.",
            order=30,
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
        QualityCheck(
            key="account_bad_email",
            model=Account,
            label="Accounts with a malformed email",
            kind=INVALID,
            condition=lambda: malformed_email("email"),
            fields=("email",),
            order=30,
        ),
        QualityCheck(
            key="account_bad_phone",
            model=Account,
            label="Accounts with a phone that does not parse",
            kind=INVALID,
            condition=lambda: malformed_phone("phone"),
            fields=("phone",),
            order=40,
        ),
    ):
        register_quality_check(check)
