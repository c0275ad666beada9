"""Accounts as a territory subject, and the visibility territory membership gives on them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from patron.contacts.models import Account
from patron.territories.registry import TerritorySubject, register_territory_subject
from patron.territories.visibility import register_territory_visibility


def account_attributes(account: Account) -> Mapping[str, Any]:
    return {
        "country": account.billing_country,
        "region": account.billing_region,
        "postal_code": account.billing_postal_code,
        "industry": account.industry,
        "employee_count": account.employee_count,
        "annual_revenue": account.annual_revenue,
    }


def register_accounts() -> None:
    register_territory_subject(
        TerritorySubject(
            object_type="contacts.account",
            model=Account,
            attributes=account_attributes,
            label="Accounts",
        )
    )
    register_territory_visibility(Account)
