"""The pipeline board in a real browser: a card dragged to the next stage stays there after a
reload, a card dragged to a stage a guard blocks goes back with the reason announced, a deal
dragged to Lost asks for the loss reason first, and the keyboard "Move to" path."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Locator, Page, expect

from patron.contacts.services import account_create
from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default
from patron.pipeline import services
from patron.pipeline.models import LossReason, Opportunity, Pipeline
from patron.pipeline.services import opportunity_create, register_stage_guard
from patron.pipeline.tests.conftest import make_pipeline
from tests.e2e.conftest import ALL_ACTIONS, check_page, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEXT_STEP_NEEDED = "Fill in the next step before the proposal."


def needs_next_step(
    user: Any, opportunity: Opportunity, from_stage: Any, to_stage: Any
) -> list[str]:
    if to_stage.name == "Proposal" and not opportunity.next_step:
        return [NEXT_STEP_NEEDED]
    return []


@pytest.fixture
def proposal_guard() -> Iterator[None]:
    register_stage_guard(needs_next_step)
    yield
    services._stage_guards.remove(needs_next_step)


@pytest.fixture
def pipeline(e2e_user: Any) -> Pipeline:
    grant(e2e_user.role, "pipeline.opportunity", *ALL_ACTIONS)
    set_org_default("pipeline.opportunity", OrgWideAccess.PRIVATE)
    pipeline = make_pipeline()
    LossReason.objects.create(name="Price too high")
    account = account_create(user=e2e_user, name="Acme Rockets")
    start = datetime.date.today() + datetime.timedelta(days=30)
    for n, (name, amount) in enumerate(
        [("Launch pad", "12000"), ("Fuel contract", "4500"), ("Ground station", "30000")]
    ):
        opportunity_create(
            user=e2e_user,
            name=name,
            account=account,
            amount=amount,
            close_date=start + datetime.timedelta(days=7 * n),
        )
    qualified = opportunity_create(
        user=e2e_user,
        name="Satellite refit",
        account=account,
        amount="80000",
        close_date=start,
        stage=pipeline.stages.get(name="Qualification"),
    )
    # Three weeks in a stage expected to last two: the card shows as stale.
    Opportunity.objects.filter(pk=qualified.pk).update(
        stage_entered_at=qualified.stage_entered_at - datetime.timedelta(days=21)
    )
    return pipeline


def column(page: Page, stage: str) -> Locator:
    return page.locator("section.board-column", has=page.get_by_role("heading", name=stage))


def card(page: Page, name: str) -> Locator:
    return page.locator("[data-card]", has_text=name)


def drag(page: Page, item: Locator, stage: str) -> None:
    """Press on the card's facts (links and controls do not start a drag), move in steps as a
    hand would, and drop in the middle of the stage's list."""
    source = item.locator(".board-card-facts").bounding_box()
    target = column(page, stage).locator(".board-cards").bounding_box()
    assert source is not None
    assert target is not None
    x, y = source["x"] + source["width"] / 2, source["y"] + source["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 10, y + 10, steps=5)
    page.mouse.move(
        target["x"] + target["width"] / 2, target["y"] + min(target["height"] / 2, 60), steps=20
    )
    page.mouse.up()


def test_drag_cards_across_stages_allowed_blocked_and_lost(
    logged_in_page: Page, pipeline: Pipeline, proposal_guard: None
) -> None:
    page = logged_in_page
    # The home page was opened at log-in, before the role was allowed opportunities.
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Pipeline board").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New business")
    expect(column(page, "Prospecting")).to_contain_text("3 deals")
    expect(card(page, "Satellite refit")).to_contain_text("Stale")
    screenshot(page, "pipeline-board")
    check_page(page)

    # Allowed: Prospecting to Qualification, figures follow, and it stays after a reload.
    drag(page, card(page, "Launch pad"), "Qualification")
    status = page.get_by_role("status").filter(has_text="Moved")
    expect(status).to_have_text("Moved “Launch pad” to Qualification.")
    expect(column(page, "Qualification").locator("[data-card]")).to_have_count(2)
    expect(column(page, "Qualification")).to_contain_text("2 deals")
    expect(column(page, "Prospecting")).to_contain_text("2 deals")
    page.reload()
    expect(column(page, "Qualification")).to_contain_text("Launch pad")
    expect(column(page, "Prospecting")).not_to_contain_text("Launch pad")

    # Blocked by the guard: the card goes back and the reason is announced.
    drag(page, card(page, "Fuel contract"), "Proposal")
    expect(page.locator("#board-status")).to_contain_text(NEXT_STEP_NEEDED)
    expect(column(page, "Prospecting")).to_contain_text("Fuel contract")
    expect(column(page, "Proposal")).not_to_contain_text("Fuel contract")
    check_page(page)
    page.reload()
    expect(column(page, "Prospecting")).to_contain_text("Fuel contract")

    # Lost asks for the reason first; cancelling leaves the card where it was. (A window
    # wide enough for all six columns: both ends of the drag must be on screen.)
    page.set_viewport_size({"width": 2200, "height": 900})
    drag(page, card(page, "Ground station"), "Lost")
    dialog = page.get_by_role("dialog", name="Why was the deal lost?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(column(page, "Prospecting")).to_contain_text("Ground station")
    drag(page, card(page, "Ground station"), "Lost")
    dialog.get_by_label("Loss reason").select_option(label="Price too high")
    dialog.get_by_role("button", name="Mark as lost").click()
    expect(page.locator("#board-status")).to_have_text("Moved “Ground station” to Lost.")
    expect(column(page, "Lost")).to_contain_text("Ground station")
    lost = Opportunity.objects.get(name="Ground station")
    assert lost.loss_reason is not None
    assert lost.loss_reason.name == "Price too high"


def test_move_a_card_with_the_keyboard(
    logged_in_page: Page, pipeline: Pipeline, proposal_guard: None
) -> None:
    page = logged_in_page
    page.goto(reverse("pipeline:board", args=[pipeline.pk]))
    fuel = card(page, "Fuel contract")
    fuel.get_by_label("Move to").select_option(label="Negotiation")
    fuel.get_by_role("button", name="Move").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("listitem").filter(has_text="Moved “Fuel contract”")).to_be_visible()
    expect(column(page, "Negotiation")).to_contain_text("Fuel contract")

    # The guard's refusal is a page of its own with the way back.
    launch = card(page, "Launch pad")
    launch.get_by_label("Move to").select_option(label="Proposal")
    launch.get_by_role("button", name="Move").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text(NEXT_STEP_NEEDED)
    check_page(page)
    page.get_by_role("link", name="Back to the board").click()
    expect(column(page, "Prospecting")).to_contain_text("Launch pad")
