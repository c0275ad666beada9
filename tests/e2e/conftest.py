"""Browser test fixtures: Debian's Chromium driven by Playwright against pytest-django's
live server, an axe-core accessibility gate, and optional user-guide screenshots.

Background jobs run in-process: ``celery_eager`` replaces the Celery app's ``send_task`` so
that a task sent after commit by the live server runs right there, through the real task
code, before the response is returned (see docs/testing.md for why).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    expect,
    sync_playwright,
)

from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default
from patron.users.tests.factories import UserFactory, make_role

CHROMIUM = os.environ.get("PATRON_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_PATH = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "user-guide" / "img"
DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=375, height=740)
BLOCKING_IMPACTS = ("serious", "critical")

PASSWORD = "correct horse battery"
USER_EMAIL = "erin.e2e@example.com"
USER_NAME = "Erin Endtoend"
ALL_ACTIONS = ("create", "read", "update", "delete", "export", "import")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Browser tests use an SQLite file, not the in-memory database.

    The live server answers concurrent requests (a form submit racing the HTMX field
    validation) from several threads; an in-memory database is one connection shared by all
    of them and fails with "database table is locked", whereas a file gives each thread its
    own connection with WAL and the busy timeout, as in production.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        folder = tmp_path_factory.mktemp("e2e-db")
        database.setdefault("TEST", {})["NAME"] = str(folder / "patron-e2e.sqlite3")


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (not playwright install)")
    # The sync Playwright API keeps an event loop running in this thread, so Django would
    # refuse ORM calls made by the test code without this flag.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as driver:
        yield driver
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def celery_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every task sent through the Celery app synchronously in the sending thread."""
    from celery import current_app

    # What a worker does when it starts: import every app's tasks.py (autodiscovery).
    current_app.loader.import_default_modules()

    def send_task(name: str, args: Any = None, kwargs: Any = None, **_options: Any) -> Any:
        return current_app.tasks[name].apply(args=args or (), kwargs=kwargs or {}, throw=True)

    monkeypatch.setattr(current_app, "send_task", send_task)


@pytest.fixture
def context(browser: Browser, live_server: Any, celery_eager: None) -> Iterator[BrowserContext]:
    # The login throttle and other counters live in the cache, which outlives the database
    # flush between transactional tests.
    cache.clear()
    context = browser.new_context(
        base_url=live_server.url, viewport=DESKTOP, accept_downloads=True, locale="en-GB"
    )
    # An init script is injected by the browser itself, so a Content-Security-Policy that
    # forbids inline scripts cannot stop axe from loading.
    context.add_init_script(path=str(AXE_PATH))
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def new_page(context: BrowserContext) -> Iterator[Callable[[], Page]]:
    """Open tabs in the same session (for example to edit one record twice); any uncaught
    JavaScript error or Content-Security-Policy violation on them fails the test."""
    errors: list[str] = []

    def open_page() -> Page:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
        # Chromium reports what the CSP blocked ("Refused to execute inline script ...")
        # only on the console: an inline handler left in a template fails here.
        page.on(
            "console",
            lambda message: (
                errors.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    yield open_page
    assert not errors, f"uncaught JavaScript errors or CSP violations: {errors}"


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    return new_page()


@pytest.fixture
def e2e_user(transactional_db: None) -> Any:
    """A sales rep allowed every action on accounts and contacts (org-wide default private)."""
    role = make_role("E2E Rep")
    for object_type in ("contacts.account", "contacts.contact"):
        grant(role, object_type, *ALL_ACTIONS)
        set_org_default(object_type, OrgWideAccess.PRIVATE)
    return UserFactory(role=role, email=USER_EMAIL, full_name=USER_NAME)


def log_in(page: Page, *, email: str, password: str) -> None:
    """Log in through the real /login/ form."""
    page.goto("/login/")
    page.get_by_label(re.compile(r"^e-?mail", re.IGNORECASE)).fill(email)
    page.get_by_label(re.compile(r"^password", re.IGNORECASE)).fill(password)
    page.get_by_role("button", name=re.compile(r"log ?in|sign ?in", re.IGNORECASE)).click()


@pytest.fixture
def logged_in_page(page: Page, e2e_user: Any) -> Page:
    log_in(page, email=USER_EMAIL, password=PASSWORD)
    expect(page).not_to_have_url(re.compile(r"/login/"))
    return page


def axe_violations(page: Page) -> list[tuple[str, str, str]]:
    """axe-core's serious and critical findings on the current page: (rule, target, text)."""
    page.wait_for_load_state("load")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated, not added as a <script> tag, which the Content-Security-Policy refuses
        # (a context made without the init script, e.g. a customer's fresh browser).
        page.evaluate(AXE_PATH.read_text())
    violations: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    width = (page.viewport_size or DESKTOP)["width"]
    found = []
    for violation in violations:
        if violation.get("impact") not in BLOCKING_IMPACTS:
            continue
        for node in violation["nodes"]:
            target = " ".join(map(str, node["target"]))
            found.append(
                (
                    violation["id"],
                    target,
                    f"{violation['id']} ({violation['impact']}) at {width}px: "
                    f"{violation['help']}\n    target: {target}\n    html: {node['html'][:160]}",
                )
            )
    return found


def axe_check(page: Page) -> None:
    """Fail on any axe-core violation of impact serious or critical on the current page."""
    failures = [text for _rule, _target, text in axe_violations(page)]
    if failures:
        pytest.fail(f"axe violations on {page.url}:\n" + "\n".join(failures), pytrace=False)


# The elements that stick out past the right edge of the viewport and are not clipped by a
# scrolling container: the innermost ones, which are the cause, not their ancestors.
_OVERFLOWING_JS = """() => {
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth - width <= 1) return [];
    const clipped = el => {
        for (let p = el.parentElement; p; p = p.parentElement) {
            if (['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(p).overflowX)) {
                return true;
            }
        }
        return false;
    };
    const out = [...document.body.querySelectorAll('*')].filter(
        el => el.getBoundingClientRect().right > width + 1 && !clipped(el)
    );
    return out.filter(el => !out.some(other => other !== el && el.contains(other)))
        .map(el => {
            const id = 'e2e-overflow-' + Math.random().toString(36).slice(2);
            el.setAttribute('data-e2e-overflow', id);
            return [`[data-e2e-overflow="${id}"]`, el.outerHTML.slice(0, 160)];
        });
}"""


def phone_overflow(page: Page) -> list[tuple[str, str]]:
    """(selector, html) of what makes the page scroll sideways at the current width."""
    found: list[list[str]] = page.evaluate(_OVERFLOWING_JS)
    return [(selector, html) for selector, html in found]


def check_phone_width(page: Page) -> None:
    """At phone width the page must not scroll sideways (wide tables scroll in a container)."""
    failures = [
        f"overflow at {PHONE['width']}px:\n    html: {html}"
        for _target, html in phone_overflow(page)
    ]
    if failures:
        pytest.fail(f"{page.url} scrolls sideways:\n" + "\n".join(failures), pytrace=False)


def check_page(page: Page) -> None:
    """Run axe at desktop and phone width; at phone width the page must not scroll sideways."""
    original = page.viewport_size or DESKTOP
    try:
        for size in (DESKTOP, PHONE):
            page.set_viewport_size(size)
            axe_check(page)
        check_phone_width(page)
    finally:
        page.set_viewport_size(original)


def screenshot(page: Page, name: str) -> None:
    """Write docs/user-guide/img/<name>.png, only when PATRON_SCREENSHOTS=1."""
    if os.environ.get("PATRON_SCREENSHOTS") != "1":
        return
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(DESKTOP)
    # No focus ring in the pictures; let the validation a blur triggers settle first.
    page.evaluate("() => document.activeElement?.blur()")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), animations="disabled")
