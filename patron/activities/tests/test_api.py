"""The activities resource of /api/v1/, mounted through a test-only URLconf."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from patron.activities.models import Activity
from patron.activities.services import activity_create
from patron.core.api.testing import assert_problem
from patron.core.testing import assert_max_queries
from patron.users.services import token_create

pytestmark = pytest.mark.django_db

JSON = "application/json"
NOON = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def api(rep, activity_roles):
    _, secret = token_create(user=rep, name="test", scopes=["activities:write"])
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def test_create_task_linked_to_account_returns_links(api, rep, acme):
    response = api.post(
        "/api/v1/activities",
        {
            "kind": "task",
            "subject": "Send quote",
            "due_at": NOON.isoformat(),
            "links": [{"object_type": "contacts.account", "id": acme.pk}],
        },
        content_type=JSON,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "open"
    assert body["assignee"] == rep.pk
    assert body["links"][0]["object_type"] == "contacts.account"
    assert body["links"][0]["id"] == acme.pk
    assert response["ETag"] == f'"{body["id"]}-1"'


def test_create_with_bad_fields_is_422_naming_them(api, activity_roles):
    response = api.post(
        "/api/v1/activities",
        {
            "kind": "appointment",
            "subject": "Demo",
            "starts_at": NOON.isoformat(),
            "ends_at": (NOON - datetime.timedelta(hours=1)).isoformat(),
            "links": [{"object_type": "nope.nope", "id": 1}],
        },
        content_type=JSON,
    )
    assert_problem(response, 422, "ends_at")
    response = api.post(
        "/api/v1/activities",
        {"kind": "note", "links": [{"object_type": "nope.nope", "id": 1}]},
        content_type=JSON,
    )
    assert_problem(response, 422, "links.0")


def test_get_patch_and_stale_if_match_gets_412(api, rep, activity_roles):
    task = activity_create(user=rep, kind="task", subject="Old")
    url = f"/api/v1/activities/{task.pk}"
    assert api.get(url).json()["subject"] == "Old"
    response = api.patch(url, {"subject": "New"}, content_type=JSON, HTTP_IF_MATCH=f'"{task.pk}-1"')
    assert response.status_code == 200
    assert response.json()["version"] == 2
    stale = api.patch(url, {"subject": "Lost"}, content_type=JSON, HTTP_IF_MATCH=f'"{task.pk}-1"')
    assert_problem(stale, 412)
    task.refresh_from_db()
    assert task.subject == "New"


def test_complete_and_delete(api, rep, activity_roles):
    task = activity_create(user=rep, kind="task", subject="Do it")
    response = api.post(f"/api/v1/activities/{task.pk}/complete")
    assert response.status_code == 200
    assert response.json()["status"] == "done"
    assert api.delete(f"/api/v1/activities/{task.pk}").status_code == 204
    assert Activity.all_objects.get(pk=task.pk).deleted_at is not None
    assert api.get(f"/api/v1/activities/{task.pk}").status_code == 404


def test_link_and_unlink_sub_resource(api, rep, acme):
    note = activity_create(user=rep, kind="note", description="x")
    response = api.post(
        f"/api/v1/activities/{note.pk}/links",
        {"object_type": "contacts.account", "id": acme.pk},
        content_type=JSON,
    )
    assert response.status_code == 201
    link_id = response.json()["link_id"]
    assert api.delete(f"/api/v1/activities/{note.pk}/links/{link_id}").status_code == 204
    assert note.links.count() == 0


def test_token_without_activities_scope_is_refused(rep, activity_roles):
    _, secret = token_create(user=rep, name="test", scopes=["contacts:write"])
    response = Client().get("/api/v1/activities", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 403


def _list_queries(api, count: int, rep, acme) -> int:
    for index in range(count):
        activity_create(
            user=rep,
            kind="appointment",
            subject=f"Meeting {index}",
            starts_at=NOON,
            links=[{"object_type": "contacts.account", "id": acme.pk}],
            attendees=[{"user": rep.pk}],
        )
    api.get("/api/v1/activities")  # warm per-process caches (content types, token use)
    with assert_max_queries(50) as ctx:
        response = api.get("/api/v1/activities")
    assert response.status_code == 200
    assert len(response.json()["items"]) == count
    return len(ctx.captured_queries)


def test_list_query_count_does_not_grow_with_rows(api, rep, acme):
    one = _list_queries(api, 1, rep, acme)
    Activity.objects.all().delete()
    ten = _list_queries(api, 10, rep, acme)
    assert one == ten


def test_filter_linked_and_kind(api, rep, acme):
    linked = activity_create(
        user=rep,
        kind="note",
        description="x",
        links=[{"object_type": "contacts.account", "id": acme.pk}],
    )
    activity_create(user=rep, kind="note", description="y")
    activity_create(user=rep, kind="task", subject="t")
    with assert_max_queries(15):
        response = api.get(f"/api/v1/activities?linked=contacts.account:{acme.pk}")
    assert [row["id"] for row in response.json()["items"]] == [linked.pk]
    assert len(api.get("/api/v1/activities?kind=task").json()["items"]) == 1
    assert_problem(api.get("/api/v1/activities?linked=acme"), 422, "linked")


def test_patch_refuses_links_and_null_priority_falls_back_to_normal(api, rep, acme):
    task = activity_create(user=rep, kind="task", subject="t", priority="high")
    url = f"/api/v1/activities/{task.pk}"
    refused = api.patch(
        url, {"links": [{"object_type": "contacts.account", "id": acme.pk}]}, content_type=JSON
    )
    assert_problem(refused, 422, "links")
    response = api.patch(url, {"priority": None}, content_type=JSON)
    assert response.json()["priority"] == "normal"
