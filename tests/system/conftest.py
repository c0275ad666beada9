"""Fixtures of the system tests: one scaled-out cluster for the whole run (it takes about
15 seconds to start), and browser-less sessions that log in the way a browser does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.system.harness import ADMIN_EMAIL, ADMIN_PASSWORD, Cluster, running_cluster, wait_for


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/system/" in str(item.fspath):
            item.add_marker(pytest.mark.system)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    cluster = item.funcargs.get("cluster") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(cluster, Cluster):
        report.sections.append(("patron processes (last lines of each log)", cluster.logs()))


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    with running_cluster() as started:
        yield started


class Browser:
    """A cookie jar and CSRF token, like a browser without JavaScript."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}{path}"

    def login(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
        page = self.http.get(self.url("/login/"), timeout=60)
        assert page.status_code == 200, page.text[:500]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "the login page has no CSRF token"
        response = self.http.post(
            self.url("/login/"),
            data={"csrfmiddlewaretoken": token.group(1), "email": email, "password": password},
            headers={"Referer": self.url("/login/")},
            allow_redirects=False,
            timeout=60,
        )
        assert response.status_code == 302, response.text[:1000]

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return self.http.get(self.url(path), **kwargs)

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """An unsafe request with the CSRF header the session's cookie calls for."""
        headers = dict(kwargs.pop("headers", {}) or {})
        headers["X-CSRFToken"] = self.http.cookies.get("csrftoken", "")
        headers.setdefault("Referer", self.url("/"))
        kwargs.setdefault("timeout", 60)
        return self.http.request(method, self.url(path), headers=headers, **kwargs)


@pytest.fixture
def browser(cluster: Cluster) -> Browser:
    """A logged-in session through the load balancer."""
    session = Browser(cluster.lb_url)
    session.login()
    return session


# --- flows the tests share -------------------------------------------------------------------


def create_contact(session: Browser, last_name: str, **fields: Any) -> dict[str, Any]:
    response = session.send("POST", "/api/v1/contacts", json={"last_name": last_name, **fields})
    assert response.status_code == 201, (response.status_code, response.text[:500])
    created: dict[str, Any] = response.json()
    return created


def contacts_csv(marker: str, rows: int) -> bytes:
    lines = ["First name,Last name,Email"]
    lines += [f"Row{n},{marker},{marker.lower()}.{n}@example.com" for n in range(1, rows + 1)]
    return ("\n".join(lines) + "\n").encode()


def import_prepare(session: Browser, marker: str, rows: int) -> dict[str, Any]:
    """Upload a CSV of ``rows`` contacts named ``marker`` and map its columns (not started)."""
    upload = session.send(
        "POST",
        "/api/v1/data/imports",
        data={"object_type": "contacts.contact"},
        files={"file": (f"{marker}.csv", contacts_csv(marker, rows), "text/csv")},
    )
    assert upload.status_code == 201, (upload.status_code, upload.text[:500])
    run: dict[str, Any] = upload.json()
    mapped = session.send(
        "PUT", f"/api/v1/data/imports/{run['id']}/mapping", json={"columns": run["columns"]}
    )
    assert mapped.status_code == 200, mapped.text[:500]
    return run


def import_start(session: Browser, run_id: int) -> requests.Response:
    return session.send(
        "POST", f"/api/v1/data/imports/{run_id}/start", json={"allow_duplicates": True}
    )


def import_wait_done(cluster: Cluster, run_id: int, timeout: float = 120) -> None:
    wait_for(
        lambda: (
            cluster.scalar("SELECT status FROM data_exchange_importrun WHERE id = %s", [run_id])
            == "done"
        ),
        timeout=timeout,
        what=f"import {run_id} to finish",
        interval=0.5,
    )


def assert_imported_once(cluster: Cluster, run_id: int, marker: str, rows: int) -> None:
    """Every row of the file made one contact and one ImportRow; none twice, none missing."""
    assert (
        cluster.scalar("SELECT count(*) FROM contacts_contact WHERE last_name = %s", [marker])
        == rows
    )
    outcomes = cluster.query(
        "SELECT outcome, count(*), count(DISTINCT row_number) FROM data_exchange_importrow "
        "WHERE run_id = %s GROUP BY outcome",
        [run_id],
    )
    assert outcomes == [("created", rows, rows)], outcomes
    counts = cluster.query(
        "SELECT rows_done, created_count, failed_count FROM data_exchange_importrun WHERE id = %s",
        [run_id],
    )
    assert counts == [(rows, rows, 0)], counts
    job = cluster.query(
        "SELECT j.status FROM core_job j JOIN data_exchange_importrun r ON r.job_id = j.id "
        "WHERE r.id = %s",
        [run_id],
    )
    assert job == [("done",)], job


def create_workflow(session: Browser, **definition: Any) -> dict[str, Any]:
    response = session.send(
        "POST", "/api/v1/automation/workflows", json={"activate": True, **definition}
    )
    assert response.status_code == 201, (response.status_code, response.text[:800])
    created: dict[str, Any] = response.json()
    return created
