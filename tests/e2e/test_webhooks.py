"""Webhooks in a real browser: an administrator allows a private host, subscribes a local
receiver, copies the secret shown once, sends a test and reads the delivery log. Axe and
phone width on every page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from patron.automation.models import WebhookSubscription
from patron.automation.tests.webhook_support import local_receiver, verify_signature
from patron.users.tests.factories import UserFactory
from tests.e2e.conftest import PASSWORD, check_page, log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL = "ada.webhooks@example.com"


@pytest.fixture
def admin(transactional_db: None) -> Any:
    return UserFactory(is_superuser=True, is_staff=True, email=ADMIN_EMAIL, full_name="Ada Admin")


def test_admin_subscribes_a_receiver_and_sends_a_test(page: Page, admin: Any) -> None:
    log_in(page, email=ADMIN_EMAIL, password=PASSWORD)
    with local_receiver([200]) as receiver:
        page.goto("/automation/webhooks/")
        check_page(page)

        page.get_by_role("link", name="New subscription").click()
        page.get_by_label("Name").fill("ERP sync")
        page.get_by_label("Target URL").fill(receiver.url)
        page.get_by_label("Events").select_option(["lead.converted", "account.created"])
        page.get_by_role("button", name="Create").click()
        expect(page.get_by_text(re.compile("loopback address"))).to_be_visible()
        check_page(page)

        page.get_by_role("link", name="Allowed private hosts").click()
        page.get_by_role("textbox", name=re.compile("^Host")).fill("127.0.0.1")
        page.get_by_label("Note").fill("Test receiver")
        page.get_by_role("button", name="Allow host").click()
        expect(page.get_by_role("rowheader", name="127.0.0.1")).to_be_visible()
        check_page(page)

        page.get_by_role("link", name="Subscriptions").click()
        page.get_by_role("link", name="New subscription").click()
        page.get_by_label("Name").fill("ERP sync")
        page.get_by_label("Target URL").fill(receiver.url)
        page.get_by_label("Events").select_option(["lead.converted", "account.created"])
        page.get_by_role("button", name="Create").click()
        secret = page.get_by_label("Secret").input_value()
        assert secret == WebhookSubscription.objects.get().secret
        check_page(page)

        page.get_by_role("link", name="Done").click()
        page.get_by_role("button", name="Send test").click()
        expect(page.get_by_text(re.compile(r"Test event sent: HTTP 200"))).to_be_visible()
        expect(page.get_by_role("cell", name=re.compile("webhook.test"))).to_be_visible()
        check_page(page)
        screenshot(page, "webhook-detail")
    (request,) = receiver.requests
    assert verify_signature(
        header=request.headers["Patron-Signature"], body=request.body, secret=secret
    )
