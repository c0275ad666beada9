"""The engine end to end: triggers start runs, steps take effect once, runs are logged,
retried, resumed after waits and stopped in loops."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from conftest import ALL_ACTIONS
from patron.activities.models import Activity, ActivityLink
from patron.automation import engine, selectors, services
from patron.automation.choices import RunStatus, StepStatus, VersionState
from patron.automation.models import StepRun, WorkflowRun
from patron.automation.registry import StepError, StepResult, StepType, register_step_type
from patron.contacts.services import account_update
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import ChangeLogEntry, Notification
from patron.core.testing import grant
from patron.pipeline.services import opportunity_delete, opportunity_move_stage, opportunity_update

pytestmark = pytest.mark.django_db

NEGOTIATION_TASK = [
    {
        "id": "task",
        "type": "create_task",
        "config": {
            "subject": "Review {{ record.name }} ({{ record.amount }})",
            "assignee": "owner_manager",
            "due_in_days": 2,
        },
    },
    {
        "id": "tell",
        "type": "notify",
        "config": {"recipient": "owner_manager", "title": "{{ record.name }} is in negotiation"},
    },
]


def test_stage_change_to_negotiation_with_big_amount_tasks_and_notifies_the_manager(
    make_workflow, deal, stages, rep, manager, inline_runs, committed
):
    workflow = make_workflow(
        trigger={"type": "field_changed", "field": "stage", "to": stages["Negotiation"].pk},
        conditions={"field": "amount", "op": "gt", "value": 50000},
        steps=NEGOTIATION_TASK,
    )
    with committed():
        opportunity_update(user=rep, opportunity=deal, amount="75000")
    assert not WorkflowRun.objects.exists()  # the stage did not change
    with committed():
        opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Negotiation"])
    run = WorkflowRun.objects.get()
    assert (run.status, run.version_id, run.workflow_id) == (
        RunStatus.SUCCEEDED,
        workflow.active_version_id,
        workflow.pk,
    )
    task = Activity.objects.get(kind="task")
    assert task.assignee == manager
    assert task.subject == "Review Rockets (75000.00)"
    assert ActivityLink.objects.filter(activity=task, object_id=deal.pk).exists()
    assert Notification.objects.get(user=manager).title == "Rockets is in negotiation"
    steps = list(run.step_runs.values_list("step_id", "status"))
    assert steps == [("task", StepStatus.SUCCEEDED), ("tell", StepStatus.SUCCEEDED)]
    assert all(row.duration_ms is not None for row in run.step_runs.all())


def test_conditions_that_do_not_match_start_no_run(make_workflow, deal, rep, committed):
    make_workflow(
        trigger={"type": "record_updated"},
        conditions={"field": "amount", "op": "gt", "value": 50000},
        steps=NEGOTIATION_TASK,
    )
    with committed():
        opportunity_update(user=rep, opportunity=deal, amount="2000")
    assert not WorkflowRun.objects.exists()


def test_record_created_sends_an_email_with_merge_fields(
    make_workflow, rep, acme, stages, inline_runs, committed
):
    from patron.automation.tests.conftest import CLOSE
    from patron.pipeline.services import opportunity_create

    make_workflow(
        trigger={"type": "record_created"},
        steps=[
            {
                "id": "mail",
                "type": "send_email",
                "config": {
                    "to": "owner",
                    "subject": "New: {{ record.name }}",
                    "body": "Account {{ record.account }}, owner {{ record.owner.email }}.",
                },
            }
        ],
    )
    with committed():
        opportunity_create(user=rep, name="<Big> deal", account=acme, close_date=CLOSE)
    (message,) = mail.outbox
    assert message.to == ["rep@example.com"]
    assert message.subject == "New: <Big> deal"
    assert message.body == "Account Acme Corporation, owner rep@example.com."


def test_record_updated_with_fields_fires_only_when_one_of_them_changes(
    make_workflow, deal, rep, inline_runs, committed
):
    make_workflow(
        trigger={"type": "record_updated", "fields": ["amount"]},
        steps=[{"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "x"}}],
    )
    with committed():
        opportunity_update(user=rep, opportunity=deal, name="Renamed")
    assert not WorkflowRun.objects.exists()
    with committed():
        opportunity_update(user=rep, opportunity=deal, amount="5")
    assert WorkflowRun.objects.get().status == RunStatus.SUCCEEDED


def test_record_deleted_trigger_runs_on_the_deleted_record(
    make_workflow, deal, rep, manager, inline_runs, committed
):
    make_workflow(
        trigger={"type": "record_deleted"},
        steps=[
            {
                "id": "n",
                "type": "notify",
                "config": {"recipient": "owner_manager", "title": "{{ record.name }} deleted"},
            }
        ],
    )
    with committed():
        opportunity_delete(user=rep, opportunity=deal)
    assert Notification.objects.get(user=manager).title == "Rockets deleted"


def test_named_app_event_trigger(make_workflow, deal, rep, stages, inline_runs, committed):
    make_workflow(
        trigger={"type": "event", "event": "opportunity.stage_changed"},
        steps=[{"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "moved"}}],
    )
    with committed():
        opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Proposal"])
    run = WorkflowRun.objects.get(trigger_type="event")
    assert run.context["event"] == "opportunity.stage_changed"
    assert Notification.objects.filter(user=rep, title="moved").exists()


def test_a_redelivered_event_makes_no_second_run(make_workflow, deal, inline_runs):
    make_workflow(
        trigger={"type": "record_updated"},
        steps=[{"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "x"}}],
    )
    payload = {"pk": deal.pk, "actor_id": None, "changes": {"amount": ["1", "2"]}}
    engine.on_event("opportunity.updated", payload)
    engine.on_event("opportunity.updated", payload)
    assert WorkflowRun.objects.count() == 1
    assert Notification.objects.count() == 1


def test_a_retried_run_sends_no_second_email_and_creates_no_second_task(
    make_workflow, deal, rep, inline_runs, committed
):
    make_workflow(
        trigger={"type": "manual"},
        steps=[
            {
                "id": "task",
                "type": "create_task",
                "config": {"subject": "Call", "assignee": "owner"},
            },
            {
                "id": "mail",
                "type": "send_email",
                "config": {"to": "owner", "subject": "Hi", "body": "{{ record.name }}"},
            },
            {"id": "tell", "type": "notify", "config": {"recipient": "owner", "title": "Done"}},
        ],
    )
    workflow = selectors.manual_workflows(object_type="pipeline.opportunity").get()
    run = services.run_manual(user=rep, workflow=workflow, record=deal)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    # The worker's task is delivered again from the start, as after a crash.
    WorkflowRun.objects.filter(pk=run.pk).update(status=RunStatus.PENDING, cursor=[0])
    engine.execute_run(run.pk)
    assert Activity.objects.filter(kind="task").count() == 1
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(title="Done").count() == 1
    assert StepRun.objects.filter(run=run, step_id="task").count() == 2


@pytest.fixture
def flaky_step():
    """A step that fails ``failures`` times with a retryable error, then succeeds."""
    state = {"failures": 0, "calls": 0}

    def execute(ctx):
        state["calls"] += 1
        if state["calls"] <= state["failures"]:
            raise StepError("The remote side is down.")
        return StepResult(output={"calls": state["calls"]})

    register_step_type(
        StepType(
            key="test_flaky",
            label="Flaky (tests)",
            fields=(),
            execute=execute,
            describe=lambda ctx: "Flaky",
        )
    )
    return state


def test_failed_steps_retry_with_backoff_then_fail_and_a_manual_retry_continues(
    make_workflow, deal, rep, admin_user, flaky_step, inline_runs
):
    flaky_step["failures"] = 3
    workflow = make_workflow(
        trigger={"type": "manual"},
        steps=[
            {
                "id": "mail",
                "type": "send_email",
                "config": {"to": "owner", "subject": "Once", "body": "x"},
            },
            {"id": "flaky", "type": "test_flaky", "config": {}},
        ],
    )
    run = services.run_manual(user=rep, workflow=workflow, record=deal)
    run.refresh_from_db()
    assert run.status == RunStatus.WAITING
    first_retry = run.resume_at
    assert first_retry is not None
    later = timezone.now() + datetime.timedelta(seconds=61)
    assert engine.resume_due(now=later) == 1
    run.refresh_from_db()
    assert run.status == RunStatus.WAITING
    assert run.resume_at == later + datetime.timedelta(seconds=240)  # 60 s x 4
    engine.resume_due(now=later + datetime.timedelta(hours=1))
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "The remote side is down." in run.error
    statuses = list(
        run.step_runs.filter(step_id="flaky").order_by("attempt").values_list("status", flat=True)
    )
    assert statuses == [StepStatus.RETRY_SCHEDULED, StepStatus.RETRY_SCHEDULED, StepStatus.FAILED]
    failed = run.step_runs.get(step_id="flaky", attempt=3)
    services.run_retry_step(user=admin_user, step_run=failed)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert len(mail.outbox) == 1
    assert run.step_runs.get(step_id="flaky", attempt=4).status == StepStatus.SUCCEEDED


def test_only_the_failed_step_of_a_failed_run_can_be_retried(
    make_workflow, deal, rep, admin_user, inline_runs
):
    workflow = make_workflow(
        trigger={"type": "manual"},
        steps=[{"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "x"}}],
    )
    run = services.run_manual(user=rep, workflow=workflow, record=deal)
    with pytest.raises(ValidationFailed):
        services.run_retry_step(user=admin_user, step_run=run.step_runs.get())


def test_two_workflows_updating_each_others_fields_are_stopped_as_a_loop(
    make_workflow, acme, rep, inline_runs, committed
):
    first = make_workflow(
        name="Website sets description",
        object_type="contacts.account",
        trigger={"type": "record_updated", "fields": ["website"]},
        steps=[{"id": "d", "type": "update_fields", "config": {"values": {"industry": "Rockets"}}}],
    )
    second = make_workflow(
        name="Description sets website",
        object_type="contacts.account",
        trigger={"type": "record_updated", "fields": ["industry"]},
        steps=[
            {
                "id": "w",
                "type": "update_fields",
                "config": {"values": {"website": "https://second.example"}},
            }
        ],
    )
    with committed():
        account_update(user=rep, account=acme, website="https://first.example")
    runs = list(WorkflowRun.objects.order_by("id"))
    assert [(r.workflow_id, r.status) for r in runs] == [
        (first.pk, RunStatus.SUCCEEDED),
        (second.pk, RunStatus.SUCCEEDED),
        (first.pk, RunStatus.LOOP_STOPPED),
    ]
    stopped = runs[-1]
    assert stopped.chain == [first.pk, second.pk]
    assert "started by its own steps" in stopped.error
    assert "Website sets description → Description sets website" in stopped.error
    assert not stopped.step_runs.exists()
    assert ChangeLogEntry.objects.filter(via="workflow", object_id=acme.pk).count() == 2


def test_a_wait_survives_a_restart_and_is_resumed_from_the_database(
    make_workflow, deal, rep, inline_runs
):
    workflow = make_workflow(
        trigger={"type": "manual"},
        steps=[
            {"id": "wait", "type": "wait", "config": {"duration": {"days": 2}}},
            {"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "Later"}},
        ],
    )
    run = services.run_manual(user=rep, workflow=workflow, record=deal)
    run.refresh_from_db()
    assert run.status == RunStatus.WAITING
    assert run.cursor == [1]
    # A restart: nothing in memory survives.
    engine.invalidate_index()
    assert engine.resume_due(now=timezone.now() + datetime.timedelta(days=1)) == 0
    assert engine.resume_due(now=timezone.now() + datetime.timedelta(days=2, minutes=1)) == 1
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert Notification.objects.filter(title="Later").count() == 1


def test_wait_until_a_date_field_with_an_offset(make_workflow, deal, rep, inline_runs):
    workflow = make_workflow(
        trigger={"type": "manual"},
        steps=[
            {"id": "w", "type": "wait", "config": {"until_field": "close_date", "offset_days": -1}},
            {"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "Soon"}},
        ],
    )
    run = services.run_manual(user=rep, workflow=workflow, record=deal)
    run.refresh_from_db()
    assert run.resume_at == datetime.datetime(2027, 3, 30, 9, tzinfo=datetime.UTC)


def test_branch_runs_the_then_or_else_steps(make_workflow, deal, rep, inline_runs):
    workflow = make_workflow(
        trigger={"type": "manual"},
        steps=[
            {
                "id": "b",
                "type": "branch",
                "config": {
                    "conditions": {"field": "amount", "op": "gte", "value": 500},
                    "then": [
                        {
                            "id": "big",
                            "type": "notify",
                            "config": {"recipient": "owner", "title": "Big"},
                        }
                    ],
                    "else": [
                        {
                            "id": "small",
                            "type": "notify",
                            "config": {"recipient": "owner", "title": "Small"},
                        }
                    ],
                },
            },
            {"id": "after", "type": "notify", "config": {"recipient": "owner", "title": "After"}},
        ],
    )
    services.run_manual(user=rep, workflow=workflow, record=deal)
    titles = set(Notification.objects.values_list("title", flat=True))
    assert titles == {"Big", "After"}


def test_date_relative_trigger_fires_once_per_record_and_date(
    make_workflow, deal, rep, inline_runs
):
    make_workflow(
        trigger={"type": "date_relative", "field": "close_date", "offset_days": -7},
        steps=[{"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "Week"}}],
    )
    week_before = datetime.datetime(2027, 3, 24, 10, tzinfo=datetime.UTC)
    assert engine.scan_date_triggers(now=week_before - datetime.timedelta(days=1)) == 0
    assert engine.scan_date_triggers(now=week_before) == 1
    assert engine.scan_date_triggers(now=week_before + datetime.timedelta(minutes=5)) == 0
    assert engine.scan_date_triggers(now=week_before + datetime.timedelta(days=1)) == 0
    assert Notification.objects.filter(title="Week").count() == 1


def test_cron_schedule_fires_once_per_slot(make_workflow, inline_runs, admin_user):
    workflow = make_workflow(
        object_type="",
        trigger={"type": "schedule", "cron": "0 * * * *"},
        steps=[
            {
                "id": "n",
                "type": "notify",
                "config": {"recipient": "user", "user_id": admin_user.pk, "title": "Tick"},
            }
        ],
    )
    version = workflow.active_version
    slot = version.next_fire_at
    assert slot.minute == 0
    assert engine.fire_schedules(now=slot - datetime.timedelta(minutes=1)) == 0
    assert engine.fire_schedules(now=slot) == 1
    assert engine.fire_schedules(now=slot + datetime.timedelta(minutes=1)) == 0
    assert engine.fire_schedules(now=slot + datetime.timedelta(hours=1)) == 1
    assert WorkflowRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 2
    # Notifications dedupe per run and step: one per slot.
    assert Notification.objects.filter(title="Tick").count() == 2


def test_editing_an_active_workflow_makes_a_draft_and_activation_retires_the_old_version(
    make_workflow, deal, rep, admin_user, inline_runs, committed
):
    workflow = make_workflow(
        trigger={"type": "record_updated"},
        steps=[{"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "v1"}}],
    )
    first = workflow.active_version
    services.workflow_update(
        user=admin_user,
        workflow=workflow,
        data={
            "steps": [
                {"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "v2"}}
            ]
        },
    )
    draft = services.draft_of(workflow)
    assert draft is not None
    assert (draft.number, draft.state) == (2, VersionState.DRAFT)
    with committed():
        opportunity_update(user=rep, opportunity=deal, amount="10")
    assert WorkflowRun.objects.get().version == first
    services.workflow_activate(user=admin_user, workflow=workflow)
    first.refresh_from_db()
    assert first.state == VersionState.RETIRED
    with committed():
        opportunity_update(user=rep, opportunity=deal, amount="20")
    assert WorkflowRun.objects.latest("id").version == draft
    assert set(Notification.objects.values_list("title", flat=True)) == {"v1", "v2"}


def test_deactivated_workflows_start_nothing(make_workflow, deal, rep, admin_user, committed):
    workflow = make_workflow(
        trigger={"type": "record_updated"},
        steps=[{"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "x"}}],
    )
    services.workflow_deactivate(user=admin_user, workflow=workflow)
    with committed():
        opportunity_update(user=rep, opportunity=deal, amount="10")
    assert not WorkflowRun.objects.exists()


def test_test_mode_describes_the_steps_without_side_effects(
    make_workflow, deal, admin_user, manager
):
    workflow = make_workflow(
        trigger={"type": "record_updated"},
        activate=False,
        steps=[
            *NEGOTIATION_TASK,
            {
                "id": "mail",
                "type": "send_email",
                "config": {"to": "owner", "subject": "About {{ record.name }}", "body": "x"},
            },
            {"id": "set", "type": "update_fields", "config": {"values": {"description": "Hot"}}},
            {"id": "wait", "type": "wait", "config": {"duration": {"days": 1}}},
        ],
    )
    report = services.workflow_test(user=admin_user, workflow=workflow, version=None, record=deal)
    assert report.matches
    texts = [item["description"] for item in report.steps]
    assert texts[0].startswith("Create the task 'Review Rockets (1000.00)' for Mia Manager")
    assert texts[1] == "Notify Mia Manager: 'Rockets is in negotiation'."
    assert texts[2] == "Email rep@example.com: 'About Rockets'."
    assert texts[3] == "Set description = 'Hot' on Rockets."
    assert not Activity.objects.exists()
    assert not Notification.objects.exists()
    assert not mail.outbox
    deal.refresh_from_db()
    assert deal.description == ""
    run = report.run
    assert run is not None
    assert run.is_test
    assert set(run.step_runs.values_list("status", flat=True)) == {StepStatus.SIMULATED}
    assert WorkflowRun.objects.filter(is_test=False).count() == 0


def test_update_fields_goes_through_the_apps_service_and_logs_via_workflow(
    make_workflow, deal, rep, stages, inline_runs
):
    workflow = make_workflow(
        trigger={"type": "manual"},
        steps=[
            {
                "id": "s",
                "type": "update_fields",
                "config": {"values": {"stage": stages["Proposal"].pk, "description": "Auto"}},
            }
        ],
    )
    services.run_manual(user=rep, workflow=workflow, record=deal)
    deal.refresh_from_db()
    assert deal.stage == stages["Proposal"]
    assert deal.probability == 60  # the pipeline service kept the derived columns in step
    assert ChangeLogEntry.objects.filter(object_id=deal.pk, via="workflow").exists()


def test_merge_values_are_worked_out_on_the_triggering_record_when_the_step_runs(
    make_workflow, deal, rep, manager, acme, admin_user, inline_runs
):
    workflow = make_workflow(
        trigger={"type": "manual"},
        steps=[
            {
                "id": "upd",
                "type": "update_fields",
                "config": {
                    "values": {
                        "close_date": {"merge": "today", "days": 14},
                        "description": {"merge": "record", "field": "account.name"},
                    }
                },
            },
            {
                "id": "task",
                "type": "create_record",
                "config": {
                    "object_type": "activities.activity",
                    "values": {
                        "kind": "task",
                        "subject": "Call the buyer",
                        "assignee": {"merge": "owner_manager"},
                        "due_at": {"merge": "today", "days": 3},
                    },
                },
            },
        ],
    )
    run = services.run_manual(user=rep, workflow=workflow, record=deal)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    deal.refresh_from_db()
    assert deal.close_date == timezone.localdate() + datetime.timedelta(days=14)
    assert deal.description == acme.name
    task = Activity.objects.get(kind="task")
    assert task.assignee == manager
    assert task.due_at is not None
    assert task.due_at.date() == (timezone.now() + datetime.timedelta(days=3)).date()
    report = services.workflow_test(
        user=admin_user, workflow=workflow, version=None, record=deal, changes={}
    )
    words = " ".join(item["description"] for item in report.steps)
    assert "the owner's manager" in words
    assert "today + 14 days" in words


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"name": {"merge": "today", "days": 1}}, "only a date field"),
        ({"close_date": {"merge": "today", "days": "soon"}}, "whole number of days"),
        ({"stage": {"merge": "owner"}}, "only a user field"),
        ({"description": {"merge": "record", "field": "nonsense"}}, "not a field of the record"),
        ({"stage": {"merge": "record", "field": "account"}}, "does not fit"),
        ({"name": {"merge": "somebody"}}, "unknown merge value"),
    ],
)
def test_merge_values_that_cannot_fit_are_refused_when_saving(admin_user, stages, values, words):
    with pytest.raises(ValidationFailed) as caught:
        services.workflow_create(
            user=admin_user,
            data={
                "name": "Bad merge",
                "object_type": "pipeline.opportunity",
                "trigger": {"type": "manual"},
                "steps": [{"id": "u", "type": "update_fields", "config": {"values": values}}],
            },
        )
    field = next(iter(values))
    assert words in " ".join(caught.value.errors[f"steps[0].config.values.{field}"])


def test_create_record_makes_a_linked_note_once(make_workflow, deal, rep, inline_runs):
    workflow = make_workflow(
        trigger={"type": "manual"},
        steps=[
            {
                "id": "note",
                "type": "create_record",
                "config": {
                    "object_type": "activities.activity",
                    "values": {"kind": "note", "subject": "Automated note"},
                },
            }
        ],
    )
    run = services.run_manual(user=rep, workflow=workflow, record=deal)
    WorkflowRun.objects.filter(pk=run.pk).update(status=RunStatus.PENDING, cursor=[0])
    engine.execute_run(run.pk)
    note = Activity.objects.get(kind="note")
    assert note.subject == "Automated note"
    assert ActivityLink.objects.filter(activity=note, object_id=deal.pk).exists()


def test_webhook_step_signs_and_posts_once(make_workflow, deal, rep, inline_runs, monkeypatch):
    import sys
    import types
    from dataclasses import dataclass

    sent: list[dict[str, Any]] = []

    @dataclass
    class Result:
        status_code: int | None
        body_excerpt: str = ""
        error: str = ""
        duration_ms: int = 1

    def signed_request(**kwargs: Any) -> Result:
        sent.append(kwargs)
        return Result(204)

    fake: Any = types.ModuleType("patron.automation.outbound_http")
    fake.validate_target_url = lambda url: None if url.startswith("https://") else "Refused."
    fake.signed_request = signed_request
    monkeypatch.setitem(sys.modules, "patron.automation.outbound_http", fake)
    workflow = make_workflow(
        trigger={"type": "manual"},
        steps=[
            {
                "id": "hook",
                "type": "webhook",
                "config": {"url": "https://hooks.example/in", "secret": "s3cret"},
            }
        ],
    )
    run = services.run_manual(user=rep, workflow=workflow, record=deal)
    WorkflowRun.objects.filter(pk=run.pk).update(status=RunStatus.PENDING, cursor=[0])
    engine.execute_run(run.pk)
    (call,) = sent
    assert call["url"] == "https://hooks.example/in"
    assert call["secret"] == "s3cret"
    assert b'"object_id": %d' % deal.pk in call["body"]


def test_manual_run_needs_edit_access_to_the_record(make_workflow, deal, other_rep):
    workflow = make_workflow(
        trigger={"type": "manual"},
        steps=[{"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "x"}}],
    )
    with pytest.raises(PermissionDenied):
        services.run_manual(user=other_rep, workflow=workflow, record=deal)


def test_assign_step_reassigns_through_the_routing_engine_once(
    make_workflow, rep, manager, sales_roles, inline_runs
):
    from patron.leads.services import lead_create
    from patron.leads.tests.conftest import LEAD_TYPES
    from patron.routing.models import AssignmentDecision

    for role in sales_roles.values():
        for object_type in LEAD_TYPES:
            grant(role, object_type, *ALL_ACTIONS)
    lead = lead_create(user=rep, data={"last_name": "Lee", "company": "Northwind"})
    workflow = make_workflow(
        object_type="leads.lead",
        trigger={"type": "manual"},
        steps=[
            {
                "id": "give",
                "type": "assign",
                "config": {"mode": "reassign", "user_id": manager.pk, "reason": "Key account"},
            }
        ],
    )
    run = services.run_manual(user=rep, workflow=workflow, record=lead)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    decision = AssignmentDecision.objects.get(object_id=lead.pk)
    assert decision.assigned_user == manager
    # Delivered again from the start (as after a crash): no second reassignment.
    WorkflowRun.objects.filter(pk=run.pk).update(status=RunStatus.PENDING, cursor=[0])
    engine.execute_run(run.pk)
    assert AssignmentDecision.objects.filter(object_id=lead.pk).count() == 1


def test_assign_step_on_a_type_routing_does_not_handle_is_refused_when_saving(admin_user):
    with pytest.raises(ValidationFailed) as caught:
        services.workflow_create(
            user=admin_user,
            data={
                "name": "Route accounts",
                "object_type": "contacts.account",
                "trigger": {"type": "manual"},
                "steps": [{"id": "a", "type": "assign", "config": {"mode": "route"}}],
            },
        )
    assert "not routed" in " ".join(caught.value.errors["steps[0].config.mode"])
