"""Privacy (GDPR) requests: finding the person, the export archive (each part opened and
checked), erase and anonymise (fields cleared, activities scrubbed, change log redacted,
aggregates unchanged, the request recorded), who may do it, the pages and the API."""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from conftest import ALL_ACTIONS
from patron.activities.models import Activity
from patron.activities.services import activity_create
from patron.contacts.models import (
    Account,
    AccountContactRelation,
    Contact,
    ContactAddress,
    ContactConsent,
    ContactConsentChange,
    ContactEmail,
    ContactPhone,
)
from patron.contacts.related_list_services import consent_record
from patron.contacts.services import account_create, contact_create, contact_update
from patron.core.choices import CustomFieldType, JobStatus, OrgWideAccess
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import (
    ChangeLogEntry,
    CustomFieldDefinition,
    Job,
    SearchEntry,
    SecurityEvent,
)
from patron.core.testing import (
    Endpoint,
    assert_max_queries,
    check_visibility_matrix,
    grant,
    set_org_default,
)
from patron.data_exchange.choices import PrivacyRequestKind, PrivacyRequestStatus
from patron.data_exchange.models import PrivacyRequest
from patron.data_exchange.privacy_erase import ERASED_ACTIVITY_SUBJECT, REDACTED
from patron.data_exchange.privacy_selectors import find_subject
from patron.data_exchange.privacy_services import (
    SECURITY_KIND,
    privacy_request_create,
    privacy_request_run,
)
from patron.leads.models import CaptureForm, CaptureSubmission, Lead
from patron.leads.services import lead_create
from patron.pipeline.models import Opportunity
from patron.pipeline.tests.conftest import make_pipeline

pytestmark = pytest.mark.django_db

EMAIL = "ana.lee@example.com"


@pytest.fixture
def person(admin_user, sales_roles):
    """Ana: a contact at Acme with emails, phones, an address, a text custom field, consents,
    a lead with her address and a capture submission, activities only about her and one
    shared with her account, an opportunity at Acme, and an unrelated contact (Bob)."""
    for role in sales_roles.values():
        for object_type in ("leads.lead", "activities.activity", "pipeline.opportunity"):
            grant(role, object_type, *ALL_ACTIONS)
    CustomFieldDefinition.objects.create(
        object_type="contacts.contact", key="hobby", label="Hobby", field_type=CustomFieldType.TEXT
    )
    CustomFieldDefinition.objects.create(
        object_type="contacts.contact",
        key="visits",
        label="Visits",
        field_type=CustomFieldType.NUMBER,
    )
    admin = admin_user
    acme = account_create(user=admin, name="Acme", annual_revenue=Decimal("5000000"))
    ana = contact_create(
        user=admin,
        first_name="Ana",
        last_name="Lee",
        email=EMAIL,
        phone="+14155550101",
        title="Head of Buying",
        department="Procurement",
        account=acme,
        description="Met at the fair; likes golf.",
        custom={"hobby": "golf", "visits": 3},
    )
    contact_update(user=admin, contact=ana, title="Chief Buyer")
    ana.refresh_from_db()
    ContactEmail.objects.create(contact=ana, email="ana@home.example", kind="personal")
    ContactPhone.objects.create(contact=ana, number="+14155550199", kind="mobile")
    ContactAddress.objects.create(
        contact=ana, street="1 Main St", city="Springfield", postal_code="12345", country="US"
    )
    AccountContactRelation.objects.filter(contact=ana).update(responsibilities="Signs orders")
    consent_record(
        user=admin,
        contact=ana,
        purpose="newsletter",
        status="granted",
        source="web_form",
        evidence="https://example.com/signup?ana",
    )
    consent_record(user=admin, contact=ana, purpose="sms", status="denied", source="phone")
    lead = lead_create(
        user=admin,
        data={"first_name": "Ana", "last_name": "Lee", "email": EMAIL.upper(), "company": "Acme"},
    )
    form = CaptureForm.objects.create(
        name="Contact us", key="contact-us", fields=["email"], default_owner=admin
    )
    CaptureSubmission.objects.create(
        form=form,
        lead=lead,
        sender_digest="d" * 64,
        outcome="created",
        detail={"email": EMAIL, "message": "Call me"},
    )
    call = activity_create(
        user=admin,
        kind="call",
        subject="Call with Ana about her order",
        description="She mentioned her kids",
        phone_number="+14155550101",
        links=[{"object_type": "contacts.contact", "id": ana.pk}],
    )
    shared = activity_create(
        user=admin,
        kind="email",
        subject="Quarterly review",
        description="Agenda for Acme",
        email_from="sales@patron.example",
        email_to=f"{EMAIL}, boss@acme.example",
        links=[
            {"object_type": "contacts.contact", "id": ana.pk},
            {"object_type": "contacts.account", "id": acme.pk},
        ],
    )
    lead_note = activity_create(
        user=admin,
        kind="note",
        subject="Ana asked about pricing",
        links=[{"object_type": "leads.lead", "id": lead.pk}],
    )
    pipeline = make_pipeline()
    stage = pipeline.stages.order_by("position")[0]
    opportunity = Opportunity.objects.create(
        name="Acme renewal",
        account=acme,
        amount=Decimal("12000.00"),
        currency="USD",
        owner=admin,
        pipeline=pipeline,
        stage=stage,
        probability=stage.probability,
        close_date=datetime.date(2026, 12, 31),
    )
    bob = contact_create(user=admin, first_name="Bob", last_name="Stone", email="bob@example.com")
    return {
        "admin": admin,
        "acme": acme,
        "ana": ana,
        "lead": lead,
        "call": call,
        "shared": shared,
        "lead_note": lead_note,
        "opportunity": opportunity,
        "bob": bob,
    }


def _run(request: PrivacyRequest) -> PrivacyRequest:
    assert request.job_id is not None
    privacy_request_run(job_id=request.job_id)
    request.refresh_from_db()
    return request


def _archive(request: PrivacyRequest) -> dict[str, Any]:
    with request.archive.open("rb") as handle:
        data = handle.read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name: (
                archive.read(name).decode()
                if name.endswith(".txt")
                else json.loads(archive.read(name))
            )
            for name in archive.namelist()
        }


# ---------- finding the person ----------


def test_the_person_is_found_by_email_contact_or_lead_alike(person):
    by_email = find_subject(email=" Ana.Lee@Example.com ")
    by_contact = find_subject(contact_id=person["ana"].pk)
    by_lead = find_subject(lead_id=person["lead"].pk)
    for subject in (by_email, by_contact, by_lead):
        assert subject.contact_ids == [person["ana"].pk]
        assert subject.lead_ids == [person["lead"].pk]
    assert "ana@home.example" in by_contact.emails


def test_an_unknown_email_is_a_clear_error(person):
    with pytest.raises(ValidationFailed) as caught:
        find_subject(email="nobody@example.com")
    assert "nobody@example.com" in caught.value.detail
    assert "email" in caught.value.errors


@pytest.mark.parametrize(
    ("lookup", "field"),
    [
        ({"email": "not an email"}, "email"),
        ({"contact_id": 987654}, "contact"),
        ({"lead_id": 987654}, "lead"),
        ({}, "email"),
    ],
)
def test_bad_lookups_name_the_field(person, lookup, field):
    with pytest.raises(ValidationFailed) as caught:
        find_subject(**lookup)
    assert field in caught.value.errors


# ---------- export ----------


def test_export_archive_holds_every_part_about_the_person(person):
    request = privacy_request_create(
        user=person["admin"], kind=PrivacyRequestKind.EXPORT, email=EMAIL, reason="Ticket 42"
    )
    assert request.status == PrivacyRequestStatus.RECEIVED
    request = _run(request)
    assert request.status == PrivacyRequestStatus.DONE
    assert request.performed_by_id == person["admin"].pk
    assert request.completed_at
    files = _archive(request)
    assert set(files) == {
        "README.txt",
        "contacts.json",
        "reports_to.json",
        "leads.json",
        "person_accounts.json",
        "activities.json",
        "consents.json",
        "change_log.json",
        "capture_submissions.json",
    }
    (contact,) = files["contacts.json"]
    assert contact["id"] == person["ana"].pk
    assert contact["email"] == EMAIL
    assert contact["title"] == "Chief Buyer"
    assert contact["account_name"] == "Acme"
    assert {e["email"] for e in contact["emails"]} == {EMAIL, "ana@home.example"}
    assert "+14155550199" in {p["number"] for p in contact["phones"]}
    assert "Springfield" in {a["city"] for a in contact["addresses"]}
    assert {f["key"]: f["value"] for f in contact["custom_fields"]} == {
        "hobby": "golf",
        "visits": "3",
    }
    assert contact["account_relations"][0]["responsibilities"] == "Signs orders"
    (lead,) = files["leads.json"]
    assert lead["id"] == person["lead"].pk
    activity_ids = {row["id"] for row in files["activities.json"]}
    assert activity_ids == {person["call"].pk, person["shared"].pk, person["lead_note"].pk}
    shared = next(row for row in files["activities.json"] if row["id"] == person["shared"].pk)
    assert {"object_type": "contacts.account", "object_id": person["acme"].pk} in shared["links"]
    consents = files["consents.json"]
    assert {row["purpose"]: row["status"] for row in consents["current"]} == {
        "newsletter": "granted",
        "sms": "denied",
    }
    assert len(consents["history"]) == 2
    changes = files["change_log.json"]
    assert any(
        row["object_type"] == "contacts.contact" and "title" in row["changes"] for row in changes
    )
    assert any(row["object_type"] == "leads.lead" for row in changes)
    (submission,) = files["capture_submissions.json"]
    assert submission["detail"]["message"] == "Call me"
    assert submission["form_name"] == "Contact us"
    assert "opt_in_token_digest" not in submission
    readme = files["README.txt"]
    assert f"Request: #{request.pk}" in readme
    assert "activities.json (3 rows)" in readme
    assert request.summary["exported"]["activities"] == 3
    assert request.summary["found"]["contacts"] == 1
    # Nobody else's data is in it.
    assert "bob@example.com" not in json.dumps(files["contacts.json"])


def test_export_changes_nothing_and_is_logged(person):
    before = ChangeLogEntry.objects.count()
    request = _run(
        privacy_request_create(user=person["admin"], kind="export", contact_id=person["ana"].pk)
    )
    assert ChangeLogEntry.objects.count() == before
    person["ana"].refresh_from_db()
    assert person["ana"].email == EMAIL
    event = SecurityEvent.objects.get(kind=SECURITY_KIND)
    assert event.detail["privacy_request"] == request.pk
    assert event.user_id == person["admin"].pk


def test_the_job_reports_progress_to_the_end(person):
    request = _run(privacy_request_create(user=person["admin"], kind="export", email=EMAIL))
    assert request.job_id is not None
    job = Job.objects.get(pk=request.job_id)
    assert job.status == JobStatus.DONE
    assert job.progress_total
    assert job.progress_done == job.progress_total
    assert job.percent == 100


# ---------- erase ----------


def _aggregates(person):
    return (
        Activity.all_objects.count(),
        Opportunity.objects.aggregate(total=Sum("amount"))["total"],
        Account.objects.get(pk=person["acme"].pk).annual_revenue,
        Contact.all_objects.count(),
        Lead.all_objects.count(),
    )


def test_erase_clears_personal_fields_and_keeps_the_numbers(person):
    before = _aggregates(person)
    request = privacy_request_create(
        user=person["admin"], kind="erase", email=EMAIL, confirmed=True, reason="Art. 17"
    )
    request = _run(request)
    assert request.status == PrivacyRequestStatus.DONE
    assert request.performed_by_id == person["admin"].pk
    assert request.summary["erased"]["activities_scrubbed"] == 2
    assert request.summary["erased"]["activities_shared_cleaned"] == 1
    assert _aggregates(person) == before

    ana = Contact.all_objects.get(pk=person["ana"].pk)
    assert ana.last_name == f"Erased person #{ana.pk}"
    assert (ana.first_name, ana.email, ana.phone, ana.title, ana.department) == ("",) * 5
    assert ana.description == ""
    assert ana.custom == {"visits": "3"}
    assert ana.account_id == person["acme"].pk
    assert ana.email_opt_out
    assert ana.do_not_call
    assert not ContactEmail.objects.filter(contact=ana).exists()
    assert not ContactPhone.objects.filter(contact=ana).exists()
    assert not ContactAddress.objects.filter(contact=ana).exists()
    assert AccountContactRelation.objects.get(contact=ana).responsibilities == ""

    lead = Lead.all_objects.get(pk=person["lead"].pk)
    assert (lead.first_name, lead.email, lead.company) == ("", "", "")
    assert lead.last_name == f"Erased person #{lead.pk}"

    call = Activity.all_objects.get(pk=person["call"].pk)
    assert call.subject == ERASED_ACTIVITY_SUBJECT
    assert (call.description, call.phone_number) == ("", "")
    note = Activity.all_objects.get(pk=person["lead_note"].pk)
    assert note.subject == ERASED_ACTIVITY_SUBJECT
    shared = Activity.all_objects.get(pk=person["shared"].pk)
    assert shared.subject == "Quarterly review"
    assert EMAIL not in shared.email_to
    assert "boss@acme.example" in shared.email_to

    bob = Contact.objects.get(pk=person["bob"].pk)
    assert bob.email == "bob@example.com"


def test_erase_redacts_the_change_log_and_capture_submissions(person):
    _run(privacy_request_create(user=person["admin"], kind="erase", email=EMAIL, confirmed=True))
    contact_type = ContentType.objects.get_for_model(Contact)
    entries = ChangeLogEntry.objects.filter(content_type=contact_type, object_id=person["ana"].pk)
    text = json.dumps([entry.changes for entry in entries])
    for secret in ("Ana", EMAIL, "Chief Buyer", "golf", "likes golf", "signup?ana"):
        assert secret not in text
    title_change = next(e for e in entries if "title" in e.changes and e.action == "update")
    assert title_change.changes["title"] == [REDACTED, REDACTED]
    assert entries.filter(action="erase").exists()
    lead_type = ContentType.objects.get_for_model(Lead)
    lead_log = json.dumps(
        [
            e.changes
            for e in ChangeLogEntry.objects.filter(
                content_type=lead_type, object_id=person["lead"].pk
            )
        ]
    )
    assert EMAIL not in lead_log.lower()
    activity_type = ContentType.objects.get_for_model(Activity)
    call_log = json.dumps(
        [
            e.changes
            for e in ChangeLogEntry.objects.filter(
                content_type=activity_type, object_id=person["call"].pk
            )
        ]
    )
    assert "kids" not in call_log
    assert "Call with Ana" not in call_log
    shared_log = json.dumps(
        [
            e.changes
            for e in ChangeLogEntry.objects.filter(
                content_type=activity_type, object_id=person["shared"].pk
            )
        ]
    )
    assert EMAIL not in shared_log
    assert "Quarterly review" in shared_log  # the shared activity's own content stays
    submission = CaptureSubmission.objects.get(lead=person["lead"])
    assert "message" not in submission.detail
    assert submission.detail["redacted"] is True
    # Search no longer finds her.
    assert not SearchEntry.objects.filter(text__icontains="ana.lee").exists()


def test_erase_keeps_consents_as_an_anonymous_record_of_the_refusal(person):
    _run(privacy_request_create(user=person["admin"], kind="erase", email=EMAIL, confirmed=True))
    current = {row.purpose: row for row in ContactConsent.objects.filter(contact=person["ana"])}
    assert current["newsletter"].status == "withdrawn"
    assert current["sms"].status == "denied"
    assert all(row.evidence == "" for row in current.values())
    history = ContactConsentChange.objects.filter(contact=person["ana"])
    assert "signup?ana" not in json.dumps(list(history.values_list("source_detail", flat=True)))
    assert history.filter(purpose="newsletter", status="withdrawn").exists()


def test_anonymise_keeps_statistics_that_erase_clears(person):
    _run(
        privacy_request_create(user=person["admin"], kind="anonymise", email=EMAIL, confirmed=True)
    )
    ana = Contact.all_objects.get(pk=person["ana"].pk)
    assert ana.last_name == f"Anonymous person #{ana.pk}"
    assert (ana.first_name, ana.email, ana.phone, ana.description) == ("", "", "", "")
    assert (ana.title, ana.department) == ("Chief Buyer", "Procurement")
    address = ContactAddress.objects.get(contact=ana)
    assert (address.street, address.city, address.postal_code, address.country) == (
        "",
        "",
        "",
        "US",
    )
    lead = Lead.all_objects.get(pk=person["lead"].pk)
    assert lead.company == "Acme"
    assert lead.email == ""
    consent = ContactConsent.objects.get(contact=ana, purpose="newsletter")
    assert consent.status == "granted"
    assert consent.evidence == ""
    contact_type = ContentType.objects.get_for_model(Contact)
    title_change = next(
        e
        for e in ChangeLogEntry.objects.filter(content_type=contact_type, object_id=ana.pk)
        if "title" in e.changes and e.action == "update"
    )
    assert title_change.changes["title"] == ["Head of Buying", "Chief Buyer"]


def test_erase_needs_confirmation_and_writes_nothing_without_it(person):
    with pytest.raises(ValidationFailed) as caught:
        privacy_request_create(user=person["admin"], kind="erase", email=EMAIL)
    assert "confirm" in caught.value.errors
    assert not PrivacyRequest.objects.exists()


def test_running_the_erase_job_again_does_nothing_more(person):
    request = _run(
        privacy_request_create(user=person["admin"], kind="erase", email=EMAIL, confirmed=True)
    )
    entries = ChangeLogEntry.objects.count()
    assert request.job_id is not None
    privacy_request_run(job_id=request.job_id)
    assert ChangeLogEntry.objects.count() == entries


# ---------- permissions ----------


def test_only_administrators_make_privacy_requests(person, rep):
    for kind in PrivacyRequestKind.values:
        with pytest.raises(PermissionDenied):
            privacy_request_create(user=rep, kind=kind, email=EMAIL, confirmed=True)
    assert not PrivacyRequest.objects.exists()


def test_visibility_matrix_of_privacy_pages_and_api(person, rep, client):
    request = privacy_request_create(
        user=person["admin"], kind="export", email=EMAIL, reason="marker-zq7"
    )
    # Administrators only: every endpoint answers 200 to them and 403 to a rep.
    endpoints = [
        Endpoint("list page", reverse("data_exchange:privacy_list") + "?email=ana", "detail"),
        Endpoint(
            "detail page", reverse("data_exchange:privacy_detail", args=[request.pk]), "detail"
        ),
        Endpoint("api list", "/api/v1/data/privacy-requests?email=ana", "detail"),
        Endpoint("api detail", f"/api/v1/data/privacy-requests/{request.pk}", "detail"),
        Endpoint("new form", reverse("data_exchange:privacy_new"), "detail"),
    ]
    check_visibility_matrix(endpoints, marker="marker-zq7", allowed=person["admin"], denied=rep)
    client.force_login(person["admin"])
    listing = client.get(reverse("data_exchange:privacy_list") + "?email=ana")
    assert "marker-zq7" not in listing.content.decode()  # reasons are on the detail page only
    assert f"#{request.pk}" in listing.content.decode()


def test_a_rep_sees_no_privacy_card_on_their_own_contact(rep, client):
    own = contact_create(user=rep, last_name="Mine", email="mine@example.com")
    client.force_login(rep)
    page = client.get(reverse("contacts:contact_detail", args=[own.pk]))
    assert page.status_code == 200
    assert "privacy-card" not in page.content.decode()


def test_the_archive_downloads_for_administrators_only_and_is_logged(person, rep, client):
    request = _run(privacy_request_create(user=person["admin"], kind="export", email=EMAIL))
    url = reverse("data_exchange:privacy_download", args=[request.pk])
    client.force_login(rep)
    assert client.get(url).status_code == 403
    client.force_login(person["admin"])
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    body = b"".join(response.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(body)).read("README.txt")
    assert SecurityEvent.objects.filter(
        kind=SECURITY_KIND, detail__change="downloaded export"
    ).exists()
    api = client.get(f"/api/v1/data/privacy-requests/{request.pk}/archive")
    assert api.status_code == 200


# ---------- pages ----------


def test_new_request_form_reviews_then_confirms(person, client):
    client.force_login(person["admin"])
    url = reverse("data_exchange:privacy_new")
    form = client.get(url + f"?contact={person['ana'].pk}&kind=erase")
    assert form.status_code == 200
    data = {"kind": "erase", "email": "", "contact": person["ana"].pk, "reason": "Letter"}
    review = client.post(url, data)
    body = review.content.decode()
    assert review.status_code == 200
    assert "What will happen" in body
    assert "This cannot be undone." in body
    assert "Yes, erase this person" in body
    assert not PrivacyRequest.objects.exists()
    done = client.post(url, {**data, "confirm": "yes"})
    request = PrivacyRequest.objects.get()
    assert done.status_code == 302
    assert done["Location"] == reverse("data_exchange:privacy_detail", args=[request.pk])
    assert request.kind == "erase"
    assert request.contact_id == person["ana"].pk
    assert request.requested_by_id == person["admin"].pk
    detail = client.get(done["Location"])
    assert detail.status_code == 200
    assert "Progress" in detail.content.decode()


def test_new_request_with_an_unknown_email_says_so(person, client):
    client.force_login(person["admin"])
    response = client.post(
        reverse("data_exchange:privacy_new"), {"kind": "export", "email": "nobody@example.com"}
    )
    assert response.status_code == 422
    assert "No contact, lead or person account has the address nobody@example.com" in (
        response.content.decode()
    )
    assert not PrivacyRequest.objects.exists()


def test_detail_shows_progress_and_download_when_done(person, client):
    request = _run(privacy_request_create(user=person["admin"], kind="export", email=EMAIL))
    client.force_login(person["admin"])
    response = client.get(
        reverse("data_exchange:privacy_detail", args=[request.pk]), headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "Download the archive" in body
    assert 'role="progressbar"' in body
    assert "hx-trigger" not in body


def test_list_filters_sorts_and_downloads_csv_in_bounded_queries(person, client):
    admin = person["admin"]
    for _ in range(3):
        privacy_request_create(user=admin, kind="export", email=EMAIL)
    privacy_request_create(user=admin, kind="export", email="bob@example.com", reason="=cmd")
    client.force_login(admin)
    url = reverse("data_exchange:privacy_list")
    with assert_max_queries(12):
        response = client.get(url + "?sort=kind")
    assert response.status_code == 200
    assert response.content.decode().count("privacy/") >= 4
    filtered = client.get(url + "?email=bob")
    assert "bob@example.com" in filtered.content.decode()
    assert EMAIL not in filtered.content.decode()
    assert client.get(url + "?kind=nonsense").status_code == 422
    csv_response = client.get(url + "?format=csv")
    text = csv_response.content.decode()
    assert csv_response["Content-Type"] == "text/csv"
    assert text.splitlines()[0].startswith("id,created_at,kind")
    assert "'=cmd" in text


def test_contact_page_has_the_privacy_card_for_administrators(person, client):
    client.force_login(person["admin"])
    body = client.get(reverse("contacts:contact_detail", args=[person["ana"].pk])).content.decode()
    assert "privacy-card" in body
    assert f"/data/privacy/new/?contact={person['ana'].pk}&amp;kind=erase" in body


# ---------- API ----------


def test_api_creates_lists_and_reads_requests(person, client):
    client.force_login(person["admin"])
    created = client.post(
        "/api/v1/data/privacy-requests",
        {"kind": "export", "email": EMAIL, "reason": "api"},
        content_type="application/json",
    )
    assert created.status_code == 202, created.content
    body = created.json()
    assert body["status"] == "received"
    assert body["summary"]["found"]["leads"] == 1
    for _ in range(3):
        client.post(
            "/api/v1/data/privacy-requests",
            {"kind": "export", "email": EMAIL},
            content_type="application/json",
        )
    with assert_max_queries(10):
        listing = client.get("/api/v1/data/privacy-requests?limit=2")
    assert listing.status_code == 200
    assert len(listing.json()["items"]) == 2
    assert listing.json()["next_cursor"]
    one = client.get(f"/api/v1/data/privacy-requests/{body['id']}")
    assert one.json()["id"] == body["id"]
    preview = client.post(
        "/api/v1/data/privacy-requests/preview",
        {"contact_id": person["ana"].pk},
        content_type="application/json",
    )
    assert preview.json()["lead_ids"] == [person["lead"].pk]


def test_api_refuses_bad_input_with_clear_problems(person, client):
    client.force_login(person["admin"])
    unknown = client.post(
        "/api/v1/data/privacy-requests",
        {"kind": "export", "email": "nobody@example.com"},
        content_type="application/json",
    )
    assert unknown.status_code == 422
    assert "nobody@example.com" in unknown.json()["detail"]
    unconfirmed = client.post(
        "/api/v1/data/privacy-requests",
        {"kind": "erase", "email": EMAIL},
        content_type="application/json",
    )
    assert unconfirmed.status_code == 422
    assert "confirm" in unconfirmed.json()["errors"]
    bad_kind = client.post(
        "/api/v1/data/privacy-requests",
        {"kind": "delete-everything", "email": EMAIL},
        content_type="application/json",
    )
    assert bad_kind.status_code == 422
    assert client.get("/api/v1/data/privacy-requests?colour=red").status_code == 422
    assert client.get("/api/v1/data/privacy-requests/999999").status_code == 404
    assert not PrivacyRequest.objects.exists()


def test_api_archive_is_404_until_the_export_is_done(person, client):
    request = privacy_request_create(user=person["admin"], kind="export", email=EMAIL)
    client.force_login(person["admin"])
    response = client.get(f"/api/v1/data/privacy-requests/{request.pk}/archive")
    assert response.status_code == 404


def test_private_contacts_still_found_by_the_administrator(person, rep):
    set_org_default("contacts.contact", OrgWideAccess.PRIVATE)
    hidden = contact_create(user=rep, last_name="Hidden", email="hidden@example.com")
    subject = find_subject(email="hidden@example.com")
    assert subject.contact_ids == [hidden.pk]


# ---------- lead capture opt-in becomes consent ----------


def test_converting_a_lead_with_confirmed_opt_in_records_marketing_consent(admin_user):
    from patron.leads.choices import OptInState
    from patron.leads.conversion import lead_convert

    confirmed_at = timezone.now() - datetime.timedelta(days=2)
    form = CaptureForm.objects.create(
        name="Newsletter signup", key="news", fields=["email"], default_owner=admin_user
    )
    lead = lead_create(
        user=admin_user,
        data={"last_name": "Opt", "email": "opt@example.com", "company": "Optco"},
    )
    Lead.objects.filter(pk=lead.pk).update(
        opt_in_state=OptInState.CONFIRMED, opt_in_confirmed_at=confirmed_at, capture_form=form
    )
    lead.refresh_from_db()
    result = lead_convert(user=admin_user, lead=lead, create_account=True)
    consent = ContactConsent.objects.get(contact=result.contact, purpose="marketing_email")
    assert consent.status == "granted"
    assert consent.source == "web_form"
    assert consent.recorded_at == confirmed_at
    assert "Newsletter signup" in consent.evidence
    assert ContactConsentChange.objects.filter(contact=result.contact).count() == 1


def test_converting_a_lead_without_opt_in_records_no_consent(admin_user):
    from patron.leads.conversion import lead_convert

    lead = lead_create(
        user=admin_user,
        data={"last_name": "Plain", "email": "plain@example.com", "company": "Plainco"},
    )
    result = lead_convert(user=admin_user, lead=lead, create_account=True)
    assert not ContactConsent.objects.filter(contact=result.contact).exists()


# ---------- cost does not grow with the person's activities ----------


def _add_calls(admin, contact, count):
    for number in range(count):
        activity_create(
            user=admin,
            kind="call",
            subject=f"Call {number}",
            links=[{"object_type": "contacts.contact", "id": contact.pk}],
        )


def _queries_of(kind, admin, email):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    request = privacy_request_create(user=admin, kind=kind, email=email, confirmed=True)
    assert request.job_id is not None
    with CaptureQueriesContext(connection) as ctx:
        privacy_request_run(job_id=request.job_id)
    return len(ctx.captured_queries)


@pytest.mark.parametrize("kind", ["export", "erase"])
def test_export_and_erase_queries_do_not_grow_with_activities(admin_user, kind):
    few = contact_create(user=admin_user, last_name="Few", email="few@example.com")
    many = contact_create(user=admin_user, last_name="Many", email="many@example.com")
    _add_calls(admin_user, few, 2)
    _add_calls(admin_user, many, 12)
    assert _queries_of(kind, admin_user, "many@example.com") == _queries_of(
        kind, admin_user, "few@example.com"
    )


def test_lead_page_has_the_privacy_card_for_administrators(person, client):
    client.force_login(person["admin"])
    response = client.get(f"/leads/{person['lead'].pk}/")
    assert response.status_code == 200
    assert f"/data/privacy/new/?lead={person['lead'].pk}&amp;kind=export" in (
        response.content.decode()
    )
