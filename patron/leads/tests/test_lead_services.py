"""The lead write path: validation, status, disqualification, archive, read-only when converted."""

from __future__ import annotations

from typing import Any

import pytest

from patron.core.choices import Via
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import ChangeLogEntry
from patron.leads.choices import LeadStatus
from patron.leads.models import Lead
from patron.leads.selectors import is_public_mail_domain, lead_list
from patron.leads.services import (
    LeadReadOnly,
    lead_archive,
    lead_create,
    lead_disqualify,
    lead_restore,
    lead_set_status,
    lead_update,
)
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(rep, lead_roles):
    return lead_create(
        user=rep,
        data={
            "first_name": "Ana",
            "last_name": "Lee",
            "email": "Ana.Lee@Northwind.example",
            "company": "Northwind",
            "phone": "030 1234567",
            "country": "de",
        },
    )


def test_create_normalises_email_phone_country_and_derives_the_domain(lead, rep):
    assert lead.email == "ana.lee@northwind.example"
    assert lead.phone == "+49301234567"
    assert lead.country == "DE"
    assert lead.domain == "northwind.example"
    assert lead.owner == rep
    assert lead.status == LeadStatus.NEW
    assert ChangeLogEntry.objects.filter(object_id=lead.pk, action="create").exists()


def test_website_wins_over_email_for_the_domain(rep, lead_roles):
    lead = lead_create(
        user=rep,
        data={"last_name": "Kim", "email": "kim@gmail.com", "website": "https://www.kim.example/"},
    )
    assert lead.domain == "kim.example"


def test_bad_input_is_refused_naming_each_field(rep, lead_roles):
    with pytest.raises(ValidationFailed) as caught:
        lead_create(
            user=rep,
            data={"last_name": " ", "email": "not-an-email", "phone": "12", "country": "Germany"},
        )
    assert set(caught.value.errors) >= {"last_name", "email", "phone", "country"}
    assert not Lead.objects.exists()


def test_system_fields_cannot_be_set_by_users(rep, lead_roles):
    with pytest.raises(ValidationFailed) as caught:
        lead_create(user=rep, data={"last_name": "Lee", "score": 99})
    assert "score" in caught.value.errors


def test_a_role_without_create_permission_is_refused(db):
    with pytest.raises(PermissionDenied):
        lead_create(user=UserFactory(), data={"last_name": "Lee"})


def test_status_changes_and_disqualify_needs_a_reason(
    lead, rep, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_set_status(user=rep, lead=lead, status=LeadStatus.WORKING)
    assert lead.status == LeadStatus.WORKING
    with pytest.raises(ValidationFailed) as caught:
        lead_set_status(user=rep, lead=lead, status=LeadStatus.DISQUALIFIED)
    assert "status" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        lead_disqualify(user=rep, lead=lead, reason="")
    assert "reason" in caught.value.errors
    lead = lead_disqualify(user=rep, lead=lead, reason="no_budget", note="Next year maybe")
    assert lead.status == LeadStatus.DISQUALIFIED
    assert lead.disqualification_reason == "no_budget"
    assert lead.disqualification_note == "Next year maybe"


def test_status_events_are_emitted_after_commit(lead, rep, django_capture_on_commit_callbacks):
    from patron.core import events

    seen: list[tuple[str, dict[str, Any]]] = []
    events.subscribe("lead.disqualified", lambda name, payload: seen.append((name, payload)))
    with django_capture_on_commit_callbacks(execute=True):
        lead_disqualify(user=rep, lead=lead, reason="spam")
    assert seen
    assert seen[-1][1]["pk"] == lead.pk
    assert seen[-1][1]["reason"] == "spam"


def test_archive_hides_from_default_lists_and_restore_brings_back(lead, rep):
    from patron.core.filters import FilterContext
    from patron.leads.filters import LeadFilter

    lead = lead_archive(user=rep, lead=lead)
    assert lead.archived_at is not None
    assert Lead.objects.filter(pk=lead.pk).exists(), "archived, never deleted"

    def listed(params: dict[str, str]) -> list[int]:
        filterset = LeadFilter(
            params, queryset=lead_list(user=rep), request=FilterContext(user=rep)
        )
        return [row.pk for row in filterset.qs]

    assert listed({}) == []
    assert listed({"archived": "true"}) == [lead.pk]
    lead = lead_restore(user=rep, lead=lead)
    assert lead.archived_at is None
    assert listed({}) == [lead.pk]


def test_a_converted_lead_refuses_every_write(lead, rep):
    from django.utils import timezone

    Lead.objects.filter(pk=lead.pk).update(converted_at=timezone.now())
    lead.refresh_from_db()
    for write in (
        lambda: lead_update(user=rep, lead=lead, data={"company": "Other"}),
        lambda: lead_set_status(user=rep, lead=lead, status=LeadStatus.WORKING),
        lambda: lead_disqualify(user=rep, lead=lead, reason="spam"),
        lambda: lead_archive(user=rep, lead=lead),
        lambda: lead_restore(user=rep, lead=lead),
    ):
        with pytest.raises(LeadReadOnly) as caught:
            write()
        assert "converted" in caught.value.detail
    lead.refresh_from_db()
    assert lead.company == "Northwind"


def test_update_writes_the_change_log_with_via(lead, rep):
    lead_update(user=rep, lead=lead, data={"title": "CTO"}, via=Via.API)
    entry = ChangeLogEntry.objects.filter(object_id=lead.pk, action="update").latest("at")
    assert entry.changes == {"title": ["", "CTO"]}
    assert entry.via == Via.API


@pytest.mark.parametrize(
    ("domain", "public"),
    [
        ("gmail.com", True),
        ("yahoo.co.uk", True),
        ("hotmail.de", True),
        ("gmx.net", True),
        ("proton.me", True),
        ("northwind.example", False),
        ("mygmail.com", False),
    ],
)
def test_public_mail_domains(domain, public):
    assert is_public_mail_domain(domain) is public


def test_extra_public_domains_come_from_settings():
    assert is_public_mail_domain("mailbox.example", extra=["mailbox.example"])
