from __future__ import annotations

import pytest
from django.test import Client

from patron.contacts.models import Contact
from patron.contacts.services import contact_create
from patron.contacts.tests.test_api import JSON, bearer
from patron.core.api.testing import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(rep):
    client = Client()
    client.defaults.update({"HTTP_AUTHORIZATION": bearer(rep)["Authorization"]})
    return client


@pytest.fixture
def ana(rep):
    return contact_create(user=rep, last_name="Lee", email="ana@example.com")


def test_put_channels_replaces_lists_and_updates_primary_email(api, ana):
    response = api.put(
        f"/api/v1/contacts/{ana.pk}/channels",
        {
            "emails": [
                {"kind": "work", "email": "ana@example.com"},
                {"kind": "personal", "email": "ANA@home.example", "is_primary": True},
            ],
            "phones": [{"kind": "mobile", "number": "(415) 555-0100"}],
        },
        content_type=JSON,
        headers={"If-Match": f'"{ana.pk}-1"'},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["emails"][0] == {
        "kind": "personal",
        "email": "ana@home.example",
        "is_primary": True,
    }
    assert body["phones"] == [{"kind": "mobile", "number": "+14155550100", "is_primary": True}]
    assert response["ETag"] == f'"{ana.pk}-2"'
    assert Contact.objects.get(pk=ana.pk).email == "ana@home.example"


def test_get_channels_lists_what_the_contact_holds(api, ana):
    response = api.get(f"/api/v1/contacts/{ana.pk}/channels")
    assert response.status_code == 200
    assert response.json() == {
        "emails": [{"kind": "work", "email": "ana@example.com", "is_primary": True}],
        "phones": [],
        "addresses": [],
    }


def test_bad_entry_is_named_and_nothing_changes(api, ana):
    response = api.put(
        f"/api/v1/contacts/{ana.pk}/channels",
        {"emails": [{"email": "ok@example.com"}, {"email": "nope"}]},
        content_type=JSON,
    )
    body = assert_problem(response, 422)
    assert "emails.1.email" in body["errors"]
    assert list(ana.emails.values_list("email", flat=True)) == ["ana@example.com"]


def test_stale_if_match_gets_412(api, ana):
    response = api.put(
        f"/api/v1/contacts/{ana.pk}/channels",
        {"phones": []},
        content_type=JSON,
        headers={"If-Match": f'"{ana.pk}-9"'},
    )
    assert_problem(response, 412)


def test_channels_of_an_invisible_contact_are_404(ana, other_rep):
    client = Client()
    client.defaults.update({"HTTP_AUTHORIZATION": bearer(other_rep)["Authorization"]})
    assert_problem(client.get(f"/api/v1/contacts/{ana.pk}/channels"), 404)
