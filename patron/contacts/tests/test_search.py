"""What accounts and contacts put into the search index."""

from __future__ import annotations

import pytest

from patron.contacts.search import describe_account, describe_contact, phone_terms
from patron.contacts.services import account_create, contact_create
from patron.core.models import SearchEntry

pytestmark = pytest.mark.django_db


def test_phone_terms_cover_e164_digits_and_national_forms():
    terms = phone_terms("+14155550100")
    assert {"+14155550100", "14155550100", "4155550100", "(415) 555-0100"} <= set(terms)
    assert "02079460958" in phone_terms("+442079460958")
    assert phone_terms("") == []


def test_account_text_has_name_domain_email_phone_and_website(rep):
    account = account_create(
        user=rep, name="Acme", website="https://www.acme.com/about", email="Sales@Acme.com",
        phone="+1 415 555 0100", industry="Software", billing_city="Oakland",
    )
    title, subtitle, text = describe_account(account)
    assert (title, subtitle) == ("Acme", "Software · acme.com · Oakland")
    for part in ("acme.com", "sales@acme.com", "4155550100", "+14155550100",
                 "https://www.acme.com/about"):
        assert part in text.split()


def test_contact_text_has_typed_emails_phones_domains_and_account(rep):
    account = account_create(user=rep, name="Acme Corporation")
    contact = contact_create(
        user=rep, first_name="Ana", last_name="Lee", title="CTO", email="ana@acme.com",
        phone="+44 20 7946 0958", account=account,
    )
    contact.emails.create(email="ana.lee@home.example")
    contact.phones.create(number="+14155550199")
    title, subtitle, text = describe_contact(contact)
    assert (title, subtitle) == ("Ana Lee", "CTO · Acme Corporation · ana@acme.com")
    words = text.split()
    for part in ("ana@acme.com", "acme.com", "ana.lee@home.example", "home.example",
                 "02079460958", "4155550199"):
        assert part in words
    assert "Acme Corporation" in text


def test_new_contact_entry_has_its_email_domain_and_phone_digits(rep):
    contact = contact_create(user=rep, last_name="Ng", email="ng@umbrella.org", phone="4155550123")
    entry = SearchEntry.objects.get(object_id=contact.pk, content_type__model="contact")
    assert "umbrella.org" in entry.text.split()
    assert "4155550123" in entry.text.split()
