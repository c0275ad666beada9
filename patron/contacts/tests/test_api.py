"""The accounts and contacts resources of /api/v1/."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from patron.contacts.models import Account, Contact
from patron.contacts.services import account_create, contact_create
from patron.core.api.testing import assert_problem
from patron.core.choices import CustomFieldType, FieldAccess, Via
from patron.core.models import ChangeLogEntry, CustomFieldDefinition, FieldPermission
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix
from patron.users.services import token_create

pytestmark = pytest.mark.django_db

JSON = "application/json"


def bearer(user, *scopes: str) -> dict[str, str]:
    _, secret = token_create(user=user, name="test", scopes=list(scopes) or ["contacts:write"])
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def api(rep):
    """A client acting as ``rep`` through a contacts:write token."""
    client = Client()
    client.defaults.update({"HTTP_AUTHORIZATION": bearer(rep)["Authorization"]})
    return client


@pytest.fixture
def acme(rep):
    return account_create(user=rep, name="Acme Corporation", industry="Software")


# --- create, retrieve, update, delete -------------------------------------------------------


def test_create_account_returns_201_with_etag_location_and_version(api, rep):
    response = api.post(
        "/api/v1/accounts",
        {"name": "Globex", "website": "https://www.globex.com", "phone": "+1 415 555 0100"},
        content_type=JSON,
    )
    assert response.status_code == 201
    body = response.json()
    account = Account.objects.get(pk=body["id"])
    assert body["version"] == 1
    assert body["domain"] == "globex.com"
    assert body["phone"] == "+14155550100"
    assert body["owner"] == rep.pk
    assert response["ETag"] == f'"{account.pk}-1"'
    assert response["Location"] == f"/api/v1/accounts/{account.pk}"
    entry = ChangeLogEntry.objects.get(object_id=account.pk, action="create")
    assert entry.via == Via.API


def test_create_contact_links_a_visible_account(api, acme):
    response = api.post(
        "/api/v1/contacts",
        {"first_name": "Ana", "last_name": "Lee", "account": acme.pk, "email": "ANA@acme.com"},
        content_type=JSON,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["account"] == acme.pk
    assert body["email"] == "ana@acme.com"


def test_create_contact_with_an_account_the_user_cannot_see_names_the_field(api, other_rep):
    hidden = account_create(user=other_rep, name="Secret Ltd")
    response = api.post(
        "/api/v1/contacts", {"last_name": "Lee", "account": hidden.pk}, content_type=JSON
    )
    assert_problem(response, 422, "account")
    assert not Contact.objects.exists()


def test_service_validation_errors_name_the_field(api):
    response = api.post("/api/v1/contacts", {"last_name": "", "email": "nope"}, content_type=JSON)
    body = assert_problem(response, 422, "last_name", "email")
    assert body["type"].endswith("validation-failed")


def test_retrieve_has_etag_and_version(api, acme):
    response = api.get(f"/api/v1/accounts/{acme.pk}")
    assert response.status_code == 200
    assert response["ETag"] == f'"{acme.pk}-1"'
    assert response.json()["version"] == 1
    assert response.json()["name"] == "Acme Corporation"


def test_patch_with_current_if_match_updates_and_returns_new_etag(api, acme):
    response = api.patch(
        f"/api/v1/accounts/{acme.pk}",
        {"industry": "Retail"},
        content_type=JSON,
        headers={"If-Match": f'"{acme.pk}-1"'},
    )
    assert response.status_code == 200, response.content
    assert response.json()["industry"] == "Retail"
    assert response.json()["version"] == 2
    assert response["ETag"] == f'"{acme.pk}-2"'
    entry = ChangeLogEntry.objects.get(object_id=acme.pk, action="update")
    assert entry.via == Via.API
    assert entry.changes == {"industry": ["Software", "Retail"]}


def test_stale_patch_gets_412_and_writes_nothing(api, acme):
    api.patch(f"/api/v1/accounts/{acme.pk}", {"industry": "Retail"}, content_type=JSON)
    response = api.patch(
        f"/api/v1/accounts/{acme.pk}",
        {"industry": "Mining"},
        content_type=JSON,
        headers={"If-Match": f'"{acme.pk}-1"'},
    )
    body = assert_problem(response, 412)
    assert body["current_version"] == 2
    assert Account.objects.get(pk=acme.pk).industry == "Retail"


def test_patch_without_if_match_applies_to_the_version_read(api, acme):
    response = api.patch(f"/api/v1/contacts/{acme.pk}", {"title": "x"}, content_type=JSON)
    assert_problem(response, 404)
    response = api.patch(f"/api/v1/accounts/{acme.pk}", {"industry": "Retail"}, content_type=JSON)
    assert response.status_code == 200
    assert Account.objects.get(pk=acme.pk).version == 2


def test_malformed_if_match_names_the_header(api, acme):
    response = api.patch(
        f"/api/v1/accounts/{acme.pk}",
        {"industry": "Retail"},
        content_type=JSON,
        headers={"If-Match": "yesterday"},
    )
    assert_problem(response, 422, "If-Match")


def test_patch_null_text_clears_it_and_only_sent_fields_change(api, acme):
    response = api.patch(f"/api/v1/accounts/{acme.pk}", {"industry": None}, content_type=JSON)
    assert response.status_code == 200
    acme.refresh_from_db()
    assert acme.industry == ""
    assert acme.name == "Acme Corporation"


def test_delete_moves_to_recycle_bin_with_204(api, acme):
    response = api.delete(f"/api/v1/accounts/{acme.pk}")
    assert response.status_code == 204
    assert Account.all_objects.get(pk=acme.pk).deleted_at is not None
    assert_problem(api.get(f"/api/v1/accounts/{acme.pk}"), 404)


def test_delete_with_stale_if_match_gets_412(api, acme):
    response = api.delete(f"/api/v1/accounts/{acme.pk}", headers={"If-Match": f'"{acme.pk}-9"'})
    assert_problem(response, 412)
    assert Account.objects.filter(pk=acme.pk).exists()


def test_null_mapping_field_means_empty(api):
    response = api.post("/api/v1/contacts", {"last_name": "Lee", "social": None}, content_type=JSON)
    assert response.status_code == 201
    assert response.json()["social"] == {}


def test_contact_crud_round_trip(api):
    created = api.post("/api/v1/contacts", {"last_name": "Lee"}, content_type=JSON).json()
    url = f"/api/v1/contacts/{created['id']}"
    changed = api.patch(
        url,
        {"title": "CTO", "do_not_call": True},
        content_type=JSON,
        headers={"If-Match": f'"{created["id"]}-1"'},
    )
    assert changed.json()["title"] == "CTO"
    assert changed.json()["do_not_call"] is True
    assert api.delete(url).status_code == 204
    assert Contact.all_objects.get(pk=created["id"]).deleted_at is not None


def test_read_only_role_may_not_update(rep, other_rep, acme):
    from django.contrib.contenttypes.models import ContentType

    from patron.core.models import RecordShare

    RecordShare.objects.create(
        content_type=ContentType.objects.get_for_model(Account),
        object_id=acme.pk,
        user=other_rep,
        access="read",
    )
    client = Client(headers=bearer(other_rep))
    assert client.get(f"/api/v1/accounts/{acme.pk}").status_code == 200
    response = client.patch(f"/api/v1/accounts/{acme.pk}", {"industry": "X"}, content_type=JSON)
    assert_problem(response, 403)


# --- visibility and field-level security ----------------------------------------------------


def test_visibility_matrix_for_list_and_detail(rep, other_rep, acme):
    contact = contact_create(user=rep, last_name="Zanzibar", account=acme)
    endpoints = [
        Endpoint("accounts list", "/api/v1/accounts", "list"),
        Endpoint("account detail", f"/api/v1/accounts/{acme.pk}", "detail"),
        Endpoint("contacts list", "/api/v1/contacts", "list"),
        Endpoint("contact detail", f"/api/v1/contacts/{contact.pk}", "detail"),
    ]
    check_visibility_matrix(endpoints[:2], marker="Acme Corporation", allowed=rep, denied=other_rep)
    check_visibility_matrix(endpoints[2:], marker="Zanzibar", allowed=rep, denied=other_rep)


def test_invisible_record_detail_is_404_for_a_token_too(acme, other_rep):
    client = Client(headers=bearer(other_rep, "contacts:read"))
    assert_problem(client.get(f"/api/v1/accounts/{acme.pk}"), 404)
    assert client.get("/api/v1/accounts").json()["items"] == []


def test_hidden_sensitive_field_is_left_out_and_visible_with_access(rep, sales_roles, admin_user):
    account = account_create(
        user=admin_user, name="Rich Co", annual_revenue="1000000.00", owner=rep
    )
    client = Client(headers=bearer(rep, "contacts:read"))
    detail = client.get(f"/api/v1/accounts/{account.pk}").json()
    assert "annual_revenue" not in detail
    assert "annual_revenue" not in client.get("/api/v1/accounts").json()["items"][0]
    FieldPermission.objects.create(
        role=sales_roles["rep"],
        object_type="contacts.account",
        field="annual_revenue",
        access=FieldAccess.READ_ONLY,
    )
    rep.forget_access_profile()
    detail = (
        Client(headers=bearer(rep, "contacts:read")).get(f"/api/v1/accounts/{account.pk}").json()
    )
    assert detail["annual_revenue"] == "1000000.00"


def test_sorting_by_a_hidden_field_is_refused(api):
    assert_problem(api.get("/api/v1/accounts?sort=-revenue"), 422, "sort")


def test_writing_a_hidden_field_is_refused(api):
    response = api.post("/api/v1/accounts", {"name": "X", "annual_revenue": "5"}, content_type=JSON)
    assert_problem(response, 403, "annual_revenue")


# --- custom fields --------------------------------------------------------------------------


def test_custom_fields_round_trip_and_bad_values_are_keyed_custom_dot_key(api):
    CustomFieldDefinition.objects.create(
        object_type="contacts.account",
        key="tier_level",
        label="Tier level",
        field_type=CustomFieldType.CHOICE,
        choices=["gold", "silver"],
    )
    response = api.post(
        "/api/v1/accounts", {"name": "A", "custom": {"tier_level": "bronze"}}, content_type=JSON
    )
    assert_problem(response, 422, "custom.tier_level")
    response = api.post(
        "/api/v1/accounts", {"name": "A", "custom": {"tier_level": "gold"}}, content_type=JSON
    )
    assert response.status_code == 201
    assert response.json()["custom"] == {"tier_level": "gold"}


def test_sensitive_custom_field_is_hidden_from_a_role_without_access(rep, admin_user):
    CustomFieldDefinition.objects.create(
        object_type="contacts.account",
        key="margin",
        label="Margin",
        field_type=CustomFieldType.NUMBER,
        sensitive=True,
    )
    account = account_create(user=admin_user, name="M", owner=rep, custom={"margin": "12"})
    body = Client(headers=bearer(rep, "contacts:read")).get(f"/api/v1/accounts/{account.pk}").json()
    assert body["custom"] == {}


# --- lists: filters, sorting, paging, query counts ------------------------------------------


def _page_through(client: Client, url: str) -> list[str]:
    names: list[str] = []
    while url:
        body = client.get(url).json()
        names += [item.get("name") or item.get("last_name") for item in body["items"]]
        url = (
            body["next_cursor"] and f"{url.split('?')[0]}?{_query(url)}cursor={body['next_cursor']}"
        )
    return names


def _query(url: str) -> str:
    query = url.split("?", 1)[1] if "?" in url else ""
    kept = [p for p in query.split("&") if p and not p.startswith("cursor=")]
    return "".join(f"{p}&" for p in kept)


@pytest.mark.parametrize("sort", ["name", "-name", "created", "-created"])
def test_keyset_paging_visits_every_row_once_in_order(api, rep, sort):
    for name in ["b", "a", "c", "a", "e", "d", "b"]:
        account_create(user=rep, name=name)
    names = _page_through(api, f"/api/v1/accounts?limit=2&sort={sort}")
    assert len(names) == 7
    if sort == "name":
        assert names == sorted(names)
    if sort == "-name":
        assert names == sorted(names, reverse=True)


def test_paging_by_nullable_revenue_visits_every_row(admin_user):
    for index, revenue in enumerate([None, "5.00", None, "1.00", "5.00"]):
        account_create(user=admin_user, name=f"R{index}", annual_revenue=revenue)
    client = Client()
    client.force_login(admin_user)
    for sort in ("revenue", "-revenue"):
        names = _page_through(client, f"/api/v1/accounts?limit=2&sort={sort}")
        assert sorted(names) == ["R0", "R1", "R2", "R3", "R4"], sort
    first = client.get("/api/v1/accounts?sort=revenue").json()["items"]
    assert [i["annual_revenue"] for i in first] == [None, None, "1.00", "5.00", "5.00"]


def test_filters_are_the_filtersets(api, rep, acme):
    account_create(user=rep, name="Beta", industry="Retail")
    body = api.get("/api/v1/accounts?industry=software").json()
    assert [i["name"] for i in body["items"]] == ["Acme Corporation"]
    body = api.get("/api/v1/accounts?q=bet").json()
    assert [i["name"] for i in body["items"]] == ["Beta"]


def test_text_filter_finds_contacts_by_any_indexed_fragment_through_the_search_index(
    api, rep, acme
):
    contact_create(user=rep, first_name="Ada", last_name="Lovelace", phone="+44 20 7946 0958",
                   email="ada@engine.example", account=acme)  # fmt: skip
    contact_create(user=rep, first_name="Grace", last_name="Hopper", email="grace@navy.example")

    def names(query: str) -> list[str]:
        body = api.get(f"/api/v1/contacts?q={query}").json()
        return [f"{i['first_name']} {i['last_name']}" for i in body["items"]]

    assert names("lovel") == ["Ada Lovelace"]
    assert names("navy.exam") == ["Grace Hopper"]
    assert names("7946 0958") == ["Ada Lovelace"]
    assert names("acme") == ["Ada Lovelace"]
    # The contact table is never scanned with a substring LIKE: the index answers the text.
    with CaptureQueriesContext(connection) as queries:
        api.get("/api/v1/contacts?q=lovel")
    contact_sql = [q["sql"] for q in queries.captured_queries if '"contacts_contact"' in q["sql"]]
    assert contact_sql
    scan = re.compile(r'"contacts_contact"\."(?:first_name|last_name|email)"(?:::text\))? LIKE')
    assert not any(scan.search(sql) for sql in contact_sql)
    assert any("core_searchentry" in sql for sql in contact_sql)


def test_mine_filter_means_the_token_owner(api, rep, admin_user):
    account_create(user=rep, name="Rep's own")
    account_create(user=admin_user, name="Admin's")
    admin = Client()
    admin.force_login(admin_user)
    assert [i["name"] for i in api.get("/api/v1/accounts?mine=true").json()["items"]] == [
        "Rep's own"
    ]
    names = [i["name"] for i in admin.get("/api/v1/accounts?mine=true").json()["items"]]
    assert names == ["Admin's"]


def test_invalid_filter_value_names_the_parameter(api):
    assert_problem(api.get("/api/v1/accounts?kind=alien"), 422, "kind")
    assert_problem(api.get("/api/v1/accounts?min_employees=many"), 422, "min_employees")
    assert_problem(api.get("/api/v1/contacts?created_after=yesterday"), 422, "created_after")


def test_unknown_query_parameter_is_refused(api):
    assert_problem(api.get("/api/v1/accounts?onwer=1"), 422, "onwer")


def test_unknown_sort_and_bad_limit_name_the_parameter(api):
    assert_problem(api.get("/api/v1/accounts?sort=shoe_size"), 422, "sort")
    assert_problem(api.get("/api/v1/accounts?limit=0"), 422, "limit")
    assert_problem(api.get("/api/v1/accounts?limit=5000"), 422, "limit")
    assert_problem(api.get("/api/v1/accounts?limit=ten"), 422, "limit")


def test_tampered_or_foreign_cursor_gets_400_naming_cursor(api, rep):
    for index in range(3):
        account_create(user=rep, name=f"A{index}")
    cursor = api.get("/api/v1/accounts?limit=1").json()["next_cursor"]
    assert cursor
    assert_problem(api.get(f"/api/v1/accounts?cursor={cursor[:-2]}xx"), 400, "cursor")
    assert_problem(api.get("/api/v1/accounts?cursor=not-a-cursor"), 400, "cursor")
    assert_problem(api.get(f"/api/v1/accounts?sort=-created&cursor={cursor}"), 400, "cursor")


@pytest.mark.parametrize("url", ["/api/v1/accounts", "/api/v1/contacts"])
def test_list_query_count_does_not_grow_with_rows(rep, acme, url):
    client = Client(headers=bearer(rep, "contacts:read"))
    client.get(url)  # the first use of a token records last_used_at

    def count() -> int:
        # The token (with its user and role), the access profile, the page.
        with assert_max_queries(3) as ctx:
            response = client.get(url + "?limit=100")
        assert response.status_code == 200
        return len(ctx.captured_queries)

    contact_create(user=rep, last_name="First", account=acme)
    few = count()
    for index in range(15):
        account_create(user=rep, name=f"More {index}")
        contact_create(user=rep, last_name=f"More {index}", account=acme)
    assert count() == few


def test_list_body_is_items_and_next_cursor_only(api, acme):
    body = api.get("/api/v1/accounts").json()
    assert set(body) == {"items", "next_cursor"}
    assert body["next_cursor"] is None
    assert json.dumps(body["items"][0]["custom"]) == "{}"
