"""Data management in a real browser: find duplicates with a scan and merge them field by
field, the privacy journey (consent per purpose, export archive, anonymise) and the data
quality page with a bulk fix. Axe and phone width on every page; keyboard where it matters."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from patron.activities.models import Activity, ActivityLink
from patron.contacts.choices import ConsentSource, ConsentStatus
from patron.contacts.models import Account, Contact, ContactConsent
from patron.contacts.related_list_services import consent_record
from patron.data_exchange.models import DuplicateRule, MergeRecord, PrivacyRequest
from patron.users.tests.factories import UserFactory
from tests.e2e.conftest import PASSWORD, check_page, log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL = "dana.data@example.com"


@pytest.fixture
def admin(transactional_db: None) -> Any:
    return UserFactory(is_superuser=True, is_staff=True, email=ADMIN_EMAIL, full_name="Dana Data")


def test_scan_finds_duplicates_and_merge_keeps_the_chosen_value(page: Page, admin: Any) -> None:
    # The seeded rules do not survive the flush between browser tests; make sure of the one
    # this journey relies on.
    DuplicateRule.objects.get_or_create(
        object_type="contacts.contact",
        name="Same email",
        defaults={"exact_keys": ["email"], "fuzzy_fields": [], "threshold": 100},
    )
    keep = Contact.objects.create(
        owner=admin, first_name="Ann", last_name="Lee", email="ann@acme.example", title="Engineer"
    )
    gone = Contact.objects.create(
        owner=admin, first_name="Anne", last_name="Lee", email="ann@acme.example", title="CTO"
    )
    call = Activity.objects.create(
        owner=admin, kind="call", subject="Intro call", occurred_at=timezone.now()
    )
    contact_type = ContentType.objects.get_for_model(Contact)
    ActivityLink.objects.create(activity=call, content_type=contact_type, object_id=gone.pk)

    log_in(page, email=ADMIN_EMAIL, password=PASSWORD)
    page.goto("/data/duplicates/")
    expect(page.get_by_role("heading", name="No candidate duplicates")).to_be_visible()
    check_page(page)
    page.get_by_role("button", name="Scan all objects now").click()

    expect(page.get_by_role("progressbar", name="Job progress")).to_be_visible()
    expect(page.locator("#job-progress")).to_contain_text(
        re.compile(r"100%.*Done\s+1 new candidate groups", re.DOTALL)
    )
    check_page(page)

    page.goto("/data/duplicates/")
    group = page.locator("tbody tr").filter(has_text="Anne Lee")
    expect(group).to_contain_text("Ann Lee")
    expect(group).to_contain_text("100%")
    check_page(page)
    screenshot(page, "duplicates-list")
    group.get_by_role("link", name="Merge…").click()

    expect(page.get_by_role("heading", name="Merge contacts")).to_be_visible()
    keep_title = page.get_by_role("radio", name=f"Title: keep the value of {keep}", exact=True)
    expect(keep_title).to_be_checked()
    check_page(page)
    screenshot(page, "duplicates-merge")
    # Keyboard only: the arrow key moves the choice to the second record's value.
    keep_title.focus()
    page.keyboard.press("ArrowRight")
    expect(
        page.get_by_role("radio", name=f"Title: keep the value of {gone}", exact=True)
    ).to_be_checked()
    page.get_by_role("button", name="Merge", exact=True).focus()
    page.keyboard.press("Enter")

    expect(page.get_by_text(re.compile(r"Merged 1 record\(s\) into “Ann Lee”"))).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ann Lee")
    expect(page.locator("main")).to_contain_text("CTO")
    expect(page.locator("main")).to_contain_text("Intro call")
    check_page(page)
    keep.refresh_from_db()
    assert keep.title == "CTO"
    assert not Contact.objects.filter(pk=gone.pk).exists()
    assert Contact.all_objects.get(pk=gone.pk).deleted_at is not None
    assert ActivityLink.objects.filter(
        activity=call, content_type=contact_type, object_id=keep.pk
    ).exists()
    assert MergeRecord.objects.get().survivor_id == keep.pk

    page.goto("/data/duplicates/")
    expect(page.get_by_role("heading", name="No candidate duplicates")).to_be_visible()


def _request(page: Page, contact: Contact, kind_link: str, button: str) -> None:
    """From the contact's Privacy card: open the form, review, confirm."""
    page.goto(reverse("contacts:contact_detail", args=[contact.pk]))
    page.locator("#privacy-card").get_by_role("link", name=kind_link).click()
    expect(page.get_by_label("Contact (id)")).to_have_value(str(contact.pk))
    page.get_by_label("Reason or reference").fill("Ticket 4711")
    check_page(page)
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Check before you go on"))).to_be_visible()
    check_page(page)
    page.get_by_role("button", name=button).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Privacy request #")
    expect(page.locator("#privacy-progress")).to_contain_text("Done")


def test_consent_export_archive_and_anonymise(page: Page, admin: Any, tmp_path: Path) -> None:
    acme = Account.objects.create(owner=admin, name="Acme Rockets", industry="Aerospace")
    person = Contact.objects.create(
        owner=admin,
        account=acme,
        first_name="Priya",
        last_name="Patel",
        email="priya@acme.example",
        title="Chief Buyer",
    )
    consent_record(
        user=admin,
        contact=person,
        purpose="newsletter",
        status=ConsentStatus.GRANTED,
        source=ConsentSource.WEB_FORM,
        evidence="https://acme.example/signup",
    )

    log_in(page, email=ADMIN_EMAIL, password=PASSWORD)
    page.goto(reverse("contacts:contact_detail", args=[person.pk]))
    panel = page.locator("#consent-panel")
    expect(panel).to_contain_text(re.compile(r"Newsletter\s*Granted"))
    check_page(page)
    panel.get_by_text("Record an answer").click()
    panel.get_by_role("combobox", name=re.compile(r"^Purpose")).select_option(label="Newsletter")
    panel.get_by_role("combobox", name=re.compile(r"^Answer")).select_option(label="Withdrawn")
    panel.get_by_role("combobox", name=re.compile(r"^Source")).select_option(label="Email")
    panel.get_by_role("textbox", name=re.compile(r"^Source detail")).fill("Unsubscribe reply")
    panel.get_by_role("button", name="Record answer").click()
    panel = page.locator("#consent-panel")
    expect(panel.get_by_role("status")).to_have_text("Answer recorded.")
    expect(panel).to_contain_text(re.compile(r"Newsletter\s*Withdrawn"))
    check_page(page)
    screenshot(page, "privacy-consent")
    consent = ContactConsent.objects.get(contact=person, purpose="newsletter")
    assert (consent.status, consent.source) == ("withdrawn", "email")

    _request(page, person, "Export their data", "Start the export")
    check_page(page)
    screenshot(page, "privacy-export")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the archive (zip)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert "README.txt" in archive.namelist()
    contacts = json.loads(archive.read("contacts.json"))
    assert "priya@acme.example" in json.dumps(contacts)

    _request(page, person, "Anonymise…", "Yes, anonymise this person")
    expect(page.locator("#privacy-progress")).to_contain_text("Anonymised")
    check_page(page)
    page.get_by_role("link", name=f"contact #{person.pk}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Anonymous person #{person.pk}")
    expect(page.locator("main")).not_to_contain_text("priya@acme.example")
    expect(page.locator("main")).to_contain_text("Chief Buyer")
    recent = page.get_by_role("list", name="Privacy requests about this person")
    expect(recent).to_contain_text("anonymise · Done")
    expect(recent).to_contain_text("export everything held · Done")
    check_page(page)
    screenshot(page, "privacy-anonymised")
    requests = PrivacyRequest.objects.order_by("pk")
    assert [(r.kind, r.status, r.reason) for r in requests] == [
        ("export", "done", "Ticket 4711"),
        ("anonymise", "done", "Ticket 4711"),
    ]


def test_quality_lists_accounts_missing_industry_and_bulk_edit_fixes_them(
    page: Page, admin: Any
) -> None:
    for name in ("Borealis Ltd", "Cobalt plc"):
        Account.objects.create(owner=admin, name=name, industry="", billing_country="GB")
    Account.objects.create(owner=admin, name="Delta GmbH", industry="", billing_country="DE")
    Account.objects.create(owner=admin, name="Echo SA", industry="Retail", billing_country="FR")

    log_in(page, email=ADMIN_EMAIL, password=PASSWORD)
    page.goto("/data/quality/")
    accounts = page.locator("section").filter(
        has=page.get_by_role("heading", name="Accounts", exact=True)
    )
    check = accounts.locator("#check-account_no_industry")
    expect(check).to_contain_text("Accounts without an industry")
    check_page(page)
    screenshot(page, "data-quality")
    check.get_by_role("link", name=re.compile(r"^3 accounts without an industry")).click()

    results = page.locator("#list-results")
    for name in ("Borealis Ltd", "Cobalt plc", "Delta GmbH"):
        expect(results.get_by_role("link", name=name)).to_be_visible()
    expect(results).not_to_contain_text("Echo SA")
    check_page(page)
    # Keyboard: tick the two rows with the space bar.
    for name in ("Borealis Ltd", "Cobalt plc"):
        results.get_by_label(f"Select {name}", exact=True).focus()
        page.keyboard.press("Space")
    expect(results.get_by_text("2 selected")).to_be_visible()
    results.get_by_label("Set industry").fill("Manufacturing")
    screenshot(page, "data-quality-bulk-edit")
    results.get_by_role("button", name="Apply to selected").click()

    results = page.locator("#list-results")
    expect(results.get_by_role("link", name="Delta GmbH")).to_be_visible()
    expect(results).not_to_contain_text("Borealis Ltd")
    expect(results).not_to_contain_text("Cobalt plc")
    check_page(page)
    fixed = Account.objects.filter(industry="Manufacturing").values_list("name", flat=True)
    assert set(fixed) == {"Borealis Ltd", "Cobalt plc"}

    page.goto("/data/quality/")
    expect(
        page.get_by_role("link", name=re.compile(r"^1 accounts without an industry"))
    ).to_be_visible()
