"""Leads in a real browser: a visitor on another site fills in the embedded capture form (the
snippet an admin copies: a div and Patron's script, posting across origins with CORS), then
a sales rep opens the new lead and converts it to an account, a contact and an opportunity.
The pages pass axe at desktop and phone width; screenshots feed the user guide."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default
from patron.leads.capture import capture_form_create
from patron.leads.models import CaptureForm, Lead
from patron.pipeline.tests.conftest import make_pipeline
from patron.users.tests.factories import UserFactory
from tests.e2e.conftest import ALL_ACTIONS, check_page, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Spam protection refuses forms sent sooner than this after the page loaded.
HUMAN_PAUSE_MS = 3200


@pytest.fixture
def shop_server() -> Iterator[tuple[str, dict[str, str]]]:
    """A customer's web site: a static page on its own origin, served by a tiny HTTP server,
    so the embed script and the form's post reach Patron across origins (CORS)."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()


@pytest.fixture
def shop_site(
    shop_server: tuple[str, dict[str, str]], capture_form: CaptureForm, live_server: Any
) -> str:
    origin, pages = shop_server
    pages["/shop/contact.html"] = shop_page(live_server, capture_form)
    return origin


@pytest.fixture
def capture_form(
    e2e_user: Any, live_server: Any, shop_server: tuple[str, dict[str, str]]
) -> CaptureForm:
    for object_type in (
        "leads.lead",
        "pipeline.opportunity",
        "activities.activity",
    ):
        grant(e2e_user.role, object_type, *ALL_ACTIONS)
        set_org_default(object_type, OrgWideAccess.PRIVATE)
    make_pipeline()
    admin = UserFactory(is_superuser=True, email="admin.e2e@example.com")
    return capture_form_create(
        user=admin,
        data={
            "name": "Talk to sales",
            "fields": [
                {"field": "first_name", "label": "First name", "required": False},
                {"field": "last_name", "label": "Last name", "required": True},
                {"field": "email", "label": "Work email", "required": True},
                {"field": "company", "label": "Company", "required": False},
                {"field": "description", "label": "How can we help?", "required": False},
            ],
            "default_owner": e2e_user,
            "default_campaign": "Website 2027",
            "thank_you_message": "Thanks, a specialist will call you within a day.",
            "allowed_origins": [shop_server[0]],
        },
    )


def shop_page(live_server: Any, form: CaptureForm) -> str:
    """A page of another site with the embed snippet pasted in."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop: contact</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Talk to our sales team</h1>
<div data-patron-capture="{form.key}"></div>
<script src="{live_server.url}/capture/{form.key}/embed.js" async></script>
</main></body></html>"""


def test_capture_through_the_embedded_form_then_convert(
    logged_in_page: Page, capture_form: CaptureForm, browser: Browser, shop_site: str
) -> None:
    visitor = browser.new_context()
    try:
        site = visitor.new_page()
        site.goto(f"{shop_site}/shop/contact.html")
        site.get_by_label("Work email *").fill("not-an-email")
        site.get_by_label("Last name *").fill("Lovelace")
        site.wait_for_timeout(HUMAN_PAUSE_MS)
        site.get_by_role("button", name="Send").click()
        expect(site.get_by_text(re.compile("not a valid email"))).to_be_visible()
        site.get_by_label("First name").fill("Ada")
        site.get_by_label("Work email *").fill("ada@analytical.example")
        site.get_by_label("Company").fill("Analytical Engines")
        site.get_by_label("How can we help?").fill("We need 40 seats.")
        screenshot(site, "lead-capture-embedded")
        site.get_by_role("button", name="Send").click()
        expect(site.get_by_role("status")).to_have_text(capture_form.thank_you_message)
    finally:
        visitor.close()

    lead = Lead.objects.get()
    assert (lead.first_name, lead.company, lead.campaign) == (
        "Ada",
        "Analytical Engines",
        "Website 2027",
    )

    page = logged_in_page
    page.goto("/leads/")
    check_page(page)
    page.get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_role("heading", name="Ada Lovelace (Analytical Engines)")).to_be_visible()
    check_page(page)
    screenshot(page, "lead-detail")

    page.get_by_role("link", name="Convert").click()
    page.get_by_label("Create a new company account from the lead").check()
    page.get_by_label("Create an opportunity").check()
    page.get_by_label("Opportunity name").fill("Analytical Engines: 40 seats")
    page.get_by_label("Amount").fill("24000")
    page.get_by_label("Close date").fill("2027-06-30")
    check_page(page)
    screenshot(page, "lead-convert")
    page.get_by_role("button", name="Convert").click()

    expect(page.get_by_role("heading", name="Converted")).to_be_visible()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    check_page(page)
    page.get_by_role("link", name="Analytical Engines", exact=True).click()
    expect(page.get_by_role("heading", name="Analytical Engines")).to_be_visible()
    lead.refresh_from_db()
    assert lead.converted_opportunity_id is not None


def test_hosted_form_shows_errors_inline_and_passes_axe(
    page: Page, capture_form: CaptureForm
) -> None:
    page.goto(f"/capture/{capture_form.key}/")
    check_page(page)
    screenshot(page, "lead-capture-hosted")
    page.get_by_label("Work email").fill("nope")
    page.wait_for_timeout(HUMAN_PAUSE_MS)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Last name is required.")).to_be_visible()
    check_page(page)
    page.get_by_label("Last name").fill("Byron")
    page.get_by_label("Work email").fill("byron@example.org")
    page.wait_for_timeout(HUMAN_PAUSE_MS)
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#capture-message")).to_have_text(capture_form.thank_you_message)


def test_capture_form_admin_page_shows_the_snippet(page: Page, capture_form: CaptureForm) -> None:
    from tests.e2e.conftest import PASSWORD, log_in

    UserFactory(is_superuser=True, email="root.e2e@example.com")
    log_in(page, email="root.e2e@example.com", password=PASSWORD)
    page.goto(f"/admin-area/capture-forms/{capture_form.pk}/")
    snippet = page.get_by_label("Copy this where the form should appear:").input_value()
    assert f'data-patron-capture="{capture_form.key}"' in snippet
    assert f"/capture/{capture_form.key}/embed.js" in snippet
    check_page(page)
    screenshot(page, "lead-capture-admin")
