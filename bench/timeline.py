"""Benchmark: the 360° timeline of one account with 10,000 entries.

Run: ``.venv/bin/python bench/timeline.py [--runs N] [--entries N]``. It builds a throwaway
database (SQLite in a temporary directory, or a test database beside the configured
DATABASE_URL, dropped afterwards): one account with child accounts and contacts, 10,000
timeline entries spread over them (activities and change-log rows, bulk-inserted) and as many
activities on other accounts, then measures, as a sales rep with private org-wide defaults:

- the account's detail page (which renders the timeline card's first page),
- the timeline API's first page and a page deep in the history (keyset cursor),
- a hand-written SQL query returning the same first page (the baseline),

reporting the server time p50/p95 (Django's test client in process, no network), the query
count of one request and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("PATRON_DATA_DIR", tempfile.mkdtemp(prefix="patron-bench-"))

import django

# Static files are not collected for a benchmark; WhiteNoise says so at the first request.
warnings.filterwarnings("ignore", message="No directory at")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

PAGE = 25
CHILDREN = 6
GRANDCHILDREN_PER_CHILD = 2
CONTACTS_PER_ACCOUNT = 5


def build(entries: int) -> dict[str, Any]:
    from patron.activities.models import Activity, ActivityLink
    from patron.contacts.models import Account, Contact
    from patron.contacts.services import account_create, contact_create
    from patron.core.choices import OrgWideAccess
    from patron.core.models import ChangeLogEntry
    from patron.core.testing import grant, set_org_default
    from patron.users.models import User
    from patron.users.services import role_create

    role = role_create(name="Sales Rep")
    for object_type in ("contacts.account", "contacts.contact", "activities.activity"):
        grant(role, object_type, "create", "read", "update", "delete")
        set_org_default(object_type, OrgWideAccess.PRIVATE)
    rep = User.objects.create_user("rep@bench.example", "bench-password", role=role)
    other = User.objects.create_user("other@bench.example", "bench-password", role=role)

    root = account_create(user=rep, name="Bench Holding")
    accounts = [root]
    for c in range(CHILDREN):
        child = account_create(user=rep, name=f"Child {c}", parent=root)
        accounts.append(child)
        for g in range(GRANDCHILDREN_PER_CHILD):
            accounts.append(account_create(user=rep, name=f"Child {c}.{g}", parent=child))
    contacts = [
        contact_create(user=rep, last_name=f"Person {a.pk}-{n}", account=a)
        for a in accounts
        for n in range(CONTACTS_PER_ACCOUNT)
    ]
    outsiders = [account_create(user=other, name=f"Other {n}") for n in range(20)]
    empty = account_create(user=rep, name="Bench Quiet Ltd")

    account_type = ContentType.objects.get_for_model(Account)
    contact_type = ContentType.objects.get_for_model(Contact)
    targets = [(account_type, a.pk) for a in accounts] + [(contact_type, c.pk) for c in contacts]
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    kinds = ["call", "note", "email", "task", "appointment"]
    changes = entries // 10
    activity_count = entries - changes

    def activity(n: int, owner: Any) -> Activity:
        moment = start + datetime.timedelta(minutes=97 * n)
        return Activity(
            kind=kinds[n % len(kinds)],
            subject=f"Activity {n}",
            description="Bench entry",
            occurred_at=moment,
            owner=owner,
            created_at=moment,
            updated_at=moment,
        )

    ours = Activity.objects.bulk_create(
        [activity(n, rep) for n in range(activity_count)], batch_size=1000
    )
    ActivityLink.objects.bulk_create(
        [
            ActivityLink(
                activity=a,
                content_type=targets[n % len(targets)][0],
                object_id=targets[n % len(targets)][1],
            )
            for n, a in enumerate(ours)
        ],
        batch_size=1000,
    )
    noise = Activity.objects.bulk_create(
        [activity(n, other) for n in range(activity_count)], batch_size=1000
    )
    ActivityLink.objects.bulk_create(
        [
            ActivityLink(
                activity=a, content_type=account_type, object_id=outsiders[n % len(outsiders)].pk
            )
            for n, a in enumerate(noise)
        ],
        batch_size=1000,
    )
    ChangeLogEntry.objects.bulk_create(
        [
            ChangeLogEntry(
                content_type=targets[n % len(targets)][0],
                object_id=targets[n % len(targets)][1],
                actor=rep,
                action="update",
                changes={"description": ["old", "new"]},
                at=start + datetime.timedelta(minutes=97 * n + 13),
            )
            for n in range(changes)
        ],
        batch_size=1000,
    )
    # The records' own "created" entries predate the history, so the first page is the bench's.
    ChangeLogEntry.objects.filter(action="create").update(at=start - datetime.timedelta(days=1))
    return {
        "rep": rep,
        "root": root,
        "empty": empty,
        "accounts": len(accounts),
        "contacts": len(contacts),
        "activities": activity_count,
        "changes": changes,
        "noise": len(noise),
        "account_type": account_type.pk,
        "contact_type": contact_type.pk,
    }


BASELINE_SQL = """
WITH RECURSIVE tree(id) AS (
    SELECT id FROM contacts_account WHERE id = %(root)s
    UNION ALL
    SELECT a.id FROM contacts_account a JOIN tree ON a.parent_id = tree.id
    WHERE a.deleted_at IS NULL
),
people(id) AS (
    SELECT id FROM contacts_contact
    WHERE deleted_at IS NULL AND account_id IN (SELECT id FROM tree)
),
linked(activity_id) AS (
    SELECT activity_id FROM activities_activitylink
    WHERE (content_type_id = %(account_type)s AND object_id IN (SELECT id FROM tree))
       OR (content_type_id = %(contact_type)s AND object_id IN (SELECT id FROM people))
)
SELECT at, source, id FROM (
    SELECT occurred_at AS at, 'activities' AS source, id FROM activities_activity
    WHERE deleted_at IS NULL AND owner_id = %(rep)s AND id IN (SELECT activity_id FROM linked)
    UNION ALL
    SELECT at, 'changes' AS source, id FROM core_changelogentry
    WHERE (content_type_id = %(account_type)s AND object_id IN (SELECT id FROM tree))
       OR (content_type_id = %(contact_type)s AND object_id IN (SELECT id FROM people))
) entries
ORDER BY at DESC, source ASC, id DESC
LIMIT %(limit)s
"""


def baseline(data: dict[str, Any]) -> list[tuple[str, int]]:
    """The first page by hand: the same rows, knowing the rep owns them (no visibility rules)."""
    params = {
        "root": data["root"].pk,
        "account_type": data["account_type"],
        "contact_type": data["contact_type"],
        "rep": data["rep"].pk,
        "limit": PAGE,
    }
    with connection.cursor() as cursor:
        cursor.execute(BASELINE_SQL, params)
        return [(row[1], row[2]) for row in cursor.fetchall()]


def measure(action: Callable[[], Any], runs: int) -> tuple[float, float, int]:
    """(p50 ms, p95 ms, queries of one run); one warm-up run first."""
    action()
    with CaptureQueriesContext(connection) as ctx:
        action()
    # Read now: the next request's request_started signal empties the query log.
    queries = len(ctx.captured_queries)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per measurement")
    parser.add_argument("--entries", type=int, default=10_000, help="entries on the account")
    args = parser.parse_args()

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    # Production settings (DATABASE_URL set) expect collected static files; pages only need URLs.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        database.setdefault("TEST", {})["NAME"] = str(
            Path(tempfile.mkdtemp(prefix="patron-bench-db-")) / "bench.sqlite3"
        )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        began = time.perf_counter()
        data = build(args.entries)
        if connection.vendor == "postgresql":
            # What autovacuum does within a minute of a bulk load; without statistics the
            # planner takes every freshly loaded table for empty.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        built = time.perf_counter() - began
        run(data, args.runs, built)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(data: dict[str, Any], runs: int, built: float) -> None:
    client = Client()
    client.force_login(data["rep"])
    secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
    root = data["root"].pk
    api = f"/api/v1/timeline/contacts.account/{root}?limit={PAGE}"

    def get(url: str) -> Any:
        response = client.get(url, secure=secure)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")
        return response

    first = get(api).json()
    expected = baseline(data)
    got = [(item["source"], item["id"]) for item in first["items"]]
    if got != expected:
        raise SystemExit(f"The API's first page differs from the baseline:\n{got}\n{expected}")
    cursor = first["next_cursor"]
    for _ in range(19):
        cursor = get(f"{api}&cursor={cursor}").json()["next_cursor"]
    deep = f"{api}&cursor={cursor}"

    rows = [
        ("baseline: hand-written SQL, first page", measure(lambda: baseline(data), runs)),
        ("account detail page (timeline card)", measure(lambda: get(f"/accounts/{root}/"), runs)),
        ("timeline API, first page", measure(lambda: get(api), runs)),
        ("timeline API, page 21 (keyset)", measure(lambda: get(deep), runs)),
        (
            "timeline API, account with 1 entry",
            measure(lambda: get(f"/api/v1/timeline/contacts.account/{data['empty'].pk}"), runs),
        ),
        (
            "timeline card refresh (HTMX)",
            measure(
                lambda: client.get(
                    f"/ui/timeline/contacts.account/{root}/",
                    secure=secure,
                    headers={"HX-Request": "true", "HX-Target": "timeline-body"},
                ),
                runs,
            ),
        ),
    ]
    base_p50 = rows[0][1][0]
    print(f"Timeline benchmark on {connection.vendor}, {runs} runs each, page of {PAGE}")
    print(
        f"Data: {data['accounts']} accounts in the tree, {data['contacts']} contacts, "
        f"{data['activities']:,} activities + {data['changes']:,} changes on the tree, "
        f"{data['noise']:,} activities elsewhere (built in {built:.1f} s)"
    )
    print()
    header = ("measurement", "p50 ms", "p95 ms", "queries", "p50 / baseline")
    print(
        f"| {header[0]:<40} | {header[1]:>8} | {header[2]:>8} | {header[3]:>7} | {header[4]:>14} |"
    )
    print(f"|{'-' * 42}|{'-' * 10}|{'-' * 10}|{'-' * 9}|{'-' * 16}|")
    for name, (p50, p95, queries) in rows:
        ratio = p50 / base_p50 if base_p50 else float("nan")
        print(f"| {name:<40} | {p50:>8.2f} | {p95:>8.2f} | {queries:>7} | {ratio:>13.1f}x |")
    # Benchmark 3's target is a fixed query count, not a ratio: the figure says it.
    page_p50, _page_p95, page_queries = rows[1][1]
    print(
        f"RESULT benchmark=timeline-account-page figure={page_p50:.1f}ms/{page_queries}q "
        f"baseline={base_p50:.1f}ms ratio={page_p50 / base_p50:.2f}"
    )


if __name__ == "__main__":
    main()
