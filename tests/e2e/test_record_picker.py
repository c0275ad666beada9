"""The record picker in a real browser: typing in its search box replaces the list's
options with matches by keyboard alone, and the form passes axe at desktop and phone width."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from patron.contacts.models import Account
from patron.contacts.services import account_create
from tests.e2e.conftest import check_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_account_picker_finds_an_account_beyond_the_list_by_keyboard(
    logged_in_page: Page, e2e_user: Any
) -> None:
    page = logged_in_page
    Account.objects.bulk_create(
        Account(name=f"Aardvark {n:04}", owner=e2e_user) for n in range(210)
    )
    far = account_create(user=e2e_user, name="Zulu Holdings")
    child = account_create(user=e2e_user, name="Acme Child")

    page.goto(f"/accounts/{child.pk}/edit/")
    select = page.get_by_label("Parent account")
    expect(select.locator(f'option[value="{far.pk}"]')).to_have_count(0)
    check_page(page)

    search = page.get_by_label("Search accounts", exact=True)
    search.focus()
    page.keyboard.type("zulu")
    page.keyboard.press("Enter")  # searches; it must not save the form
    expect(select.locator(f'option[value="{far.pk}"]')).to_have_count(1)
    expect(page.locator("#picker-parent-status")).to_contain_text("1 match for “zulu”")
    expect(page).to_have_url(f"/accounts/{child.pk}/edit/")
    page.keyboard.press("Tab")
    expect(select).to_be_focused()
    select.select_option(str(far.pk))
    check_page(page)
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(f"/accounts/{child.pk}/")
    child.refresh_from_db()
    assert child.parent_id == far.pk


def test_contact_form_with_its_account_picker_is_accessible(
    logged_in_page: Page, e2e_user: Any
) -> None:
    page = logged_in_page
    account_create(user=e2e_user, name="Acme Rockets")
    page.goto("/contacts/new/")
    page.get_by_label("Search accounts", exact=True).fill("acme")
    expect(page.locator("#picker-account-status")).to_contain_text("1 match for “acme”")
    check_page(page)
