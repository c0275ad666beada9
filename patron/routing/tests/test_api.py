"""The routing API: configuration (administrators), availability (everyone, for themselves),
an item's log and reassignment (by access to the item), and the decision log."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from patron.core.testing import assert_max_queries, grant
from patron.leads.models import Lead
from patron.routing import services
from patron.routing.choices import DecisionKind
from patron.routing.models import AssignmentRule, PoolMember
from patron.routing.tests.conftest import make_agent, make_lead, make_member, make_pool, make_queue
from patron.users.tests.factories import UserFactory, make_role

pytestmark = pytest.mark.usefixtures("lead_routable")
JSON = "application/json"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(client: Client, method: str, url: str, body: Any = None) -> Any:
    call = getattr(client, method)
    return call(url, data=json.dumps(body or {}), content_type=JSON)


@pytest.fixture
def admin_api(admin_user):
    return client_for(admin_user)


def test_admin_builds_a_pool_with_members_skills_and_a_rule(admin_api, lead_owner):
    queue = send(admin_api, "post", "/api/v1/routing/queues", {"name": "EMEA inbound"}).json()
    created = send(
        admin_api,
        "post",
        "/api/v1/routing/pools",
        {"name": "EMEA", "object_type": "leads.lead", "strategy": "skills", "queue": queue["id"]},
    )
    assert created.status_code == 201, created.content
    pool = created.json()
    agent = make_agent("Greta")
    member = send(
        admin_api,
        "post",
        f"/api/v1/routing/pools/{pool['id']}/members",
        {"user": agent.pk, "max_open_items": 3, "weight": 2},
    ).json()
    skill = send(
        admin_api,
        "post",
        f"/api/v1/routing/members/{member['id']}/skills",
        {"kind": "language", "value": "de", "level": 4},
    )
    assert skill.status_code == 201
    rule = send(
        admin_api,
        "post",
        "/api/v1/routing/rules",
        {
            "object_type": "leads.lead",
            "name": "German speakers",
            "pool": pool["id"],
            "conditions": {
                "match": "all",
                "conditions": [{"field": "country", "op": "in", "value": ["DE", "AT"]}],
            },
            "required_skills": [{"kind": "language", "value": "de", "min_level": 3}],
        },
    )
    assert rule.status_code == 201, rule.content
    lead = make_lead(lead_owner, country="AT")
    routed = send(admin_api, "post", f"/api/v1/routing/items/leads.lead/{lead.pk}/route")
    assert routed.status_code == 200
    assert routed.json()["target_user"] == agent.pk
    members = admin_api.get(f"/api/v1/routing/pools/{pool['id']}/members").json()
    assert members[0]["open_items"] == 1
    assert members[0]["assigned_today"] == 1
    assert members[0]["skills"][0]["level"] == 4


def test_rule_validation_errors_name_the_row(admin_api):
    pool = make_pool()
    response = send(
        admin_api,
        "post",
        "/api/v1/routing/rules",
        {
            "object_type": "leads.lead",
            "name": "Broken",
            "pool": pool.pk,
            "conditions": {
                "match": "some",
                "conditions": [
                    {"field": "shoe_size", "op": "eq", "value": 42},
                    {"field": "country", "op": "like", "value": "DE"},
                    {"field": "deal_size", "op": "gt", "value": "big"},
                    {"field": "deal_size", "op": "between", "value": [10, 1]},
                ],
            },
        },
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert "Unknown field 'shoe_size'" in errors["conditions[0].field"][0]
    assert "Unknown operator 'like'" in errors["conditions[1].op"][0]
    assert errors["conditions[2].value"] == ["Give a number."]
    assert errors["conditions[3].value"] == ["The lowest number comes first."]
    assert "conditions.match" in errors
    assert not AssignmentRule.objects.exists()


def test_rules_reorder(admin_api):
    pool = make_pool()
    first = services.rule_save(user=_admin(), object_type="leads.lead", name="A", pool_id=pool.pk)
    second = services.rule_save(user=_admin(), object_type="leads.lead", name="B", pool_id=pool.pk)
    response = send(
        admin_api,
        "post",
        "/api/v1/routing/rules/reorder",
        {"object_type": "leads.lead", "rule_ids": [second.pk, first.pk]},
    )
    assert [r["name"] for r in response.json()] == ["B", "A"]
    bad = send(
        admin_api,
        "post",
        "/api/v1/routing/rules/reorder",
        {"object_type": "leads.lead", "rule_ids": [second.pk]},
    )
    assert bad.status_code == 422
    assert "rule_ids" in bad.json()["errors"]


def _admin() -> Any:
    return UserFactory(is_superuser=True)


def test_pausing_through_the_api(admin_api):
    pool = make_pool()
    member = make_member(pool, make_agent("Pia"))
    response = send(admin_api, "patch", f"/api/v1/routing/members/{member.pk}", {"is_paused": True})
    assert response.status_code == 200
    assert response.json()["is_paused"] is True
    member.refresh_from_db()
    assert member.is_paused


def test_everyone_sets_their_own_availability(db):
    agent = make_agent("Ola", time_zone="Europe/Oslo")
    api = client_for(agent)
    response = send(
        api,
        "patch",
        "/api/v1/routing/availability/me",
        {"is_away": True, "working_hours": {"mon": [["08:00", "16:00"]]}},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["is_away"] is True
    assert body["time_zone"] == "Europe/Oslo"
    assert body["working_hours"] == {"mon": [["08:00", "16:00"]]}
    bad = send(
        api,
        "patch",
        "/api/v1/routing/availability/me",
        {"working_hours": {"mon": [["17:00", "09:00"]]}},
    )
    assert bad.status_code == 422
    assert "working_hours.mon" in bad.json()["errors"]
    back = send(api, "patch", "/api/v1/routing/availability/me", {"is_away": False})
    assert back.json()["is_away"] is False


def test_config_endpoints_are_for_administrators(db):
    agent = make_agent("Not admin")
    api = client_for(agent)
    pool = make_pool()
    for url in (
        "/api/v1/routing/pools",
        f"/api/v1/routing/pools/{pool.pk}",
        f"/api/v1/routing/pools/{pool.pk}/members",
        "/api/v1/routing/queues",
        "/api/v1/routing/rules",
        "/api/v1/routing/decisions",
        "/api/v1/routing/object-types",
    ):
        assert api.get(url).status_code == 403, url
    refused = send(api, "post", "/api/v1/routing/pools", {"name": "X", "object_type": "leads.lead"})
    assert refused.status_code == 403


@pytest.fixture
def lead_roles(db):
    role = make_role("Lead rep")
    grant(role, "leads.lead", "create", "read", "update")
    return role


def test_item_log_and_reassign_follow_the_items_access(lead_roles, admin_user):
    owner = UserFactory(role=lead_roles, full_name="Owner")
    stranger = UserFactory(role=lead_roles, full_name="Stranger")
    pool = make_pool()
    target = make_agent("Target")
    make_member(pool, owner)
    make_member(pool, target)
    AssignmentRule.objects.create(object_type="leads.lead", name="All", pool=pool)
    lead = make_lead(admin_user)
    services.route_item(item=lead)
    lead.refresh_from_db()
    assert lead.owner_id == owner.pk
    url = f"/api/v1/routing/items/leads.lead/{lead.pk}"
    assert client_for(stranger).get(f"{url}/decisions").status_code == 404
    owner_api = client_for(owner)
    log = owner_api.get(f"{url}/decisions")
    assert log.status_code == 200
    assert log.json()[0]["considered"][0]["outcome"] == "chosen"
    blank = send(owner_api, "post", f"{url}/reassign", {"user_id": target.pk, "reason": " "})
    assert blank.status_code == 422
    assert "reason" in blank.json()["errors"]
    moved = send(
        owner_api, "post", f"{url}/reassign", {"user_id": target.pk, "reason": "On holiday"}
    )
    assert moved.status_code == 201, moved.content
    assert moved.json()["kind"] == DecisionKind.MANUAL
    assert Lead.all_objects.get(pk=lead.pk).owner_id == target.pk
    unknown = client_for(owner).get("/api/v1/routing/items/nothing.here/1/decisions")
    assert unknown.status_code == 404


def test_decision_log_filters_and_query_count(admin_api, lead_owner):
    pool = make_pool()
    queue = make_queue()
    pool.queue = queue
    pool.save()
    for name in ("A", "B", "C"):
        make_member(pool, make_agent(name))
    AssignmentRule.objects.create(object_type="leads.lead", name="All", pool=pool)
    for _ in range(12):
        services.route_item(item=make_lead(lead_owner))
    PoolMember.objects.update(is_paused=True)
    services.route_item(item=make_lead(lead_owner))
    with assert_max_queries(8):
        response = admin_api.get("/api/v1/routing/decisions?limit=50")
    assert len(response.json()["items"]) == 13
    queued = admin_api.get("/api/v1/routing/decisions?kind=queued").json()["items"]
    assert len(queued) == 1
    assert {c["reason"] for c in queued[0]["considered"]} == {"paused"}
    bad = admin_api.get("/api/v1/routing/decisions?colour=red")
    assert bad.status_code == 422
    paged = admin_api.get("/api/v1/routing/decisions?limit=5").json()
    assert paged["next_cursor"]
    with assert_max_queries(8):
        admin_api.get("/api/v1/routing/pools")
