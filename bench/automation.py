"""Benchmark: the cost of workflow triggers on ordinary writes.

Run: ``.venv/bin/python bench/automation.py [--records N] [--workflows N]`` (default 10,000
accounts and 100 active workflows; for PostgreSQL set DATABASE_URL, e.g.
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/patron SECRET_KEY=bench``). It builds a throwaway
database (SQLite in a temporary directory, or a test database beside DATABASE_URL, dropped
afterwards) with the accounts and the workflows, each triggered by "account updated" with a
condition tree over the account's fields (one of them matches 1% of the updates, so runs are
also inserted and dispatched), then times in the same run:

- *off*: every account updated once through ``account_update`` (the normal service path:
  permission and field checks, optimistic version, change log, search index, event) with
  the engine's event subscriber removed;
- *on*: the same updates with the engine subscribed, so after each commit the event is
  matched against the 100 workflows (index lookup, conditions in memory, runs inserted for
  matches and handed to the worker queue);

Off is measured before and after on and averaged, so load from other processes weighs on
both sides alike. It prints updates per second, queries per update and the ratio on / off
(target below 2).
"""

from __future__ import annotations

import argparse
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

from django.db import connection  # noqa: E402


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def build(records: int, workflows: int) -> dict[str, Any]:
    from patron.automation import services
    from patron.contacts.models import Account
    from patron.users.models import User

    admin = User.objects.create_superuser("bench-admin@example.com", "x")
    Account.objects.bulk_create(
        [Account(name=f"Account {i}", owner=admin, industry="") for i in range(records)],
        batch_size=1000,
    )
    notify = [{"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "x"}}]
    for number in range(workflows):
        if number == 0:
            tree: dict[str, Any] = {"field": "industry", "op": "starts_with", "value": "Match"}
        else:
            tree = {
                "all": [
                    {"field": "annual_revenue", "op": "gt", "value": 1_000_000 + number},
                    {"field": "tier", "op": "is_not_empty"},
                ]
            }
        workflow = services.workflow_create(
            user=admin,
            data={
                "name": f"Bench {number}",
                "object_type": "contacts.account",
                "trigger": {"type": "record_updated"},
                "conditions": tree,
                "steps": notify,
            },
        )
        services.workflow_activate(user=admin, workflow=workflow)
    return {
        "admin": admin,
        "ids": list(Account.objects.order_by("pk").values_list("pk", flat=True)),
    }


def update_all(admin: Any, ids: list[int], round_name: str) -> tuple[float, int]:
    from patron.contacts.models import Account
    from patron.contacts.services import account_update

    counter = QueryCounter()
    accounts = list(Account.objects.filter(pk__in=ids).order_by("pk"))
    began = time.perf_counter()
    with connection.execute_wrapper(counter):
        for index, account in enumerate(accounts):
            prefix = "Match" if index % 100 == 0 else "Industry"
            account_update(user=admin, account=account, industry=f"{prefix} {round_name} {index}")
    return time.perf_counter() - began, counter.count


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000, help="accounts updated")
    parser.add_argument("--workflows", type=int, default=100, help="active workflows")
    args = parser.parse_args()

    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        database.setdefault("TEST", {})["NAME"] = str(
            Path(tempfile.mkdtemp(prefix="patron-bench-db-")) / "bench.sqlite3"
        )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        from patron.automation import engine
        from patron.automation.models import WorkflowRun
        from patron.core import events

        began = time.perf_counter()
        data = build(args.records, args.workflows)
        if connection.vendor == "postgresql":
            # What autovacuum does within a minute of a bulk load; without statistics the
            # planner takes the freshly loaded tables for empty.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        built = time.perf_counter() - began
        subscribers = events._handlers["*"]

        def automation(on: bool) -> None:
            if on and engine.on_event not in subscribers:
                subscribers.append(engine.on_event)
            if not on and engine.on_event in subscribers:
                subscribers.remove(engine.on_event)

        automation(False)
        off_first, off_queries = update_all(data["admin"], data["ids"], "a")
        automation(True)
        on_seconds, on_queries = update_all(data["admin"], data["ids"], "b")
        automation(False)
        off_second, off_queries_second = update_all(data["admin"], data["ids"], "c")
        off_seconds = (off_first + off_second) / 2
        off_queries = (off_queries + off_queries_second) / 2
        runs = WorkflowRun.objects.count()

        n = args.records
        print(
            f"automation on {connection.vendor}: {args.workflows} active workflows "
            f"(record updated), {n:,} account updates (built in {built:.1f}s)"
        )
        print(
            f"  automation off   {n / off_seconds:8.0f} updates/s   "
            f"{off_queries / n:5.2f} queries each"
        )
        print(
            f"  automation on    {n / on_seconds:8.0f} updates/s   "
            f"{on_queries / n:5.2f} queries each   ratio on/off {on_seconds / off_seconds:.2f}"
        )
        print(f"  runs started: {runs:,} (1% of updates match one workflow)")
        print("  target: ratio < 2.00")
        print(
            f"RESULT benchmark=workflow-overhead figure={n / on_seconds:.0f}updates/s "
            f"baseline={n / off_seconds:.0f}updates/s ratio={on_seconds / off_seconds:.2f} "
            "target=<=2"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
