"""The calendar and notifications pages in a real browser: accessible (axe) at desktop and
phone width, usable from the keyboard, and the subscription address shown once."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from patron.activities.reminders import reminders_deliver, reminders_set
from patron.activities.services import activity_create
from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default
from tests.e2e.conftest import ALL_ACTIONS, PHONE, check_page, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def planned(e2e_user: Any) -> dict[str, Any]:
    grant(e2e_user.role, "activities.activity", *ALL_ACTIONS)
    set_org_default("activities.activity", OrgWideAccess.PRIVATE)
    today = timezone.now().replace(minute=0, second=0, microsecond=0)
    demo = activity_create(
        user=e2e_user,
        kind="appointment",
        subject="Product demo for Acme Rockets",
        location="Video call",
        starts_at=today.replace(hour=10),
        ends_at=today.replace(hour=11),
    )
    activity_create(
        user=e2e_user,
        kind="task",
        subject="Send the quote",
        due_at=today.replace(hour=16),
    )
    activity_create(
        user=e2e_user,
        kind="appointment",
        subject="Trade fair",
        starts_at=today + datetime.timedelta(days=1),
        ends_at=today + datetime.timedelta(days=2),
        all_day=True,
    )
    return {"demo": demo}


def test_calendar_views_are_accessible_and_fit_a_phone(
    logged_in_page: Page, planned: dict[str, Any]
) -> None:
    page = logged_in_page
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My calendar")
    expect(page.get_by_role("link", name="Product demo for Acme Rockets").first).to_be_visible()
    screenshot(page, "calendar-month")
    check_page(page)

    page.set_viewport_size(PHONE)
    expect(page.locator(".cal-month-list")).to_be_visible()
    expect(page.locator(".cal-month-wrap")).to_be_hidden()
    page.screenshot(path="/tmp/shots/calendar-month-phone.png", full_page=True)

    for view in ("Week", "Day"):
        page.get_by_role("link", name=view, exact=True).click()
        expect(page).to_have_url(re.compile(f"view={view.lower()}"))
        expect(page.get_by_text("Product demo for Acme Rockets").first).to_be_visible()
        check_page(page)
        page.screenshot(path=f"/tmp/shots/calendar-{view.lower()}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, "calendar-day")

    page.get_by_role("link", name="Team", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Team calendar")
    check_page(page)


def test_subscription_address_is_shown_once_and_serves_the_feed(
    logged_in_page: Page, planned: dict[str, Any]
) -> None:
    page = logged_in_page
    page.goto("/calendar/")
    page.get_by_role("button", name="Create subscription address").click()
    address = page.get_by_label("Your secret calendar address")
    url = address.input_value()
    assert "/calendar/feed/" in url
    check_page(page)
    feed = page.request.get(url)
    assert feed.status == 200
    assert "BEGIN:VEVENT" in feed.text()
    page.get_by_role("link", name="Back to my calendar").click()
    expect(page.get_by_role("button", name="Reset subscription address")).to_be_visible()


def test_reminder_reaches_the_bell_and_the_notifications_page(
    logged_in_page: Page, planned: dict[str, Any]
) -> None:
    page = logged_in_page
    demo = planned["demo"]
    reminders_set(activity=demo, minutes=[30])
    reminders_deliver(now=demo.starts_at - datetime.timedelta(minutes=29))
    page.goto("/")
    bell = page.get_by_role("link", name=re.compile(r"Notifications, 1 unread"))
    expect(bell).to_be_visible()
    bell.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    expect(page.get_by_role("strong")).to_contain_text("Product demo for Acme Rockets: starts")
    screenshot(page, "notifications")
    check_page(page)
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_text("Nothing unread.")).to_be_visible()
