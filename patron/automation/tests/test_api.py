"""The workflows API: definitions as JSON with path-named errors, versions, test mode,
manual runs, the run log and retries, the catalogue, the inbound webhook, query counts and
who may see what."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from patron.automation.choices import RunStatus
from patron.automation.models import StepRun, Workflow, WorkflowRun
from patron.core.models import Notification
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix

pytestmark = pytest.mark.django_db
JSON = "application/json"
BASE = "/api/v1/automation"
NOTIFY = [{"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "Hello"}}]


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(client: Client, method: str, url: str, body: Any = None) -> Any:
    return getattr(client, method)(url, data=json.dumps(body or {}), content_type=JSON)


@pytest.fixture
def admin_api(admin_user: Any) -> Client:
    return client_for(admin_user)


def definition(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Greet",
        "object_type": "pipeline.opportunity",
        "trigger": {"type": "manual"},
        "conditions": {"field": "amount", "op": "gt", "value": 10},
        "steps": NOTIFY,
    }
    data.update(overrides)
    return data


def test_admin_creates_edits_and_activates_a_workflow(admin_api: Client) -> None:
    created = send(admin_api, "post", f"{BASE}/workflows", definition())
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["draft"]["number"] == 1
    assert body["active_version"] is None
    workflow_id = body["id"]
    activated = send(admin_api, "post", f"{BASE}/workflows/{workflow_id}/activate")
    assert activated.json()["active_version"]["number"] == 1
    changed = send(
        admin_api, "patch", f"{BASE}/workflows/{workflow_id}", {"conditions": {}, "name": "Hi"}
    )
    assert changed.status_code == 200
    assert changed.json()["name"] == "Hi"
    assert changed.json()["draft"]["number"] == 2
    assert changed.json()["active_version"]["conditions"] != {}
    versions = admin_api.get(f"{BASE}/workflows/{workflow_id}/versions").json()
    assert [(v["number"], v["state"]) for v in versions] == [(2, "draft"), (1, "active")]
    exported = admin_api.get(f"{BASE}/workflows/{workflow_id}/export").json()
    assert exported["conditions"] == {}
    exported["name"] = "Copy"
    imported = send(admin_api, "post", f"{BASE}/workflows/import", exported)
    assert imported.status_code == 201
    deactivated = send(admin_api, "post", f"{BASE}/workflows/{workflow_id}/deactivate")
    assert deactivated.json()["active_version"] is None
    assert admin_api.delete(f"{BASE}/workflows/{workflow_id}").status_code == 204
    assert not Workflow.objects.filter(pk=workflow_id).exists()


def test_bad_definitions_are_422_naming_the_path_and_save_nothing(admin_api: Client) -> None:
    bad = definition(
        steps=[
            *NOTIFY,
            {"id": "b", "type": "notify", "config": {"recipient": "owner", "title": "x"}},
            {
                "id": "m",
                "type": "send_email",
                "config": {"to": "owner", "subject": "{{ record.foo }}", "body": "x"},
            },
        ]
    )
    response = send(admin_api, "post", f"{BASE}/workflows", bad)
    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["errors"]["steps[2].config.subject"] == [
        "unknown merge field record.foo"
    ]
    cron = send(
        admin_api,
        "post",
        f"{BASE}/workflows",
        definition(object_type="", conditions={}, trigger={"type": "schedule", "cron": "soon"}),
    )
    assert cron.status_code == 422
    assert "five fields" in cron.json()["errors"]["trigger.cron"][0]
    assert not Workflow.objects.exists()


def test_workflow_list_query_count_does_not_grow(admin_api: Client, admin_user: Any) -> None:
    from patron.automation import services

    def add(count: int, start: int) -> None:
        for number in range(start, start + count):
            workflow = services.workflow_create(user=admin_user, data=definition(name=f"W{number}"))
            services.workflow_activate(user=admin_user, workflow=workflow)
            services.workflow_update(user=admin_user, workflow=workflow, data={"conditions": {}})

    add(2, 0)
    with assert_max_queries(12) as few:
        assert admin_api.get(f"{BASE}/workflows").status_code == 200
    add(10, 2)
    with assert_max_queries(len(few.captured_queries)):
        response = admin_api.get(f"{BASE}/workflows?sort=-name")
    assert len(response.json()["items"]) == 12
    assert response.json()["items"][0]["draft"]["number"] == 2


def test_manual_run_test_mode_run_log_and_retry(
    admin_api: Client, deal: Any, rep: Any, other_rep: Any, inline_runs: list[int]
) -> None:
    workflow_id = send(admin_api, "post", f"{BASE}/workflows", definition() | {"activate": True})
    workflow_id = workflow_id.json()["id"]
    tested = send(admin_api, "post", f"{BASE}/workflows/{workflow_id}/test", {"object_id": deal.pk})
    assert tested.status_code == 200
    assert tested.json()["matches"] is True
    assert tested.json()["steps"][0]["description"] == "Notify Rita Rep: 'Hello'."
    assert not Notification.objects.exists()

    target = {"object_type": "pipeline.opportunity", "object_id": deal.pk}
    outsider = send(client_for(other_rep), "post", f"{BASE}/workflows/{workflow_id}/run", target)
    assert outsider.status_code == 404
    started = send(client_for(rep), "post", f"{BASE}/workflows/{workflow_id}/run", target)
    assert started.status_code == 202, started.json()
    run_id = started.json()["id"]
    assert Notification.objects.filter(user=rep, title="Hello").count() == 1

    log = admin_api.get(f"{BASE}/runs?workflow={workflow_id}&is_test=false").json()["items"]
    assert [row["id"] for row in log] == [run_id]
    detail = admin_api.get(f"{BASE}/runs/{run_id}").json()
    assert detail["status"] == RunStatus.SUCCEEDED
    assert detail["steps"][0]["step_id"] == "n"
    assert admin_api.get(f"{BASE}/runs?colour=red").status_code == 422

    # A failed run's failed step is retried by hand; done effects are not repeated.
    WorkflowRun.objects.filter(pk=run_id).update(status=RunStatus.FAILED, cursor=[0])
    step_run = StepRun.objects.get(run_id=run_id)
    StepRun.objects.filter(pk=step_run.pk).update(status="failed")
    retried = send(admin_api, "post", f"{BASE}/runs/{run_id}/steps/{step_run.pk}/retry")
    assert retried.status_code == 202
    assert WorkflowRun.objects.get(pk=run_id).status == RunStatus.SUCCEEDED
    assert Notification.objects.filter(user=rep, title="Hello").count() == 1


def test_run_log_query_count_does_not_grow(
    admin_api: Client, deal: Any, rep: Any, inline_runs: list[int]
) -> None:
    from patron.automation import selectors, services

    send(admin_api, "post", f"{BASE}/workflows", definition() | {"activate": True})
    workflow = selectors.manual_workflows(object_type="pipeline.opportunity").get()
    services.run_manual(user=rep, workflow=workflow, record=deal)
    with assert_max_queries(10) as few:
        assert admin_api.get(f"{BASE}/runs").status_code == 200
    for _ in range(5):
        services.run_manual(user=rep, workflow=workflow, record=deal)
    with assert_max_queries(len(few.captured_queries)):
        assert len(admin_api.get(f"{BASE}/runs").json()["items"]) == 6


def test_catalogue_and_fields_for_the_builder(admin_api: Client, rep: Any) -> None:
    catalogue = client_for(rep).get(f"{BASE}/catalogue").json()
    steps = {item["key"] for item in catalogue["steps"]}
    assert {"update_fields", "create_task", "send_email", "wait", "branch"} <= steps
    triggers = {item["key"] for item in catalogue["triggers"]}
    assert {"record_created", "schedule", "inbound_webhook", "manual", "event"} <= triggers
    events = {item["name"] for item in catalogue["events"]}
    assert {"opportunity.updated", "lead.converted", "opportunity.stage_changed"} <= events
    fields = admin_api.get(f"{BASE}/fields?object_type=pipeline.opportunity").json()
    assert any(field["name"] == "account.industry" for field in fields)
    assert admin_api.get(f"{BASE}/fields?object_type=nope.nope").status_code == 422


def test_inbound_webhook_starts_a_run_with_the_payload(
    admin_api: Client, admin_user: Any, inline_runs: list[int]
) -> None:
    created = send(
        admin_api,
        "post",
        f"{BASE}/workflows",
        definition(
            object_type="",
            conditions={},
            trigger={"type": "inbound_webhook"},
            steps=[
                {
                    "id": "n",
                    "type": "notify",
                    "config": {"recipient": "user", "user_id": admin_user.pk, "title": "Ping"},
                }
            ],
            activate=True,
        ),
    ).json()
    url = created["inbound_url"]
    assert url.startswith(f"{BASE}/hooks/")
    anonymous = Client()
    first = anonymous.post(url, data='{"order": 7}', content_type=JSON, HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 202, first.content
    again = anonymous.post(url, data='{"order": 7}', content_type=JSON, HTTP_IDEMPOTENCY_KEY="k1")
    assert again.json()["run_id"] == first.json()["run_id"]
    run = WorkflowRun.objects.get(pk=first.json()["run_id"])
    assert run.context["payload"] == {"order": 7}
    assert run.status == RunStatus.SUCCEEDED
    assert anonymous.post(f"{BASE}/hooks/wrong", data="{}", content_type=JSON).status_code == 404
    bad = anonymous.post(url, data="{not json", content_type=JSON)
    assert bad.status_code == 422
    assert "body" in bad.json()["errors"]
    rotated = send(admin_api, "post", f"{BASE}/workflows/{created['id']}/inbound-token").json()
    assert anonymous.post(url, data="{}", content_type=JSON).status_code == 404
    assert anonymous.post(rotated["inbound_url"], data="{}", content_type=JSON).status_code == 202


def test_visibility_matrix_administrators_only(
    admin_user: Any, rep: Any, deal: Any, inline_runs: list[int]
) -> None:
    from patron.automation import services

    workflow = services.workflow_create(user=admin_user, data=definition(name="Secret plan"))
    services.workflow_activate(user=admin_user, workflow=workflow)
    run = services.run_manual(user=admin_user, workflow=workflow, record=deal)
    endpoints = [
        Endpoint("workflows", f"{BASE}/workflows", "detail"),
        Endpoint("workflow", f"{BASE}/workflows/{workflow.pk}", "detail"),
        Endpoint("versions", f"{BASE}/workflows/{workflow.pk}/versions", "detail"),
        Endpoint("export", f"{BASE}/workflows/{workflow.pk}/export", "detail"),
        Endpoint("runs", f"{BASE}/runs", "detail"),
        Endpoint("run", f"{BASE}/runs/{run.pk}", "detail"),
    ]
    check_visibility_matrix(endpoints, marker="Secret plan", allowed=admin_user, denied=rep)
    writes = client_for(rep)
    assert send(writes, "post", f"{BASE}/workflows", definition(name="Mine")).status_code == 403
    assert send(writes, "post", f"{BASE}/workflows/{workflow.pk}/activate").status_code == 403
