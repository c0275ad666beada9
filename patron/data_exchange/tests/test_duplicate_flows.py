"""Rule actions on create (UI and API), the duplicates API and pages, and the scan job."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from patron.contacts.models import Account, Contact
from patron.contacts.services import contact_create
from patron.core.choices import Via
from patron.core.exceptions import DuplicateFound
from patron.core.records import create_warnings_confirmed
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix
from patron.data_exchange.choices import DuplicateGroupStatus
from patron.data_exchange.duplicate_scan import scan_object
from patron.data_exchange.duplicate_services import record_group
from patron.data_exchange.models import DuplicateGroup, DuplicateRule
from patron.orders.models import Product
from patron.users.services import token_create

pytestmark = pytest.mark.django_db
JSON = "application/json"


def bearer(user, *scopes: str) -> str:
    _, secret = token_create(user=user, name="t", scopes=list(scopes) or ["contacts:write"])
    return f"Bearer {secret}"


@pytest.fixture
def ann(rep):
    return Contact.objects.create(owner=rep, first_name="Ann", last_name="Lee", email="ann@x.com")


def test_warn_rule_refuses_a_create_until_confirmed(rep, ann):
    with pytest.raises(DuplicateFound) as excinfo, create_warnings_confirmed(False):
        contact_create(user=rep, last_name="Other", email="ANN@x.com")
    assert excinfo.value.can_confirm
    assert excinfo.value.matches[0]["id"] == ann.pk
    assert "Ann Lee" in excinfo.value.detail
    with create_warnings_confirmed():
        contact_create(user=rep, last_name="Other", email="ann@x.com")
    assert Contact.objects.filter(email="ann@x.com").count() == 2


def test_block_rule_refuses_even_when_confirmed_naming_the_record(rep, ann):
    DuplicateRule.objects.filter(object_type="contacts.contact", name="Same email").update(
        action="block"
    )
    with pytest.raises(DuplicateFound) as excinfo, create_warnings_confirmed():
        contact_create(user=rep, last_name="Other", email="ann@x.com")
    assert not excinfo.value.can_confirm
    assert "“Ann Lee”" in excinfo.value.detail
    assert Contact.objects.count() == 1


def test_report_rule_saves_and_records_a_group(rep, ann):
    DuplicateRule.objects.filter(object_type="contacts.contact", name="Same email").update(
        action="report"
    )
    other = contact_create(user=rep, last_name="Other", email="ann@x.com")
    group = DuplicateGroup.objects.get()
    assert set(group.members.values_list("object_id", flat=True)) == {ann.pk, other.pk}
    assert group.match_key == "email ann@x.com"


def test_hidden_match_is_not_named(other_rep, ann):
    with pytest.raises(DuplicateFound) as excinfo, create_warnings_confirmed(False):
        contact_create(user=other_rep, last_name="Other", email="ann@x.com")
    assert "you cannot see" in excinfo.value.detail
    assert "Ann" not in excinfo.value.detail


def test_imports_and_system_writes_are_not_checked(rep, ann):
    with create_warnings_confirmed(False):
        contact_create(user=rep, last_name="Other", email="ann@x.com", via=Via.IMPORT)
    assert Contact.objects.count() == 2
    assert not DuplicateGroup.objects.exists()


def test_warnings_outside_a_create_form_are_reported_not_asked(rep, ann):
    # Lead conversion and vCard import create contacts with nobody to answer a warning.
    other = contact_create(user=rep, last_name="Other", email="ann@x.com")
    group = DuplicateGroup.objects.get()
    assert set(group.members.values_list("object_id", flat=True)) == {ann.pk, other.pk}


def test_ui_create_form_shows_the_match_and_saves_anyway(rep, ann):
    client = Client()
    client.force_login(rep)
    data = {"last_name": "Other", "email": "ann@x.com", "owner": rep.pk, "version": ""}
    response = client.post("/contacts/new/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Possible duplicate" in body
    assert f"/contacts/{ann.pk}/" in body
    assert Contact.objects.count() == 1
    response = client.post("/contacts/new/", {**data, "confirm_duplicate": "1"})
    assert response.status_code == 302
    assert Contact.objects.count() == 2


def test_ui_block_offers_no_save_anyway(rep):
    Account.objects.create(owner=rep, name="Acme", domain="acme.com")
    DuplicateRule.objects.filter(object_type="contacts.account", name="Same web domain").update(
        action="block"
    )
    client = Client()
    client.force_login(rep)
    data = {"name": "Zeta", "kind": "company", "website": "https://www.acme.com", "owner": rep.pk}
    response = client.post("/accounts/new/", {**data, "confirm_duplicate": "1"})
    assert response.status_code == 422
    body = response.content.decode()
    assert "Acme" in body
    assert "Create anyway" not in body
    assert Account.objects.count() == 1


def test_api_create_answers_409_listing_matches_then_accepts_the_header(rep, ann):
    client = Client(HTTP_AUTHORIZATION=bearer(rep))
    payload = json.dumps({"last_name": "Other", "email": "ann@x.com"})
    response = client.post("/api/v1/contacts", payload, content_type=JSON)
    assert response.status_code == 409
    problem = response.json()
    assert response["Content-Type"].startswith("application/problem+json")
    assert f"#{ann.pk}" in problem["errors"]["duplicates"][0]
    response = client.post(
        "/api/v1/contacts", payload, content_type=JSON, headers={"X-Confirm-Duplicate": "true"}
    )
    assert response.status_code == 201


def test_rules_api_is_admin_only_and_validates(admin_user, rep):
    admin = Client(HTTP_AUTHORIZATION=bearer(admin_user, "data:write"))
    response = admin.post(
        "/api/v1/data/duplicates/rules",
        json.dumps({"object_type": "leads.lead", "name": "Phone", "exact_keys": ["phone"]}),
        content_type=JSON,
    )
    assert response.status_code == 201, response.content
    rule_id = response.json()["id"]
    response = admin.patch(
        f"/api/v1/data/duplicates/rules/{rule_id}",
        json.dumps({"threshold": 101, "fuzzy_fields": ["nope"]}),
        content_type=JSON,
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"threshold", "fuzzy_fields"}
    rep_client = Client(HTTP_AUTHORIZATION=bearer(rep, "data:write"))
    assert rep_client.get("/api/v1/data/duplicates/rules").status_code == 403


def _groups(rep, count):
    groups = []
    for i in range(count):
        a = Contact.objects.create(owner=rep, last_name=f"A{i}", email=f"g{i}@x.com")
        b = Contact.objects.create(owner=rep, last_name=f"B{i}", email=f"g{i}@x.com")
        groups.append(
            record_group(
                "contacts.contact",
                None,
                [a.pk, b.pk],
                similarity=100,
                match_key=f"email g{i}@x.com",
            )
        )
    return groups


def test_group_list_api_query_count_does_not_grow(rep):
    _groups(rep, 3)
    client = Client(HTTP_AUTHORIZATION=bearer(rep, "data:read"))
    with CaptureQueriesContext(connection) as small:
        assert len(client.get("/api/v1/data/duplicates/groups").json()["items"]) == 3
    _groups(rep, 12)
    with assert_max_queries(len(small.captured_queries)):
        assert len(client.get("/api/v1/data/duplicates/groups").json()["items"]) == 15


def test_duplicates_page_query_count_csv_and_dismiss(rep):
    groups = _groups(rep, 10)
    client = Client()
    client.force_login(rep)
    with assert_max_queries(14):
        response = client.get("/data/duplicates/")
    assert response.status_code == 200
    assert response.content.decode().count(">Not duplicates</button>") == 10
    csv_body = client.get("/data/duplicates/?format=csv").content.decode()
    assert "email g3@x.com" in csv_body
    response = client.post(f"/data/duplicates/{groups[0].pk}/dismiss/")
    assert response.status_code == 302
    groups[0].refresh_from_db()
    assert groups[0].status == DuplicateGroupStatus.DISMISSED


def test_duplicates_visibility_matrix(rep, other_rep):
    group = _groups(rep, 1)[0]
    Contact.objects.filter(last_name="A0").update(first_name="Zebulon")
    ids = ",".join(str(m.object_id) for m in group.members.all())
    check_visibility_matrix(
        [
            Endpoint("page", "/data/duplicates/", "list"),
            Endpoint("csv", "/data/duplicates/?format=csv", "list"),
            Endpoint(
                "merge", f"/data/duplicates/merge/?object=contacts.contact&ids={ids}", "detail"
            ),
        ],
        marker="Zebulon",
        allowed=rep,
        denied=other_rep,
    )


def test_merge_page_and_api_merge(rep):
    a = Contact.objects.create(owner=rep, last_name="Lee", first_name="Ann", title="")
    b = Contact.objects.create(owner=rep, last_name="Lee", first_name="Anne", title="CTO")
    client = Client()
    client.force_login(rep)
    page = client.get(f"/data/duplicates/merge/?object=contacts.contact&ids={a.pk},{b.pk}")
    assert page.status_code == 200
    assert f'name="field_title" value="{b.pk}" checked' in page.content.decode()
    response = client.post(
        "/data/duplicates/merge/",
        {
            "object": "contacts.contact",
            "ids": f"{a.pk},{b.pk}",
            "confirm": "1",
            "field_first_name": str(b.pk),
            "field_title": str(b.pk),
        },
    )
    assert response.status_code == 302
    a.refresh_from_db()
    assert (a.first_name, a.title) == ("Anne", "CTO")
    c = Contact.objects.create(owner=rep, last_name="Lee")
    api = Client(HTTP_AUTHORIZATION=bearer(rep, "data:write"))
    response = api.post(
        "/api/v1/data/duplicates/merge",
        json.dumps({"object_type": "contacts.contact", "survivor_id": a.pk, "merged_ids": [c.pk]}),
        content_type=JSON,
    )
    assert response.status_code == 201, response.content
    assert response.json()["merged_ids"] == [c.pk]


def test_scan_finds_exact_and_fuzzy_groups_in_chunks_without_repeating(rep):
    for i in range(7):
        Contact.objects.create(
            owner=rep, last_name=f"P{i}", email="same@x.com" if i < 3 else f"p{i}@x.com"
        )
    Product.objects.create(owner=rep, sku="1", name="GTX Pro")
    Product.objects.create(owner=rep, sku="2", name="GTXPro")
    Product.objects.create(owner=rep, sku="3", name="MG Special")
    found = scan_object("contacts.contact", chunk=2)
    assert found["Same email"] == 1
    group = DuplicateGroup.objects.get(object_type="contacts.contact")
    assert group.members.count() == 3
    with CaptureQueriesContext(connection) as ctx:
        assert scan_object("orders.product", chunk=2)["Similar name"] == 1
    # Two rows per chunk: a few queries per chunk, never one per row pair.
    assert len(ctx.captured_queries) <= 20
    assert scan_object("contacts.contact", chunk=2)["Same email"] == 0
    assert scan_object("orders.product", chunk=2)["Similar name"] == 0
    assert DuplicateGroup.objects.count() == 2


def test_scan_job_from_the_page_reports_progress_and_result(admin_user, rep):
    from patron.core.models import Job
    from patron.data_exchange.duplicate_scan import duplicate_scan

    for i in range(3):
        Contact.objects.create(owner=rep, last_name=f"S{i}", email="dup@x.com")
    client = Client()
    client.force_login(admin_user)
    response = client.post("/data/duplicates/scan/", {"object": "contacts.contact"})
    job = Job.objects.get(kind="duplicate_scan")
    assert response.status_code == 302
    assert response["Location"].endswith(f"/{job.pk}/")
    duplicate_scan(job.pk)
    job.refresh_from_db()
    assert job.status == "done"
    assert job.result["groups"] == 1
    assert job.result["by_object"]["contacts.contact"]["Same email"] == 1


def test_only_admins_start_a_scan(rep):
    from patron.core.models import Job

    client = Client()
    client.force_login(rep)
    client.post("/data/duplicates/scan/", {"object": "contacts.contact"})
    assert not Job.objects.filter(kind="duplicate_scan").exists()
