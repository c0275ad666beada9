"""A run whose task never reached a worker (the broker was down when it was dispatched)
does not fail the request that started it, and the scheduler's tick starts it later, once."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from celery import current_app
from django.utils import timezone

from patron.automation import engine, services
from patron.automation.choices import RunStatus
from patron.automation.models import WorkflowRun

pytestmark = pytest.mark.django_db

NOTIFY = [{"id": "tell", "type": "notify", "config": {"recipient": "owner", "title": "Hi"}}]


def _refuse(*args: Any, **kwargs: Any) -> None:
    raise ConnectionRefusedError("Connection refused")


def test_a_run_dispatched_while_the_broker_is_down_is_started_by_the_tick_once(
    make_workflow: Any,
    deal: Any,
    rep: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    workflow = make_workflow(trigger={"type": "manual"}, steps=NOTIFY)
    monkeypatch.setattr(current_app, "send_task", _refuse)
    with django_capture_on_commit_callbacks(execute=True):
        services.run_manual(user=rep, workflow=workflow, record=deal)
    run = WorkflowRun.objects.get(workflow=workflow)
    assert run.status == RunStatus.PENDING
    # A queue that is merely busy is left alone for a while.
    assert engine.resume_due(now=timezone.now()) == 0
    later = timezone.now() + engine.PENDING_GRACE + datetime.timedelta(seconds=1)
    assert engine.resume_due(now=later) == 1
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert list(run.step_runs.values_list("step_id", flat=True)) == ["tell"]
    assert engine.resume_due(now=later + datetime.timedelta(hours=1)) == 0
