"""Runs a killed worker left running are taken back by the scheduler and finished once."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from patron.activities.models import Activity
from patron.automation import engine, services, tasks
from patron.automation.choices import RunStatus, StepStatus
from patron.automation.models import WorkflowRun
from patron.automation.registry import StepResult, StepType, register_step_type

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs, nothing is caught."""


@pytest.fixture
def dying_step() -> dict[str, int]:
    """A step whose worker dies the first ``deaths`` times it runs, then succeeds."""
    state = {"deaths": 1, "calls": 0}

    def execute(ctx: Any) -> StepResult:
        state["calls"] += 1
        if state["calls"] <= state["deaths"]:
            raise WorkerKilled
        return StepResult(output={"calls": state["calls"]})

    register_step_type(
        StepType(
            key="test_dying",
            label="Kills its worker (tests)",
            fields=(),
            execute=execute,
            describe=lambda ctx: "Dies",
        )
    )
    return state


STEPS = [
    {"id": "task", "type": "create_task", "config": {"subject": "Call", "assignee": "owner"}},
    {
        "id": "mail",
        "type": "send_email",
        "config": {"to": "owner", "subject": "Hi", "body": "{{ record.name }}"},
    },
    {"id": "crash", "type": "test_dying", "config": {}},
    {"id": "tell", "type": "notify", "config": {"recipient": "owner", "title": "Done"}},
]


def _start_and_kill(make_workflow: Any, deal: Any, rep: Any) -> WorkflowRun:
    workflow = make_workflow(trigger={"type": "manual"}, steps=STEPS)
    with pytest.raises(WorkerKilled):
        services.run_manual(user=rep, workflow=workflow, record=deal)
    return WorkflowRun.objects.get(workflow=workflow)


def test_a_run_left_running_by_a_killed_worker_is_resumed_without_redoing_steps(
    make_workflow, deal, rep, inline_runs, dying_step
):
    run = _start_and_kill(make_workflow, deal, rep)
    assert run.status == RunStatus.RUNNING
    assert run.cursor == [2]  # the task and the email were done and committed
    assert run.resume_at is not None
    assert list(run.step_runs.values_list("step_id", flat=True)) == ["task", "mail"]
    # While the lease runs, the worker may still be alive: nothing is taken back.
    assert engine.reclaim_stale(now=timezone.now() + datetime.timedelta(minutes=1)) == 0
    later = timezone.now() + engine.RUN_LEASE + datetime.timedelta(minutes=1)
    assert engine.reclaim_stale(now=later) == 1
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.context["reclaimed"] == 1
    assert Activity.objects.filter(kind="task").count() == 1
    assert len(mail.outbox) == 1
    steps = list(run.step_runs.values_list("step_id", "attempt", "status"))
    assert steps == [
        ("task", 1, StepStatus.SUCCEEDED),
        ("mail", 1, StepStatus.SUCCEEDED),
        ("crash", 1, StepStatus.SUCCEEDED),
        ("tell", 1, StepStatus.SUCCEEDED),
    ]
    # A second scheduler tick finds nothing left to take back.
    assert engine.reclaim_stale(now=later + datetime.timedelta(hours=1)) == 0


def test_the_scheduler_tick_takes_back_stale_runs(
    make_workflow, deal, rep, inline_runs, dying_step, monkeypatch
):
    run = _start_and_kill(make_workflow, deal, rep)
    later = timezone.now() + engine.RUN_LEASE + datetime.timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    tasks.tick()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED


def test_a_step_that_kills_every_worker_fails_the_run_after_a_few_reclaims(
    make_workflow, deal, rep, inline_runs, dying_step
):
    dying_step["deaths"] = 100
    run = _start_and_kill(make_workflow, deal, rep)
    now = timezone.now()
    for _ in range(engine.MAX_RECLAIMS):
        now += engine.RUN_LEASE + datetime.timedelta(minutes=1)
        with pytest.raises(WorkerKilled):
            engine.reclaim_stale(now=now)
    now += engine.RUN_LEASE + datetime.timedelta(minutes=1)
    assert engine.reclaim_stale(now=now) == 1
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "stopped 4 times (at step crash)" in run.error
    assert len(mail.outbox) == 1
    assert Activity.objects.filter(kind="task").count() == 1


def test_a_waiting_or_finished_run_is_never_reclaimed(make_workflow, deal, rep, inline_runs):
    workflow = make_workflow(
        trigger={"type": "manual"},
        steps=[{"id": "wait", "type": "wait", "config": {"duration": {"days": 2}}}],
    )
    run = services.run_manual(user=rep, workflow=workflow, record=deal)
    run.refresh_from_db()
    assert run.status == RunStatus.WAITING
    assert engine.reclaim_stale(now=timezone.now() + datetime.timedelta(days=3)) == 0
    run.refresh_from_db()
    assert run.status == RunStatus.WAITING
