"""vCard in the API: GET a contact's card, POST a .vcf and get the report."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from patron.contacts.models import Contact
from patron.contacts.services import contact_create
from patron.contacts.tests.test_api import bearer
from patron.contacts.vcard import read_cards
from patron.core.api.testing import assert_problem

pytestmark = pytest.mark.django_db

VCARDS = Path(__file__).parent / "vcards"
IMPORT_URL = "/api/v1/contacts/import/vcard"


@pytest.fixture
def api(rep):
    client = Client()
    client.defaults.update({"HTTP_AUTHORIZATION": bearer(rep)["Authorization"]})
    return client


def test_get_returns_the_contact_as_text_vcard(api, rep):
    contact = contact_create(user=rep, first_name="Ana", last_name="Lee", email="ana@example.com")
    response = api.get(f"/api/v1/contacts/{contact.pk}/vcard")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/vcard")
    (card,) = read_cards(response.content)
    assert (card.last_name, card.emails[0].value) == ("Lee", "ana@example.com")


def test_get_of_a_contact_the_user_cannot_see_is_a_404_problem(api, other_rep):
    contact = contact_create(user=other_rep, last_name="Hidden")
    assert_problem(api.get(f"/api/v1/contacts/{contact.pk}/vcard"), 404)


def test_post_text_vcard_body_returns_the_report(api):
    response = api.post(
        IMPORT_URL,
        (VCARDS / "google_contacts_3.0.vcf").read_bytes(),
        content_type="text/vcard",
    )
    assert response.status_code == 200, response.content
    report = response.json()
    assert [c["name"] for c in report["created"]] == ["雷 李", "Bob Stone"]
    assert report["skipped"] == []
    assert report["failed"][0]["card"] == 2
    assert report["failed"][0]["errors"][0].startswith("TEL 'abc' is not a phone number")
    assert Contact.objects.count() == 2


def test_post_multipart_file_and_a_second_import_skips_duplicates(api):
    data = (VCARDS / "apple_contacts_3.0.vcf").read_bytes()
    first = api.post(IMPORT_URL, {"file": SimpleUploadedFile("a.vcf", data, "text/vcard")})
    again = api.post(IMPORT_URL, {"file": SimpleUploadedFile("a.vcf", data, "text/vcard")})
    assert len(first.json()["created"]) == 1
    assert again.json()["skipped"][0]["reason"] == (
        "A contact with the email zoe@nordic.example already exists."
    )
    assert Contact.objects.count() == 1


def test_post_of_something_that_is_not_a_vcard_is_a_422_problem(api):
    response = api.post(IMPORT_URL, b"\x00\xff junk", content_type="text/vcard")
    assert_problem(response, 422, "file")
    assert not Contact.objects.exists()


def test_multipart_without_the_file_field_names_it(api):
    assert_problem(api.post(IMPORT_URL, {"other": "x"}), 422, "file")


def test_post_over_the_size_limit_is_a_413_problem(api, monkeypatch):
    from patron.contacts import vcard_api

    monkeypatch.setattr(vcard_api, "MAX_UPLOAD_BYTES", 10)
    response = api.post(IMPORT_URL, b"BEGIN:VCARD\r\nEND:VCARD\r\n", content_type="text/vcard")
    assert_problem(response, 413, "file")


def test_import_needs_a_write_token(rep):
    client = Client()
    client.defaults.update({"HTTP_AUTHORIZATION": bearer(rep, "contacts:read")["Authorization"]})
    response = client.post(IMPORT_URL, b"BEGIN:VCARD\r\nEND:VCARD\r\n", content_type="text/vcard")
    assert_problem(response, 403)


def test_openapi_documents_both_operations_with_problem_responses(admin_user):
    schema = Client().get("/api/v1/openapi.json").json()
    get = schema["paths"]["/api/v1/contacts/{record_id}/vcard"]["get"]
    post = schema["paths"]["/api/v1/contacts/import/vcard"]["post"]
    assert "text/vcard" in get["responses"]["200"]["content"]
    assert "application/problem+json" in get["responses"]["404"]["content"]
    assert set(post["requestBody"]["content"]) == {"text/vcard", "multipart/form-data"}
    assert {"413", "422"} <= set(post["responses"])


def test_a_retried_import_with_the_same_idempotency_key_creates_nothing_more(api):
    data = (VCARDS / "outlook_2.1.vcf").read_bytes()
    headers = {"Idempotency-Key": "import-1"}
    first = api.post(IMPORT_URL, data, content_type="text/vcard", headers=headers)
    again = api.post(IMPORT_URL, data, content_type="text/vcard", headers=headers)
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Contact.objects.count() == 1
