"""Many workers routing at once on PostgreSQL: no item assigned twice, no member over capacity.

Each thread has its own database connection, so the row locks (``FOR UPDATE``, ``SKIP
LOCKED``) and the unique constraint on ``RoutedItem`` are what keep them apart, as with
several Celery workers.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection

from patron.leads.models import Lead
from patron.routing import services
from patron.routing.choices import DecisionKind, Strategy
from patron.routing.models import AssignmentDecision, AssignmentRule, PoolMember, RoutedItem
from patron.routing.tests.conftest import make_agent, make_lead, make_member, make_pool, make_queue

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="proves PostgreSQL's row locks; SQLite serialises every writer with BEGIN "
        "IMMEDIATE (and the in-memory test database cannot be shared between threads)",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lead_routable"),
]

WORKERS = 6
MEMBERS = 6
CAPACITY = 6
ITEMS = 48


def run_workers(work: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(WORKERS)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as error:  # reported by the test, not swallowed
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.mark.parametrize(
    "strategy", [Strategy.LEAST_BUSY, Strategy.ROUND_ROBIN, Strategy.WEIGHTED_ROUND_ROBIN]
)
def test_concurrent_workers_never_assign_twice_or_overfill(lead_owner, strategy):
    queue = make_queue()
    pool = make_pool(strategy=strategy, queue=queue)
    members = [
        make_member(pool, make_agent(f"Agent {i}"), max_open_items=CAPACITY, weight=1 + i % 3)
        for i in range(MEMBERS)
    ]
    AssignmentRule.objects.create(object_type="leads.lead", name="All", pool=pool)
    leads = [make_lead(lead_owner) for _ in range(ITEMS)]

    def route_all(index: int) -> None:
        # Every worker routes every lead, in its own order: each lead is raced by all of them.
        order = leads[:]
        random.Random(index).shuffle(order)
        for lead in order:
            services.route_item(item=lead)

    assert run_workers(route_all) == []
    # An item that found every fitting member locked by other workers (even after looking
    # again) waits; the engine then asks for a waiting-queue run, as the scheduler would.
    services.assign_waiting_items(pool=pool)

    capacity = MEMBERS * CAPACITY
    routed = list(RoutedItem.objects.all())
    assert len(routed) == ITEMS
    assigned = [r for r in routed if r.user_id is not None]
    assert len(assigned) == capacity
    assert sum(1 for r in routed if r.waiting_since is not None) == ITEMS - capacity
    counters = dict(PoolMember.objects.values_list("pk", "open_items"))
    assert all(count <= CAPACITY for count in counters.values())
    assert sum(counters.values()) == capacity
    per_member = Counter(r.member_id for r in assigned)
    assert per_member == Counter({m.pk: counters[m.pk] for m in members if counters[m.pk]})
    # One routing decision per item: the later routings of an item were no-ops.
    decisions = Counter(
        AssignmentDecision.objects.exclude(kind=DecisionKind.FROM_QUEUE).values_list(
            "object_id", flat=True
        )
    )
    assert len(decisions) == ITEMS
    assert set(decisions.values()) == {1}
    already_from_queue = AssignmentDecision.objects.filter(kind=DecisionKind.FROM_QUEUE).count()
    owners = dict(Lead.all_objects.values_list("pk", "owner_id"))
    assert all(owners[r.object_id] == r.user_id for r in assigned)

    # Free capacity, then let several waiting-queue runs compete for the waiting items.
    freed = assigned[:12]
    for item in freed:
        services.release_item(item=Lead.all_objects.get(pk=item.object_id))

    taken: list[int] = []

    def drain(index: int) -> None:
        taken.append(services.assign_waiting_items(pool=pool))

    assert run_workers(drain) == []
    # Runs that found the members held by another run leave the rest to the next run.
    assert sum(taken) + services.assign_waiting_items(pool=pool) == len(freed)
    from_queue = Counter(
        AssignmentDecision.objects.filter(kind=DecisionKind.FROM_QUEUE).values_list(
            "object_id", flat=True
        )
    )
    assert sum(from_queue.values()) == len(freed) + already_from_queue
    assert set(from_queue.values()) == {1}
    counters = dict(PoolMember.objects.values_list("pk", "open_items"))
    assert all(count <= CAPACITY for count in counters.values())
    assert sum(counters.values()) == capacity
