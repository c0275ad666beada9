"""Accessibility of the layout: axe on the home and components pages, and keyboard access to
the skip link and the global search."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    PHONE,
    check_page,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_TABS_TO_SEARCH = 15


def focused(page: Page) -> dict[str, str]:
    result: dict[str, str] = page.evaluate(
        """() => {
            const el = document.activeElement;
            return {
                tag: el.tagName.toLowerCase(),
                type: el.getAttribute('type') || '',
                role: el.getAttribute('role') || '',
                href: el.getAttribute('href') || '',
                id: el.id,
                text: (el.innerText || '').trim(),
            };
        }"""
    )
    return result


def test_home_page_passes_axe(logged_in_page: Page) -> None:
    logged_in_page.goto("/")
    expect(logged_in_page.get_by_role("main")).to_be_visible()
    check_page(logged_in_page)


def test_components_page_passes_axe(logged_in_page: Page) -> None:
    response = logged_in_page.goto("/ui/components/")
    assert response is not None
    assert response.status == 200
    expect(logged_in_page.get_by_role("heading", level=1)).to_contain_text(
        re.compile("components", re.IGNORECASE)
    )
    check_page(logged_in_page)


def test_left_navigation_leads_to_accounts_and_contacts(logged_in_page: Page) -> None:
    page = logged_in_page
    for area in ("Accounts", "Contacts"):
        page.goto("/")
        navigation = page.get_by_role("navigation", name="Main")
        navigation.get_by_role("link", name=area, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(area)
        expect(navigation.get_by_role("link", name=area, exact=True)).to_have_attribute(
            "aria-current", "page"
        )


def test_skip_link_is_first_tab_stop_and_moves_to_main(logged_in_page: Page) -> None:
    page = logged_in_page
    page.goto("/")

    page.keyboard.press("Tab")
    first = focused(page)
    assert first["tag"] == "a", first
    assert first["href"].startswith("#"), first
    skip_link = page.locator(":focus")
    expect(skip_link).to_be_visible()

    page.keyboard.press("Enter")
    target_id = first["href"][1:]
    expect(page).to_have_url(f"{page.url.split('#')[0]}#{target_id}")
    in_main = page.evaluate(
        "id => { const el = document.getElementById(id); return !!el && !!el.closest('main'); }",
        target_id,
    )
    assert in_main, f"the skip link points at #{target_id}, which is not the main content"


def test_global_search_is_reachable_by_tab(logged_in_page: Page) -> None:
    page = logged_in_page
    page.goto("/")

    for _ in range(MAX_TABS_TO_SEARCH):
        page.keyboard.press("Tab")
        current = focused(page)
        if current["type"] == "search" or current["role"] == "searchbox":
            break
    else:
        pytest.fail(f"the global search box is not reached in {MAX_TABS_TO_SEARCH} Tab presses")

    page.keyboard.type("Acme")
    expect(page.get_by_role("searchbox").first).to_have_value("Acme")


def test_phone_width_menu_opens_navigation_by_keyboard(logged_in_page: Page) -> None:
    page = logged_in_page
    page.set_viewport_size(PHONE)
    page.goto("/")
    navigation = page.get_by_role("navigation", name="Main")
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")

    menu.focus()
    page.keyboard.press("Enter")

    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(navigation.get_by_role("link", name="Accounts")).to_be_visible()
    check_page(page)
