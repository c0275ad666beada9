from __future__ import annotations

from patron.contacts.models import Account, Contact
from patron.core import search
from patron.core.values import format_phone, phone_digits


def _phone_terms(e164: str) -> str:
    """E.164, national digits and the formatted number, so any way of typing it matches."""
    if not e164:
        return ""
    digits = phone_digits(e164)
    return " ".join({e164, digits, format_phone(e164), phone_digits(format_phone(e164))})


def describe_account(account: Account) -> tuple[str, str, str]:
    subtitle = " · ".join(p for p in (account.industry, account.domain, account.billing_city) if p)
    text = " ".join(
        p for p in (account.name, account.domain, account.email, _phone_terms(account.phone),
                    account.website) if p
    )
    return account.name, subtitle, text


def describe_contact(contact: Contact) -> tuple[str, str, str]:
    subtitle = " · ".join(p for p in (contact.title, contact.email) if p)
    emails = " ".join(e.email for e in contact.emails.all())
    phones = " ".join(_phone_terms(p.number) for p in contact.phones.all())
    text = " ".join(
        p for p in (contact.full_name, contact.email, emails, _phone_terms(contact.phone), phones,
                    contact.email.rsplit("@", 1)[-1] if contact.email else "") if p
    )
    return contact.full_name, subtitle, text


def register_search() -> None:
    search.register(Account, describe_account)
    search.register(Contact, describe_contact)
