"""The related lists and consent in /api/v1/: CRUD on a contact's rows, lists across contacts
with filters and keyset paging, problem documents for bad input, idempotent creates, and
rows of contacts a user cannot see never shown."""

from __future__ import annotations

import pytest
from django.test import Client

from patron.contacts.models import Contact, LiteratureRequest, Subscription
from patron.contacts.related_list_services import consent_record, related_row_create
from patron.contacts.related_lists import LITERATURE_REQUESTS
from patron.contacts.services import contact_create
from patron.contacts.tests.test_api import JSON, bearer
from patron.core.api.testing import assert_problem
from patron.core.choices import OrgWideAccess
from patron.core.testing import (
    Endpoint,
    assert_max_queries,
    check_visibility_matrix,
    set_org_default,
)

pytestmark = pytest.mark.django_db

MARKER = "Quappenlied"


@pytest.fixture
def ana(rep):
    return contact_create(user=rep, first_name="Ana", last_name="Lee")


def _api(user, *scopes):
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = bearer(user, *scopes)["Authorization"]
    return client


def _request(contact, user, item=MARKER, **extra):
    return related_row_create(
        user=user, spec=LITERATURE_REQUESTS, contact=contact, item=item, channel="email", **extra
    )


def test_create_read_change_and_delete_a_contacts_row(rep, ana):
    api = _api(rep)
    base = f"/api/v1/contacts/{ana.pk}/literature-requests"
    created = api.post(
        base,
        {"item": "Brochure", "channel": "post", "requested_on": "2026-05-01"},
        content_type=JSON,
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["contact"] == ana.pk
    assert body["contact_name"] == "Ana Lee"
    assert body["fulfilled_on"] is None
    assert created["Location"] == f"{base}/{body['id']}"
    item = f"{base}/{body['id']}"
    assert api.get(item).json()["item"] == "Brochure"
    changed = api.patch(item, {"fulfilled_on": "2026-05-03", "notes": None}, content_type=JSON)
    assert changed.status_code == 200, changed.content
    assert changed.json()["fulfilled_on"] == "2026-05-03"
    assert changed.json()["channel"] == "post"
    listed = api.get(base).json()
    assert [row["id"] for row in listed["items"]] == [body["id"]]
    assert api.delete(item).status_code == 204
    assert not LiteratureRequest.objects.exists()
    assert_problem(api.get(item), 404)


def test_bad_input_is_a_problem_naming_the_field(rep, ana):
    api = _api(rep)
    base = f"/api/v1/contacts/{ana.pk}/literature-requests"
    assert_problem(
        api.post(
            base,
            {
                "item": "X",
                "channel": "email",
                "requested_on": "2026-06-01",
                "fulfilled_on": "2026-05-01",
            },
            content_type=JSON,
        ),
        422,
        "fulfilled_on",
    )
    assert_problem(
        api.post(base, {"item": "X", "channel": "fax"}, content_type=JSON), 422, "channel"
    )
    assert_problem(
        api.post(base, {"item": "X", "channel": "email", "colour": "red"}, content_type=JSON),
        422,
        "colour",
    )
    assert_problem(api.post(base, {"channel": "email"}, content_type=JSON), 422, "item")
    assert_problem(api.get(f"{base}?sort=colour"), 422, "sort")
    assert_problem(api.get(f"{base}?cursor=garbage"), 400, "cursor")
    assert_problem(api.get(f"{base}?requested_after=yesterday"), 422, "requested_after")
    assert not LiteratureRequest.objects.exists()


def test_a_duplicate_subscription_is_a_422_on_name(rep, ana):
    api = _api(rep)
    base = f"/api/v1/contacts/{ana.pk}/subscriptions"
    payload = {"name": "Weekly", "kind": "list", "status": "subscribed"}
    assert api.post(base, payload, content_type=JSON).status_code == 201
    body = assert_problem(api.post(base, payload, content_type=JSON), 422, "name")
    assert "already has a subscription" in body["errors"]["name"][0]
    assert Subscription.objects.count() == 1


def test_a_retried_create_with_the_same_idempotency_key_writes_once(rep, ana):
    api = _api(rep)
    base = f"/api/v1/contacts/{ana.pk}/training-attendances"
    payload = {"course": "Admin 101", "attended_on": "2026-05-01", "result": "passed"}
    first = api.post(base, payload, content_type=JSON, headers={"Idempotency-Key": "k-1"})
    again = api.post(base, payload, content_type=JSON, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert first.json() == again.json()
    assert ana.trainingattendance_set.count() == 1


def test_writes_need_edit_access_and_the_write_scope(rep, other_rep, ana):
    set_org_default(Contact.object_type(), OrgWideAccess.PUBLIC_READ)
    row = _request(ana, rep)
    reader = _api(other_rep)
    base = f"/api/v1/contacts/{ana.pk}/literature-requests"
    assert reader.get(base).status_code == 200
    assert_problem(reader.post(base, {"item": "X", "channel": "email"}, content_type=JSON), 403)
    assert_problem(reader.patch(f"{base}/{row.pk}", {"item": "Y"}, content_type=JSON), 403)
    assert_problem(reader.delete(f"{base}/{row.pk}"), 403)
    read_only_token = _api(rep, "contacts:read")
    assert read_only_token.get(base).status_code == 200
    assert_problem(
        read_only_token.post(base, {"item": "X", "channel": "email"}, content_type=JSON), 403
    )
    assert LiteratureRequest.objects.get(pk=row.pk).item == MARKER


def test_consent_is_put_per_purpose_and_listed(rep, ana):
    api = _api(rep)
    base = f"/api/v1/contacts/{ana.pk}/consents"
    put = api.put(
        f"{base}/marketing_email",
        {"status": "withdrawn", "source": "email", "evidence": "Reply to campaign"},
        content_type=JSON,
    )
    assert put.status_code == 200, put.content
    assert put.json()["purpose"] == "marketing_email"
    again = api.put(
        f"{base}/marketing_email", {"status": "granted", "source": "web_form"}, content_type=JSON
    )
    assert again.json()["id"] == put.json()["id"]
    assert [row["status"] for row in api.get(base).json()] == ["granted"]
    assert Contact.objects.get(pk=ana.pk).email_opt_out is False
    assert_problem(
        api.put(
            f"{base}/carrier_pigeon", {"status": "granted", "source": "email"}, content_type=JSON
        ),
        422,
        "purpose",
    )
    assert_problem(api.put(f"{base}/sms", {"status": "granted"}, content_type=JSON), 422, "source")
    across = api.get("/api/v1/consents?status=granted").json()
    assert [row["contact"] for row in across["items"]] == [ana.pk]


def test_the_list_across_contacts_filters_and_pages(rep, ana):
    ben = contact_create(user=rep, last_name="Ben")
    for n in range(5):
        _request(ana, rep, item=f"Ana {n}")
    _request(ben, rep, item="Ben 0")
    api = _api(rep)
    first = api.get("/api/v1/literature-requests?sort=item&limit=3").json()
    second = api.get(
        f"/api/v1/literature-requests?sort=item&limit=3&cursor={first['next_cursor']}"
    ).json()
    items = [row["item"] for row in first["items"] + second["items"]]
    assert items == ["Ana 0", "Ana 1", "Ana 2", "Ana 3", "Ana 4", "Ben 0"]
    assert second["next_cursor"] is None
    only_ben = api.get(f"/api/v1/literature-requests?contact={ben.pk}").json()
    assert [row["item"] for row in only_ben["items"]] == ["Ben 0"]
    assert_problem(api.get("/api/v1/literature-requests?colour=red"), 422, "colour")


def test_list_queries_do_not_grow_with_rows(rep, ana):
    api = _api(rep)
    _request(ana, rep)
    api.get("/api/v1/literature-requests")  # the token's first use records when it was used

    def count(url: str) -> int:
        with assert_max_queries(10) as ctx:
            assert api.get(url).status_code == 200
        return len(ctx.captured_queries)

    urls = ("/api/v1/literature-requests", f"/api/v1/contacts/{ana.pk}/literature-requests")
    few = [count(url) for url in urls]
    for n in range(15):
        contact = contact_create(user=rep, last_name=f"Many{n}")
        _request(contact, rep, item=f"Row {n}")
        _request(ana, rep, item=f"Ana {n}")
    assert [count(url) for url in urls] == few


def test_rows_are_shown_only_to_who_may_see_the_contact(rep, other_rep, ana):
    row = _request(ana, rep)
    consent_record(
        user=rep, contact=ana, purpose="sms", status="granted", source="phone", evidence=MARKER
    )
    headers = {"Authorization": bearer(rep, "contacts:read")["Authorization"]}
    other_headers = {"Authorization": bearer(other_rep, "contacts:read")["Authorization"]}
    endpoints = [
        Endpoint("across", "/api/v1/literature-requests", "list"),
        Endpoint("consents across", "/api/v1/consents", "list"),
        Endpoint("contact rows", f"/api/v1/contacts/{ana.pk}/literature-requests", "detail"),
        Endpoint("row", f"/api/v1/contacts/{ana.pk}/literature-requests/{row.pk}", "detail"),
        Endpoint("consents", f"/api/v1/contacts/{ana.pk}/consents", "detail"),
    ]
    # Sessions first (the matrix signs each user in), then each user's own token.
    check_visibility_matrix(endpoints, marker=MARKER, allowed=rep, denied=other_rep)
    for headers_, may_see in ((headers, True), (other_headers, False)):
        client = Client()
        for endpoint in endpoints:
            response = client.get(endpoint.url, headers=headers_)
            if endpoint.kind == "list":
                assert response.status_code == 200
                assert (MARKER in response.content.decode()) == may_see
            else:
                assert response.status_code == (200 if may_see else 404), endpoint.url
