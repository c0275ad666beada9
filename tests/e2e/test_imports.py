"""Imports in a real browser: upload a CSV, map its columns, preview, import with a progress
bar, download the failed rows, revert. Axe and phone width on every page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from patron.contacts.models import Contact
from patron.users.tests.factories import UserFactory
from tests.e2e.conftest import PASSWORD, check_page, log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL = "ida.imports@example.com"
CSV = (
    "First Name;Last Name;E-mail;Job Title\n"
    "Grace;Hopper;grace@example.com;Admiral\n"
    'Alan;Turing;alan@example.com;"Mathematician\nand cryptanalyst"\n'
    "Bad;Row;not-an-email;Tester\n"
)


@pytest.fixture
def admin(transactional_db: None) -> Any:
    return UserFactory(is_superuser=True, is_staff=True, email=ADMIN_EMAIL, full_name="Ida Admin")


def test_upload_map_preview_import_errors_and_revert(
    page: Page, admin: Any, tmp_path: Path
) -> None:
    log_in(page, email=ADMIN_EMAIL, password=PASSWORD)
    page.goto("/data/imports/")
    check_page(page)
    page.get_by_role("link", name="New import").click()
    page.get_by_label("What do you import?").select_option("contacts.contact")
    source = tmp_path / "people.csv"
    source.write_text(CSV, encoding="utf-8")
    page.get_by_label("File (CSV or Excel .xlsx)").set_input_files(str(source))
    check_page(page)
    screenshot(page, "import-upload")
    page.get_by_role("button", name="Upload and map columns").click()

    expect(page.get_by_role("heading", name="Map columns")).to_be_visible()
    expect(page.get_by_label("E-mail")).to_have_value("email")
    expect(page.get_by_label("Job Title")).to_have_value("title")
    page.get_by_label("Mode").select_option("upsert")
    page.get_by_label("Match existing records by").select_option("email")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#import-preview")
    expect(preview).to_contain_text("grace@example.com")
    expect(preview).to_contain_text("not a valid email")
    assert Contact.objects.count() == 0
    check_page(page)
    screenshot(page, "import-map-preview")

    page.get_by_role("button", name="Start import").click()
    expect(page.get_by_role("progressbar", name="Import progress")).to_be_visible()
    counts = page.locator("#import-counts")
    expect(counts).to_contain_text(re.compile(r"Created\s*2"))
    expect(counts).to_contain_text(re.compile(r"Failed\s*1"))
    assert Contact.objects.get(email="alan@example.com").title == "Mathematician\nand cryptanalyst"
    check_page(page)
    screenshot(page, "import-results")

    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("Download the 1 failed row")).click()
    errors = Path(info.value.path()).read_text(encoding="utf-8-sig")
    assert "not-an-email" in errors
    assert "Import error" in errors

    page.get_by_role("button", name="Revert this import").click()
    expect(page.get_by_text(re.compile(r"^Reverted \d"))).to_be_visible()
    assert Contact.objects.count() == 0
    check_page(page)
