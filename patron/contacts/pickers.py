"""Record pickers for accounts and contacts (see patron.core.pickers)."""

from __future__ import annotations

from patron.contacts.models import Account, Contact
from patron.core.pickers import model_picker, register_picker


def _account_hint(account: Account) -> str:
    return " · ".join(p for p in (account.industry, account.billing_city) if p)


def _contact_hint(contact: Contact) -> str:
    account_name = contact.account.name if contact.account is not None else ""
    return " · ".join(p for p in (contact.title, account_name) if p)


def register_pickers() -> None:
    register_picker(
        model_picker(Account, label_plural="accounts", name_fields=("name",), hint=_account_hint)
    )
    register_picker(
        model_picker(
            Contact,
            label_plural="contacts",
            name_fields=("last_name", "first_name"),
            hint=_contact_hint,
            select_related=("account",),
        )
    )
