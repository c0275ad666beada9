"""The external id of accounts and contacts (their id in the system they were imported
from) through the API, the edit forms and the detail pages."""

from __future__ import annotations

import pytest

from patron.contacts.models import Account, Contact
from patron.contacts.services import account_create, contact_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep_client(client, rep):
    client.force_login(rep)
    return client


def test_api_writes_and_reads_the_external_id(rep_client):
    created = rep_client.post(
        "/api/v1/accounts",
        {"name": "Acme", "external_id": "0015g00000AbCdE"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["external_id"] == "0015g00000AbCdE"
    response = rep_client.post(
        "/api/v1/contacts",
        {"last_name": "Lee", "external_id": "hs-901"},
        content_type="application/json",
    )
    contact = response.json()
    assert contact["external_id"] == "hs-901"
    changed = rep_client.patch(
        f"/api/v1/contacts/{contact['id']}",
        {"external_id": "hs-902"},
        content_type="application/json",
        HTTP_IF_MATCH=response["ETag"],
    )
    assert changed.status_code == 200, changed.content
    assert Contact.objects.get(pk=contact["id"]).external_id == "hs-902"


def test_api_refuses_an_external_id_longer_than_100_characters(rep_client):
    response = rep_client.post(
        "/api/v1/accounts",
        {"name": "Acme", "external_id": "x" * 101},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert not Account.objects.exists()


def test_forms_edit_and_detail_pages_show_the_external_id(rep_client, rep):
    account = account_create(user=rep, name="Acme")
    response = rep_client.post(
        f"/accounts/{account.pk}/edit/",
        {"kind": "company", "name": "Acme", "owner": rep.pk, "external_id": "001A", "version": 1},
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.external_id == "001A"
    html = rep_client.get(f"/accounts/{account.pk}/").content.decode()
    assert "External id" in html
    assert "001A" in html

    contact = contact_create(user=rep, last_name="Lee")
    form = rep_client.get(f"/contacts/{contact.pk}/edit/").content.decode()
    assert 'name="external_id"' in form
    rep_client.post(
        f"/contacts/{contact.pk}/edit/",
        {"last_name": "Lee", "owner": rep.pk, "external_id": "003B", "version": 1},
    )
    contact.refresh_from_db()
    assert contact.external_id == "003B"
    assert "003B" in rep_client.get(f"/contacts/{contact.pk}/").content.decode()
