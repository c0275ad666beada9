"""Lead capture: spam checks, rate limit, unknown keys, required fields, CORS, double opt-in,
matching against contacts, accounts and open leads."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from patron.contacts.services import account_create, contact_create
from patron.leads.capture import (
    FILL_TOKEN_FIELD,
    HONEYPOT_FIELD,
    MIN_FILL_SECONDS,
    capture_form_create,
    fill_token,
)
from patron.leads.choices import CaptureMatchAction, CaptureOutcome, OptInState
from patron.leads.models import CaptureSubmission, Lead, LeadSettings
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ORIGIN = "https://www.shop.example"
FIELDS = [
    {"field": "first_name", "label": "First name", "required": False},
    {"field": "last_name", "label": "Last name", "required": True},
    {"field": "email", "label": "Work email", "required": True},
    {"field": "company", "label": "Company", "required": False},
]


@pytest.fixture
def admin(db):
    return UserFactory(is_superuser=True, email="boss@example.com", full_name="Bo Boss")


@pytest.fixture
def owner(rep, lead_roles):
    return rep


def make_form(admin, owner, **overrides):
    data = {
        "name": "Contact us",
        "fields": FIELDS,
        "default_owner": owner,
        "default_campaign": "Spring fair",
        "allowed_origins": [ORIGIN],
        **overrides,
    }
    return capture_form_create(user=admin, data=data)


@pytest.fixture
def form(admin, owner):
    return make_form(admin, owner)


def old_token(form) -> str:
    return fill_token(form, issued_at=time.time() - MIN_FILL_SECONDS - 5)


def post_html(client: Client, form, **values):
    data = {"last_name": "Lee", "email": "ana@northwind.example", FILL_TOKEN_FIELD: old_token(form)}
    data.update(values)
    return client.post(f"/capture/{form.key}/", data)


def post_json(client: Client, key: str, payload: dict[str, Any], **headers: str) -> Any:
    return client.post(
        f"/api/v1/capture/{key}",
        json.dumps(payload),
        content_type="application/json",
        headers=headers,
    )


def test_hosted_form_creates_a_lead_with_the_form_defaults(client, form, owner):
    page = client.get(f"/capture/{form.key}/")
    assert page.status_code == 200
    assert b"Work email" in page.content
    assert HONEYPOT_FIELD.encode() in page.content
    response = post_html(client, form, first_name="Ana", company="Northwind")
    assert response.status_code == 200
    assert form.thank_you_message.encode() in response.content
    lead = Lead.objects.get()
    assert (lead.first_name, lead.last_name, lead.email) == ("Ana", "Lee", "ana@northwind.example")
    assert lead.owner == owner
    assert lead.source == "web_form"
    assert lead.campaign == "Spring fair"
    assert lead.capture_form == form
    submission = CaptureSubmission.objects.get()
    assert submission.outcome == CaptureOutcome.CREATED
    assert submission.lead == lead
    assert len(submission.sender_digest) == 64
    assert "127.0.0.1" not in json.dumps(submission.detail)


def test_redirects_when_the_form_has_a_redirect(client, admin, owner):
    form = make_form(admin, owner, redirect_url="https://www.shop.example/thanks")
    response = post_html(client, form)
    assert response.status_code == 302
    assert response["Location"] == "https://www.shop.example/thanks"


def test_honeypot_is_spam_answered_like_success(client, form):
    response = post_html(client, form, **{HONEYPOT_FIELD: "http://spam.example"})
    assert response.status_code == 200
    assert form.thank_you_message.encode() in response.content
    assert not Lead.objects.exists()
    submission = CaptureSubmission.objects.get()
    assert submission.outcome == CaptureOutcome.SPAM
    assert submission.detail["reason"] == "honeypot"
    assert submission.detail["values"]["email"] == "ana@northwind.example"


def test_a_form_sent_faster_than_the_minimum_fill_time_is_spam(client, form):
    response = post_html(client, form, **{FILL_TOKEN_FIELD: fill_token(form)})
    assert response.status_code == 200
    assert not Lead.objects.exists()
    assert CaptureSubmission.objects.get().detail["reason"] == "too_fast"


def test_a_forged_or_missing_fill_token_on_the_html_form_is_spam(client, form):
    post_html(client, form, **{FILL_TOKEN_FIELD: "forged"})
    client.post(f"/capture/{form.key}/", {"last_name": "Lee", "email": "a@b.example"})
    reasons = sorted(s.detail["reason"] for s in CaptureSubmission.objects.all())
    assert reasons == ["bad_token", "no_token"]
    assert not Lead.objects.exists()


def test_rate_limit_per_sender_per_form_per_hour(client, admin, owner):
    form = make_form(admin, owner, max_submissions_per_hour=2)
    assert post_html(client, form, email="a1@x.example").status_code == 200
    assert post_html(client, form, email="a2@x.example").status_code == 200
    limited = post_html(client, form, email="a3@x.example")
    assert limited.status_code == 429
    assert b"try again in an hour" in limited.content
    api = post_json(client, form.key, {"last_name": "Lee", "email": "a4@x.example"})
    assert api.status_code == 429
    assert api["Content-Type"].startswith("application/problem+json")
    assert api["Retry-After"] == "3600"
    assert Lead.objects.count() == 2
    outcomes = list(CaptureSubmission.objects.values_list("outcome", flat=True))
    assert outcomes.count(CaptureOutcome.RATE_LIMITED) == 2
    other = Client(REMOTE_ADDR="203.0.113.9")
    assert post_html(other, form, email="a5@x.example").status_code == 200


def test_unknown_or_inactive_form_key_is_404_with_a_clear_message(client, form, admin):
    assert b"no active lead capture form" in client.get("/capture/nope-nope-nope/").content
    api = post_json(client, "nope-nope-nope", {"last_name": "Lee"})
    assert api.status_code == 404
    assert "no active lead capture form" in api.json()["detail"]
    form.is_active = False
    form.save()
    assert post_html(client, form).status_code == 404
    assert client.get(f"/capture/{form.key}/embed.js").status_code == 404


def test_missing_required_fields_and_bad_email_name_each_field(client, form):
    api = post_json(client, form.key, {"first_name": "Ana", "email": "not-an-email"})
    assert api.status_code == 422
    body = api.json()
    assert set(body["errors"]) == {"last_name", "email"}
    assert "Last name is required." in body["errors"]["last_name"]
    page = post_html(client, form, last_name="", email="nope")
    assert page.status_code == 422
    assert b'aria-invalid="true"' in page.content
    assert b"Last name is required." in page.content
    assert not Lead.objects.exists()
    invalid = CaptureSubmission.objects.filter(outcome=CaptureOutcome.INVALID)
    assert invalid.count() == 2
    first = invalid.order_by("pk").first()
    assert first is not None
    assert first.detail["values"]["first_name"] == "Ana"


def test_api_capture_with_cors_for_allowed_origins(client, form):
    preflight = client.options(
        f"/api/v1/capture/{form.key}",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight["Access-Control-Allow-Headers"]
    refused = client.options(
        f"/api/v1/capture/{form.key}", headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused
    ok = post_json(client, form.key, {"last_name": "Lee", "email": "ana@x.example"}, Origin=ORIGIN)
    assert ok.status_code == 200
    assert ok["Access-Control-Allow-Origin"] == ORIGIN
    assert ok.json()["message"] == form.thank_you_message
    other = post_json(client, form.key, {"last_name": "Kim"}, Origin="https://evil.example")
    assert other.status_code == 403
    server = post_json(client, form.key, {"last_name": "Kim", "email": "kim@x.example"})
    assert server.status_code == 200
    assert Lead.objects.count() == 2


def test_embed_script_and_snippet(client, form):
    script = client.get(f"/capture/{form.key}/embed.js")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("text/javascript")
    assert script["Cache-Control"] == "no-store"
    assert f"/api/v1/capture/{form.key}".encode() in script.content
    assert b"Work email" in script.content


def test_double_opt_in_keeps_the_lead_opted_out_until_the_link_is_clicked(
    client, admin, owner, django_capture_on_commit_callbacks
):
    form = make_form(admin, owner, double_opt_in=True)
    with django_capture_on_commit_callbacks(execute=True):
        post_html(client, form, email="ana@northwind.example")
    lead = Lead.objects.get()
    assert lead.opt_in_state == OptInState.PENDING
    assert lead.email_opt_out is True
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ana@northwind.example"]
    link = re.search(r"http://testserver(/capture/confirm/\S+/)", str(mail.outbox[0].body))
    assert link is not None
    first = client.get(link.group(1))
    assert first.status_code == 200
    assert b"confirmed" in first.content
    lead.refresh_from_db()
    assert lead.opt_in_state == OptInState.CONFIRMED
    assert lead.email_opt_out is False
    assert lead.opt_in_confirmed_at is not None
    version = lead.version
    assert client.get(link.group(1)).status_code == 200
    lead.refresh_from_db()
    assert lead.version == version, "a second click changes nothing"
    assert client.get("/capture/confirm/forged-token/").status_code == 404


def test_double_opt_in_needs_a_required_email_field(admin, owner):
    from patron.core.exceptions import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        make_form(
            admin,
            owner,
            double_opt_in=True,
            fields=[{"field": "last_name", "required": True}],
        )
    assert "double_opt_in" in caught.value.errors


def test_form_configuration_is_validated(admin, owner):
    from patron.core.exceptions import PermissionDenied, ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        make_form(
            admin,
            owner,
            fields=[{"field": "password", "required": True}],
            allowed_origins=["https://ok.example/path"],
        )
    assert set(caught.value.errors) >= {"fields", "allowed_origins"}
    with pytest.raises(PermissionDenied):
        make_form(owner, owner)


def test_link_matches_an_existing_contact_and_its_account(client, form, owner):
    account = account_create(user=owner, name="Northwind", website="https://northwind.example")
    contact = contact_create(
        user=owner, last_name="Lee", email="ana@northwind.example", account=account
    )
    post_html(client, form, email="ANA@northwind.example")
    lead = Lead.objects.get()
    assert lead.matched_contact == contact
    assert lead.matched_account == account


def test_link_matches_an_account_by_company_email_domain(client, form, owner):
    account = account_create(user=owner, name="Northwind", website="https://northwind.example")
    post_html(client, form, email="new.person@northwind.example")
    lead = Lead.objects.get()
    assert lead.matched_contact is None
    assert lead.matched_account == account


def test_public_mail_domains_never_match_an_account(client, form, owner):
    account_create(user=owner, name="Google", website="https://gmail.com")
    LeadSettings.objects.create(extra_public_domains=["mailbox.example"])
    account_create(user=owner, name="Mailbox", website="https://mailbox.example")
    post_html(client, form, email="someone@gmail.com")
    post_html(client, form, email="other@mailbox.example")
    assert list(Lead.objects.values_list("matched_account", flat=True)) == [None, None]


def test_merge_fills_blanks_of_the_open_lead_instead_of_creating(client, admin, owner):
    form = make_form(admin, owner, match_action=CaptureMatchAction.MERGE)
    post_html(client, form, email="ana@northwind.example", first_name="")
    post_html(client, form, email="ana@northwind.example", first_name="Ana", company="Northwind")
    lead = Lead.objects.get()
    assert (lead.first_name, lead.company) == ("Ana", "Northwind")
    outcomes = list(CaptureSubmission.objects.order_by("pk").values_list("outcome", "lead_id"))
    assert outcomes == [(CaptureOutcome.CREATED, lead.pk), (CaptureOutcome.MERGED, lead.pk)]


def test_create_action_always_creates_and_does_not_link(client, admin, owner):
    account_create(user=owner, name="Northwind", website="https://northwind.example")
    form = make_form(admin, owner, match_action=CaptureMatchAction.CREATE)
    post_html(client, form, email="ana@northwind.example")
    post_html(client, form, email="ana@northwind.example")
    assert Lead.objects.count() == 2
    assert not Lead.objects.filter(matched_account__isnull=False).exists()
