"""The issue's customer-360 journey in a real browser: a company with a child company and two
contacts with roles, a call and a meeting logged from the child's page, both on the parent's
timeline, the org chart, and a vCard exported and imported back."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from patron.contacts.models import Contact
from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default
from tests.e2e.conftest import ALL_ACTIONS, check_page, screenshot
from tests.e2e.test_records import SAVE, click_new, field, open_list

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def activity_rights(e2e_user: Any) -> None:
    grant(e2e_user.role, "activities.activity", *ALL_ACTIONS)
    set_org_default("activities.activity", OrgWideAccess.PRIVATE)


def create_account(page: Page, name: str, parent: str = "") -> None:
    open_list(page, "account", "Accounts")
    click_new(page, "account")
    field(page, "Name").fill(name)
    if parent:
        field(page, "Parent account").select_option(label=parent)
    page.get_by_role("button", name=SAVE).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def create_contact(page: Page, first: str, last: str, account: str) -> None:
    open_list(page, "contact", "Contacts")
    click_new(page, "contact")
    field(page, "First name").fill(first)
    field(page, "Last name").fill(last)
    field(page, "Account").select_option(label=account)
    page.get_by_role("button", name=SAVE).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{first} {last}")


def give_role(page: Page, contact: str, role: str, reports_to: str = "") -> None:
    """On the account page, edit the contact's relation and tick one role."""
    page.get_by_role("link", name=f"Edit {contact}'s relation").click()
    page.get_by_label(role, exact=True).check()
    if reports_to:
        field(page, "Reports to").select_option(label=reports_to)
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def quick_add(page: Page, kind: str, fill: dict[str, str]) -> None:
    """Log an activity from the current record's "Log an activity" card, staying on the page."""
    card = page.locator("#quick-add")
    address = page.url
    card.get_by_role("link", name=kind, exact=True).click()
    for label, value in fill.items():
        card.get_by_label(re.compile(rf"^{re.escape(label)}\s*\*?\s*(\(required\))?$")).fill(value)
    card.get_by_role("button", name=f"Log {kind.lower()}").click()
    expect(card.get_by_role("status")).to_contain_text(kind)
    assert page.url == address


def test_company_with_child_contacts_activities_timeline_org_chart_and_vcard(
    logged_in_page: Page, e2e_user: Any, activity_rights: None, tmp_path: Path
) -> None:
    page = logged_in_page
    create_account(page, "Acme Group")
    create_account(page, "Acme Rockets", parent="Acme Group")
    create_contact(page, "Ada", "Boss", "Acme Rockets")
    create_contact(page, "Ray", "Report", "Acme Rockets")

    page.get_by_role("link", name="Acme Rockets").first.click()
    give_role(page, "Ada Boss", "Decision maker")
    give_role(page, "Ray Report", "Influencer", reports_to="Ada Boss")
    relations = page.locator("section", has=page.get_by_role("heading", name="Contacts and roles"))
    expect(relations).to_contain_text("Decision maker")
    expect(relations).to_contain_text("Influencer")

    quick_add(page, "Call", {"Subject": "Discovery call with Ada"})
    quick_add(
        page,
        "Appointment",
        {
            "Subject": "Launch-site visit",
            "Starts": "2026-12-01T10:00",
            "Ends": "2026-12-01T11:30",
            "Location": "Cape Rocket",
        },
    )
    # The card's timeline refreshes itself after each quick-add.
    timeline = page.locator("#timeline-card")
    expect(timeline).to_contain_text("Discovery call with Ada")
    expect(timeline).to_contain_text("Launch-site visit")
    screenshot(page, "account-quick-add-and-timeline")
    check_page(page)

    page.get_by_role("link", name="Acme Group").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Group")
    parent_timeline = page.locator("#timeline-card")
    expect(parent_timeline).to_contain_text("Discovery call with Ada")
    expect(parent_timeline).to_contain_text("Launch-site visit")
    screenshot(page, "account-timeline-with-children")
    check_page(page)

    page.get_by_role("link", name="Acme Rockets").first.click()
    page.get_by_role("link", name="Org chart").click()
    chart = page.locator("main")
    expect(chart).to_contain_text("Ada Boss")
    expect(chart).to_contain_text("Ray Report")
    check_page(page)

    page.go_back()
    page.get_by_role("link", name="Ada Boss").first.click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export vCard").click()
    card_file = tmp_path / "ada.vcf"
    download_info.value.save_as(card_file)
    text = card_file.read_text(encoding="utf-8")
    assert text.startswith("BEGIN:VCARD")
    assert "VERSION:4.0" in text
    assert "N:Boss;Ada" in text

    page.goto("/contacts/vcard/import/")
    page.get_by_label(re.compile(r"^(vcard )?file", re.IGNORECASE)).set_input_files(str(card_file))
    page.get_by_role("button", name=re.compile(r"^import", re.IGNORECASE)).click()
    expect(page.locator("main")).to_contain_text(re.compile(r"imported|1 contact", re.IGNORECASE))
    check_page(page)
    assert Contact.objects.filter(first_name="Ada", last_name="Boss").count() == 2
