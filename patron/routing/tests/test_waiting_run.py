"""The waiting run's per-decision cost: fixed statements per chunk, whatever the pool's size.

The scheduler's ``assign_waiting_items`` writes a chunk's decision log with one hand-written
``INSERT`` (see ``_insert_decisions``); these tests pin down that the rows it writes are the
ones a ``save()`` would, and that the number of statements does not grow with the members.
"""

from __future__ import annotations

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patron.leads.models import Lead
from patron.routing import services
from patron.routing.choices import DecisionKind, SkipReason, Strategy
from patron.routing.models import (
    AssignmentDecision,
    AssignmentRule,
    Pool,
    PoolMember,
    RoutedItem,
)
from patron.routing.tests.conftest import make_agent, make_lead, make_member, make_pool, make_queue
from patron.users.models import User

pytestmark = pytest.mark.usefixtures("lead_routable")

ITEMS = 6


def waiting_pool(owner: User, *, members: int, name: str = "Inbound") -> tuple[Pool, list[Lead]]:
    """A round-robin pool with ``members`` agents (the second one paused) and ``ITEMS`` leads
    waiting in its queue, oldest first."""
    queue = make_queue(f"{name} queue")
    pool = make_pool(name, strategy=Strategy.ROUND_ROBIN, queue=queue)
    for n in range(members):
        make_member(pool, make_agent(f"{name} agent {n}"), is_paused=n == 1)
    rule = AssignmentRule.objects.create(object_type="leads.lead", name=name, pool=pool)
    leads = [make_lead(owner, last_name=f"{name} {n}") for n in range(ITEMS)]
    since = timezone.now() - datetime.timedelta(minutes=5)
    content_type = ContentType.objects.get_for_model(Lead)
    RoutedItem.objects.bulk_create(
        RoutedItem(
            content_type=content_type,
            object_id=lead.pk,
            pool=pool,
            rule=rule,
            strategy=Strategy.ROUND_ROBIN,
            queue=queue,
            waiting_since=since + datetime.timedelta(microseconds=n),
        )
        for n, lead in enumerate(leads)
    )
    return pool, leads


def owner_of(lead: Lead) -> int | None:
    return Lead.all_objects.get(pk=lead.pk).owner_id


def test_waiting_run_logs_every_members_outcome_for_each_item(lead_owner):
    pool, leads = waiting_pool(lead_owner, members=4)
    assert services.assign_waiting_items(pool=pool) == ITEMS
    decisions = {d.object_id: d for d in AssignmentDecision.objects.filter(pool=pool)}
    assert sorted(decisions) == sorted(lead.pk for lead in leads)
    agents = list(PoolMember.objects.filter(pool=pool).order_by("position"))
    for lead in leads:
        decision = decisions[lead.pk]
        routed = RoutedItem.objects.get(object_id=lead.pk)
        assert decision.kind == DecisionKind.FROM_QUEUE
        assert decision.assigned_user_id == routed.user_id == owner_of(lead)
        assert decision.rule_id == routed.rule_id
        assert decision.strategy == Strategy.ROUND_ROBIN
        assert decision.actor_id is None
        assert decision.previous_queue_id == pool.queue_id
        assert [entry["member_id"] for entry in decision.considered] == [m.pk for m in agents]
        outcomes = [entry["outcome"] for entry in decision.considered]
        assert outcomes.count("chosen") == 1
        assert decision.considered[1]["reason"] == SkipReason.PAUSED.value
        assert " after waiting 5 min" in decision.reason
    # Round robin over the three who are not paused, in position order, twice.
    chosen = [decisions[lead.pk].assigned_user_id for lead in leads]
    expected = [agents[n].user_id for n in (0, 2, 3)]
    assert chosen == expected * 2
    assert Pool.objects.get(pk=pool.pk).last_position == agents[3].position


def test_waiting_run_statements_do_not_grow_with_the_members(lead_owner):
    small, _ = waiting_pool(lead_owner, members=3, name="Small")
    large, _ = waiting_pool(lead_owner, members=15, name="Large")
    counts = []
    for pool in (small, large):
        with CaptureQueriesContext(connection) as captured:
            assert services.assign_waiting_items(pool=pool) == ITEMS
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_waiting_run_query_count_per_chunk(lead_owner, django_assert_num_queries):
    pool, _ = waiting_pool(lead_owner, members=5)
    ContentType.objects.get_for_model(Lead)
    # Reading: the waiting rows, the pool, the leads. One chunk (its savepoint and release):
    # lock the rows, lock the pool, the members; per item take capacity and the caller's
    # apply; then one statement each for the assignments, the log and the pointer.
    with django_assert_num_queries(3 + 2 + 3 + 2 * ITEMS + 3):
        assert services.assign_waiting_items(pool=pool) == ITEMS
