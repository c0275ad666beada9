"""Accounts and contacts end to end: create through the forms, find with the global search,
a stale edit refused with nothing overwritten, and the CSV export downloaded."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import openpyxl
import pytest
from django.urls import reverse
from playwright.sync_api import Locator, Page, expect

from patron.contacts.models import Account, Contact
from patron.contacts.services import account_create, contact_create
from tests.e2e.conftest import (
    PHONE,
    check_page,
    check_phone_width,
    screenshot,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SAVE = re.compile(r"^(save|create|save changes|update)", re.IGNORECASE)


def open_list(page: Page, key: str, heading: str) -> None:
    """Open the account or contact list (the left navigation is tested on its own)."""
    page.goto(reverse(f"contacts:{key}_list"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(heading)


def click_new(page: Page, noun: str) -> None:
    """Follow the page's own "New <noun>" link (an empty list repeats it in its empty state)."""
    new = re.compile(rf"^(new|add|create) {noun}", re.IGNORECASE)
    page.get_by_role("link", name=new).first.click()


def field(page: Page, label: str) -> Locator:
    """The form control labelled ``label``, whether or not it is marked required."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}\s*\*?\s*(\(required\))?$"))


def search_for(page: Page, text: str) -> None:
    """Submit the global search box and wait for that search's results page."""
    box = page.get_by_role("searchbox").first
    box.fill(text)
    box.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(urlencode({"q": text})) + "$"))


def test_create_account_and_contact_through_the_forms(logged_in_page: Page, e2e_user: Any) -> None:
    page = logged_in_page
    for name in ("Globex Corporation", "Initech", "Umbrella Group"):
        account_create(user=e2e_user, name=name, industry="Manufacturing")

    open_list(page, "account", "Accounts")
    check_page(page)
    screenshot(page, "accounts-list")

    click_new(page, "account")
    check_page(page)
    field(page, "Name").fill("Acme Rockets")
    field(page, "Industry").fill("Aerospace")
    field(page, "Phone").fill("(415) 555-0100")
    field(page, "Website").fill("https://acme-rockets.example")
    page.get_by_role("button", name=SAVE).click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Acme Rockets")
    check_page(page)
    account = Account.objects.get(name="Acme Rockets")
    assert account.owner == e2e_user
    assert account.domain == "acme-rockets.example"
    assert account.phone == "+14155550100"

    open_list(page, "contact", "Contacts")
    check_page(page)
    click_new(page, "contact")
    field(page, "First name").fill("Wile")
    field(page, "Last name").fill("Coyote")
    field(page, "Email").fill("Wile.Coyote@Acme-Rockets.example")
    field(page, "Phone").fill("+44 20 7946 0958")
    account_field = field(page, "Account")
    if account_field.evaluate("el => el.tagName") == "SELECT":
        account_field.select_option(label="Acme Rockets")
    else:
        account_field.fill("Acme Rockets")
        page.get_by_role("option", name="Acme Rockets").click()
    check_page(page)
    screenshot(page, "contact-form")
    page.get_by_role("button", name=SAVE).click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Wile Coyote")
    check_page(page)
    contact = Contact.objects.get(last_name="Coyote")
    assert contact.email == "wile.coyote@acme-rockets.example"
    assert contact.phone == "+442079460958"
    assert contact.account == account

    page.get_by_role("link", name="Acme Rockets").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Acme Rockets")
    # The contact is listed under Contacts and under Contacts and roles.
    expect(page.get_by_role("link", name="Wile Coyote", exact=True)).to_have_count(2)
    screenshot(page, "account-detail")


def test_global_search_finds_account_and_contact(logged_in_page: Page, e2e_user: Any) -> None:
    page = logged_in_page
    account = account_create(user=e2e_user, name="Acme Rockets", website="https://acme.example")
    contact_create(
        user=e2e_user,
        first_name="Wile",
        last_name="Coyote",
        email="wile@acme.example",
        phone="+44 20 7946 0958",
        account=account,
    )
    page.goto("/")

    search_for(page, "Acme")
    results = page.get_by_role("main")
    expect(results.get_by_role("link", name=re.compile("Acme Rockets"))).to_be_visible()
    check_page(page)
    screenshot(page, "search")

    for query in ("WILE@ACME.EXAMPLE", "020 7946 0958", "Coyote"):
        search_for(page, query)
        expect(results.get_by_role("link", name=re.compile("Wile Coyote"))).to_be_visible()

    results.get_by_role("link", name=re.compile("Wile Coyote")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Wile Coyote")


def test_stale_edit_shows_conflict_and_overwrites_nothing(
    logged_in_page: Page, new_page: Callable[[], Page], e2e_user: Any
) -> None:
    account = account_create(user=e2e_user, name="Acme Rockets", industry="Aerospace")
    first = logged_in_page
    second = new_page()
    for tab in (first, second):
        tab.goto("/")
        search_for(tab, "Acme Rockets")
        tab.get_by_role("main").get_by_role("link", name="Acme Rockets").first.click()
        tab.get_by_role("link", name=re.compile(r"^edit", re.IGNORECASE)).first.click()
        expect(field(tab, "Industry")).to_have_value("Aerospace")

    field(first, "Industry").fill("Rocketry")
    first.get_by_role("button", name=SAVE).click()
    expect(first.get_by_role("heading", level=1)).to_contain_text("Acme Rockets")

    field(second, "Industry").fill("Anvils")
    second.get_by_role("button", name=SAVE).click()

    expect(
        second.get_by_text(re.compile(r"changed|modified|conflict|someone else", re.I)).first
    ).to_be_visible()
    expect(field(second, "Industry")).to_have_value("Anvils")
    check_page(second)
    account.refresh_from_db()
    assert account.industry == "Rocketry"
    assert account.version == 2


def start_account_export(page: Page, file_format: str = "CSV") -> Locator:
    """Export the account list; the job runs at once (celery_eager): its download link."""
    open_list(page, "account", "Accounts")
    page.get_by_role("button", name=f"Export {file_format}", exact=True).click()
    download_link = page.get_by_role("link", name=re.compile(r"download", re.IGNORECASE))
    expect(download_link).to_be_visible()
    return download_link


def test_export_account_list_to_csv(logged_in_page: Page, e2e_user: Any) -> None:
    page = logged_in_page
    for name in ("Acme Rockets", "Globex Corporation"):
        account_create(user=e2e_user, name=name)

    download_link = start_account_export(page)
    check_page(page)
    with page.expect_download() as download_info:
        download_link.click()
    download = download_info.value

    assert download.suggested_filename.endswith(".csv")
    path = download.path()
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert sorted(row["name"] for row in rows) == ["Acme Rockets", "Globex Corporation"]


def test_export_account_list_to_xlsx(logged_in_page: Page, e2e_user: Any) -> None:
    page = logged_in_page
    for name in ("Acme Rockets", "=HYPERLINK(1)"):
        account_create(user=e2e_user, name=name)

    download_link = start_account_export(page, "XLSX")
    with page.expect_download() as download_info:
        download_link.click()
    download = download_info.value

    assert download.suggested_filename.endswith(".xlsx")
    # Playwright keeps the download under a name with no extension, which openpyxl refuses.
    sheet = openpyxl.load_workbook(io.BytesIO(download.path().read_bytes()), read_only=True).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    names = sorted(str(row[rows[0].index("name")]) for row in rows[1:])
    # A name that looks like a formula is stored as text, never run by the spreadsheet.
    assert names == ["'=HYPERLINK(1)", "Acme Rockets"]


def test_export_job_page_fits_phone_width(logged_in_page: Page, e2e_user: Any) -> None:
    account_create(user=e2e_user, name="Acme Rockets")
    start_account_export(logged_in_page)
    logged_in_page.set_viewport_size(PHONE)
    check_phone_width(logged_in_page)
