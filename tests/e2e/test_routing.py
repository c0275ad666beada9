"""Routing in a real browser: an administrator builds a pool with members, pauses one, writes
a rule in the editor and reads the decision log; a rep sets their availability. Axe and phone
width on every page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from patron.routing import registry
from patron.routing.models import AssignmentRule, PoolMember
from patron.routing.services import route_item
from patron.routing.tests.conftest import LEAD_ROUTABLE, make_lead
from patron.users.tests.factories import UserFactory
from tests.e2e.conftest import PASSWORD, check_page, log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL = "ada.routing@example.com"


@pytest.fixture
def leads_routable() -> Iterator[None]:
    saved = dict(registry._routables)
    registry._routables.setdefault(LEAD_ROUTABLE.object_type, LEAD_ROUTABLE)
    yield
    registry._routables.clear()
    registry._routables.update(saved)


@pytest.fixture
def admin(transactional_db: None) -> Any:
    return UserFactory(is_superuser=True, is_staff=True, email=ADMIN_EMAIL, full_name="Ada Admin")


def test_admin_sets_up_a_pool_and_a_rule(page: Page, admin: Any, leads_routable: None) -> None:
    UserFactory(email="rita@example.com", full_name="Rita Rep")
    UserFactory(email="sam@example.com", full_name="Sam Seller")
    log_in(page, email=ADMIN_EMAIL, password=PASSWORD)

    page.goto("/routing/")
    check_page(page)
    page.get_by_role("link", name="New pool").click()
    page.get_by_label("Name").fill("Inbound EMEA")
    page.get_by_label("Strategy").select_option("least_busy")
    page.get_by_role("button", name="Save pool").click()
    expect(page.get_by_role("heading", name="Inbound EMEA")).to_be_visible()

    for name in ("Rita Rep", "Sam Seller"):
        page.get_by_label("User", exact=True).select_option(label=name)
        page.get_by_label("Max open items").last.fill("5")
        page.get_by_role("button", name="Add member").click()
        expect(page.get_by_role("rowheader", name=name)).to_be_visible()
    check_page(page)

    page.get_by_role("button", name="Pause Sam Seller").click()
    expect(page.get_by_role("button", name="Resume Sam Seller")).to_be_visible()
    assert PoolMember.objects.get(user__full_name="Sam Seller").is_paused
    screenshot(page, "routing-pool")

    page.get_by_role("link", name="Rules", exact=True).click()
    page.get_by_role("link", name="New rule").click()
    page.get_by_label("Name").fill("German-speaking countries")
    page.get_by_label("Pool").select_option(label="Inbound EMEA")
    page.get_by_label("Field of condition 1").select_option("country")
    page.get_by_label("Operator of condition 1").select_option("in")
    page.get_by_label("Value of condition 1").fill("DE, AT, CH")
    check_page(page)
    screenshot(page, "routing-rule-editor")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_text(re.compile(r"Country.* is one of DE, AT, CH"))).to_be_visible()
    assert AssignmentRule.objects.get().conditions["conditions"][0]["value"] == ["DE", "AT", "CH"]

    lead = make_lead(admin, country="AT", last_name="Huber")
    route_item(item=lead)
    page.get_by_role("link", name="Decision log").click()
    expect(page.get_by_text("Assigned to Rita Rep")).to_be_visible()
    page.get_by_text("Considered 2").click()
    expect(page.get_by_text("Sam Seller: skipped — Paused in this pool")).to_be_visible()
    check_page(page)
    screenshot(page, "routing-log")


def test_rep_sets_away_and_working_hours(page: Page, transactional_db: None) -> None:
    UserFactory(email="wanda@example.com", full_name="Wanda Works", time_zone="Europe/Berlin")
    log_in(page, email="wanda@example.com", password=PASSWORD)
    page.goto("/routing/availability/")
    check_page(page)
    page.get_by_label("Monday from").fill("09:00")
    page.get_by_label("Monday to", exact=True).fill("17:30")
    page.get_by_role("button", name="Save working hours").click()
    expect(page.get_by_text("Saved your working hours.")).to_be_visible()
    page.get_by_role("button", name="Set me away").click()
    expect(page.get_by_role("heading", name="You are away")).to_be_visible()
    check_page(page)
    screenshot(page, "routing-my-availability")
    page.get_by_role("button", name="I'm back").click()
    expect(page.get_by_role("heading", name="You are available")).to_be_visible()
