"""Approvals in a real browser: an administrator builds a process without code, a rep submits
an account from its Approval card, the manager approves it from "My approvals". Axe and phone
width on every page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from patron.automation.models import ApprovalProcess, ApprovalRequest
from patron.contacts.services import account_create
from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default
from patron.users.tests.factories import UserFactory, make_role
from tests.e2e.conftest import PASSWORD, check_page, log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALL = ("create", "read", "update", "delete", "export")


@pytest.fixture
def people(transactional_db: None) -> dict[str, Any]:
    manager_role = make_role("Approving Manager")
    rep_role = make_role("Approving Rep", parent=manager_role)
    for role in (manager_role, rep_role):
        grant(role, "contacts.account", *ALL)
    set_org_default("contacts.account", OrgWideAccess.PRIVATE)
    return {
        "admin": UserFactory(
            is_superuser=True,
            is_staff=True,
            email="ada.approvals@example.com",
            full_name="Ada Admin",
        ),
        "manager": UserFactory(
            role=manager_role, email="mia.e2e@example.com", full_name="Mia Manager"
        ),
        "rep": UserFactory(role=rep_role, email="rita.e2e@example.com", full_name="Rita Rep"),
    }


def test_build_submit_and_approve(page: Page, people: dict[str, Any]) -> None:
    log_in(page, email="ada.approvals@example.com", password=PASSWORD)
    page.goto("/approvals/processes/")
    check_page(page)
    page.get_by_role("link", name="New process").click()
    page.get_by_label("Record type").select_option("contacts.account")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Name", exact=True).fill("Strategic accounts")
    page.locator("#entry-0-field").select_option("industry")
    page.locator("#entry-0-op").select_option("eq")
    page.locator("#entry-0-value").fill("Banking")
    page.locator("#step-0-name").fill("Manager")
    page.locator("#step-0-approver_kind").select_option("manager")
    page.locator("#step-0-timeout_hours").fill("24")
    page.locator("#step-0-escalation").select_option("approver_manager")
    # Steps are added, moved and removed with buttons (HTMX redraws the form, keeps input).
    page.get_by_role("button", name="Add a step").click()
    expect(page.locator("#step-1-name")).to_be_visible()
    page.locator("#step-1-name").fill("Director")
    page.get_by_role("button", name="Move step 2 up").click()
    expect(page.locator("#step-0-name")).to_have_value("Director")
    expect(page.locator("#step-1-name")).to_have_value("Manager")
    expect(page.locator("#step-1-timeout_hours")).to_have_value("24")
    screenshot(page, "approvals-process-steps")
    page.get_by_role("button", name="Remove step 1").click()
    expect(page.locator("#step-0-name")).to_have_value("Manager")
    expect(page.locator("#step-1-name")).to_have_count(0)
    check_page(page)
    screenshot(page, "approvals-process-editor")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("link", name="Strategic accounts")).to_be_visible()
    # The quote discount process is listed from the start, beside the new one.
    expect(page.get_by_role("link", name="Quote discount")).to_be_visible()
    process = ApprovalProcess.objects.get(name="Strategic accounts")
    assert process.steps.get().approver_kind == "manager"

    account = account_create(user=people["rep"], name="First Bank", industry="Banking")
    page.context.clear_cookies()
    log_in(page, email="rita.e2e@example.com", password=PASSWORD)
    page.goto(f"/accounts/{account.pk}/")
    page.get_by_text("Submit for approval").click()
    page.get_by_label("Comment for the approvers").fill("Strategic deal, please review")
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator("#approval-panel").get_by_text("Pending", exact=True)).to_be_visible()
    check_page(page)
    screenshot(page, "approvals-record-card")

    page.context.clear_cookies()
    log_in(page, email="mia.e2e@example.com", password=PASSWORD)
    page.goto("/approvals/")
    check_page(page)
    screenshot(page, "approvals-inbox")
    page.get_by_role("link", name="First Bank").click()
    page.get_by_label("Comment for step “Manager”").fill("Approved for Q1")
    check_page(page)
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Request approved")).to_be_visible()
    assert ApprovalRequest.objects.get().status == "approved"
