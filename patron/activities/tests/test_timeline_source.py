"""The activities source of the timeline: linked or attending, visible only, newest first."""

from __future__ import annotations

import datetime

import pytest

from patron.activities.models import Activity
from patron.activities.services import activity_create
from patron.activities.timeline import activities_fetch
from patron.contacts.services import account_create
from patron.core.testing import assert_max_queries
from patron.core.timeline import Before, Target, timeline_filters, timeline_page

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
ALL_KINDS = frozenset({"task", "appointment", "call", "note", "email"})


def _link(account) -> list[dict[str, object]]:
    return [{"object_type": "contacts.account", "id": account.pk}]


def test_linked_activities_of_every_kind_newest_first(rep, acme):
    task = activity_create(
        user=rep, kind="task", subject="Send the offer", due_at=NOON, links=_link(acme)
    )
    meeting = activity_create(
        user=rep,
        kind="appointment",
        subject="Review",
        starts_at=NOON + datetime.timedelta(hours=2),
        ends_at=NOON + datetime.timedelta(hours=3),
        location="Room 4",
        links=_link(acme),
    )
    call = activity_create(
        user=rep,
        kind="call",
        subject="Intro call",
        direction="outbound",
        outcome="connected",
        duration_seconds=300,
        links=_link(acme),
    )
    Activity.objects.filter(pk=call.pk).update(occurred_at=NOON + datetime.timedelta(hours=1))
    activity_create(user=rep, kind="note", description="Not about Acme")
    entries = activities_fetch(rep, [Target("contacts.account", [acme.pk])], None, 10, ALL_KINDS)
    assert [e.id for e in entries] == [meeting.pk, call.pk, task.pk]
    assert [e.kind for e in entries] == ["appointment", "call", "task"]
    assert entries[0].summary == "Room 4"
    assert entries[1].summary == "Outbound · Connected · 5 min"
    assert entries[1].department == "sales"
    assert entries[1].actor == "Rita Rep"
    assert entries[1].source == "activities"
    assert entries[1].badge == "Call"


def test_activities_with_the_record_as_attendee_count_too(rep, acme):
    meeting = activity_create(
        user=rep,
        kind="appointment",
        subject="Lunch",
        starts_at=NOON,
        attendees=[{"object_type": "contacts.account", "id": acme.pk}],
    )
    entries = activities_fetch(rep, [Target("contacts.account", [acme.pk])], None, 10, ALL_KINDS)
    assert [e.id for e in entries] == [meeting.pk]


def test_only_activities_the_user_may_see(rep, other_rep, activity_roles):
    theirs = account_create(user=other_rep, name="Their account")
    activity_create(user=other_rep, kind="note", description="private", links=_link(theirs))
    # rep cannot see the account nor the note, even when asking for the account directly.
    assert (
        activities_fetch(rep, [Target("contacts.account", [theirs.pk])], None, 10, ALL_KINDS) == []
    )


def test_kinds_and_before_narrow_the_query(rep, acme):
    first = activity_create(user=rep, kind="note", description="one", links=_link(acme))
    second = activity_create(user=rep, kind="note", description="two", links=_link(acme))
    later = activity_create(user=rep, kind="call", subject="ring", links=_link(acme))
    Activity.objects.filter(pk__in=[first.pk, second.pk]).update(occurred_at=NOON)
    Activity.objects.filter(pk=later.pk).update(occurred_at=NOON + datetime.timedelta(hours=1))
    targets = [Target("contacts.account", [acme.pk])]
    notes = activities_fetch(rep, targets, None, 10, frozenset({"note"}))
    assert [e.id for e in notes] == [second.pk, first.pk]
    after_second = activities_fetch(rep, targets, Before(NOON, second.pk, "below"), 10, ALL_KINDS)
    assert [e.id for e in after_second] == [first.pk]
    assert activities_fetch(rep, targets, Before(NOON, second.pk, "none"), 10, ALL_KINDS) == []


def test_the_source_is_one_query_however_many_activities(rep, acme):
    for n in range(30):
        activity_create(user=rep, kind="note", description=f"note {n}", links=_link(acme))
    rep.access_profile()
    with assert_max_queries(1):
        entries = activities_fetch(
            rep, [Target("contacts.account", [acme.pk])], None, 25, ALL_KINDS
        )
    assert len(entries) == 25


def test_registered_on_every_timeline(rep, acme):
    activity_create(user=rep, kind="email", subject="Offer", sent_at=NOON, links=_link(acme))
    page = timeline_page(user=rep, record=acme, filters=timeline_filters(kinds=["email"]))
    assert [entry.title for entry in page.entries] == ["Offer"]
