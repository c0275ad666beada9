"""Lead conversion: one transaction that reuses or creates the account and contact, makes the
optional opportunity, moves activities and leaves the lead read-only."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType

from patron.activities.models import ActivityLink
from patron.activities.services import activity_create
from patron.contacts.choices import AccountKind
from patron.contacts.models import Account, Contact
from patron.contacts.services import account_create, contact_create
from patron.core.exceptions import ValidationFailed
from patron.core.timeline import timeline_page
from patron.leads.choices import LeadStatus
from patron.leads.conversion import LeadAlreadyConverted, lead_convert
from patron.leads.models import Lead
from patron.leads.services import LeadReadOnly, lead_create, lead_update
from patron.pipeline.models import Opportunity, OpportunityContact
from patron.pipeline.tests.conftest import make_pipeline

pytestmark = pytest.mark.django_db

CLOSE = datetime.date(2027, 3, 31)


@pytest.fixture
def lead(rep, lead_roles):
    return lead_create(
        user=rep,
        data={
            "first_name": "Ana",
            "last_name": "Lee",
            "email": "ana@northwind.example",
            "company": "Northwind Traders",
            "phone": "+49 30 1234567",
            "city": "Berlin",
            "country": "DE",
        },
    )


@pytest.fixture
def pipeline(db):
    return make_pipeline()


def test_convert_reuses_matching_account(lead, rep):
    northwind = account_create(user=rep, name="Northwind", website="https://northwind.example")
    result = lead_convert(user=rep, lead=lead)
    assert result.account == northwind
    assert result.account_created is False
    assert Account.objects.count() == 1
    assert result.contact.account == northwind
    assert result.contact.email == "ana@northwind.example"
    lead.refresh_from_db()
    assert lead.converted_account == northwind
    assert lead.converted_contact == result.contact
    assert lead.converted_by == rep
    assert lead.converted_at is not None
    assert lead.status == LeadStatus.QUALIFIED


def test_convert_reuses_a_contact_with_the_same_email(lead, rep):
    northwind = account_create(user=rep, name="Northwind", website="https://northwind.example")
    ana = contact_create(
        user=rep, last_name="Lee", email="ana@northwind.example", account=northwind
    )
    result = lead_convert(user=rep, lead=lead)
    assert result.contact == ana
    assert result.contact_created is False
    assert Contact.objects.count() == 1


def test_without_a_match_a_company_account_is_created_from_the_lead(lead, rep):
    result = lead_convert(user=rep, lead=lead)
    assert result.account_created is True
    assert result.account.kind == AccountKind.COMPANY
    assert result.account.name == "Northwind Traders"
    assert result.account.billing_city == "Berlin"
    assert result.contact.account == result.account
    assert result.opportunity is None


def test_person_account_for_b2c(lead, rep):
    account_create(user=rep, name="Northwind", website="https://northwind.example")
    result = lead_convert(user=rep, lead=lead, person_account=True)
    assert result.account.kind == AccountKind.PERSON
    assert result.account.name == "Ana Lee"
    assert result.account.email == "ana@northwind.example"
    assert result.contact.account == result.account


def test_an_existing_account_can_be_chosen(lead, rep):
    chosen = account_create(user=rep, name="Holding")
    assert lead_convert(user=rep, lead=lead, account=chosen).account == chosen


def test_optional_opportunity_in_the_chosen_pipeline_and_stage(lead, rep, pipeline):
    stage = pipeline.stages.get(name="Qualification")
    result = lead_convert(
        user=rep,
        lead=lead,
        opportunity={
            "name": "Northwind rollout",
            "pipeline": pipeline.pk,
            "stage": stage.pk,
            "amount": Decimal("12000"),
            "close_date": CLOSE,
        },
    )
    opportunity = result.opportunity
    assert isinstance(opportunity, Opportunity)
    assert (opportunity.name, opportunity.stage, opportunity.amount) == (
        "Northwind rollout",
        stage,
        Decimal("12000.00"),
    )
    assert opportunity.account == result.account
    assert OpportunityContact.objects.get(opportunity=opportunity).contact == result.contact
    lead.refresh_from_db()
    assert lead.converted_opportunity_id == opportunity.pk


def test_activities_move_to_the_contact_and_account(lead, rep):
    call = activity_create(
        user=rep,
        kind="note",
        subject="First call notes",
        links=[{"object_type": "leads.lead", "id": lead.pk}],
    )
    result = lead_convert(user=rep, lead=lead)
    targets = {
        (link.content_type.model, link.object_id)
        for link in ActivityLink.objects.filter(activity=call).select_related("content_type")
    }
    assert targets == {("contact", result.contact.pk), ("account", result.account.pk)}
    lead.refresh_from_db()
    titles = [e.title for e in timeline_page(user=rep, record=lead).entries]
    assert "First call notes" in " ".join(titles), "the lead's page still shows them"
    contact_titles = [e.title for e in timeline_page(user=rep, record=result.contact).entries]
    assert any("created the lead" in t for t in contact_titles), "history moves too"


def test_already_converted_refused_and_nothing_changes(lead, rep):
    lead_convert(user=rep, lead=lead)
    accounts, contacts = Account.objects.count(), Contact.objects.count()
    with pytest.raises(LeadAlreadyConverted) as caught:
        lead_convert(user=rep, lead=lead, create_account=True)
    assert caught.value.status == 409
    assert (Account.objects.count(), Contact.objects.count()) == (accounts, contacts)
    lead.refresh_from_db()
    with pytest.raises(LeadReadOnly):
        lead_update(user=rep, lead=lead, data={"title": "CEO"})


def test_rollback_on_failure(lead, rep, pipeline):
    call = activity_create(
        user=rep, kind="note", subject="Notes", links=[{"object_type": "leads.lead", "id": lead.pk}]
    )
    with pytest.raises(ValidationFailed) as caught:
        lead_convert(
            user=rep,
            lead=lead,
            opportunity={
                "name": "Deal",
                "pipeline": pipeline.pk,
                "amount": "-5",
                "close_date": CLOSE,
            },
        )
    assert "opportunity.amount" in caught.value.errors
    assert not Account.objects.exists()
    assert not Contact.objects.exists()
    assert not Opportunity.objects.exists()
    lead.refresh_from_db()
    assert lead.converted_at is None
    lead_type = ContentType.objects.get_for_model(Lead)
    assert ActivityLink.objects.filter(activity=call, content_type=lead_type).exists()


def test_a_lead_without_company_needs_an_account_choice(rep, lead_roles):
    lead = lead_create(user=rep, data={"last_name": "Solo", "email": "solo@gmail.com"})
    with pytest.raises(ValidationFailed) as caught:
        lead_convert(user=rep, lead=lead)
    assert "account" in caught.value.errors
    assert lead_convert(user=rep, lead=lead, person_account=True).account.name == "Solo"
