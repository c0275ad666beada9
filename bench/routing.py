"""Benchmark: routing decisions per second against a bare SQL loop doing the same locking.

Run: ``.venv/bin/python bench/routing.py [--items N] [--members N] [--strategy S]``
(default 10,000 queued leads, 50 members, round robin; set DATABASE_URL for PostgreSQL, which
is what the figures in docs/performance.md are for). It builds a throwaway database (SQLite in
a temporary directory, or a test database beside DATABASE_URL, dropped afterwards) with one
pool of 50 members (a few with a daily capacity, one paused, one away), one rule, and the
leads waiting in the pool's queue. It then times, in the same run:

- the *engine*: ``assign_waiting_items`` in batches of 500 as the scheduler runs it — per
  item a transaction that locks the waiting row (``SKIP LOCKED``), ranks the members, locks
  the chosen member (``SKIP LOCKED``), re-checks and takes capacity, moves the round-robin
  pointer, writes the lead's owner and the decision log with every member's outcome;
- ``route_item`` for freshly created leads (1,000), the path a new lead takes;
- the *floor*: a bare SQL loop, per item a transaction with ``SELECT member ... FOR UPDATE
  SKIP LOCKED``, ``UPDATE`` the member's counters and ``UPDATE`` the lead's owner, nothing
  else (no log, no availability, no pointer);

and prints decisions per second, queries per decision and the ratio engine / floor (target at
least 0.3). The leads are routed with a bench Routable whose ``apply`` is one ``UPDATE``, the
same write the floor does, so the comparison measures the engine and not a caller's service.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("PATRON_DATA_DIR", tempfile.mkdtemp(prefix="patron-bench-"))

import django

warnings.filterwarnings("ignore", message="No directory at")
django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

BATCH = 500
FRESH = 1000


def register_bench_routable() -> None:
    from patron.leads.models import Lead
    from patron.routing.registry import Routable, RoutingTarget, register_routable

    def attributes(lead: Lead) -> dict[str, Any]:
        return {"country": lead.country, "language": lead.language, "source": lead.source}

    def apply(lead: Lead, target: RoutingTarget, reason: str) -> None:
        if target.user_id is not None:
            Lead.all_objects.filter(pk=lead.pk).update(owner_id=target.user_id, queue=None)
        else:
            Lead.all_objects.filter(pk=lead.pk).update(queue_id=target.queue_id)

    register_routable(
        Routable(
            object_type="leads.lead",
            model=Lead,
            label="Leads",
            attributes=attributes,
            apply=apply,
            condition_fields=(("country", "Country"), ("language", "Language")),
        )
    )


def build(items: int, members: int, strategy: str) -> dict[str, Any]:
    from django.contrib.contenttypes.models import ContentType

    from patron.leads.models import Lead
    from patron.routing.models import (
        AgentAvailability,
        AssignmentRule,
        Pool,
        PoolMember,
        RoutedItem,
        RoutingQueue,
    )
    from patron.users.models import User

    # No password: hashing 50 of them would dominate the build.
    default_owner = User.objects.create_user("form@bench.example", None)
    agents = [
        User.objects.create_user(
            f"agent{n}@bench.example",
            None,
            full_name=f"Agent {n:02d}",
            time_zone=("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC")[n % 4],
        )
        for n in range(members)
    ]
    queue = RoutingQueue.objects.create(name="Bench inbound")
    pool = Pool.objects.create(
        name="Bench", object_type="leads.lead", strategy=strategy, queue=queue
    )
    rule = AssignmentRule.objects.create(
        object_type="leads.lead",
        name="Everything",
        pool=pool,
        conditions={
            "match": "all",
            "conditions": [{"field": "country", "op": "in", "value": ["DE", "AT", "US"]}],
        },
    )
    PoolMember.objects.bulk_create(
        PoolMember(
            pool=pool,
            user=agent,
            position=n,
            weight=1 + n % 3,
            is_paused=n == 7,
            max_items_per_day=50 if n % 10 == 3 else None,
        )
        for n, agent in enumerate(agents)
    )
    AgentAvailability.objects.create(user=agents[11], is_away=True)
    countries = ("DE", "AT", "US")
    Lead.objects.bulk_create(
        (
            Lead(owner=default_owner, last_name=f"Lead {n}", country=countries[n % 3])
            for n in range(items + FRESH)
        ),
        batch_size=2000,
    )
    lead_ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
    waiting_ids, fresh_ids = lead_ids[:items], lead_ids[items:]
    content_type = ContentType.objects.get_for_model(Lead)
    since = timezone.now() - datetime.timedelta(minutes=5)
    RoutedItem.objects.bulk_create(
        (
            RoutedItem(
                content_type=content_type,
                object_id=pk,
                pool=pool,
                rule=rule,
                strategy=strategy,
                queue=queue,
                waiting_since=since + datetime.timedelta(microseconds=n),
            )
            for n, pk in enumerate(waiting_ids)
        ),
        batch_size=2000,
    )
    return {
        "pool": pool,
        "waiting_ids": waiting_ids,
        "fresh_ids": fresh_ids,
        "agents": agents,
    }


def reset_members(pool: Any) -> None:
    from patron.routing.models import Pool, PoolMember

    PoolMember.objects.filter(pool=pool).update(
        open_items=0, assigned_today=0, assigned_on=None, current_weight=0, last_assigned_at=None
    )
    Pool.objects.filter(pk=pool.pk).update(last_position=-1)


def bare_sql_loop(pool_id: int, lead_ids: list[int]) -> float:
    """Per item: lock a member with capacity (SKIP LOCKED), take capacity, write the owner."""
    from patron.leads.models import Lead
    from patron.routing.models import PoolMember

    members = PoolMember._meta.db_table
    leads = Lead._meta.db_table
    pick = (
        f"SELECT id, user_id FROM {members} WHERE pool_id = %s AND NOT is_paused "
        "AND (max_open_items IS NULL OR open_items < max_open_items) "
        "ORDER BY open_items, id LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
    if connection.vendor == "sqlite":
        pick = pick.replace(" FOR UPDATE SKIP LOCKED", "")
    take = (
        f"UPDATE {members} SET open_items = open_items + 1, "
        "assigned_today = assigned_today + 1, last_assigned_at = %s WHERE id = %s"
    )
    write = f"UPDATE {leads} SET owner_id = %s WHERE id = %s"
    began = time.perf_counter()
    for lead_id in lead_ids:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(pick, [pool_id])
            member_id, user_id = cursor.fetchone()
            cursor.execute(take, [timezone.now(), member_id])
            cursor.execute(write, [user_id, lead_id])
    return time.perf_counter() - began


class QueryCounter:
    """Counts statements (not BEGIN/COMMIT) without keeping them, unlike query logging."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def engine_waiting(pool: Any, expected: int) -> tuple[float, int]:
    from patron.routing.services import assign_waiting_items

    done = 0
    counter = QueryCounter()
    began = time.perf_counter()
    with connection.execute_wrapper(counter):
        while done < expected:
            assigned = assign_waiting_items(pool=pool, limit=BATCH)
            if not assigned:
                raise SystemExit(f"The engine stopped after {done} of {expected} items.")
            done += assigned
    return time.perf_counter() - began, counter.count


def engine_route(lead_ids: list[int]) -> tuple[float, int]:
    from patron.leads.models import Lead
    from patron.routing.services import route_item

    leads = list(Lead.objects.filter(pk__in=lead_ids).order_by("pk"))
    counter = QueryCounter()
    began = time.perf_counter()
    with connection.execute_wrapper(counter):
        for lead in leads:
            route_item(item=lead)
    return time.perf_counter() - began, counter.count


def check(data: dict[str, Any], items: int) -> None:
    from patron.routing.models import AssignmentDecision, PoolMember, RoutedItem

    waiting = RoutedItem.objects.filter(waiting_since__isnull=False).count()
    decisions = AssignmentDecision.objects.count()
    open_total = sum(PoolMember.objects.values_list("open_items", flat=True))
    if waiting or decisions != items + FRESH or open_total != items + FRESH:
        raise SystemExit(
            f"Inconsistent: {waiting} still waiting, {decisions} decisions, "
            f"{open_total} open items for {items + FRESH} routed."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="queued leads")
    parser.add_argument("--members", type=int, default=50, help="pool members")
    parser.add_argument("--strategy", default="round_robin", help="the pool's strategy")
    args = parser.parse_args()

    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        database.setdefault("TEST", {})["NAME"] = str(
            Path(tempfile.mkdtemp(prefix="patron-bench-db-")) / "bench.sqlite3"
        )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        register_bench_routable()
        began = time.perf_counter()
        data = build(args.items, args.members, args.strategy)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        built = time.perf_counter() - began
        pool = data["pool"]

        # The floor runs before and after the engine (on the same leads) and the two are
        # averaged, so load from other processes on the machine weighs on both sides alike.
        first_floor = bare_sql_loop(pool.pk, data["waiting_ids"])
        reset_members(pool)
        engine_seconds, engine_queries = engine_waiting(pool, args.items)
        route_seconds, route_queries = engine_route(data["fresh_ids"])
        check(data, args.items)
        second_floor = bare_sql_loop(pool.pk, data["waiting_ids"])
        floor_seconds = (first_floor + second_floor) / 2

        floor_rate = args.items / floor_seconds
        engine_rate = args.items / engine_seconds
        route_rate = FRESH / route_seconds
        print(
            f"routing on {connection.vendor}: {args.members} members, {args.items:,} queued "
            f"leads, strategy {args.strategy} (built in {built:.1f}s)"
        )
        print(f"  bare SQL loop (floor)          {floor_rate:9.0f} decisions/s   3 queries each")
        waiting_queries = engine_queries / args.items
        print(
            f"  engine: assign_waiting_items   {engine_rate:9.0f} decisions/s  "
            f"{waiting_queries:4.1f} queries each   ratio {engine_rate / floor_rate:.2f}"
        )
        print(
            f"  engine: route_item (new lead)  {route_rate:9.0f} decisions/s  "
            f"{route_queries / FRESH:4.1f} queries each   ratio {route_rate / floor_rate:.2f}"
        )
        print("  target: ratio >= 0.30 (each engine decision also logs all 50 members)")
        print(
            f"RESULT benchmark=routing-decisions figure={engine_rate:.0f}/s "
            f"baseline={floor_rate:.0f}/s ratio={engine_rate / floor_rate:.2f} target=>=0.3"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
