"""Never lost and scoring in a real browser: a rep works the leads-at-risk list; an
administrator adds a scoring rule and changes the lead settings, and the lead's page shows
its score with the rule that fired. Pages pass axe at desktop and phone width; screenshots
feed the user guide."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default
from patron.leads.models import Lead
from patron.users.tests.factories import UserFactory
from tests.e2e.conftest import ALL_ACTIONS, PASSWORD, check_page, log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def leads_at_risk(e2e_user: Any) -> dict[str, Lead]:
    grant(e2e_user.role, "leads.lead", *ALL_ACTIONS)
    set_org_default("leads.lead", OrgWideAccess.PRIVATE)
    now = timezone.now()
    routed = {"routed_at": now - datetime.timedelta(hours=2)}
    return {
        "overdue": Lead.objects.create(
            owner=e2e_user,
            first_name="Grace",
            last_name="Hopper",
            company="Compilers Ltd",
            first_response_due_at=now - datetime.timedelta(minutes=42),
            industry="software",
            **routed,
        ),
        "soon": Lead.objects.create(
            owner=e2e_user,
            first_name="Alan",
            last_name="Turing",
            company="Bletchley Systems",
            first_response_due_at=now + datetime.timedelta(minutes=9),
            **routed,
        ),
        "unrouted": Lead.objects.create(
            owner=e2e_user,
            first_name="Ada",
            last_name="Lovelace",
            company="Analytical Engines",
            created_at=now - datetime.timedelta(minutes=30),
        ),
    }


def test_rep_works_the_leads_at_risk_list(logged_in_page: Page, leads_at_risk: Any) -> None:
    page = logged_in_page
    page.goto("/")
    page.get_by_role("link", name="Leads at risk").click()
    expect(page.get_by_role("heading", name="Leads at risk", exact=True)).to_be_visible()
    table = page.get_by_role("table")
    expect(table.get_by_text("Overdue by 42 min")).to_be_visible()
    expect(table.get_by_text("Not assigned in time")).to_be_visible()
    expect(table.get_by_text("First response due soon")).to_be_visible()
    check_page(page)
    screenshot(page, "leads-at-risk")
    page.get_by_label("Reason").select_option("overdue")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("row")).to_have_count(2)
    expect(page.get_by_role("link", name="Grace Hopper (Compilers Ltd)")).to_be_visible()


def test_admin_adds_a_scoring_rule_and_the_lead_shows_its_score(
    page: Page, leads_at_risk: Any
) -> None:
    UserFactory(is_superuser=True, email="admin.scoring@example.com", full_name="Alex Admin")
    log_in(page, email="admin.scoring@example.com", password=PASSWORD)
    page.goto("/admin-area/lead-scoring/")
    expect(page.get_by_role("heading", name="Lead scoring", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile("Not enough history to learn from"))).to_be_visible()
    page.get_by_role("link", name="New rule").click()
    page.get_by_label("Name").fill("Builds software")
    page.get_by_label("Lead field (fit rules)").select_option("industry")
    page.get_by_label("Condition (fit rules)").select_option("gt")
    page.get_by_label("Value").fill("software")
    page.get_by_label("Points").fill("20")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_text(re.compile("can be tested with"))).to_be_visible()
    check_page(page)
    page.get_by_label("Condition (fit rules)").select_option("eq")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_role("cell", name="Industry is software")).to_be_visible()
    check_page(page)
    screenshot(page, "lead-scoring-admin")

    lead = leads_at_risk["overdue"]
    page.goto(f"/leads/{lead.pk}/")
    card = page.locator("#lead-score")
    expect(card.get_by_text("Builds software")).to_be_visible()
    expect(card.locator("strong", has_text="20")).to_be_visible()
    check_page(page)

    page.goto("/admin-area/lead-settings/")
    page.get_by_label("First response due within (minutes)").fill("0")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(re.compile("between 1 and"))).to_be_visible()
    page.get_by_label("First response due within (minutes)").fill("30")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved the lead settings.")).to_be_visible()
    check_page(page)
    screenshot(page, "lead-settings")
