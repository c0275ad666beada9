"""A database or broker outage answers 503 with Retry-After (a page that needs no database,
or a problem document under /api/), never a 500 or a traceback; jobs are refused or marked
failed when the broker is down, never left queued forever (issue 8, "Faults")."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from celery import current_app
from django.contrib.sessions.backends.db import SessionStore
from django.db import InterfaceError, OperationalError
from django.test import Client

from patron.core import health
from patron.core.choices import JobStatus
from patron.core.exceptions import BrokerUnavailable
from patron.core.jobs import BROKER_DOWN_ERROR, enqueue, job_start
from patron.core.middleware import RETRY_AFTER_SECONDS
from patron.core.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(admin_user: Any) -> Client:
    # The test client re-raises what a view raised; a browser only sees the response.
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    return client


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first query of a request (loading the session, in a middleware) fails."""

    def refuse(self: Any) -> dict[str, Any]:
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(SessionStore, "load", refuse)


def test_a_page_answers_503_with_retry_after_when_the_database_is_down(
    signed_in: Client, database_down: None
) -> None:
    response = signed_in.get("/contacts/")
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert "The database is not answering" in body
    assert "Traceback" not in body
    assert "OperationalError" not in body


def test_the_api_answers_a_503_problem_when_the_database_is_down(
    signed_in: Client, database_down: None
) -> None:
    response = signed_in.get("/api/v1/contacts")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/problem+json")
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    problem = response.json()
    assert problem["type"] == "urn:patron:problem:service-unavailable"
    assert "database" in problem["detail"]


def test_an_api_operation_whose_connection_dropped_answers_503(
    signed_in: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dropped(request: Any) -> Any:
        raise InterfaceError("connection already closed")

    monkeypatch.setattr("patron.data_exchange.import_api.request_user", dropped)
    response = signed_in.get("/api/v1/data/imports/1")
    assert response.status_code == 503
    assert response.json()["status"] == 503


def test_other_errors_stay_500(signed_in: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Any) -> dict[str, Any]:
        raise ValueError("a bug, not an outage")

    monkeypatch.setattr(SessionStore, "load", broken)
    assert signed_in.get("/contacts/").status_code == 500


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "check_broker", lambda: "ConnectionError: Connection refused")


def test_a_job_is_refused_with_503_and_nothing_saved_when_the_broker_is_down(
    admin_user: Any, broker_down: None
) -> None:
    with pytest.raises(BrokerUnavailable) as refused:
        job_start(kind="core.ping", user=admin_user, params={}, task_name="core.ping")
    assert refused.value.status == 503
    assert refused.value.errors == {"broker": ["ConnectionError: Connection refused"]}
    assert not Job.objects.exists()


def _refuse_send(*args: Any, **kwargs: Any) -> None:
    raise ConnectionRefusedError("Connection refused")


def test_a_job_whose_send_fails_after_commit_is_marked_failed_not_left_queued(
    admin_user: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    monkeypatch.setattr(current_app, "send_task", _refuse_send)
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(kind="core.ping", user=admin_user, params={}, task_name="core.ping")
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == BROKER_DOWN_ERROR


def test_enqueue_logs_a_refused_send_instead_of_failing_the_committed_request(
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(current_app, "send_task", _refuse_send)
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        enqueue("leads.route_lead", 42)
    assert "The task broker refused leads.route_lead(42,)" in caplog.text


def test_starting_a_job_through_the_api_with_the_broker_down_is_a_503_naming_it(
    admin_user: Any, broker_down: None
) -> None:
    client = Client()
    client.force_login(admin_user)
    response = client.post("/api/v1/lead-scoring/model/refit")
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    problem = response.json()
    assert problem["type"] == "urn:patron:problem:service-unavailable"
    assert "task broker is unavailable" in problem["detail"]
    assert problem["errors"] == {"broker": ["ConnectionError: Connection refused"]}
    assert not Job.objects.exists()
