"""Benchmark 1: the API list of 50 contacts sorted by name, filtered by owner, for a user who
sees about 30 % of the records, against a raw psycopg query returning the same rows as JSON.

Run: ``.venv/bin/python bench/api_list.py [--database-url URL] [--scale S] [--runs N]``.
With --database-url it uses a database bench/generate.py built and kept; otherwise it builds
a throwaway one at --scale (default 0.05, i.e. 50,000 contacts on PostgreSQL, 5,000 on
SQLite) and drops it afterwards.

The user is the Central region's VP (bench/_data.py): contacts are private by org-wide
default, and they see what the roles below them own plus their team's records. The request
is ``GET /api/v1/contacts?owner=<rep>&sort=name&limit=50`` with a Bearer token (Django's test
client in process, no network), for the Central rep who owns the most contacts. The baseline
is one hand-written query on its own psycopg connection (sqlite3 on SQLite) for the same
page, knowing the rep is visible to the user (so no visibility predicate), with the rows
turned into the API's JSON; the script checks both return the same ids. Target: p50 and p95
within 3x of the baseline.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import _database

LIMIT = 50
TARGET = 3.0
COLUMNS = (
    ("id", "id"), ("version", "version"), ("first_name", "first_name"),
    ("last_name", "last_name"), ("salutation", "salutation"), ("title", "title"),
    ("department", "department"), ("account", "account_id"), ("email", "email"),
    ("phone", "phone"), ("language", "language"), ("time_zone", "time_zone"),
    ("social", "social"), ("do_not_call", "do_not_call"), ("email_opt_out", "email_opt_out"),
    ("description", "description"), ("owner", "owner_id"), ("team", "team_id"),
    ("created_at", "created_at"), ("updated_at", "updated_at"), ("custom", "custom"),
)  # fmt: skip
BASELINE_SQL = (
    "SELECT {columns} FROM contacts_contact WHERE deleted_at IS NULL AND owner_id = {mark}"
    " ORDER BY last_name, first_name, id LIMIT {limit}"
)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class Baseline:
    """The same page by hand on a raw connection of the database's own driver."""

    def __init__(self, target: _database.Target) -> None:
        from django.db import connection

        self.vendor = target.vendor
        columns = ", ".join(column for _key, column in COLUMNS)
        mark = "%s" if self.vendor == "postgresql" else "?"
        self.sql = BASELINE_SQL.format(columns=columns, mark=mark, limit=LIMIT)
        if self.vendor == "postgresql":
            import psycopg

            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            self.db: Any = psycopg.connect(**params, autocommit=True)
        else:
            import sqlite3

            assert target.data_dir is not None
            self.db = sqlite3.connect(target.data_dir / _database.SQLITE_FILE)

    def page(self, owner: int) -> bytes:
        rows = self.db.execute(self.sql, (owner,)).fetchall()
        items = []
        for row in rows:
            pairs = zip(COLUMNS, row, strict=True)
            item = {key: _json_value(value) for (key, _column), value in pairs}
            if self.vendor == "sqlite":
                # sqlite3 returns the JSON columns as their text.
                item["social"], item["custom"] = json.loads(row[12]), json.loads(row[20])
            items.append(item)
        return json.dumps({"items": items, "next_cursor": None}).encode()

    def close(self) -> None:
        self.db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a database bench/generate.py built (--keep)")
    parser.add_argument("--scale", type=float, default=0.05, help="when building one here")
    parser.add_argument("--runs", type=int, default=60, help="timed runs of each side")
    args = parser.parse_args()

    with _database.generated(args.database_url, "patron_bench_api_list", args.scale) as target:
        run(target, args.runs)


def run(target: _database.Target, runs: int) -> None:
    import _data
    from django.conf import settings
    from django.db import connection, reset_queries
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from patron.contacts.models import Contact
    from patron.users.models import ApiToken, User
    from patron.users.services import token_create

    _database.configure_client_settings(settings)
    user = User.objects.select_related("role").get(email=_data.BENCH_USER)
    assert user.role is not None
    total = Contact.objects.count()
    visible = Contact.objects.visible_to(user).count()
    owner_row = (
        Contact.objects.filter(owner__role__path__startswith=user.role.path)
        .exclude(owner=user)
        .values("owner")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    assert owner_row is not None
    owner, owned = owner_row["owner"], owner_row["n"]
    token, secret = token_create(user=user, name="bench api_list", scopes=["contacts:read"])
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    url = f"/api/v1/contacts?owner={owner}&sort=name&limit={LIMIT}"
    secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
    baseline = Baseline(target)
    try:

        def api() -> bytes:
            response = client.get(url, secure=secure)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}: {response.content!r}")
            return bytes(response.content)

        api_ids = [item["id"] for item in json.loads(api())["items"]]
        base_ids = [item["id"] for item in json.loads(baseline.page(owner))["items"]]
        if api_ids != base_ids:
            raise SystemExit(f"The API page differs from the baseline:\n{api_ids}\n{base_ids}")
        # Each request clears the query log (request_started), so start the capture empty and
        # count before the next request.
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            api()
        query_count = len(queries.captured_queries)
        api_times, base_times = _database.interleaved(api, lambda: baseline.page(owner), runs)
    finally:
        baseline.close()
        ApiToken.objects.filter(pk=token.pk).delete()

    api_p50, api_p95 = _database.percentiles(api_times)
    base_p50, base_p95 = _database.percentiles(base_times)
    print(f"API list benchmark on {connection.vendor}, {runs} runs each, pages of {LIMIT}")
    print(
        f"Data: {total:,} contacts; {user.email} sees {visible:,} ({visible / total:.1%}); "
        f"filtered by owner {owner}, who owns {owned:,}; load average "
        f"{_database.load_average()}"
    )
    print()
    print(f"| {'measurement':<46} | {'p50 ms':>8} | {'p95 ms':>8} | {'queries':>7} |")
    print(f"|{'-' * 48}|{'-' * 10}|{'-' * 10}|{'-' * 9}|")
    name = "baseline: raw query + json.dumps"
    print(f"| {name:<46} | {base_p50:>8.2f} | {base_p95:>8.2f} | {1:>7} |")
    print(
        f"| {'API GET /api/v1/contacts (Bearer token)':<46} | {api_p50:>8.2f} | {api_p95:>8.2f} "
        f"| {query_count:>7} |"
    )
    print()
    for name, figure, base in (("p50", api_p50, base_p50), ("p95", api_p95, base_p95)):
        ratio = figure / base
        print(f"{name}: {ratio:.2f}x the baseline (target within {TARGET:g}x)")
        print(
            f"RESULT benchmark=api_list_{name} figure={figure:.2f}ms baseline={base:.2f}ms "
            f"ratio={ratio:.2f} target=<={TARGET:g} vendor={connection.vendor}"
        )


if __name__ == "__main__":
    main()
