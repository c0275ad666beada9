"""The routing pages: admin-only configuration, the rule editor, the decision log with CSV,
My availability, and the Assignment card with its reassign form."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory

from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix, grant
from patron.leads.models import Lead
from patron.routing import services
from patron.routing.models import AgentAvailability, AssignmentRule, Pool, PoolMember
from patron.routing.tests.conftest import make_agent, make_lead, make_member, make_pool, make_queue
from patron.routing.views import assignment_panel_context
from patron.users.tests.factories import UserFactory, make_role

pytestmark = pytest.mark.usefixtures("lead_routable")


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def routed_pool(lead_owner):
    queue = make_queue("Marker queue")
    pool = make_pool("Marker pool", queue=queue)
    for name in ("Ann", "Ben", "Cleo"):
        make_member(pool, make_agent(name), max_open_items=10)
    AssignmentRule.objects.create(object_type="leads.lead", name="Marker rule", pool=pool)
    for _ in range(6):
        services.route_item(item=make_lead(lead_owner))
    return pool


def test_admin_pages_are_for_administrators_only(routed_pool, admin_user):
    other = make_agent("Regular")
    pool = routed_pool
    pages = [
        Endpoint("pools", "/routing/", "detail"),
        Endpoint("pool", f"/routing/pools/{pool.pk}/", "detail"),
        Endpoint("pool edit", f"/routing/pools/{pool.pk}/edit/", "detail"),
        Endpoint("new pool", "/routing/pools/new/", "detail"),
        Endpoint("queues", "/routing/queues/", "detail"),
        Endpoint("rules", "/routing/rules/", "detail"),
        Endpoint("new rule", "/routing/rules/new/", "detail"),
        Endpoint("log", "/routing/log/", "detail"),
        Endpoint("log csv", "/routing/log/export.csv", "detail"),
        Endpoint("api pools", "/api/v1/routing/pools", "detail"),
        Endpoint("api log", "/api/v1/routing/decisions", "detail"),
    ]
    check_visibility_matrix(pages, marker="Marker", allowed=admin_user, denied=other)


def test_pool_list_and_detail_show_live_counters_in_few_queries(routed_pool, admin_user):
    admin = client_for(admin_user)
    admin.get("/routing/")  # warm the session and content types
    with assert_max_queries(12):
        listing = admin.get("/routing/")
    assert b"Marker pool" in listing.content
    with assert_max_queries(16):
        detail = admin.get(f"/routing/pools/{routed_pool.pk}/")
    body = detail.content.decode()
    assert "2 / 10" in body  # six leads over three members
    assert "Taking items" in body


def test_pause_toggle_with_htmx_returns_the_members_card(routed_pool, admin_user):
    member = PoolMember.objects.filter(pool=routed_pool).first()
    assert member is not None
    response = client_for(admin_user).post(
        f"/routing/members/{member.pk}/pause/", {"paused": "true"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert b'id="pool-members"' in response.content
    assert b"Paused" in response.content
    member.refresh_from_db()
    assert member.is_paused


def test_rule_editor_saves_condition_rows_and_shows_errors_inline(admin_user):
    pool = make_pool("Editor pool")
    admin = client_for(admin_user)
    form = admin.get("/routing/rules/new/")
    assert b'name="cond-0-field"' in form.content
    assert b"Deal size" in form.content
    bad = admin.post(
        "/routing/rules/new/",
        {
            "name": "Big deals",
            "object_type": "leads.lead",
            "pool_id": pool.pk,
            "match": "all",
            "is_active": "on",
            "cond-0-field": "deal_size",
            "cond-0-op": "gte",
            "cond-0-value": "lots",
        },
    )
    assert bad.status_code == 422
    assert "conditions[0].value: Give a number." in bad.content.decode()
    assert b'value="lots"' in bad.content
    good = admin.post(
        "/routing/rules/new/",
        {
            "name": "Big deals",
            "object_type": "leads.lead",
            "pool_id": pool.pk,
            "match": "any",
            "is_active": "on",
            "cond-0-field": "deal_size",
            "cond-0-op": "between",
            "cond-0-value": "100000, 500000",
            "cond-1-field": "country",
            "cond-1-op": "in",
            "cond-1-value": "DE, AT",
            "skill-0-kind": "language",
            "skill-0-value": "de",
            "skill-0-level": "3",
        },
    )
    assert good.status_code == 302
    rule = AssignmentRule.objects.get(name="Big deals")
    assert rule.conditions == {
        "match": "any",
        "conditions": [
            {"field": "deal_size", "op": "between", "value": [100000, 500000]},
            {"field": "country", "op": "in", "value": ["DE", "AT"]},
        ],
    }
    assert rule.required_skills == [{"kind": "language", "value": "de", "min_level": 3}]
    listing = admin.get("/routing/rules/").content.decode()
    assert "Deal size is between 100000 and 500000 or Country is one of DE, AT" in listing


def test_decision_log_filters_pages_and_exports(routed_pool, admin_user):
    admin = client_for(admin_user)
    admin.get("/routing/log/")
    with assert_max_queries(12):
        page = admin.get("/routing/log/")
    assert page.content.decode().count("Assigned by a rule") >= 6
    only_queued = admin.get("/routing/log/?kind=queued")
    assert b"Nothing matches these filters" in only_queued.content
    bad = admin.get("/routing/log/?created_after=yesterday")
    assert bad.status_code == 422
    csv_response = admin.get("/routing/log/export.csv?kind=automatic")
    rows = b"".join(csv_response.streaming_content).decode().strip().splitlines()  # type: ignore[attr-defined]
    assert rows[0].startswith("decision_id,created_at,object_type")
    assert len(rows) == 7
    assert "Ann: chosen" in "".join(rows)


def test_my_availability_away_back_and_working_hours(db):
    agent = make_agent("Walter", time_zone="Europe/Berlin")
    page = client_for(agent)
    assert b"You are available" in page.get("/routing/availability/").content
    page.post("/routing/availability/", {"action": "away", "away_until": ""})
    assert AgentAvailability.objects.get(user=agent).is_away
    page.post("/routing/availability/", {"action": "back"})
    assert not AgentAvailability.objects.get(user=agent).is_away
    bad = page.post(
        "/routing/availability/", {"action": "hours", "mon-start": "18:00", "mon-end": "09:00"}
    )
    assert bad.status_code == 422
    assert "Monday: 18:00 to 09:00 ends before it starts." in bad.content.decode()
    assert b'value="18:00"' in bad.content
    page.post(
        "/routing/availability/",
        {
            "action": "hours",
            "mon-start": "09:00",
            "mon-end": "12:00",
            "mon-start2": "13:00",
            "mon-end2": "17:30",
        },
    )
    saved = AgentAvailability.objects.get(user=agent).working_hours
    assert saved == {"mon": [["09:00", "12:00"], ["13:00", "17:30"]]}


@pytest.fixture
def lead_role(db):
    role = make_role("Lead desk")
    grant(role, "leads.lead", "create", "read", "update")
    return role


def test_assignment_card_shows_the_log_and_reassigns_with_a_reason(routed_pool, lead_role):
    owner = UserFactory(role=lead_role, full_name="Card owner")
    target = make_agent("Card target")
    lead = make_lead(owner)
    request = RequestFactory().get("/")
    request.user = owner
    context = assignment_panel_context(request, lead)
    assert context is not None
    assert context["may_reassign"] is True
    assert context["routed"] is None
    page = client_for(owner)
    url = f"/routing/items/leads.lead/{lead.pk}/reassign/"
    refused = page.post(
        url, {"target": f"user:{target.pk}", "reason": ""}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 422
    assert b"A reason is required" in refused.content
    assert Lead.all_objects.get(pk=lead.pk).owner_id == owner.pk
    moved = page.post(
        url,
        {"target": f"user:{target.pk}", "reason": "Owner on leave"},
        headers={"HX-Request": "true"},
    )
    assert moved.status_code == 200
    assert b"Owner on leave" in moved.content
    assert b"Reassigned by hand" in moved.content
    assert Lead.all_objects.get(pk=lead.pk).owner_id == target.pk
    stranger = UserFactory(role=lead_role, full_name="Stranger")
    assert (
        client_for(stranger).post(url, {"target": f"user:{target.pk}", "reason": "x"}).status_code
        == 404
    )


def test_assignment_card_is_left_out_for_types_not_routed(admin_user):
    request = RequestFactory().get("/")
    request.user = admin_user
    assert assignment_panel_context(request, Pool(name="not routed")) is None


def test_lead_detail_page_carries_the_assignment_card(routed_pool, admin_user):
    from django.urls import reverse

    lead = Lead.objects.filter(owner__full_name="Ann").first()
    assert lead is not None
    response = client_for(admin_user).get(reverse("leads:lead_detail", args=[lead.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="routing-assignment"' in body
    assert "Assigned to <strong>Ann</strong>" in body
    assert 'name="reason"' in body
