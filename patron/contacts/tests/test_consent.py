"""Consent per purpose: every answer kept as history, the current answer is the latest,
``has_consent`` for other apps, the contact page card (HTMX form) and the API."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from patron.contacts.consent import (
    consent_current,
    consent_history,
    contacts_with_consent,
    has_consent,
)
from patron.contacts.models import Contact, ContactConsent, ContactConsentChange
from patron.contacts.related_list_services import consent_record
from patron.contacts.services import contact_create
from patron.core.choices import OrgWideAccess
from patron.core.exceptions import PermissionDenied
from patron.core.testing import assert_max_queries, set_org_default

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana(rep):
    return contact_create(user=rep, first_name="Ana", last_name="Lee", email="ana@example.com")


def _answer(user, contact, purpose, status, source="web_form", detail="", when=None):
    return consent_record(
        user=user,
        contact=contact,
        purpose=purpose,
        status=status,
        source=source,
        evidence=detail,
        recorded_at=when,
    )


def test_each_answer_is_a_history_row_and_the_latest_is_current(rep, ana):
    earlier = timezone.now() - datetime.timedelta(days=3)
    _answer(rep, ana, "newsletter", "granted", detail="https://example.com/form", when=earlier)
    _answer(rep, ana, "newsletter", "withdrawn", source="email_link")
    history = list(consent_history(ana, "newsletter"))
    assert [row.status for row in history] == ["withdrawn", "granted"]
    assert history[1].source_detail == "https://example.com/form"
    assert history[1].given_at == earlier
    assert history[0].recorded_by_id == rep.pk
    assert history[0].source == "email_link"
    assert ContactConsent.objects.get(contact=ana, purpose="newsletter").status == "withdrawn"
    assert not has_consent(ana, "newsletter")


def test_an_unchanged_answer_adds_no_history_row(rep, ana):
    when = timezone.now() - datetime.timedelta(hours=1)
    _answer(rep, ana, "sms", "granted", when=when)
    _answer(rep, ana, "sms", "granted", when=when)
    assert ContactConsentChange.objects.filter(contact=ana, purpose="sms").count() == 1


def test_has_consent_is_true_only_for_a_current_grant(rep, ana):
    assert not has_consent(ana, "phone")
    _answer(rep, ana, "phone", "granted")
    assert has_consent(ana, "phone")
    assert has_consent(ana.pk, "phone")
    assert not has_consent(ana, "profiling")
    _answer(rep, ana, "profiling", "denied")
    assert not has_consent(ana, "profiling")
    assert list(Contact.objects.filter(pk__in=contacts_with_consent("phone"))) == [ana]


def test_current_state_lists_every_purpose_with_no_answer_for_missing_ones(rep, ana):
    _answer(rep, ana, "third_party", "denied", source="phone")
    states = {state.purpose: state for state in consent_current(ana)}
    assert {"marketing_email", "newsletter", "phone", "sms", "profiling", "third_party"} <= set(
        states
    )
    assert states["third_party"].status_label == "Denied"
    assert states["third_party"].source_label == "Phone"
    assert states["newsletter"].status == ""
    assert states["newsletter"].status_label == "No answer"


def test_only_editors_record_answers(rep, other_rep, ana):
    set_org_default(Contact.object_type(), OrgWideAccess.PUBLIC_READ)
    with pytest.raises(PermissionDenied):
        _answer(other_rep, ana, "newsletter", "granted")
    assert not ContactConsentChange.objects.filter(contact=ana).exists()


# ---------- the card on the contact page ----------


def test_contact_page_shows_the_consent_card_and_its_history_on_demand(client, rep, ana):
    _answer(rep, ana, "newsletter", "granted", detail="signup-form-7")
    client.force_login(rep)
    response = client.get(reverse("contacts:contact_detail", args=[ana.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert ">Consent</h2>" in body
    assert "Record an answer" in body
    history_url = reverse("consent:history", args=[ana.pk])
    assert history_url in body
    with assert_max_queries(10):
        partial = client.get(history_url, headers={"HX-Request": "true"})
    assert "signup-form-7" in partial.content.decode()
    assert "<html" not in partial.content.decode()
    page = client.get(history_url)
    assert page.status_code == 200
    assert "Consent history of Ana Lee" in page.content.decode()


def test_recording_an_answer_with_htmx_returns_the_updated_card(client, rep, ana):
    client.force_login(rep)
    response = client.post(
        reverse("consent:answer", args=[ana.pk]),
        {"purpose": "sms", "status": "granted", "source": "manual", "source_detail": "call"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "Answer recorded." in response.content.decode()
    assert has_consent(ana, "sms")
    row = ContactConsentChange.objects.get(contact=ana, purpose="sms")
    assert (row.source, row.source_detail, row.via) == ("manual", "call", "ui")


def test_a_bad_answer_is_refused_on_its_field_and_nothing_is_saved(client, rep, ana):
    client.force_login(rep)
    future = (timezone.now() + datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("consent:answer", args=[ana.pk]),
        {"purpose": "sms", "status": "maybe", "source": "manual", "given_at": future},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    assert not ContactConsentChange.objects.filter(contact=ana).exists()


def test_a_future_answer_date_is_refused_by_the_service(client, rep, ana):
    client.force_login(rep)
    future = (timezone.localtime() + datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("consent:answer", args=[ana.pk]),
        {"purpose": "sms", "status": "granted", "source": "manual", "given_at": future},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert not ContactConsentChange.objects.filter(contact=ana).exists()


def test_someone_who_may_only_read_cannot_record(client, other_rep, ana):
    set_org_default(Contact.object_type(), OrgWideAccess.PUBLIC_READ)
    client.force_login(other_rep)
    response = client.post(
        reverse("consent:answer", args=[ana.pk]),
        {"purpose": "sms", "status": "granted", "source": "manual"},
    )
    assert response.status_code == 403
    assert not has_consent(ana, "sms")


# ---------- API ----------


def test_api_records_an_answer_and_lists_the_history(client, rep, ana):
    client.force_login(rep)
    url = f"/api/v1/contacts/{ana.pk}"
    first = client.post(
        f"{url}/consent-history",
        {"purpose": "newsletter", "status": "granted", "source": "api", "source_detail": "crm"},
        content_type="application/json",
    )
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "granted"
    client.post(
        f"{url}/consent-history",
        {"purpose": "newsletter", "status": "withdrawn", "source": "email_link"},
        content_type="application/json",
    )
    for purpose in ("sms", "phone", "profiling"):
        _answer(rep, ana, purpose, "granted")
    # Session, user and access profile (7), the contact, one page of history.
    with assert_max_queries(9):
        history = client.get(f"{url}/consent-history?limit=2")
    assert history.status_code == 200
    body = history.json()
    assert len(body["items"]) == 2
    assert body["next_cursor"]
    only = client.get(f"{url}/consent-history?purpose=newsletter").json()["items"]
    assert [row["status"] for row in only] == ["withdrawn", "granted"]
    assert only[1]["source_detail"] == "crm"
    check = client.get(f"{url}/consent-check/newsletter").json()
    assert check == {"contact_id": ana.pk, "purpose": "newsletter", "granted": False}
    current = client.get(f"{url}/consents").json()
    assert {row["purpose"] for row in current} >= {"newsletter", "sms"}


def test_api_refuses_a_bad_answer_naming_the_field(client, rep, ana):
    client.force_login(rep)
    response = client.post(
        f"/api/v1/contacts/{ana.pk}/consent-history",
        {"purpose": "newsletter", "status": "perhaps", "source": "api"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "status" in response.content.decode()
    assert not ContactConsentChange.objects.filter(contact=ana).exists()


def test_api_hides_the_history_of_a_contact_you_cannot_see(client, rep, other_rep, ana):
    _answer(rep, ana, "newsletter", "granted")
    client.force_login(other_rep)
    assert client.get(f"/api/v1/contacts/{ana.pk}/consent-history").status_code == 404
    assert client.get(f"/api/v1/contacts/{ana.pk}/consent-check/sms").status_code == 404
