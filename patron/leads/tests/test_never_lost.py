"""Never lost: new leads are routed, the sweep catches what was missed, a missed first-response
deadline alerts the owner and manager once and reassigns, first responses are recorded once,
and closing a lead frees routing capacity."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from patron.activities.services import activity_create, task_complete
from patron.core.models import ChangeLogEntry, Notification
from patron.core.testing import grant
from patron.leads import never_lost
from patron.leads.models import Lead
from patron.leads.policy_services import lead_settings
from patron.leads.services import lead_create, lead_disqualify, lead_set_status
from patron.leads.tasks import route_new_lead, sweep
from patron.routing.choices import DecisionKind
from patron.routing.models import AssignmentDecision, AssignmentRule, Pool, PoolMember, RoutedItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(lead_roles, rep, other_rep, manager, admin_user):
    for role in lead_roles.values():
        grant(role, "activities.activity", "create", "read", "update", "delete")
    return {"rep": rep, "other": other_rep, "manager": manager, "admin": admin_user}


@pytest.fixture
def pool(people):
    pool = Pool.objects.create(name="Inbound", object_type="leads.lead", strategy="round_robin")
    PoolMember.objects.create(pool=pool, user=people["rep"], position=0)
    PoolMember.objects.create(pool=pool, user=people["other"], position=1)
    AssignmentRule.objects.create(object_type="leads.lead", name="Everything", pool=pool)
    return pool


def make_lead(owner, **fields):
    fields.setdefault("last_name", "Lovelace")
    fields.setdefault("company", "Analytical Engines")
    return Lead.objects.create(owner=owner, **fields)


def route_now(name, *args):
    """Run the enqueued routing task at once (as a worker would, after commit)."""
    assert name == never_lost.ROUTE_LEAD_TASK
    route_new_lead(*args)


def test_new_lead_is_routed_by_the_rules_when_created(
    people, pool, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(never_lost, "enqueue", side_effect=route_now),
        django_capture_on_commit_callbacks(execute=True),
    ):
        lead = lead_create(
            user=None, data={"last_name": "Hopper", "owner": people["admin"]}, via="api"
        )
    lead.refresh_from_db()
    assert lead.owner_id == people["rep"].pk
    assert lead.routed_at is not None
    policy = lead_settings()
    assert lead.first_response_due_at == lead.routed_at + datetime.timedelta(
        minutes=policy.first_response_minutes
    )
    # The change log shows who routed it where.
    entry = ChangeLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Lead), object_id=lead.pk, action="update"
    ).latest("id")
    assert entry.changes["owner"] == [people["admin"].pk, people["rep"].pk]
    assert "first_response_due_at" in entry.changes
    assert AssignmentDecision.objects.filter(
        object_id=lead.pk, kind=DecisionKind.AUTOMATIC, assigned_user=people["rep"]
    ).exists()


def test_routing_task_run_twice_assigns_once(people, pool):
    lead = make_lead(people["admin"])
    route_new_lead(lead.pk)
    route_new_lead(lead.pk)
    lead.refresh_from_db()
    assert lead.owner_id == people["rep"].pk
    assert AssignmentDecision.objects.filter(object_id=lead.pk).count() == 1
    assert PoolMember.objects.get(user=people["rep"]).open_items == 1


def test_no_matching_rule_keeps_the_default_owner_and_counts_as_routed(people):
    lead = make_lead(people["admin"])
    route_new_lead(lead.pk)
    lead.refresh_from_db()
    assert lead.owner_id == people["admin"].pk
    assert lead.routed_at is not None
    assert lead.first_response_due_at is not None


def test_sweep_routes_leads_left_unrouted_while_the_worker_was_down(people, pool):
    leads = [make_lead(people["admin"], last_name=f"Late {i}") for i in range(3)]
    result = never_lost.never_lost_sweep()
    assert result.routed == 3
    owners = set(
        Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("owner_id", flat=True)
    )
    assert owners == {people["rep"].pk, people["other"].pk}
    assert not Lead.objects.filter(routed_at__isnull=True).exists()


def test_sweep_leaves_closed_leads_alone(people, pool):
    make_lead(people["admin"], status="disqualified", disqualification_reason="spam")
    make_lead(people["admin"], archived_at=timezone.now())
    assert never_lost.never_lost_sweep().routed == 0


def overdue_lead(people):
    lead = make_lead(people["admin"])
    route_new_lead(lead.pk)
    Lead.objects.filter(pk=lead.pk).update(
        first_response_due_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    return Lead.objects.get(pk=lead.pk)


def test_missed_deadline_alerts_owner_and_manager_once_and_reassigns(people, pool):
    lead = overdue_lead(people)
    assert lead.owner_id == people["rep"].pk
    sweep()
    lead.refresh_from_db()
    assert lead.owner_id == people["other"].pk
    assert lead.deadline_breaches == 1
    assert lead.first_response_due_at > timezone.now()
    assert AssignmentDecision.objects.filter(object_id=lead.pk, kind=DecisionKind.DEADLINE).exists()
    alerts = Notification.objects.filter(dedupe_key=f"lead-first-response:{lead.pk}:1")
    assert sorted(a.user_id for a in alerts) == sorted([people["rep"].pk, people["manager"].pk])
    assert "reassigned to Otto Other" in alerts.get(user=people["rep"]).body
    # The next runs of the scheduler change nothing: the new owner has a fresh deadline.
    sweep()
    sweep()
    assert Notification.objects.filter(kind=never_lost.NOTIFICATION_KIND).count() == 2
    lead.refresh_from_db()
    assert lead.deadline_breaches == 1


def test_a_breach_is_handled_once_even_when_asked_twice(people, pool):
    lead = overdue_lead(people)
    now = timezone.now()
    assert never_lost.deadline_breach_handle(lead_id=lead.pk, now=now) is True
    assert never_lost.deadline_breach_handle(lead_id=lead.pk, now=now) is False
    assert Lead.objects.get(pk=lead.pk).deadline_breaches == 1


def test_missed_deadline_with_nobody_else_keeps_the_owner_with_a_new_deadline(people, pool):
    PoolMember.objects.filter(user=people["other"]).update(is_paused=True)
    lead = overdue_lead(people)
    result = never_lost.never_lost_sweep()
    assert result.breaches == 1
    lead.refresh_from_db()
    assert lead.owner_id == people["rep"].pk
    assert lead.first_response_due_at > timezone.now()
    alert = Notification.objects.get(user=people["rep"], kind=never_lost.NOTIFICATION_KIND)
    assert "stays with its owner" in alert.body


def test_a_responded_lead_is_not_breached(people, pool):
    lead = overdue_lead(people)
    Lead.objects.filter(pk=lead.pk).update(first_responded_at=timezone.now())
    assert never_lost.never_lost_sweep().breaches == 0
    assert not Notification.objects.exists()


def test_managers_are_the_nearest_role_above_that_someone_holds(people, lead_roles):
    from patron.users.tests.factories import UserFactory

    assert never_lost.managers_of(people["rep"]) == [people["manager"]]
    people["manager"].is_active = False
    people["manager"].save()
    vp = UserFactory(role=lead_roles["vp"])
    assert never_lost.managers_of(people["rep"]) == [vp]
    assert never_lost.managers_of(vp) == []


# --- first response ---------------------------------------------------------------------------


def lead_link(lead):
    return [{"object_type": "leads.lead", "id": lead.pk}]


def test_first_call_on_a_lead_is_its_first_response_recorded_once(
    people, django_capture_on_commit_callbacks
):
    lead = make_lead(people["rep"])
    with django_capture_on_commit_callbacks(execute=True):
        activity_create(
            user=people["rep"],
            kind="call",
            subject="Intro call",
            links=lead_link(lead),
        )
    lead.refresh_from_db()
    first = lead.first_responded_at
    assert first is not None
    assert lead.first_response_seconds == int((first - lead.created_at).total_seconds())
    with django_capture_on_commit_callbacks(execute=True):
        activity_create(user=people["rep"], kind="email", links=lead_link(lead), subject="Hi")
    lead.refresh_from_db()
    assert lead.first_responded_at == first
    stamps = ChangeLogEntry.objects.filter(object_id=lead.pk, changes__has_key="first_response")
    assert stamps.count() == 1


def test_a_note_is_not_a_response_but_a_completed_task_is(
    people, django_capture_on_commit_callbacks
):
    lead = make_lead(people["rep"])
    with django_capture_on_commit_callbacks(execute=True):
        activity_create(user=people["rep"], kind="note", links=lead_link(lead), subject="Hm")
        task = activity_create(
            user=people["rep"], kind="task", links=lead_link(lead), subject="Call back"
        )
    lead.refresh_from_db()
    assert lead.first_responded_at is None
    with django_capture_on_commit_callbacks(execute=True):
        task_complete(user=people["rep"], activity=task)
    lead.refresh_from_db()
    assert lead.first_responded_at is not None


def test_the_owner_moving_the_status_off_new_is_a_response(
    people, django_capture_on_commit_callbacks
):
    lead = make_lead(people["rep"])
    with django_capture_on_commit_callbacks(execute=True):
        lead_set_status(user=people["rep"], lead=lead, status="working")
    lead.refresh_from_db()
    assert lead.first_responded_at is not None


def test_someone_else_moving_the_status_is_not_the_owners_response(
    people, django_capture_on_commit_callbacks
):
    lead = make_lead(people["rep"])
    with django_capture_on_commit_callbacks(execute=True):
        lead_set_status(user=people["admin"], lead=lead, status="working")
    lead.refresh_from_db()
    assert lead.first_responded_at is None


# --- release ----------------------------------------------------------------------------------


def test_disqualifying_a_routed_lead_frees_its_owners_capacity(
    people, pool, django_capture_on_commit_callbacks
):
    lead = make_lead(people["admin"])
    route_new_lead(lead.pk)
    member = PoolMember.objects.get(user=people["rep"])
    assert member.open_items == 1
    lead.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        lead_disqualify(user=people["rep"], lead=lead, reason="no_budget")
    member.refresh_from_db()
    assert member.open_items == 0
    assert RoutedItem.objects.get(object_id=lead.pk).is_open is False


def test_converting_or_archiving_a_routed_lead_frees_capacity(
    people, pool, django_capture_on_commit_callbacks
):
    from patron.leads.conversion import lead_convert
    from patron.leads.services import lead_archive

    converted, archived = make_lead(people["admin"]), make_lead(people["admin"], last_name="B")
    route_new_lead(converted.pk)
    route_new_lead(archived.pk)
    assert sum(PoolMember.objects.values_list("open_items", flat=True)) == 2
    converted.refresh_from_db()
    archived.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        lead_convert(user=people["admin"], lead=converted, create_account=True)
        lead_archive(user=people["admin"], lead=archived)
    assert sum(PoolMember.objects.values_list("open_items", flat=True)) == 0
    assert not RoutedItem.objects.filter(is_open=True).exists()
