"""The contact related lists' write and read paths: who may change rows, the rules that span
fields, one row per name or purpose, the contact's history, consent and email opt-out, and
the cross-contact list that only holds visible contacts' rows in a fixed number of queries."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from patron.contacts.models import (
    Competitor,
    Contact,
    ContactConsent,
    LiteratureRequest,
    Subscription,
    TrainingAttendance,
)
from patron.contacts.related_list_selectors import contact_rows, related_list, related_row_get
from patron.contacts.related_list_services import (
    consent_record,
    related_row_create,
    related_row_delete,
    related_row_update,
)
from patron.contacts.related_lists import (
    COMPETITOR_PRODUCTS,
    CONSENTS,
    LITERATURE_REQUESTS,
    SUBSCRIPTIONS,
    TRAINING_ATTENDANCES,
)
from patron.contacts.services import contact_create
from patron.core.choices import OrgWideAccess
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.models import ChangeLogEntry
from patron.core.testing import assert_max_queries, grant, set_org_default

pytestmark = pytest.mark.django_db

MAY_1 = datetime.date(2026, 5, 1)
JUNE_1 = datetime.date(2026, 6, 1)


@pytest.fixture
def ana(rep):
    return contact_create(user=rep, first_name="Ana", last_name="Lee", email="ana@example.com")


@pytest.fixture
def readable_by_all():
    """Every role may read every contact, but only owners may edit them."""
    set_org_default(Contact.object_type(), OrgWideAccess.PUBLIC_READ)


def _history(contact):
    return list(
        ChangeLogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Contact), object_id=contact.pk
        ).order_by("id")
    )


def test_adding_a_literature_request_records_it_in_the_contacts_history(rep, ana):
    row = related_row_create(
        user=rep,
        spec=LITERATURE_REQUESTS,
        contact=ana,
        item="Product brochure",
        channel="email",
        requested_on=MAY_1,
    )
    assert row.created_by_id == rep.pk
    assert list(contact_rows(spec=LITERATURE_REQUESTS, contact=ana)) == [row]
    entry = _history(ana)[-1]
    assert entry.actor_id == rep.pk
    assert entry.changes == {"Literature requests": [None, "Product brochure (Email, 2026-05-01)"]}


def test_changing_and_removing_a_row_show_before_and_after_in_the_history(rep, ana):
    row = related_row_create(
        user=rep,
        spec=TRAINING_ATTENDANCES,
        contact=ana,
        course="Admin 101",
        attended_on=MAY_1,
        result="attended",
    )
    changed = related_row_update(
        user=rep,
        spec=TRAINING_ATTENDANCES,
        contact=ana,
        row=row,
        result="passed",
        certificate="C-77",
    )
    assert TrainingAttendance.objects.get(pk=row.pk).certificate == "C-77"
    related_row_delete(user=rep, spec=TRAINING_ATTENDANCES, contact=ana, row=changed)
    assert not TrainingAttendance.objects.filter(pk=row.pk).exists()
    update, removal = _history(ana)[-2:]
    assert update.changes["Training courses attended"] == [
        "Admin 101 (2026-05-01, Attended)",
        "Admin 101 (2026-05-01, Passed, C-77)",
    ]
    assert removal.changes["Training courses attended"] == [
        "Admin 101 (2026-05-01, Passed, C-77)",
        None,
    ]


def test_a_user_who_may_only_read_the_contact_cannot_change_its_lists(
    rep, other_rep, ana, readable_by_all
):
    row = related_row_create(
        user=rep,
        spec=SUBSCRIPTIONS,
        contact=ana,
        name="Newsletter",
        kind="list",
        status="subscribed",
    )
    with pytest.raises(PermissionDenied, match="You may not edit Ana Lee"):
        related_row_create(
            user=other_rep,
            spec=SUBSCRIPTIONS,
            contact=ana,
            name="Offers",
            kind="list",
            status="pending",
        )
    with pytest.raises(PermissionDenied):
        related_row_update(
            user=other_rep, spec=SUBSCRIPTIONS, contact=ana, row=row, status="pending"
        )
    with pytest.raises(PermissionDenied):
        related_row_delete(user=other_rep, spec=SUBSCRIPTIONS, contact=ana, row=row)
    assert Subscription.objects.get(pk=row.pk).status == "subscribed"


def test_a_row_of_another_contact_is_not_found(rep, ana):
    ben = contact_create(user=rep, last_name="Ben")
    row = related_row_create(
        user=rep, spec=LITERATURE_REQUESTS, contact=ben, item="Price list", channel="post"
    )
    with pytest.raises(RecordNotFound):
        related_row_get(spec=LITERATURE_REQUESTS, contact=ana, pk=row.pk)
    with pytest.raises(RecordNotFound):
        related_row_delete(user=rep, spec=LITERATURE_REQUESTS, contact=ana, row=row)


@pytest.mark.parametrize(
    ("spec", "fields", "bad_field"),
    [
        (
            LITERATURE_REQUESTS,
            {"item": "Brochure", "channel": "email", "requested_on": JUNE_1, "fulfilled_on": MAY_1},
            "fulfilled_on",
        ),
        (
            COMPETITOR_PRODUCTS,
            {"product": "CRM Suite", "since": JUNE_1, "contract_end": MAY_1},
            "contract_end",
        ),
        (
            SUBSCRIPTIONS,
            {
                "name": "Weekly",
                "kind": "list",
                "status": "unsubscribed",
                "opt_in_at": timezone.now(),
                "ended_at": timezone.now() - datetime.timedelta(days=3),
            },
            "ended_at",
        ),
        (CONSENTS, {"purpose": "sms", "status": "granted", "source": ""}, "source"),
        (LITERATURE_REQUESTS, {"item": "Brochure", "channel": "pigeon"}, "channel"),
        (TRAINING_ATTENDANCES, {"course": "Admin 101", "result": "passed"}, "attended_on"),
        (SUBSCRIPTIONS, {"name": "", "kind": "list", "status": "pending"}, "name"),
        (LITERATURE_REQUESTS, {"item": "Brochure", "channel": "email", "colour": "red"}, "colour"),
    ],
)
def test_bad_rows_are_refused_with_the_field_named(rep, ana, spec, fields, bad_field):
    with pytest.raises(ValidationFailed) as caught:
        related_row_create(user=rep, spec=spec, contact=ana, **fields)
    assert bad_field in caught.value.errors, caught.value.errors
    assert not spec.model.objects.filter(contact=ana).exists()
    assert _history(ana)[-1].action == "create"


def test_a_refused_change_leaves_the_row_as_it_was(rep, ana):
    row = related_row_create(
        user=rep,
        spec=LITERATURE_REQUESTS,
        contact=ana,
        item="Brochure",
        channel="email",
        requested_on=JUNE_1,
    )
    with pytest.raises(ValidationFailed) as caught:
        related_row_update(
            user=rep, spec=LITERATURE_REQUESTS, contact=ana, row=row, fulfilled_on=MAY_1
        )
    assert "before it was made (2026-06-01)" in caught.value.errors["fulfilled_on"][0]
    assert row.fulfilled_on is None
    assert LiteratureRequest.objects.get(pk=row.pk).fulfilled_on is None


def test_a_second_subscription_with_the_same_kind_and_name_is_a_field_error(rep, ana):
    related_row_create(
        user=rep,
        spec=SUBSCRIPTIONS,
        contact=ana,
        name="Newsletter",
        kind="list",
        status="subscribed",
    )
    with pytest.raises(ValidationFailed) as caught:
        related_row_create(
            user=rep,
            spec=SUBSCRIPTIONS,
            contact=ana,
            name="Newsletter",
            kind="list",
            status="pending",
        )
    assert "already has a subscription" in caught.value.errors["name"][0]
    # The same name as a product, or on another contact, is another subscription.
    related_row_create(
        user=rep,
        spec=SUBSCRIPTIONS,
        contact=ana,
        name="Newsletter",
        kind="product",
        status="subscribed",
    )
    ben = contact_create(user=rep, last_name="Ben")
    related_row_create(
        user=rep,
        spec=SUBSCRIPTIONS,
        contact=ben,
        name="Newsletter",
        kind="list",
        status="subscribed",
    )
    assert Subscription.objects.count() == 3


def test_a_twin_written_by_a_concurrent_request_is_a_field_error_too(rep, ana, monkeypatch):
    """Two requests may both pass the check before either saves; the database's unique
    constraint then refuses the second, which must still read as a field error."""
    related_row_create(
        user=rep, spec=SUBSCRIPTIONS, contact=ana, name="Weekly", kind="list", status="pending"
    )
    monkeypatch.setattr("patron.contacts.related_list_services._duplicate", lambda spec, row: False)
    with pytest.raises(ValidationFailed) as caught:
        related_row_create(
            user=rep, spec=SUBSCRIPTIONS, contact=ana, name="Weekly", kind="list", status="pending"
        )
    assert "already has a subscription" in caught.value.errors["name"][0]
    assert Subscription.objects.count() == 1


def test_a_second_consent_row_for_a_purpose_is_a_field_error(rep, ana):
    related_row_create(
        user=rep, spec=CONSENTS, contact=ana, purpose="phone", status="granted", source="phone"
    )
    with pytest.raises(ValidationFailed) as caught:
        related_row_create(
            user=rep, spec=CONSENTS, contact=ana, purpose="phone", status="denied", source="email"
        )
    assert "already has an answer for this purpose" in caught.value.errors["purpose"][0]


def test_recording_consent_again_replaces_the_answer_for_that_purpose(rep, ana):
    first = consent_record(
        user=rep,
        contact=ana,
        purpose="newsletter",
        status="granted",
        source="web_form",
        evidence="https://example.com/form/1",
    )
    second = consent_record(
        user=rep, contact=ana, purpose="newsletter", status="withdrawn", source="email"
    )
    assert first.pk == second.pk
    saved = ContactConsent.objects.get(contact=ana)
    assert (saved.status, saved.source, saved.evidence) == ("withdrawn", "email", "")
    assert _history(ana)[-1].changes["Consent"][1].startswith("Newsletter (Withdrawn, Email")


def test_consent_in_the_future_is_refused(rep, ana):
    with pytest.raises(ValidationFailed) as caught:
        consent_record(
            user=rep,
            contact=ana,
            purpose="sms",
            status="granted",
            source="phone",
            recorded_at=timezone.now() + datetime.timedelta(days=2),
        )
    assert "recorded_at" in caught.value.errors


def test_marketing_email_consent_keeps_the_email_opt_out_flag_in_step(rep, ana):
    consent_record(
        user=rep, contact=ana, purpose="marketing_email", status="granted", source="web_form"
    )
    assert Contact.objects.get(pk=ana.pk).email_opt_out is False
    consent_record(
        user=rep, contact=ana, purpose="marketing_email", status="withdrawn", source="email"
    )
    assert Contact.objects.get(pk=ana.pk).email_opt_out is True
    ana.refresh_from_db()
    consent_record(
        user=rep, contact=ana, purpose="marketing_email", status="granted", source="phone"
    )
    assert Contact.objects.get(pk=ana.pk).email_opt_out is False
    # Other purposes leave the flag alone.
    ana.refresh_from_db()
    consent_record(user=rep, contact=ana, purpose="sms", status="denied", source="phone")
    assert Contact.objects.get(pk=ana.pk).email_opt_out is False


@pytest.fixture
def competitor_access(sales_roles):
    """Reps may read the competitors they own (granted before a rep's access is loaded)."""
    grant(sales_roles["rep"], "contacts.competitor", "read")
    set_org_default("contacts.competitor", OrgWideAccess.PRIVATE)


def test_a_competitor_product_names_a_competitor_the_user_can_see(
    competitor_access, rep, other_rep, ana
):
    mine = Competitor.objects.create(name="Rival One", owner=rep)
    theirs = Competitor.objects.create(name="Hidden Rival", owner=other_rep)
    row = related_row_create(
        user=rep,
        spec=COMPETITOR_PRODUCTS,
        contact=ana,
        product="CRM Suite",
        competitor=mine.pk,
        since=MAY_1,
        contract_end=JUNE_1,
    )
    assert row.competitor == mine
    with pytest.raises(ValidationFailed) as caught:
        related_row_update(
            user=rep, spec=COMPETITOR_PRODUCTS, contact=ana, row=row, competitor=theirs.pk
        )
    assert caught.value.errors == {
        "competitor": [f"No competitor with id {theirs.pk} that you can see."]
    }


def test_the_cross_contact_list_holds_only_rows_of_contacts_the_user_sees(rep, other_rep, ana):
    theirs = contact_create(user=other_rep, last_name="Theirs")
    mine = related_row_create(
        user=rep, spec=LITERATURE_REQUESTS, contact=ana, item="Mine", channel="email"
    )
    related_row_create(
        user=other_rep, spec=LITERATURE_REQUESTS, contact=theirs, item="Theirs", channel="post"
    )
    assert list(related_list(user=rep, spec=LITERATURE_REQUESTS)) == [mine]
    assert [r.item for r in related_list(user=other_rep, spec=LITERATURE_REQUESTS)] == ["Theirs"]


def test_the_cross_contact_list_costs_the_same_queries_for_many_rows(rep, ana):
    def read() -> int:
        with assert_max_queries(3) as ctx:
            rows = list(related_list(user=rep, spec=COMPETITOR_PRODUCTS))
            for row in rows:
                str(row.contact), str(row.competitor)
        return len(ctx.captured_queries)

    related_row_create(user=rep, spec=COMPETITOR_PRODUCTS, contact=ana, product="P0")
    one = read()
    for n in range(1, 8):
        contact = contact_create(user=rep, last_name=f"C{n}")
        related_row_create(user=rep, spec=COMPETITOR_PRODUCTS, contact=contact, product=f"P{n}")
    assert read() == one
