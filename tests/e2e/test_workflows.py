"""Workflows in a real browser: an administrator builds "when an opportunity moves to
Negotiation and its amount is over 50,000, create a task for the owner's manager and notify
them" with the form-based builder (no code), activates it, a rep's deal moves to
Negotiation, and the manager gets the task and the notification; the run log shows each
step. axe at 1280 and 375 px and no sideways scrolling on every workflow page."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from patron.activities.models import Activity
from patron.automation.choices import RunStatus
from patron.automation.models import Workflow, WorkflowRun
from patron.contacts.services import account_create
from patron.core.choices import OrgWideAccess
from patron.core.models import Notification
from patron.core.testing import grant, set_org_default
from patron.pipeline.services import opportunity_create, opportunity_move_stage
from patron.pipeline.tests.conftest import make_pipeline
from patron.users.tests.factories import UserFactory, make_role
from tests.e2e.conftest import (
    ALL_ACTIONS,
    DESKTOP,
    PASSWORD,
    PHONE,
    check_page,
    check_phone_width,
    log_in,
    screenshot,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL = "ada.admin@example.com"
MANAGER_EMAIL = "mia.manager@example.com"


@pytest.fixture
def sales(transactional_db: None) -> dict[str, Any]:
    manager_role = make_role("Sales Manager")
    rep_role = make_role("Sales Rep", parent=manager_role)
    for role in (manager_role, rep_role):
        for object_type in (
            "contacts.account",
            "pipeline.opportunity",
            "activities.activity",
        ):
            grant(role, object_type, *ALL_ACTIONS)
    for object_type in ("contacts.account", "pipeline.opportunity"):
        set_org_default(object_type, OrgWideAccess.PRIVATE)
    admin = UserFactory(is_superuser=True, is_staff=True, email=ADMIN_EMAIL, full_name="Ada Admin")
    manager = UserFactory(role=manager_role, email=MANAGER_EMAIL, full_name="Mia Manager")
    rep = UserFactory(role=rep_role, email="rory.rep@example.com", full_name="Rory Rep")
    pipeline = make_pipeline()
    stages = {stage.name: stage for stage in pipeline.stages.all()}
    account = account_create(user=rep, name="Globex")
    deal = opportunity_create(
        user=rep,
        name="Globex fleet renewal",
        account=account,
        amount="60000",
        close_date=datetime.date(2027, 6, 30),
    )
    return {"admin": admin, "manager": manager, "rep": rep, "stages": stages, "deal": deal}


CARD_AXE = """async () => (await axe.run(
    document.querySelector('[aria-labelledby="run-workflow-title"]'),
    {resultTypes: ['violations']}
)).violations.filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"""


def card_violations(page: Page) -> list[str]:
    found: list[str] = page.evaluate(CARD_AXE)
    return found


# No HTMX request in flight and no swap or settle under way.
HTMX_SETTLED = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"


def reshape(page: Page, select: Locator, value: str) -> None:
    """Choose ``value`` in a select that redraws the builder, and wait for the redraw."""
    page.wait_for_function(HTMX_SETTLED)
    with page.expect_response(lambda response: "/automation/workflows/" in response.url):
        select.select_option(value)
    # The response arrives before HTMX swaps the new form in; touching an input before the
    # swap settles changes one that is about to be replaced (and its redraw never happens).
    page.wait_for_function(HTMX_SETTLED)


def test_build_activate_and_watch_a_workflow_run(page: Page, sales: dict[str, Any]) -> None:
    log_in(page, email=ADMIN_EMAIL, password=PASSWORD)
    page.get_by_role("link", name="Workflows").first.click()
    expect(page.get_by_role("heading", name="Workflows", exact=True)).to_be_visible()
    check_page(page)
    page.get_by_role("link", name="New workflow").click()

    page.get_by_label("Name").fill("Big deal in negotiation")
    reshape(page, page.get_by_label("Record type"), "pipeline.opportunity")
    reshape(page, page.get_by_label("Trigger"), "field_changed")
    reshape(page, page.locator("#wf-trigger-field"), "stage")
    page.locator("#wf-trigger-to").select_option(label="Negotiation")

    page.get_by_role("button", name="Add condition").click()
    row = page.locator("#wf-conditions-all-0")
    expect(row).to_be_visible()
    reshape(page, row.get_by_label("Field", exact=True), "amount")
    reshape(page, page.locator("#wf-conditions-all-0-op"), "gt")
    page.locator("#wf-conditions-all-0-value").fill("50000")

    page.get_by_label("Add a step").select_option("create_task")
    page.get_by_role("button", name="Add step").click()
    expect(page.locator("#wf-steps-0")).to_be_visible()
    page.locator("#wf-steps-0-config-subject").fill(
        "Review {{ record.name }} ({{ record.amount }})"
    )
    page.locator("#wf-steps-0-config-assignee").select_option("owner_manager")
    page.locator("#wf-steps-0-config-due-in-days").fill("2")

    page.get_by_label("Add a step").select_option("notify")
    page.get_by_role("button", name="Add step").click()
    expect(page.locator("#wf-steps-1")).to_be_visible()
    page.locator("#wf-steps-1-config-recipient").select_option("owner_manager")
    page.locator("#wf-steps-1-config-title").fill("{{ record.nme }} reached Negotiation")

    # Update fields without JSON: a field per row, a fixed value or a merge value.
    page.get_by_label("Add a step").select_option("update_fields")
    page.get_by_role("button", name="Add step").click()
    expect(page.locator("#wf-steps-2")).to_be_visible()
    page.wait_for_function(HTMX_SETTLED)
    page.get_by_role("button", name="Add a field").click()
    expect(page.locator("#wf-steps-2-config-values-0-field")).to_be_visible()
    reshape(page, page.locator("#wf-steps-2-config-values-0-field"), "next_step")
    page.locator("#wf-steps-2-config-values-0-value").fill("Legal review")
    page.get_by_role("button", name="Add a field").click()
    expect(page.locator("#wf-steps-2-config-values-1-field")).to_be_visible()
    reshape(page, page.locator("#wf-steps-2-config-values-1-field"), "close_date")
    reshape(page, page.locator("#wf-steps-2-config-values-1-source"), "today")
    page.locator("#wf-steps-2-config-values-1-days").fill("14")
    expect(page.locator("#wf-steps-2-config-values-0-value")).to_have_value("Legal review")
    page.locator("#wf-steps-2").scroll_into_view_if_needed()
    screenshot(page, "workflow-builder-values")
    page.wait_for_load_state("networkidle")
    check_page(page)

    # A typo in a merge field is refused next to its input; nothing is saved.
    page.get_by_role("button", name="Save workflow").click()
    expect(page.locator("#wf-steps-1-config-title-error")).to_contain_text("record.nme")
    assert not Workflow.objects.exists()
    screenshot(page, "workflow-builder-error")
    page.locator("#wf-steps-1-config-title").fill("{{ record.name }} reached Negotiation")
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "workflow-builder")
    page.get_by_role("button", name="Save workflow").click()

    expect(page.get_by_role("heading", name="Big deal in negotiation")).to_be_visible()
    check_page(page)
    page.get_by_role("button", name="Activate v1").click()
    expect(page.get_by_text("Version 1 is now active.")).to_be_visible()
    screenshot(page, "workflow-detail")
    workflow = Workflow.objects.get()
    assert workflow.active_version is not None

    page.get_by_role("link", name="Test", exact=True).click()
    page.locator("#id_record").select_option(str(sales["deal"].pk))
    page.get_by_role("button", name="Run the test").click()
    expect(page.get_by_text("Create the task 'Review Globex fleet renewal")).to_be_visible()
    check_page(page)
    screenshot(page, "workflow-test")

    # The rep moves the deal to Negotiation; the worker (eager here) runs the workflow.
    opportunity_move_stage(
        user=sales["rep"], opportunity=sales["deal"], stage=sales["stages"]["Negotiation"]
    )
    run = WorkflowRun.objects.get(workflow=workflow, is_test=False)
    assert run.status == RunStatus.SUCCEEDED, run.error
    task = Activity.objects.get(subject__startswith="Review Globex fleet renewal")
    assert task.assignee == sales["manager"]
    assert Notification.objects.filter(
        user=sales["manager"], title="Globex fleet renewal reached Negotiation"
    ).exists()
    deal = type(sales["deal"]).objects.get(pk=sales["deal"].pk)
    assert deal.next_step == "Legal review"
    assert deal.close_date == timezone.localdate() + datetime.timedelta(days=14)
    assert workflow.active_version.steps[2]["config"] == {
        "values": {"next_step": "Legal review", "close_date": {"merge": "today", "days": 14}}
    }

    page.get_by_role("link", name="Big deal in negotiation").first.click()
    page.get_by_role("link", name=f"#{run.pk}").click()
    expect(page.get_by_role("heading", name=re.compile(f"Run #{run.pk}"))).to_be_visible()
    expect(page.locator("#step-run-" + str(run.step_runs.get(step_id="s1").pk))).to_contain_text(
        "Succeeded"
    )
    expect(page.get_by_text("notify")).to_be_visible()
    check_page(page)
    screenshot(page, "workflow-run")

    page.get_by_role("link", name="Workflow runs").click()
    expect(page.get_by_role("row", name=re.compile(f"#{run.pk}"))).to_contain_text("Succeeded")
    check_page(page)
    screenshot(page, "workflow-runs")

    page.goto("/automation/workflows/")
    expect(page.get_by_role("row", name=re.compile("Big deal in negotiation"))).to_contain_text(
        "Active"
    )
    screenshot(page, "workflow-list")


def test_manager_sees_the_task_and_notification_and_runs_a_manual_workflow(
    page: Page, sales: dict[str, Any]
) -> None:
    from patron.automation import services

    workflow = services.workflow_create(
        user=sales["admin"],
        data={
            "name": "Ask for a discount review",
            "object_type": "pipeline.opportunity",
            "trigger": {"type": "manual"},
            "steps": [
                {
                    "id": "s1",
                    "type": "create_task",
                    "config": {
                        "subject": "Discount review: {{ record.name }}",
                        "assignee": "owner_manager",
                    },
                },
                {
                    "id": "s2",
                    "type": "notify",
                    "config": {"recipient": "owner_manager", "title": "Review {{ record.name }}"},
                },
            ],
        },
    )
    services.workflow_activate(user=sales["admin"], workflow=workflow)

    log_in(page, email="rory.rep@example.com", password=PASSWORD)
    page.goto(f"/opportunities/{sales['deal'].pk}/")
    card = page.get_by_role("region", name="Run workflow")
    expect(card).to_be_visible()
    # axe on the card only: the opportunity page's own tables belong to the pipeline pages.
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        assert card_violations(page) == []
    check_phone_width(page)
    page.set_viewport_size(DESKTOP)
    card.get_by_role("button", name="Ask for a discount review").click()
    expect(
        page.get_by_text("“Ask for a discount review” ran: every step succeeded.")
    ).to_be_visible()
    screenshot(page, "workflow-run-button")
    assert Activity.objects.filter(
        subject="Discount review: Globex fleet renewal", assignee=sales["manager"]
    ).exists()

    page.context.clear_cookies()
    log_in(page, email=MANAGER_EMAIL, password=PASSWORD)
    page.goto("/notifications/")
    notice = page.get_by_role("strong").filter(has_text="Review Globex fleet renewal")
    expect(notice).to_be_visible()
    check_page(page)
