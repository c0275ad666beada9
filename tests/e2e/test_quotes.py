"""Quotes in a real browser: a quote made from an opportunity's Quotes card, a line added,
the quote sent, and the customer's link opened in a fresh browser (no session) and accepted;
the quote page and the public page pass axe at desktop and phone width."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from patron.contacts.services import account_create
from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default
from patron.orders.choices import QuoteStatus
from patron.orders.models import Quote
from patron.pipeline.models import Opportunity
from patron.pipeline.services import opportunity_create
from patron.pipeline.tests.conftest import make_pipeline
from tests.e2e.conftest import ALL_ACTIONS, check_page, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def deal(e2e_user: Any) -> Opportunity:
    for object_type in ("pipeline.opportunity", "orders.quote", "orders.product"):
        grant(e2e_user.role, object_type, *ALL_ACTIONS)
        set_org_default(object_type, OrgWideAccess.PRIVATE)
    make_pipeline()
    account = account_create(user=e2e_user, name="Acme Rockets")
    return opportunity_create(
        user=e2e_user,
        name="Launch pad",
        account=account,
        amount="12000",
        currency="USD",
        close_date=datetime.date.today() + datetime.timedelta(days=30),
    )


def test_a_quote_made_sent_and_accepted_through_the_customer_link(
    logged_in_page: Page, deal: Opportunity, browser: Browser, live_server: Any
) -> None:
    page = logged_in_page
    page.goto(f"/opportunities/{deal.pk}/")
    page.get_by_role("link", name="New quote").click()
    page.get_by_role("button", name=re.compile("^(Save|Create)")).click()
    expect(
        page.get_by_role("heading", name=re.compile(r"Q-\d+ Quote for Launch pad"))
    ).to_be_visible()

    lines = page.locator("section", has=page.get_by_role("heading", name="Lines"))
    lines.get_by_label("Description").fill("Launch pad installation")
    lines.get_by_label("Quantity").fill("2")
    lines.get_by_label("Unit price").fill("5000")
    lines.get_by_label("Discount %").fill("10")
    lines.get_by_role("button", name="Add the line").click()
    expect(page.locator("#quote-total")).to_have_text("9000.00 USD")
    check_page(page)
    screenshot(page, "quote-detail")

    page.get_by_role("button", name="Send to the customer").click()
    link = page.get_by_label("Customer link").input_value()
    assert "/q/" in link

    customer = browser.new_context(base_url=live_server.url)
    try:
        public = customer.new_page()
        public.goto(link)
        expect(public.get_by_role("heading", name=re.compile("Quote Q-"))).to_be_visible()
        check_page(public)
        public.get_by_label("Your name").fill("Carla Customer")
        public.get_by_role("button", name="Accept the quote").click()
        expect(public.get_by_role("status")).to_contain_text("accepted by Carla Customer")
    finally:
        customer.close()

    assert Quote.objects.get().status == QuoteStatus.ACCEPTED
    page.reload()
    expect(page.get_by_role("heading", name="Status: Accepted")).to_be_visible()
