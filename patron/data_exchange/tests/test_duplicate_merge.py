"""Merging: children of every kind re-linked, history kept, permissions enforced."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from patron.activities.models import Activity, ActivityLink
from patron.contacts.models import (
    Account,
    AccountContactRelation,
    Contact,
    ContactEmail,
)
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.models import ChangeLogEntry
from patron.data_exchange.choices import DuplicateGroupStatus
from patron.data_exchange.duplicate_services import record_group
from patron.data_exchange.merge_services import merge_records
from patron.data_exchange.models import DuplicateGroup, MergeRecord
from patron.pipeline.models import Opportunity, OpportunityContact, Pipeline, Stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(rep):
    acme = Account.objects.create(owner=rep, name="Acme", industry="")
    acme2 = Account.objects.create(owner=rep, name="ACME Inc", industry="Software")
    keep = Contact.objects.create(
        owner=rep, first_name="Ann", last_name="Lee", email="ann@acme.com", account=acme
    )
    gone = Contact.objects.create(
        owner=rep, first_name="Anne", last_name="Lee", email="", title="CTO", account=acme2
    )
    return keep, gone, acme, acme2


def _opportunity(rep, account):
    pipeline = Pipeline.objects.create(name="P", is_default=True)
    stage = Stage.objects.create(
        pipeline=pipeline, name="New", probability=10, forecast_category="pipeline"
    )
    return Opportunity.objects.create(
        owner=rep,
        name="Deal",
        account=account,
        pipeline=pipeline,
        stage=stage,
        close_date=datetime.date(2027, 1, 1),
        probability=10,
        forecast_category="pipeline",
    )


def test_merge_relinks_activities_emails_relations_and_opportunities(rep, pair):
    keep, gone, _acme, acme2 = pair
    contact_type = ContentType.objects.get_for_model(Contact)
    call = Activity.objects.create(owner=rep, kind="call", occurred_at=timezone.now())
    ActivityLink.objects.create(activity=call, content_type=contact_type, object_id=gone.pk)
    both = Activity.objects.create(owner=rep, kind="note", occurred_at=timezone.now())
    ActivityLink.objects.create(activity=both, content_type=contact_type, object_id=gone.pk)
    ActivityLink.objects.create(activity=both, content_type=contact_type, object_id=keep.pk)
    ContactEmail.objects.create(contact=keep, email="ann@acme.com", is_primary=True)
    ContactEmail.objects.create(contact=gone, email="anne@acme.com", is_primary=True)
    AccountContactRelation.objects.create(account=acme2, contact=gone)
    deal = _opportunity(rep, acme2)
    OpportunityContact.objects.create(opportunity=deal, contact=gone)

    merge = merge_records(
        user=rep,
        object_type="contacts.contact",
        survivor_id=keep.pk,
        merged_ids=[gone.pk],
        field_choices={"title": gone.pk},
    )

    keep.refresh_from_db()
    assert keep.title == "CTO"
    assert keep.email == "ann@acme.com"
    assert set(
        ActivityLink.objects.filter(content_type=contact_type, object_id=keep.pk).values_list(
            "activity_id", flat=True
        )
    ) == {call.pk, both.pk}
    assert not ActivityLink.objects.filter(content_type=contact_type, object_id=gone.pk).exists()
    emails = list(ContactEmail.objects.filter(contact=keep).order_by("id"))
    assert [(e.email, e.is_primary) for e in emails] == [
        ("ann@acme.com", True),
        ("anne@acme.com", False),
    ]
    assert AccountContactRelation.objects.filter(contact=keep, account=acme2).exists()
    assert OpportunityContact.objects.filter(opportunity=deal, contact=keep).exists()
    assert merge.relinked["activities.activitylink.object_id"] == 1
    assert merge.relinked["activities.activitylink.object_id (duplicates dropped)"] == 1
    assert merge.relinked["contacts.contactemail.contact"] == 1
    assert Contact.all_objects.get(pk=gone.pk).deleted_at is not None


def test_merging_accounts_moves_contacts_and_opportunities(rep, pair):
    _keep, gone, acme, acme2 = pair
    deal = _opportunity(rep, acme2)
    merge_records(
        user=rep,
        object_type="contacts.account",
        survivor_id=acme.pk,
        merged_ids=[acme2.pk],
    )
    acme.refresh_from_db()
    deal.refresh_from_db()
    gone.refresh_from_db()
    assert deal.account_id == acme.pk
    assert gone.account_id == acme.pk
    # The survivor's empty industry takes the merged record's value by default.
    assert acme.industry == "Software"


def test_merge_is_explained_in_history(rep, pair):
    keep, gone, *_ = pair
    group = record_group("contacts.contact", None, [keep.pk, gone.pk], similarity=95, match_key="x")
    assert group is not None
    merge = merge_records(
        user=rep,
        object_type="contacts",
        survivor_id=keep.pk,
        merged_ids=[gone.pk],
        group=group,
    )
    record = MergeRecord.objects.get(pk=merge.pk)
    assert record.merged_ids == [gone.pk]
    assert record.merged_snapshots[str(gone.pk)]["title"] == "CTO"
    assert record.field_choices["first_name"] == keep.pk
    assert record.merged_by == rep
    contact_type = ContentType.objects.get_for_model(Contact)
    survivor_log = ChangeLogEntry.objects.get(
        content_type=contact_type, object_id=keep.pk, action="merge"
    )
    assert f"#{gone.pk}" in survivor_log.changes["merged"][0]
    actions = set(
        ChangeLogEntry.objects.filter(content_type=contact_type, object_id=gone.pk).values_list(
            "action", flat=True
        )
    )
    assert {"merge_away", "delete"} <= actions
    assert DuplicateGroup.objects.get(pk=group.pk).status == DuplicateGroupStatus.MERGED


def test_merge_refuses_bad_field_choices_and_writes_nothing(rep, pair):
    keep, gone, *_ = pair
    with pytest.raises(ValidationFailed) as excinfo:
        merge_records(
            user=rep,
            object_type="contacts.contact",
            survivor_id=keep.pk,
            merged_ids=[gone.pk],
            field_choices={"title": 999999, "id": gone.pk},
        )
    assert set(excinfo.value.errors) == {"title", "id"}
    assert Contact.objects.filter(pk=gone.pk).exists()
    assert not MergeRecord.objects.exists()


def test_merge_needs_update_and_delete_on_every_record(rep, other_rep, manager, pair):
    keep, gone, *_ = pair
    theirs = Contact.objects.create(owner=other_rep, last_name="Lee")
    with pytest.raises(RecordNotFound):
        merge_records(
            user=rep, object_type="contacts.contact", survivor_id=keep.pk, merged_ids=[theirs.pk]
        )
    manager.role.permissions.filter(object_type="contacts.contact").update(can_delete=False)
    with pytest.raises(PermissionDenied):
        merge_records(
            user=manager, object_type="contacts.contact", survivor_id=keep.pk, merged_ids=[gone.pk]
        )
    assert not MergeRecord.objects.exists()


def test_merge_needs_two_records(rep, pair):
    keep, *_ = pair
    with pytest.raises(ValidationFailed):
        merge_records(
            user=rep, object_type="contacts.contact", survivor_id=keep.pk, merged_ids=[keep.pk]
        )


def test_survivor_page_shows_the_merge_in_its_history(rep, pair):
    from django.test import Client

    keep, gone, *_ = pair
    merge_records(
        user=rep, object_type="contacts.contact", survivor_id=keep.pk, merged_ids=[gone.pk]
    )
    client = Client()
    client.force_login(rep)
    response = client.get(f"/contacts/{keep.pk}/")
    assert response.status_code == 200
    assert "Rita Rep merged duplicates into the contact Ann Lee" in response.content.decode()


def test_reported_import_hits_become_groups(rep, pair):
    from patron.data_exchange.duplicate_matching import find_duplicates
    from patron.data_exchange.duplicate_services import record_reported

    keep, gone, *_ = pair
    hits = find_duplicates("contacts.contact", {"email": "ann@acme.com"}, exclude_id=gone.pk)
    assert record_reported("contacts.contact", gone.pk, hits) == 1
    group = DuplicateGroup.objects.get()
    assert set(group.members.values_list("object_id", flat=True)) == {keep.pk, gone.pk}
    assert record_reported("contacts.contact", gone.pk, hits) == 0
