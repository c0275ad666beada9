"""List export in the API (issue 7): start a CSV or XLSX export with the list endpoint's
filters and sort, follow the job, download the file; only the caller's own exports."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from patron.contacts.models import Account
from patron.contacts.services import account_create, contact_create
from patron.core.api.testing import assert_problem
from patron.core.choices import JobStatus, SecurityEventKind
from patron.core.exports import chosen_sort, export_csv_run, export_rows, export_spec
from patron.core.models import (
    FieldPermission,
    IdempotencyRecord,
    Job,
    ObjectPermission,
    SecurityEvent,
)
from patron.core.record_pages import EXPORT_TASK
from patron.core.testing import grant
from patron.users.services import token_create
from patron.users.tests.factories import UserFactory, make_role

pytestmark = pytest.mark.django_db

JSON = "application/json"
CONTACT = "contacts.contact"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def api_client(user: Any, scopes: tuple[str, ...] = ("data:write", "contacts:read")) -> Client:
    _, secret = token_create(user=user, name="export", scopes=list(scopes))
    return Client(headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture
def rep_api(rep):
    return api_client(rep)


def start(client: Client, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/api/v1/exports", body, content_type=JSON, headers=headers)


def run(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    """Start an export, run its task as the worker would, and return the finished job."""
    response = start(client, body)
    assert response.status_code == 202, response.content
    export_csv_run(job_id=response.json()["id"])
    finished: dict[str, Any] = client.get(response["Location"]).json()
    assert finished["status"] == JobStatus.DONE, finished
    return finished


def csv_rows(client: Client, job: dict[str, Any]) -> list[dict[str, str]]:
    response = client.get(job["download_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = response.getvalue().decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_export_file_has_exactly_the_rows_of_the_filtered_list_endpoint(rep_api, rep, other_rep):
    for first, title in [("Ann", "Engineer"), ("Bea", "Chief Engineer"), ("Cid", "Sales")]:
        contact_create(user=rep, first_name=first, last_name=f"{first}son", title=title)
    contact_create(
        user=rep, first_name="Dee", last_name="Deeson", title="Engineer", email_opt_out=True
    )
    # Private to another rep: in neither the list nor the file.
    contact_create(user=other_rep, first_name="Eve", last_name="Evans", title="Engineer")
    filters = {"title": "engineer", "email_opt_out": False}

    job = run(rep_api, {"object": "contacts.contact", "filters": filters, "sort": "-name"})

    listed = rep_api.get(
        "/api/v1/contacts", {"title": "engineer", "email_opt_out": "false", "sort": "-name"}
    ).json()["items"]
    exported = csv_rows(rep_api, job)
    assert [row["id"] for row in exported] == [str(item["id"]) for item in listed]
    assert [row["first_name"] for row in exported] == ["Bea", "Ann"]
    assert job["rows"] == 2
    assert job["progress"] == {"done": 2, "total": 2}
    assert job["object"] == "contacts.contact"
    assert job["format"] == "csv"
    assert job["finished_at"] is not None
    assert job["error"] is None


@pytest.mark.parametrize("sort", ["revenue", "-revenue"])
def test_export_sorted_on_a_column_with_empty_values_keeps_each_lists_order(admin_user, sort):
    # Before, the file took the database's NULL order, unlike both lists on PostgreSQL.
    # (An administrator: revenue is a sensitive field, hidden from reps.)
    for name, revenue in [("Alto", "100"), ("Bare", None), ("Coda", "50")]:
        account_create(
            user=admin_user, name=name, annual_revenue=Decimal(revenue) if revenue else None
        )
    admin_api = api_client(admin_user)
    job = run(admin_api, {"object": "contacts.account", "sort": sort})
    listed = admin_api.get("/api/v1/accounts", {"sort": sort}).json()["items"]
    assert [row["name"] for row in csv_rows(admin_api, job)] == [i["name"] for i in listed]
    # The page's export follows the page, where empty values come last either way.
    spec = export_spec("contacts.account")
    assert spec is not None
    page_rows = export_rows(spec, admin_user, f"sort={sort}")
    assert [account.name for account in page_rows][-1] == "Bare"


def test_export_sorted_on_a_hidden_field_comes_out_in_the_lists_default_order(rep):
    # An export whose first sort is not its list's default (as leads and quotes have):
    # a sort on revenue, hidden from reps, fell back to that first sort (newest first)
    # while the accounts page falls back to its own default, by name.
    spec = export_spec("contacts.account")
    assert spec is not None
    newest_first = replace(spec, sorts={"-created": ("-created_at", "-id"), **spec.sorts})
    for name in ("Mike", "Alpha", "Zulu"):
        account_create(user=rep, name=name)
    client = Client()
    client.force_login(rep)
    page = client.get("/accounts/", {"sort": "revenue"}).context["page"]

    rows = export_rows(newest_first, rep, "sort=revenue")

    assert [account.name for account in rows] == [account.name for account in page.rows]
    assert [account.name for account in rows] == ["Alpha", "Mike", "Zulu"]


def test_default_sort_on_a_hidden_field_gives_way_to_the_first_sort_on_visible_ones():
    sorts = {
        "revenue": ("annual_revenue", "id"),
        "name": ("name", "id"),
        "created": ("created_at", "id"),
    }
    hidden = frozenset({"annual_revenue"})

    assert chosen_sort(sorts, "", "revenue", hidden) == "name"
    assert chosen_sort(sorts, "revenue", "created", hidden) == "created"
    assert chosen_sort(sorts, "unknown", "revenue", frozenset()) == "revenue"


def test_start_answers_202_with_the_queued_job_and_its_location(rep_api):
    response = start(rep_api, {"object": "contacts.account"})
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == f"/api/v1/exports/{body['id']}"
    assert body["status"] == JobStatus.QUEUED
    assert body["download_url"] is None
    job = Job.objects.get(pk=body["id"])
    # The list's default sort is written down, so the file has the list's order.
    assert job.params == {
        "object": "contacts.account",
        "query": "sort=name",
        "format": "csv",
        "list": "api",
    }


def test_xlsx_export_keeps_numbers_typed_and_neutralises_formulas(rep_api, rep):
    account_create(user=rep, name='=HYPERLINK("http://evil.example","x")', employee_count=250)

    job = run(rep_api, {"object": "contacts.account", "format": "xlsx"})

    response = rep_api.get(job["download_url"])
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Disposition"].endswith('.xlsx"')
    workbook = load_workbook(io.BytesIO(response.getvalue()))
    sheet = workbook.active
    assert sheet is not None
    header, row = (list(r) for r in sheet.iter_rows(values_only=True))
    values = dict(zip(header, row, strict=True))
    assert values["name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert values["employee_count"] == 250


def test_csv_export_neutralises_formula_text(rep_api, rep):
    contact_create(user=rep, first_name="@SUM(A1:A9)", last_name="+Plus", title="-Minus")

    (row,) = csv_rows(rep_api, run(rep_api, {"object": "contacts.contact"}))

    assert (row["first_name"], row["last_name"], row["title"]) == (
        "'@SUM(A1:A9)",
        "'+Plus",
        "'-Minus",
    )


def test_field_hidden_from_the_role_is_absent_from_the_file(rep_api, rep, sales_roles):
    field = FieldPermission.objects.create(
        role=sales_roles["rep"],
        object_type="contacts.account",
        field="annual_revenue",
        access="hidden",
    )
    acme = account_create(user=rep, name="Acme")
    Account.objects.filter(pk=acme.pk).update(annual_revenue=Decimal("7654321"))

    (hidden,) = csv_rows(rep_api, run(rep_api, {"object": "contacts.account"}))
    field.access = "read_only"
    field.save()
    (shown,) = csv_rows(rep_api, run(rep_api, {"object": "contacts.account"}))

    assert "annual_revenue" not in hidden
    assert "7654321" not in "".join(hidden.values())
    assert shown["annual_revenue"] == "7654321.00"


def test_export_without_the_export_permission_is_refused_with_403():
    role = make_role("Reader")
    grant(role, "contacts.contact", "read")
    client = api_client(UserFactory(role=role))

    body = assert_problem(start(client, {"object": "contacts.contact"}), 403)

    assert "may not export contacts" in body["detail"]
    assert not Job.objects.exists()


def test_token_without_the_data_scope_is_refused(rep):
    client = api_client(rep, scopes=("contacts:write",))
    body = assert_problem(start(client, {"object": "contacts.contact"}), 403)
    assert "data:write" in body["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"object": "contacts.contact", "filters": {"colour": "red"}}, "filters.colour"),
        (
            {"object": "contacts.contact", "filters": {"created_after": "soon"}},
            "filters.created_after",
        ),
        ({"object": "contacts.contact", "filters": {"mine": "perhaps"}}, "filters.mine"),
        ({"object": "contacts.contact", "sort": "password"}, "sort"),
        ({"object": "contacts.pet"}, "object"),
        ({"object": "contacts.contact", "format": "pdf"}, "format"),
        ({"object": "contacts.contact", "columns": ["id"]}, "columns"),
    ],
)
def test_bad_export_request_is_refused_with_422_naming_the_field(rep_api, body, field):
    problem = assert_problem(start(rep_api, body), 422, field)
    assert not Job.objects.exists()
    if field.startswith("filters."):
        assert field in problem["detail"]


def test_sort_on_a_field_hidden_from_the_role_is_refused(rep_api):
    # Annual revenue is sensitive: hidden from a role without a field permission for it.
    body = {"object": "contacts.account", "sort": "revenue"}
    assert_problem(start(rep_api, body), 422, "sort")
    assert not Job.objects.exists()


def test_file_of_an_unfinished_export_is_a_409_with_retry_after(rep_api):
    started = start(rep_api, {"object": "contacts.contact"}).json()

    response = rep_api.get(f"/api/v1/exports/{started['id']}/file")

    body = assert_problem(response, 409)
    assert "still running" in body["detail"]
    assert response["Retry-After"] == "5"


def test_file_of_a_failed_export_is_a_409_giving_the_reason(rep_api, rep, sales_roles):
    started = start(rep_api, {"object": "contacts.contact"}).json()
    # The permission goes while the job waits: the job fails instead of writing the file.
    permission = ObjectPermission.objects.get(role=sales_roles["rep"], object_type=CONTACT)
    permission.can_export = False
    permission.save()
    export_csv_run(job_id=started["id"])

    job = rep_api.get(f"/api/v1/exports/{started['id']}").json()
    assert job["status"] == JobStatus.FAILED
    assert "may not export contacts" in job["error"]
    body = assert_problem(rep_api.get(f"/api/v1/exports/{started['id']}/file"), 409)
    assert "may not export contacts" in body["detail"]


def test_another_users_export_is_not_found(rep, other_rep):
    job = run(api_client(rep), {"object": "contacts.contact"})
    other = api_client(other_rep)

    assert_problem(other.get(f"/api/v1/exports/{job['id']}"), 404)
    assert_problem(other.get(f"/api/v1/exports/{job['id']}/file"), 404)
    assert other.get("/api/v1/exports").json() == {"items": [], "next_cursor": None}


def test_the_api_export_is_in_the_security_log(rep_api, rep):
    contact_create(user=rep, first_name="Ann", last_name="Lee")

    job = run(rep_api, {"object": "contacts.contact", "format": "xlsx", "filters": {"q": "lee"}})

    event = SecurityEvent.objects.get(kind=SecurityEventKind.EXPORT, detail__job_id=job["id"])
    assert event.user == rep
    assert event.detail["object_type"] == "contacts.contact"
    assert event.detail["format"] == "xlsx"
    assert event.detail["query"] == "q=lee&sort=name"
    assert event.detail["rows"] == 1


def test_idempotency_key_replays_the_started_export_without_a_second_job(rep_api):
    body = {"object": "contacts.contact", "format": "xlsx"}
    first = start(rep_api, body, **{"Idempotency-Key": "export-1"})
    second = start(rep_api, body, **{"Idempotency-Key": "export-1"})

    assert first.status_code == second.status_code == 202
    assert first.content == second.content
    assert first["Location"] == second["Location"]
    assert second["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1
    assert IdempotencyRecord.objects.get().status_code == 202


def test_export_list_pages_through_own_exports_in_fixed_queries(
    client, rep, other_rep, django_assert_num_queries
):
    mine = [
        Job.objects.create(
            kind=EXPORT_TASK, created_by=rep, params={"object": "contacts.contact"}
        ).pk
        for _ in range(5)
    ]
    Job.objects.create(kind=EXPORT_TASK, created_by=other_rep, params={"object": "x.y"})
    Job.objects.create(kind="data.import", created_by=rep)
    client.force_login(rep)
    # The first request of a session also saves the session; later ones only read it.
    client.get("/api/v1/exports")

    seen: list[int] = []
    cursor = ""
    for _page in range(3):
        # Session and user, then one query for the page, however many rows it has.
        with django_assert_num_queries(3):
            page = client.get("/api/v1/exports", {"limit": 2, "cursor": cursor}).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"] or ""
    assert seen == sorted(mine, reverse=True)
    assert cursor == ""


def test_export_list_filters_by_status_and_refuses_unknown_filters(rep_api, rep):
    done = Job.objects.create(kind=EXPORT_TASK, created_by=rep, status=JobStatus.DONE)
    Job.objects.create(kind=EXPORT_TASK, created_by=rep)

    page = rep_api.get("/api/v1/exports", {"status": "done"}).json()

    assert [item["id"] for item in page["items"]] == [done.pk]
    assert_problem(rep_api.get("/api/v1/exports", {"colour": "red"}), 422, "colour")
