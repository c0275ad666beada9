"""Territory pages and API: reads for signed-in users, writes for administrators, bad input
answered with the problem named, query counts that do not grow with rows, and the
visibility territory membership gives on accounts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from patron.contacts.models import Account
from patron.contacts.services import account_create
from patron.core import search
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix
from patron.territories import services
from patron.territories.choices import MemberRole, ModelState
from patron.territories.models import Territory, TerritoryModel
from patron.territories.tests.conftest import make_territory, rule_in, rule_range
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_json(client: Client, url: str, data: Any, method: str = "post") -> Any:
    return getattr(client, method)(url, data=json.dumps(data), content_type="application/json")


@pytest.fixture
def tree(admin_user, active_model, rep, manager):
    west = make_territory(admin_user, active_model, "West")
    berlin = make_territory(
        admin_user, active_model, "Berlin", rule_in("region", "Berlin"), parent=west
    )
    services.member_set(user=admin_user, territory=berlin, member=rep, role=MemberRole.SALES_REP)
    services.member_set(user=admin_user, territory=west, member=manager, role=MemberRole.MANAGER)
    return {"west": west, "berlin": berlin}


# --- visibility by membership -----------------------------------------------------------------


def test_territory_members_see_the_accounts_of_their_territory(admin_user, tree, rep, other_rep):
    owner = UserFactory()
    record = Account.objects.create(
        name="Zebra Berlin Marker", owner=owner, billing_region="Berlin"
    )
    # Created without the service, so index it as the service would: lists' text filter
    # reads the search index.
    search.index_record(record)
    services.territory_assign_record(obj=record)
    endpoints = [
        Endpoint("account list", "/accounts/?q=Zebra", "list"),
        Endpoint("account detail", f"/accounts/{record.pk}/", "detail"),
        Endpoint("account API", "/api/v1/accounts?q=Zebra", "list"),
    ]
    check_visibility_matrix(endpoints, marker="Zebra Berlin Marker", allowed=rep, denied=other_rep)


def test_a_manager_edits_records_below_a_rep_only_reads(admin_user, tree, rep, manager):
    owner = UserFactory()
    record = Account.objects.create(name="Berlin Ltd", owner=owner, billing_region="Berlin")
    services.territory_assign_record(obj=record)
    assert Account.objects.visible_to(manager, "update").filter(pk=record.pk).exists()
    assert Account.objects.visible_to(rep, "read").filter(pk=record.pk).exists()
    assert not Account.objects.visible_to(rep, "update").filter(pk=record.pk).exists()


def test_explain_access_names_the_territory(admin_user, tree, rep):
    from patron.core.visibility import explain_access

    record = Account.objects.create(name="B", owner=UserFactory(), billing_region="Berlin")
    services.territory_assign_record(obj=record)
    assert any("Berlin" in reason for reason in explain_access(rep, record))


# --- API --------------------------------------------------------------------------------------


def test_api_builds_a_model_with_territories_rules_members_and_quotas(admin_user, rep):
    client = client_for(admin_user)
    created = post_json(client, "/api/v1/territory-models", {"name": "FY2027"})
    assert created.status_code == 201, created.content
    model_id = created.json()["id"]
    north = post_json(
        client,
        f"/api/v1/territory-models/{model_id}/territories",
        {"name": "North", "rules": [rule_range("postal_code", "20000", "29999")]},
    )
    assert north.status_code == 201, north.content
    north_id = north.json()["id"]
    overlapping = post_json(
        client,
        f"/api/v1/territory-models/{model_id}/territories",
        {"name": "Hamburg", "rules": [rule_in("postal_code", "20095")]},
    )
    assert overlapping.status_code == 422
    assert "North" in overlapping.json()["errors"]["rules"][0]
    assert not Territory.objects.filter(name="Hamburg").exists()
    child = post_json(
        client,
        f"/api/v1/territory-models/{model_id}/territories",
        {"name": "C", "parent": north_id},
    ).json()
    cyclic = post_json(
        client, f"/api/v1/territories/{north_id}", {"parent": child["id"]}, method="patch"
    )
    assert cyclic.status_code == 422
    assert "cyclical" in cyclic.json()["errors"]["parent"][0]
    member = post_json(
        client,
        f"/api/v1/territories/{north_id}/members",
        {"user": rep.pk, "role": "manager"},
        "put",
    )
    assert member.status_code == 200
    bad_role = post_json(
        client, f"/api/v1/territories/{north_id}/members", {"user": rep.pk, "role": "boss"}, "put"
    )
    assert bad_role.status_code == 422
    quota = post_json(
        client,
        f"/api/v1/territories/{north_id}/quotas",
        {
            "period_start": "2027-01-01",
            "period_end": "2026-12-31",
            "amount": "5",
            "currency": "EUR",
        },
        "put",
    )
    assert quota.status_code == 422
    assert "ends before" in quota.json()["errors"]["period_end"][0]
    tree = client.get(f"/api/v1/territory-models/{model_id}/territories").json()
    assert [(row["name"], row["depth"]) for row in tree] == [("North", 0), ("C", 1)]
    bad_rules = post_json(
        client,
        f"/api/v1/territories/{north_id}/rules",
        [rule_range("employee_count", "500", "10")],
        "put",
    )
    assert bad_rules.status_code == 422
    assert "rules.0.high" in bad_rules.json()["errors"]


def test_api_copy_compare_activate(
    admin_user, active_model, rep, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("celery.current_app.send_task", lambda *a, **k: None)
    north = make_territory(
        admin_user, active_model, "North", rule_range("postal_code", "20000", "29999")
    )
    services.member_set(user=admin_user, territory=north, member=rep, role=MemberRole.SALES_REP)
    moved = account_create(user=admin_user, name="Hanover", billing_postal_code="30159")
    services.assign_all(active_model)
    client = client_for(admin_user)
    copy = post_json(client, f"/api/v1/territory-models/{active_model.pk}/copy", {"name": "Plan"})
    assert copy.status_code == 201
    plan = TerritoryModel.objects.get(pk=copy.json()["id"])
    plan_north = Territory.objects.get(model=plan, name="North")
    post_json(
        client,
        f"/api/v1/territories/{plan_north.pk}/rules",
        [rule_range("postal_code", "20000", "39999")],
        "put",
    )
    services.assign_all(plan)
    result = client.get(f"/api/v1/territory-models/{plan.pk}/compare").json()
    assert result["total"] == 1
    assert result["items"][0]["name"] == "Hanover"
    assert result["items"][0]["to_name"] == "North"
    assert result["users"] == [{"user": rep.pk, "email": rep.email, "gains": 1, "losses": 0}]
    csv_body = client.get(f"/api/v1/territory-models/{plan.pk}/compare.csv").getvalue()
    assert b"Hanover" in csv_body
    assert rep.email.encode() in csv_body
    with django_capture_on_commit_callbacks(execute=True):
        activated = client.post(f"/api/v1/territory-models/{plan.pk}/activate")
    assert activated.status_code == 202
    job_id = activated.json()["job"]["id"]
    services.assignment_run(job_id=job_id)
    assert client.get(f"/api/v1/territory-runs/{job_id}").json()["status"] == "done"
    assert client.get(f"/api/v1/territory-models/{active_model.pk}").json()["state"] == "archived"
    listing = client.get(f"/api/v1/territories/{plan_north.pk}/assignments").json()
    assert [row["object_id"] for row in listing["items"]] == [moved.pk]


def test_api_manual_assign_and_unassign(admin_user, active_model):
    make_territory(admin_user, active_model, "Germany", rule_in("country", "DE"))
    key = make_territory(admin_user, active_model, "Key")
    record = account_create(user=admin_user, name="Acme", billing_country="DE")
    client = client_for(admin_user)
    made = post_json(
        client,
        f"/api/v1/territories/{key.pk}/assignments",
        {"object_type": "contacts.account", "object_id": record.pk},
    )
    assert made.status_code == 201
    assert made.json()["is_manual"] is True
    unknown = post_json(
        client,
        f"/api/v1/territories/{key.pk}/assignments",
        {"object_type": "contacts.banana", "object_id": record.pk},
    )
    assert unknown.status_code == 422
    cleared = client.delete(
        f"/api/v1/territory-models/{active_model.pk}/assignments/contacts.account/{record.pk}"
    )
    assert cleared.status_code == 200
    assert cleared.json()["territory"] != key.pk


def test_api_list_query_counts_do_not_grow(admin_user, active_model):
    client = client_for(admin_user)
    for index in range(3):
        territory = make_territory(admin_user, active_model, f"T{index}", rule_in("country", "DE"))
    for index in range(20):
        account_create(user=admin_user, name=f"A{index}", billing_country="DE")
    services.assign_all(active_model)
    client.get(f"/api/v1/territory-models/{active_model.pk}/territories")
    with assert_max_queries(8):
        assert (
            client.get(f"/api/v1/territory-models/{active_model.pk}/territories").status_code == 200
        )
    with assert_max_queries(10):
        page = client.get(f"/api/v1/territories/{territory.pk}/assignments?limit=10")
    assert page.status_code == 200


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/api/v1/territory-models", {"name": "X"}),
        ("post", "/api/v1/territory-models/{model}/copy", {"name": "X"}),
        ("post", "/api/v1/territory-models/{model}/activate", None),
        ("post", "/api/v1/territory-models/{model}/runs", None),
        ("get", "/api/v1/territory-models/{model}/compare", None),
        ("post", "/api/v1/territory-models/{model}/territories", {"name": "X"}),
        ("put", "/api/v1/territories/{territory}/members", {"user": 1, "role": "manager"}),
        ("put", "/api/v1/territories/{territory}/rules", []),
        ("delete", "/api/v1/territories/{territory}", None),
    ],
)
def test_api_writes_are_for_administrators(rep, planning_model, method, url, body):
    territory = Territory.objects.create(model=planning_model, name="T", path="")
    target = url.format(model=planning_model.pk, territory=territory.pk)
    client = client_for(rep)
    if body is None:
        response = getattr(client, method)(target)
    else:
        response = post_json(client, target, body, method)
    assert response.status_code == 403, (target, response.content)
    assert Territory.objects.filter(pk=territory.pk).exists()


def test_api_reads_are_open_to_signed_in_users(rep, tree, active_model):
    client = client_for(rep)
    assert client.get("/api/v1/territory-models").status_code == 200
    assert client.get(f"/api/v1/territories/{tree['berlin'].pk}").json()["name"] == "Berlin"


# --- pages ------------------------------------------------------------------------------------


def test_pages_show_the_tree_and_the_territory(admin_user, tree, active_model):
    client = client_for(admin_user)
    client.get(f"/territories/models/{active_model.pk}/")
    with assert_max_queries(20):
        page = client.get(f"/territories/models/{active_model.pk}/")
    assert page.status_code == 200
    assert b"Berlin" in page.content
    assert b"Region / state is Berlin" in page.content
    with assert_max_queries(25):
        detail = client.get(f"/territories/{tree['berlin'].pk}/")
    assert detail.status_code == 200
    assert client.get("/territories/").status_code == 200


def test_territory_form_saves_rule_rows_and_shows_row_errors(admin_user, active_model):
    client = client_for(admin_user)
    url = f"/territories/models/{active_model.pk}/new/"
    assert client.get(url).status_code == 200
    data = {
        "name": "South",
        "parent": "",
        "priority": "0",
        "description": "",
        "rules-TOTAL_FORMS": "2",
        "rules-INITIAL_FORMS": "0",
        "rules-0-field": "postal_code",
        "rules-0-operator": "range",
        "rules-0-low": "89999",
        "rules-0-high": "80000",
        "rules-1-field": "",
        "rules-1-operator": "in",
    }
    refused = client.post(url, data)
    assert refused.status_code == 422
    assert "below the low bound" in refused.content.decode()
    assert not Territory.objects.filter(name="South").exists()
    data.update({"rules-0-low": "80000", "rules-0-high": "89999"})
    saved = client.post(url, data)
    assert saved.status_code == 302
    south = Territory.objects.get(name="South")
    assert south.rules.get().high == "89999"


def test_compare_page_and_csv(admin_user, active_model, planning_model):
    planning = services.model_copy(user=admin_user, source=active_model, name="P")
    client = client_for(admin_user)
    page = client.get(f"/territories/models/{planning.pk}/compare/")
    assert page.status_code == 200
    assert b"Nothing would move" in page.content
    csv_response = client.get(f"/territories/models/{planning.pk}/compare.csv")
    assert csv_response.status_code == 200


def test_admin_pages_refuse_other_users(rep, planning_model):
    client = client_for(rep)
    for url in (
        f"/territories/models/{planning_model.pk}/compare/",
        f"/territories/models/{planning_model.pk}/compare.csv",
        f"/territories/models/{planning_model.pk}/new/",
        f"/territories/models/{planning_model.pk}/edit/",
    ):
        assert client.get(url).status_code == 403, url
    for url in (
        f"/territories/models/{planning_model.pk}/activate/",
        f"/territories/models/{planning_model.pk}/run/",
        f"/territories/models/{planning_model.pk}/copy/",
    ):
        assert client.post(url).status_code == 403, url
    planning_model.refresh_from_db()
    assert planning_model.state == ModelState.PLANNING
    assert client.get(f"/territories/models/{planning_model.pk}/").status_code == 200


def test_account_page_shows_its_territory_and_members(admin_user, tree, rep):
    record = account_create(user=admin_user, name="Berlin GmbH", billing_region="Berlin")
    services.territory_assign_record(obj=record)
    page = client_for(admin_user).get(f"/accounts/{record.pk}/")
    body = page.content.decode()
    assert page.status_code == 200
    assert ">West</a>" in body
    assert "Rita Rep" in body


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/territory-models/99999999999999999999999",
        "/api/v1/territories/99999999999999999999999",
        "/api/v1/territories/1/assignments?cursor=99999999999999999999999",
        "/api/v1/territory-models/1/compare?user=99999999999999999999999",
        "/territories/models/99999999999999999999999/",
        "/territories/99999999999999999999999/",
    ],
)
def test_out_of_range_ids_are_not_server_errors(admin_user, active_model, url):
    Territory.objects.create(model=active_model, name="T", path="1.")
    response = client_for(admin_user).get(url)
    assert response.status_code < 500, response.content[:300]


def test_manual_assignment_of_an_out_of_range_id_is_refused(admin_user, active_model):
    territory = make_territory(admin_user, active_model, "T")
    response = post_json(
        client_for(admin_user),
        f"/api/v1/territories/{territory.pk}/assignments",
        {"object_type": "contacts.account", "object_id": 2**70},
    )
    assert response.status_code == 422
    page = client_for(admin_user).post(
        f"/territories/{territory.pk}/assignments/",
        {"object_type": "contacts.account", "object_id": str(2**70)},
    )
    assert page.status_code == 422
