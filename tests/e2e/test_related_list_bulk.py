"""A contact related-list page in the browser: sorting in place keeps the saved-view form in
step, a view is saved and opened from the menu, and ticked rows are removed in bulk; the page
passes axe and fits a phone."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from patron.contacts.models import LiteratureRequest
from patron.contacts.related_list_services import related_row_create
from patron.contacts.related_lists import LITERATURE_REQUESTS
from patron.contacts.services import contact_create
from patron.core.models import SavedView
from tests.e2e.conftest import check_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIST = "/contacts/literature-requests/"


def test_sort_save_a_view_and_remove_ticked_rows(logged_in_page: Page, e2e_user: Any) -> None:
    page = logged_in_page
    contact = contact_create(user=e2e_user, first_name="Ana", last_name="Lee")
    for item in ("Brochure", "Catalogue", "Price list"):
        related_row_create(
            user=e2e_user,
            spec=LITERATURE_REQUESTS,
            contact=contact,
            item=item,
            channel="email",
            requested_on=datetime.date(2026, 5, 1),
        )

    page.goto(LIST)
    expect(page.get_by_role("heading", level=1)).to_have_text("Literature requests")
    check_page(page)

    page.get_by_role("link", name="Item").click()
    expect(page).to_have_url(re.compile(r"sort=item"))
    # Swapped in place: the results only, not a second page inside the header cell.
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    expect(page.locator("tbody th[scope=row]")).to_have_count(3)
    expect(page.locator("#saved-view-query")).to_have_value(re.compile(r"sort=item"))

    page.get_by_text("Saved views", exact=True).click()
    page.get_by_label("Save current filters as").fill("By item")
    page.get_by_role("button", name="Save view").click()
    expect(page.locator(".subtitle")).to_contain_text("Saved view: By item")
    assert SavedView.objects.get(name="By item").query == "sort=item"

    remove = page.get_by_role("button", name="Remove selected")
    expect(remove).to_be_disabled()
    page.get_by_label(re.compile(r"^Select Brochure")).check()
    page.get_by_label(re.compile(r"^Select Catalogue")).check()
    expect(page.get_by_text("2 selected")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    remove.click()
    expect(page.get_by_text("2 literature requests removed.")).to_be_visible()
    assert list(LiteratureRequest.objects.values_list("item", flat=True)) == ["Price list"]
    check_page(page)
