"""How accounts and contacts appear in global search (see patron.core.search)."""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers

from patron.contacts.models import Account, Competitor, Contact
from patron.core import search
from patron.core.values import email_domain, format_phone, phone_digits


def phone_terms(e164: str) -> list[str]:
    """The ways a number may be typed, so any of them finds it.

    E.164, its digits, the international and national formats and the national digits
    (with the trunk prefix, e.g. "02079460958"); search reduces a phone-like query to its
    digits, which is then a substring (or prefix) of one of these.
    """
    if not e164:
        return []
    terms = [e164, phone_digits(e164), format_phone(e164)]
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return list(dict.fromkeys(terms))
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    terms += [national, phone_digits(national), str(number.national_number)]
    return list(dict.fromkeys(t for t in terms if t))


def _join(parts: Iterable[str]) -> str:
    return " ".join(dict.fromkeys(p for p in parts if p))


def describe_account(account: Account) -> tuple[str, str, str]:
    subtitle = " · ".join(p for p in (account.industry, account.domain, account.billing_city) if p)
    text = _join([
        account.name,
        account.first_name,
        account.last_name,
        account.domain,
        account.email,
        email_domain(account.email),
        *phone_terms(account.phone),
        account.website,
    ])
    return account.name, subtitle, text


def describe_contact(contact: Contact) -> tuple[str, str, str]:
    account_name = contact.account.name if contact.account_id and contact.account else ""
    subtitle = " · ".join(p for p in (contact.title, account_name, contact.email) if p)
    emails = [contact.email, *(e.email for e in contact.emails.all())]
    phones = [contact.phone, *(p.number for p in contact.phones.all())]
    text = _join([
        contact.full_name,
        *emails,
        *(email_domain(e) for e in emails if e),
        *(term for number in phones for term in phone_terms(number)),
        account_name,
    ])
    return contact.full_name, subtitle, text


def describe_competitor(competitor: Competitor) -> tuple[str, str, str]:
    subtitle = " · ".join(p for p in (competitor.website, *competitor.product_list()[:3]) if p)
    text = _join([competitor.name, competitor.website, *competitor.product_list()])
    return competitor.name, subtitle, text


def _account_contacts(account: Account) -> Iterable[Contact]:
    """Contacts quote their account's name, so a renamed account reindexes them."""
    return account.contacts.select_related("account").prefetch_related("emails", "phones")


def register_search() -> None:
    search.register(
        Account,
        describe_account,
        url=lambda pk: f"/accounts/{pk}/",
        label="Accounts",
        dependents=_account_contacts,
    )
    search.register(
        Contact,
        describe_contact,
        url=lambda pk: f"/contacts/{pk}/",
        label="Contacts",
        prefetch=("account", "emails", "phones"),
    )
    search.register(
        Competitor,
        describe_competitor,
        url=lambda pk: f"/competitors/{pk}/",
        label="Competitors",
    )
