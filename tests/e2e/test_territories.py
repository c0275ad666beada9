"""Territories in a real browser: an administrator builds a territory with rule rows,
previews a realignment in a planning model, compares it, activates it with confirmation, and
a sales rep reads the territory forecast; axe and phone width on every page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from patron.contacts.services import account_create
from patron.territories import services
from patron.territories.choices import ModelState
from patron.territories.models import Territory, TerritoryModel
from patron.users.tests.factories import UserFactory
from tests.e2e.conftest import PASSWORD, check_page, log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL = "ada.admin@example.com"


@pytest.fixture
def admin(transactional_db: None) -> Any:
    return UserFactory(is_superuser=True, is_staff=True, email=ADMIN_EMAIL, full_name="Ada Admin")


@pytest.fixture
def active(admin: Any) -> TerritoryModel:
    model = TerritoryModel.objects.create(name="FY2026 territories", state=ModelState.ACTIVE)
    north = services.territory_save(user=admin, model=model, name="North")
    services.rule_add(
        user=admin,
        territory=north,
        data={"field": "postal_code", "operator": "range", "low": "20000", "high": "29999"},
    )
    rep = UserFactory(email="rita.rep@example.com", full_name="Rita Rep")
    services.member_set(user=admin, territory=north, member=rep, role="sales_rep")
    for name, code in (("Hamburg Hafen AG", "20095"), ("Hanover Bikes", "30159")):
        account_create(user=admin, name=name, billing_postal_code=code)
    services.assign_all(model)
    return model


def test_build_compare_and_activate_a_realignment(page: Page, admin: Any, active: Any) -> None:
    log_in(page, email=ADMIN_EMAIL, password=PASSWORD)
    page.goto("/territories/")
    expect(page.get_by_role("link", name="FY2026 territories")).to_be_visible()
    check_page(page)
    screenshot(page, "territories-models")

    page.get_by_role("link", name="FY2026 territories").click()
    expect(page.get_by_role("heading", name="Territories", exact=True)).to_be_visible()
    page.locator("#id_name").fill("FY2027 realignment")
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("FY2027 realignment"))).to_be_visible()
    plan = TerritoryModel.objects.get(name="FY2027 realignment")

    # A new territory with a postal-code range that overlaps North: refused, inline.
    page.get_by_role("link", name="New territory").click()
    page.locator("#id_name").fill("Lower Saxony")
    page.locator("#id_rules-0-field").select_option("postal_code")
    page.locator("#id_rules-0-operator").select_option("range")
    page.locator("#id_rules-0-low").fill("29000")
    page.locator("#id_rules-0-high").fill("31999")
    check_page(page)
    page.get_by_role("button", name="Save territory").click()
    expect(page.get_by_role("alert").filter(has_text="also claimed by “North”")).to_be_visible()
    screenshot(page, "territories-overlap-refused")
    page.locator("#id_rules-0-low").fill("30000")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Lower Saxony")).to_be_visible()
    check_page(page)
    screenshot(page, "territories-territory")

    page.get_by_role("link", name="FY2027 realignment").click()
    page.get_by_role("button", name="Preview assignments").click()
    expect(page.get_by_text("Done")).to_be_visible()
    page.goto(f"/territories/models/{plan.pk}/")
    check_page(page)
    screenshot(page, "territories-tree")
    page.get_by_role("link", name="Compare with active").click()
    moves = page.get_by_role("region", name="Records that would move")
    expect(moves.get_by_role("row", name=re.compile("Hanover Bikes"))).to_contain_text(
        "Lower Saxony"
    )
    check_page(page)
    screenshot(page, "territories-compare")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("Done")).to_be_visible()
    active.refresh_from_db()
    plan.refresh_from_db()
    assert (active.state, plan.state) == (ModelState.ARCHIVED, ModelState.ACTIVE)
    hanover = Territory.objects.get(model=plan, name="Lower Saxony")
    assert hanover.assignments.count() == 1


def test_territory_forecast_page(page: Page, admin: Any, active: Any) -> None:
    log_in(page, email=ADMIN_EMAIL, password=PASSWORD)
    page.goto("/forecast/territories/")
    expect(page.get_by_role("row", name=re.compile("North"))).to_be_visible()
    check_page(page)
    screenshot(page, "territories-forecast")
