"""Logging in through the real form."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, USER_EMAIL, USER_NAME, check_page, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EMAIL_LABEL = re.compile(r"^e-?mail", re.IGNORECASE)
PASSWORD_LABEL = re.compile(r"^password", re.IGNORECASE)
LOG_IN = re.compile(r"log ?in|sign ?in", re.IGNORECASE)
BAD_LOGIN = re.compile(r"incorrect|invalid|wrong|not right|did not match", re.IGNORECASE)


def test_log_in_from_a_protected_page_returns_to_it(page: Page, e2e_user: object) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    check_page(page)
    screenshot(page, "login")

    page.get_by_label(EMAIL_LABEL).fill(USER_EMAIL)
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_role("button", name=LOG_IN).click()

    expect(page).not_to_have_url(re.compile(r"/login/"))
    expect(page.get_by_text(re.compile(f"{USER_NAME}|{USER_EMAIL}")).first).to_be_attached()
    check_page(page)


def test_wrong_password_shows_error_and_stays_on_form(page: Page, e2e_user: object) -> None:
    page.goto("/login/")
    page.get_by_label(EMAIL_LABEL).fill(USER_EMAIL)
    page.get_by_label(PASSWORD_LABEL).fill("not the password")
    page.get_by_role("button", name=LOG_IN).click()

    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.get_by_text(BAD_LOGIN).first).to_be_visible()
    expect(page.get_by_label(EMAIL_LABEL)).to_have_value(USER_EMAIL)
    expect(page.get_by_label(PASSWORD_LABEL)).to_have_value("")
    check_page(page)
