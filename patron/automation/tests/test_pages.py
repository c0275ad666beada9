"""The workflow pages: the builder reads path-named fields into the JSON definition and
shows the services' errors next to the right input, versions are activated from the page,
test mode and the run log (with retry) work, lists answer in a fixed number of queries,
everything is for administrators, and records offer their manual workflows."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import reverse

from patron.activities.models import Activity
from patron.automation import services
from patron.automation.choices import RunStatus, StepStatus, VersionState
from patron.automation.models import StepRun, Workflow, WorkflowRun
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix

pytestmark = pytest.mark.django_db
FORM = "application/x-www-form-urlencoded"

NEGOTIATION_TASK = {
    "id": "s1",
    "type": "create_task",
    "config": {"subject": "Review {{ record.name }}", "assignee": "owner_manager"},
}


@pytest.fixture
def admin_client(admin_user: Any) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def builder_post(stages: dict[str, Any], **extra: str) -> dict[str, str]:
    """The fields the builder posts for "opportunity moves to Negotiation with amount over
    50,000: a task for the owner's manager, and notify them"."""
    return {
        "name": "Big deal in negotiation",
        "object_type": "pipeline.opportunity",
        "is_enabled": "on",
        "trigger.type": "field_changed",
        "trigger.field": "stage",
        "trigger.to": str(stages["Negotiation"].pk),
        "conditions.group": "all",
        "conditions.all[0].field": "amount",
        "conditions.all[0].op": "gt",
        "conditions.all[0].value": "50000",
        "steps[0].id": "s1",
        "steps[0].type": "create_task",
        "steps[0].config.subject": "Review {{ record.name }}",
        "steps[0].config.assignee": "owner_manager",
        "steps[0].config.due_in_days": "2",
        "steps[1].id": "s2",
        "steps[1].type": "notify",
        "steps[1].config.recipient": "owner_manager",
        "steps[1].config.title": "{{ record.name }} is in negotiation",
        **extra,
    }


def test_builder_saves_the_posted_definition_as_a_draft(
    admin_client: Client, stages: dict[str, Any]
) -> None:
    response = admin_client.post(reverse("automation:workflow_create"), builder_post(stages))

    workflow = Workflow.objects.get(name="Big deal in negotiation")
    assert response.status_code == 302
    assert response["Location"] == reverse("automation:workflow_detail", args=[workflow.pk])
    version = workflow.versions.get()
    assert version.state == VersionState.DRAFT
    assert version.trigger == {
        "type": "field_changed",
        "field": "stage",
        "to": stages["Negotiation"].pk,
    }
    assert version.conditions == {"all": [{"field": "amount", "op": "gt", "value": 50000}]}
    assert [step["type"] for step in version.steps] == ["create_task", "notify"]
    assert version.steps[0]["config"] == {
        "subject": "Review {{ record.name }}",
        "assignee": "owner_manager",
        "due_in_days": 2,
    }


def test_builder_shows_each_error_next_to_its_input_and_saves_nothing(
    admin_client: Client, stages: dict[str, Any]
) -> None:
    data = builder_post(
        stages,
        **{
            "conditions.all[0].op": "contains",
            "steps[1].config.title": "{{ record.nonsense }}",
        },
    )
    response = admin_client.post(reverse("automation:workflow_create"), data)

    assert response.status_code == 422
    assert not Workflow.objects.exists()
    html = response.content.decode()
    op_error = re.search(r'id="wf-conditions-all-0-op-error"[^>]*>([^<]*)<', html)
    assert op_error is not None
    assert "does not apply" in op_error.group(1)
    title_error = re.search(r'id="wf-steps-1-config-title-error"[^>]*>([^<]*)<', html)
    assert title_error is not None
    assert "record.nonsense" in title_error.group(1)
    # What was typed stays in the form.
    assert 'value="Big deal in negotiation"' in html


def test_value_editors_save_fixed_and_merge_values_as_the_same_json(
    admin_client: Client, stages: Any, manager: Any
) -> None:
    """Update fields and create a record are edited field by field, no JSON typed."""
    data = builder_post(
        stages,
        **{
            "steps[2].id": "s3",
            "steps[2].type": "update_fields",
            "steps[2].config.values[0].field": "next_step",
            "steps[2].config.values[0].source": "value",
            "steps[2].config.values[0].value": "Legal review",
            "steps[2].config.values[1].field": "close_date",
            "steps[2].config.values[1].source": "today",
            "steps[2].config.values[1].days": "14",
            "steps[2].config.values[2].field": "probability_is_manual",
            "steps[2].config.values[2].source": "value",
            "steps[2].config.values[2].value": "true",
            "steps[2].config.values[3].field": "description",
            "steps[2].config.values[3].source": "record",
            "steps[2].config.values[3].from_field": "account.name",
            "steps[2].config.values[4].field": "",
            "steps[3].id": "s4",
            "steps[3].type": "create_record",
            "steps[3].config.object_type": "activities.activity",
            "steps[3].config.values[0].field": "kind",
            "steps[3].config.values[0].value": "task",
            "steps[3].config.values[1].field": "subject",
            "steps[3].config.values[1].value": "Call the buyer",
            "steps[3].config.values[2].field": "assignee",
            "steps[3].config.values[2].source": "owner_manager",
            "steps[3].config.values[3].field": "due_at",
            "steps[3].config.values[3].source": "today",
            "steps[3].config.values[3].days": "3",
        },
    )
    response = admin_client.post(reverse("automation:workflow_create"), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    steps = Workflow.objects.get().versions.get().steps
    assert steps[2]["config"] == {
        "values": {
            "next_step": "Legal review",
            "close_date": {"merge": "today", "days": 14},
            "probability_is_manual": True,
            "description": {"merge": "record", "field": "account.name"},
        }
    }
    assert steps[3]["config"] == {
        "object_type": "activities.activity",
        "values": {
            "kind": "task",
            "subject": "Call the buyer",
            "assignee": {"merge": "owner_manager"},
            "due_at": {"merge": "today", "days": 3},
        },
    }
    # The edit page draws each value with the editor of its type, not a JSON box.
    workflow = Workflow.objects.get()
    html = admin_client.get(reverse("automation:workflow_edit", args=[workflow.pk])).content
    page = html.decode()
    assert "wf-code" not in page
    # Rows are drawn in the stored order of the keys, which PostgreSQL's jsonb does not keep
    # (it sorts them), so the rows are found by what they hold rather than by position.
    assert re.search(r'name="steps\[2\]\.config\.values\[\d+\]\.days" value="14"', page)
    # The boolean (probability_is_manual) is the only value of that step drawn as a select.
    assert re.search(r'name="steps\[2\]\.config\.values\[\d+\]\.value"[^>]*>\s*<option', page)
    assert 'name="steps[3].config.values[2].source"' in page
    assert '<option value="owner_manager" selected>' in page


def test_value_rows_are_added_and_removed_and_their_errors_shown_on_the_row(
    admin_client: Client, stages: Any
) -> None:
    url = reverse("automation:workflow_create")
    data = builder_post(
        stages,
        **{
            "steps[2].id": "s3",
            "steps[2].type": "update_fields",
            "steps[2].config.values[0].field": "amount",
            "steps[2].config.values[0].value": "lots",
            "steps[2].config.values[1].field": "stage",
            "steps[2].config.values[1].source": "today",
            "steps[2].config.values[1].days": "2",
        },
    )
    added = admin_client.post(url, {**data, "action": "add_value:steps[2].config.values"})
    page = added.content.decode()
    assert added.status_code == 200
    assert 'id="wf-steps-2-config-values-2-field"' in page
    assert not Workflow.objects.exists()
    removed = admin_client.post(url, {**data, "action": "remove_value:steps[2].config.values[0]"})
    page = removed.content.decode()
    assert 'name="steps[2].config.values[0].field"' in page
    assert 'name="steps[2].config.values[1].field"' not in page
    saved = admin_client.post(url, data)
    assert saved.status_code == 422
    assert not Workflow.objects.exists()
    page = saved.content.decode()
    amount = re.search(r'id="wf-steps-2-config-values-0-error"[^>]*>([^<]*)<', page)
    stage = re.search(r'id="wf-steps-2-config-values-1-error"[^>]*>([^<]*)<', page)
    assert amount is not None
    assert "not a number" in amount.group(1)
    assert stage is not None
    assert "only a date field" in stage.group(1)
    empty = admin_client.post(
        url,
        {
            **builder_post(stages),
            "steps[2].id": "s3",
            "steps[2].type": "update_fields",
            "steps[2].config.values[0].field": "",
        },
    )
    assert empty.status_code == 422
    assert "Choose at least one field" in empty.content.decode()


def test_start_approval_offers_the_processes_of_the_record_type(
    admin_client: Client, admin_user: Any, stages: Any
) -> None:
    from patron.automation import approval_services as approvals

    process = approvals.approval_process_create(
        user=admin_user,
        object_type="pipeline.opportunity",
        name="Big deals",
        steps=[{"name": "Manager", "approver_kind": "manager", "decision_mode": "first"}],
    )
    approvals.approval_process_create(
        user=admin_user,
        object_type="contacts.account",
        name="Accounts",
        steps=[{"name": "Manager", "approver_kind": "manager", "decision_mode": "first"}],
    )
    data = builder_post(
        stages, **{"steps[2].id": "s3", "steps[2].type": "start_approval", "action": "refresh"}
    )
    page = admin_client.post(reverse("automation:workflow_create"), data).content.decode()
    select = re.search(r'<select id="wf-steps-2-config-process".*?</select>', page, re.S)
    assert select is not None
    assert f'<option value="{process.pk}">Big deals</option>' in select.group(0)
    assert "Accounts" not in select.group(0)
    data.pop("action")
    data["steps[2].config.process"] = str(process.pk)
    assert admin_client.post(reverse("automation:workflow_create"), data).status_code == 302
    assert Workflow.objects.get().versions.get().steps[2]["config"] == {"process": str(process.pk)}


def test_builder_buttons_add_rows_groups_and_steps_without_saving(
    admin_client: Client, stages: Any
) -> None:
    url = reverse("automation:workflow_create")
    data = builder_post(stages, action="add_group:conditions")
    html = admin_client.post(url, data, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="conditions.all[1].group"' in html
    assert 'name="conditions.all[1].any[0].field"' in html

    data = builder_post(stages, action="add_step:steps", **{"new_step:steps": "branch"})
    html = admin_client.post(url, data).content.decode()
    assert 'name="steps[2].type" value="branch"' in html
    assert 'name="steps[2].config.conditions.group"' in html
    assert 'name="new_step:steps[2].config.then"' in html

    data = builder_post(stages, action="up:steps[1]")
    html = admin_client.post(url, data).content.decode()
    assert html.index('name="steps[0].type" value="notify"') < html.index(
        'name="steps[1].type" value="create_task"'
    )

    data = builder_post(stages, action="remove:conditions.all[0]")
    html = admin_client.post(url, data).content.decode()
    assert "conditions.all[0].field" not in html
    assert not Workflow.objects.exists()


def test_operator_and_value_inputs_follow_the_field_type(admin_client: Client, stages: Any) -> None:
    data = builder_post(
        stages, **{"conditions.all[0].field": "stage", "conditions.all[0].op": "eq"}
    )
    html = admin_client.post(
        reverse("automation:workflow_create"), {**data, "action": "refresh"}
    ).content.decode()
    ops = re.search(r'id="wf-conditions-all-0-op".*?</select>', html, re.S)
    assert ops is not None
    assert "changed to" in ops.group(0)
    assert "greater" not in ops.group(0)
    value = re.search(r'id="wf-conditions-all-0-value".*?</select>', html, re.S)
    assert value is not None
    assert "Negotiation" in value.group(0)


def test_editing_an_active_workflow_makes_a_draft_activated_from_the_page(
    admin_client: Client, admin_user: Any, stages: Any
) -> None:
    admin_client.post(reverse("automation:workflow_create"), builder_post(stages))
    workflow = Workflow.objects.get()
    activate = reverse("automation:workflow_activate", args=[workflow.pk])
    admin_client.post(activate)
    workflow.refresh_from_db()
    assert workflow.active_version is not None
    assert workflow.active_version.number == 1

    edit = builder_post(stages, **{"conditions.all[0].value": "75000"})
    admin_client.post(reverse("automation:workflow_edit", args=[workflow.pk]), edit)
    states = dict(workflow.versions.values_list("number", "state"))
    assert states == {1: VersionState.ACTIVE, 2: VersionState.DRAFT}

    page = admin_client.get(reverse("automation:workflow_detail", args=[workflow.pk]))
    assert "Activate v2" in page.content.decode()
    assert "A field changes (stage) to Negotiation" in page.content.decode()
    admin_client.post(activate, {"version": str(workflow.versions.get(number=2).pk)})
    states = dict(workflow.versions.values_list("number", "state"))
    assert states == {1: VersionState.RETIRED, 2: VersionState.ACTIVE}

    admin_client.post(reverse("automation:workflow_deactivate", args=[workflow.pk]))
    workflow.refresh_from_db()
    assert workflow.active_version is None


def test_edit_page_shows_the_saved_definition(
    admin_client: Client, make_workflow: Any, stages: Any
) -> None:
    workflow = make_workflow(
        trigger={"type": "event", "event": "opportunity.stage_changed"},
        conditions={"any": [{"field": "amount", "op": "gte", "value": 10}]},
        steps=[NEGOTIATION_TASK],
    )
    html = admin_client.get(
        reverse("automation:workflow_edit", args=[workflow.pk])
    ).content.decode()
    assert re.search(r'<option value="opportunity.stage_changed" selected', html)
    assert re.search(r'name="conditions.group".*?<option value="any" selected', html, re.S)
    assert 'name="conditions.any[0].value" value="10"' in html
    assert "Review {{ record.name }}</textarea>" in html


def test_json_view_and_import_round_trip(admin_client: Client, make_workflow: Any) -> None:
    workflow = make_workflow(trigger={"type": "manual"}, steps=[NEGOTIATION_TASK], name="Export me")
    download = admin_client.get(
        reverse("automation:workflow_json", args=[workflow.pk]) + "?download=1"
    )
    text = download.content.decode().replace("Export me", "Imported copy")

    response = admin_client.post(reverse("automation:workflow_import"), {"definition": text})

    copy = Workflow.objects.get(name="Imported copy")
    assert response["Location"] == reverse("automation:workflow_detail", args=[copy.pk])
    assert copy.versions.get().steps == [NEGOTIATION_TASK]


def test_import_lists_the_definitions_problems(admin_client: Client) -> None:
    bad = (
        '{"name": "Bad", "object_type": "pipeline.opportunity", '
        '"trigger": {"type": "nope"}, "steps": []}'
    )
    response = admin_client.post(reverse("automation:workflow_import"), {"definition": bad})
    assert response.status_code == 422
    html = response.content.decode()
    assert "trigger.type" in html
    assert "Add at least one step" in html
    broken = admin_client.post(reverse("automation:workflow_import"), {"definition": "{nope"})
    assert broken.status_code == 422
    assert "Not valid JSON" in broken.content.decode()


def test_test_mode_describes_each_step_without_doing_it(
    admin_client: Client, make_workflow: Any, deal: Any, manager: Any
) -> None:
    workflow = make_workflow(trigger={"type": "manual"}, steps=[NEGOTIATION_TASK])
    response = admin_client.post(
        reverse("automation:workflow_test", args=[workflow.pk]), {"record": str(deal.pk)}
    )
    html = response.content.decode()
    assert "Create the task &#x27;Review Rockets&#x27;" in html
    assert "they hold" in html
    assert not Activity.objects.filter(subject="Review Rockets").exists()
    run = WorkflowRun.objects.get(workflow=workflow)
    assert run.is_test
    assert run.step_runs.get().status == StepStatus.SIMULATED


def _failed_run(
    workflow: Workflow, deal: Any, key: str = "failed-run"
) -> tuple[WorkflowRun, StepRun]:
    assert workflow.active_version is not None
    run = WorkflowRun.objects.create(
        workflow=workflow,
        version=workflow.active_version,
        trigger_type="manual",
        object_type="pipeline.opportunity",
        object_id=deal.pk,
        idempotency_key=key,
        status=RunStatus.FAILED,
        error="The mail server refused",
    )
    step = StepRun.objects.create(
        run=run,
        step_id="s1",
        step_type="create_task",
        status=StepStatus.FAILED,
        error="The mail server refused",
        input={"subject": "x"},
        duration_ms=12,
    )
    return run, step


def test_run_detail_shows_steps_and_retries_the_failed_one(
    admin_client: Client, make_workflow: Any, deal: Any, manager: Any, inline_runs: list[int]
) -> None:
    workflow = make_workflow(trigger={"type": "manual"}, steps=[NEGOTIATION_TASK])
    run, step = _failed_run(workflow, deal)
    html = admin_client.get(reverse("automation:run_detail", args=[run.pk])).content.decode()
    assert "The mail server refused" in html
    assert "12 ms" in html
    assert "Retry step s1" in html

    admin_client.post(reverse("automation:run_retry", args=[run.pk, step.pk]))

    run.refresh_from_db()
    assert inline_runs == [run.pk]
    assert run.status == RunStatus.SUCCEEDED


def test_workflow_and_run_lists_filter_sort_export_in_fixed_queries(
    admin_client: Client, make_workflow: Any, deal: Any
) -> None:
    for index in range(6):
        workflow = make_workflow(trigger={"type": "manual"}, steps=[NEGOTIATION_TASK])
        _failed_run(workflow, deal, key=f"failed-{index}")
    make_workflow(
        trigger={"type": "manual"}, steps=[NEGOTIATION_TASK], activate=False, name="Zz draft"
    )
    with assert_max_queries(12):
        page = admin_client.get(reverse("automation:workflow_list") + "?sort=-name")
    html = page.content.decode()
    assert html.index("Zz draft") < html.index("Workflow 1")
    inactive = admin_client.get(reverse("automation:workflow_list") + "?active=false")
    assert "Zz draft" in inactive.content.decode()
    assert "Workflow 1<" not in inactive.content.decode()
    csv_text = admin_client.get(
        reverse("automation:workflow_list") + "?format=csv"
    ).content.decode()
    assert csv_text.splitlines()[0].startswith("id,name,object_type,trigger,state")
    assert len(csv_text.splitlines()) == 8
    bad_filter = admin_client.get(reverse("automation:workflow_list") + "?active=maybe")
    assert bad_filter.status_code == 400

    with assert_max_queries(12):
        runs = admin_client.get(reverse("automation:run_list") + "?status=failed&sort=created")
    assert runs.content.decode().count("badge-danger") == 6
    one = Workflow.objects.get(name="Workflow 1")
    filtered = admin_client.get(reverse("automation:run_list") + f"?workflow={one.pk}&format=csv")
    assert len(filtered.content.decode().splitlines()) == 2
    assert admin_client.get(reverse("automation:run_list") + "?since=nonsense").status_code == 400


def test_workflow_pages_are_for_administrators_only(
    admin_user: Any, rep: Any, make_workflow: Any, deal: Any
) -> None:
    workflow = make_workflow(
        trigger={"type": "manual"}, steps=[NEGOTIATION_TASK], name="Marker Quokka Flow"
    )
    run, step = _failed_run(workflow, deal)
    endpoints = [
        Endpoint("workflow list", reverse("automation:workflow_list"), "detail"),
        Endpoint("run list", reverse("automation:run_list"), "detail"),
        Endpoint("workflow", reverse("automation:workflow_detail", args=[workflow.pk]), "detail"),
        Endpoint("builder", reverse("automation:workflow_edit", args=[workflow.pk]), "detail"),
        Endpoint("new", reverse("automation:workflow_create"), "detail"),
        Endpoint("json", reverse("automation:workflow_json", args=[workflow.pk]), "detail"),
        Endpoint("test", reverse("automation:workflow_test", args=[workflow.pk]), "detail"),
        Endpoint("import", reverse("automation:workflow_import"), "detail"),
        Endpoint("run", reverse("automation:run_detail", args=[run.pk]), "detail"),
    ]
    check_visibility_matrix(endpoints, marker="Marker Quokka Flow", allowed=admin_user, denied=rep)
    admin = Client()
    admin.force_login(admin_user)
    assert "Marker Quokka Flow" in admin.get(reverse("automation:workflow_list")).content.decode()
    assert "Marker Quokka Flow" in admin.get(reverse("automation:run_list")).content.decode()
    client = Client()
    client.force_login(rep)
    for url in (
        reverse("automation:workflow_activate", args=[workflow.pk]),
        reverse("automation:workflow_deactivate", args=[workflow.pk]),
        reverse("automation:run_retry", args=[run.pk, step.pk]),
    ):
        assert client.post(url).status_code == 403
    assert client.post(reverse("automation:workflow_create"), {"name": "x"}).status_code == 403


def test_record_page_offers_manual_workflows_to_users_who_may_edit_it(
    rep: Any, other_rep: Any, make_workflow: Any, deal: Any, manager: Any, inline_runs: Any
) -> None:
    workflow = make_workflow(trigger={"type": "manual"}, steps=[NEGOTIATION_TASK], name="Escalate")
    make_workflow(trigger={"type": "record_created"}, steps=[NEGOTIATION_TASK], name="Automatic")
    client = Client()
    client.force_login(rep)
    detail = reverse("pipeline:opportunity_detail", args=[deal.pk])
    html = client.get(detail).content.decode()
    assert "Run workflow" in html
    assert ">Escalate</button>" in html
    assert "Automatic" not in html

    response = client.post(
        reverse("automation:run_manual", args=[workflow.pk, deal.pk]), follow=True
    )

    run = WorkflowRun.objects.get(workflow=workflow)
    assert run.status == RunStatus.SUCCEEDED
    assert run.started_by == rep
    assert "“Escalate” ran: every step succeeded." in response.content.decode()
    outsider = Client()
    outsider.force_login(other_rep)
    assert "Run workflow" not in outsider.get(detail).content.decode()
    assert (
        outsider.post(reverse("automation:run_manual", args=[workflow.pk, deal.pk])).status_code
        == 404
    )


def test_admin_navigation_lists_workflows(admin_client: Client, rep: Any) -> None:
    home = admin_client.get("/").content.decode()
    assert f'href="{reverse("automation:workflow_list")}"' in home
    client = Client()
    client.force_login(rep)
    assert reverse("automation:workflow_list") not in client.get("/").content.decode()


def test_services_are_the_only_writers(admin_user: Any, stages: Any) -> None:
    """The builder's definition is the services' definition: it validates as saved."""
    from patron.automation.forms import state_from_post

    query = QueryDict(mutable=True)
    for key, value in builder_post(stages).items():
        query[key] = value
    state = state_from_post(query)
    assert (
        services.validate_definition(
            object_type=state.object_type,
            trigger=state.definition["trigger"],
            conditions_tree=state.definition["conditions"],
            steps=state.definition["steps"],
        )
        == {}
    )


def test_record_updated_trigger_fields_are_a_multiple_choice(
    admin_client: Client, stages: Any
) -> None:
    data = builder_post(stages, **{"trigger.type": "record_updated"})
    del data["trigger.field"], data["trigger.to"]
    query = QueryDict(mutable=True)
    query.update(data)
    query.setlist("trigger.fields", ["stage", "amount"])

    admin_client.post(reverse("automation:workflow_create"), query.urlencode(), content_type=FORM)

    version = Workflow.objects.get().versions.get()
    assert version.trigger == {"type": "record_updated", "fields": ["stage", "amount"]}
    html = admin_client.get(
        reverse("automation:workflow_edit", args=[Workflow.objects.get().pk])
    ).content.decode()
    fields = re.search(r'id="wf-trigger-fields".*?</select>', html, re.S)
    assert fields is not None
    assert '<option value="amount" selected>' in fields.group(0)
