"""Benchmark: the pipeline board's first page of a column with many opportunities.

Run: ``.venv/bin/python bench/board.py [--runs N] [--rows N]`` (default 100,000 rows; use
``--rows 1000000`` on PostgreSQL, with DATABASE_URL set). It builds a throwaway database
(SQLite in a temporary directory, or a test database beside the configured DATABASE_URL,
dropped afterwards): one pipeline with six stages, 20 sales reps under one manager, and
``--rows`` opportunities bulk-inserted over the stages (most of them closed, as in a real
history), owners, accounts and two years of close dates. Then, as one rep (private
org-wide default: sees their own 1/20) and as their manager (sees all 20 reps through the
role hierarchy), it measures:

- a column's first page as the board's "Show more" endpoint serves it (HTMX),
- the whole board page (every column's first page and the grouped figures),
- hand-written SQL for the same column page and for the same figures (the baselines),

reporting the server time p50/p95 (Django's test client in process, no network), the
query count of one request and the ratio to the baseline.
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
from decimal import Decimal
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
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

REPS = 20
ACCOUNTS = 200
CHUNK = 20_000
# (name, probability, forecast category, expected days, share of the rows)
STAGES = (
    ("Prospecting", 10, "pipeline", 14, 0.12),
    ("Qualification", 20, "pipeline", 14, 0.10),
    ("Proposal", 60, "best_case", 21, 0.08),
    ("Negotiation", 80, "commit", 14, 0.05),
    ("Won", 100, "closed_won", None, 0.30),
    ("Lost", 0, "closed_lost", None, 0.35),
)


def build(rows: int) -> dict[str, Any]:
    from patron.contacts.models import Account
    from patron.core.choices import OrgWideAccess
    from patron.core.testing import grant, set_org_default
    from patron.pipeline.models import LossReason, Opportunity, Pipeline, Stage
    from patron.users.models import User
    from patron.users.services import role_create

    manager_role = role_create(name="Bench Sales Manager")
    rep_role = role_create(name="Bench Sales Rep", parent=manager_role)
    for role in (manager_role, rep_role):
        for object_type in ("contacts.account", "pipeline.opportunity"):
            grant(role, object_type, "create", "read", "update", "delete")
    for object_type in ("contacts.account", "pipeline.opportunity"):
        set_org_default(object_type, OrgWideAccess.PRIVATE)
    manager = User.objects.create_user(
        "manager@bench.example", "bench-password", role=manager_role, full_name="Bench Manager"
    )
    reps = [
        User.objects.create_user(
            f"rep{n}@bench.example", "bench-password", role=rep_role, full_name=f"Rep {n}"
        )
        for n in range(REPS)
    ]
    accounts = Account.objects.bulk_create(
        [Account(name=f"Customer {n}", owner=reps[n % REPS]) for n in range(ACCOUNTS)]
    )
    pipeline = Pipeline.objects.create(name="New business", is_default=True)
    stages = [
        Stage.objects.create(
            pipeline=pipeline,
            name=name,
            position=position,
            probability=probability,
            forecast_category=category,
            expected_days=days,
        )
        for position, (name, probability, category, days, _share) in enumerate(STAGES)
    ]
    lost_reason = LossReason.objects.create(name="Price too high")
    # Stage n takes rows [bounds[n], bounds[n + 1]) of every 1,000.
    bounds = [0]
    for *_rest, share in STAGES:
        bounds.append(bounds[-1] + round(share * 1000))
    today = datetime.date.today()
    now = datetime.datetime.now(tz=datetime.UTC)

    def opportunity(n: int) -> Opportunity:
        slot = n % 1000
        index = next(i for i in range(len(stages)) if bounds[i] <= slot < bounds[i + 1])
        stage = stages[index]
        closed = stage.forecast_category in ("closed_won", "closed_lost")
        close_date = today + datetime.timedelta(days=(n * 7919) % 730 - (600 if closed else 30))
        amount = Decimal(1000 + (n * 37) % 99_000)
        return Opportunity(
            name=f"Deal {n}",
            account=accounts[n % ACCOUNTS],
            pipeline=pipeline,
            stage=stage,
            amount=amount,
            currency="USD",
            amount_org=amount,
            close_date=close_date,
            probability=stage.probability,
            forecast_category=stage.forecast_category,
            is_closed=closed,
            is_won=stage.forecast_category == "closed_won",
            closed_on=close_date if closed else None,
            loss_reason=lost_reason if stage.forecast_category == "closed_lost" else None,
            stage_entered_at=now - datetime.timedelta(days=n % 40),
            owner=reps[(n // 7) % REPS],
            created_at=now,
            updated_at=now,
        )

    for start in range(0, rows, CHUNK):
        Opportunity.objects.bulk_create(
            [opportunity(n) for n in range(start, min(rows, start + CHUNK))], batch_size=2000
        )
    return {
        "rep": reps[0],
        "reps": reps,
        "manager": manager,
        "pipeline": pipeline,
        "stages": stages,
    }


COLUMN_SQL = """
SELECT o.id FROM pipeline_opportunity o
JOIN users_user u ON u.id = o.owner_id
LEFT JOIN contacts_account a ON a.id = o.account_id
WHERE o.deleted_at IS NULL AND o.pipeline_id = %(pipeline)s AND o.stage_id = %(stage)s
  AND o.owner_id IN ({owners})
ORDER BY o.close_date, o.id
LIMIT %(limit)s
"""

FIGURES_SQL = """
SELECT stage_id, COUNT(*), SUM(amount_org), SUM(amount_org * probability)
FROM pipeline_opportunity
WHERE deleted_at IS NULL AND pipeline_id = %(pipeline)s AND owner_id IN ({owners})
GROUP BY stage_id
"""


def owners_of(data: dict[str, Any], user: Any) -> str:
    """The owners whose rows ``user`` sees, written out (the baseline knows the hierarchy)."""
    if user == data["manager"]:
        return ",".join(str(rep.pk) for rep in data["reps"])
    return str(user.pk)


def column_baseline(data: dict[str, Any], user: Any, stage: Any, limit: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            COLUMN_SQL.format(owners=owners_of(data, user)),
            {"pipeline": data["pipeline"].pk, "stage": stage.pk, "limit": limit},
        )
        return [row[0] for row in cursor.fetchall()]


def figures_baseline(data: dict[str, Any], user: Any) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            FIGURES_SQL.format(owners=owners_of(data, user)), {"pipeline": data["pipeline"].pk}
        )
        return cursor.fetchall()


def measure(action: Callable[[], Any], runs: int) -> tuple[float, float, int]:
    """(p50 ms, p95 ms, queries of one run); one warm-up run first."""
    action()
    with CaptureQueriesContext(connection) as ctx:
        action()
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
    parser.add_argument("--rows", type=int, default=100_000, help="opportunities to build")
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
        data = build(args.rows)
        # What autovacuum (PostgreSQL) would do soon after a bulk load; SQLite's planner
        # also uses the statistics ANALYZE gathers.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        built = time.perf_counter() - began
        run(data, args.runs, args.rows, built)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(data: dict[str, Any], runs: int, rows: int, built: float) -> None:
    from patron.pipeline.board import BOARD_PAGE

    secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
    pipeline = data["pipeline"]
    prospecting = data["stages"][0]
    board = f"/opportunities/board/{pipeline.pk}/"
    column = f"{board}stages/{prospecting.pk}/"
    results: list[tuple[str, tuple[float, float, int], float]] = []

    for who in ("rep", "manager"):
        user = data[who]
        client = Client()
        client.force_login(user)

        def get(url: str, client: Client = client, **headers: str) -> Any:
            response = client.get(url, secure=secure, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
            return response

        # The endpoint must return exactly the baseline's rows.
        html = get(column, **{"HX-Request": "true"}).content.decode()
        expected = column_baseline(data, user, prospecting, BOARD_PAGE)
        found = [int(pk) for pk in _card_ids(html)]
        if found != expected:
            raise SystemExit(f"The column page differs from the baseline:\n{found}\n{expected}")

        column_base = measure(
            lambda user=user: column_baseline(data, user, prospecting, BOARD_PAGE + 1), runs
        )
        figures_base = measure(lambda user=user: figures_baseline(data, user), runs)
        results += [
            (f"{who}: baseline SQL, column first page", column_base, column_base[0]),
            (
                f"{who}: column first page (HTMX)",
                measure(lambda get=get: get(column, **{"HX-Request": "true"}), runs),
                column_base[0],
            ),
            (f"{who}: baseline SQL, figures", figures_base, figures_base[0]),
            (
                f"{who}: whole board page",
                measure(lambda get=get: get(board), runs),
                column_base[0] * len(data["stages"]) + figures_base[0],
            ),
        ]

    print(f"Board benchmark on {connection.vendor}, {runs} runs each, {BOARD_PAGE} cards a column")
    print(
        f"Data: {rows:,} opportunities in one pipeline of {len(data['stages'])} stages, "
        f"{REPS} reps under one manager, {ACCOUNTS} accounts (built in {built:.1f} s)"
    )
    print()
    header = ("measurement", "p50 ms", "p95 ms", "queries", "p50 / baseline")
    print(
        f"| {header[0]:<42} | {header[1]:>8} | {header[2]:>8} | {header[3]:>7} | {header[4]:>14} |"
    )
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 10}|{'-' * 9}|{'-' * 16}|")
    for name, (p50, p95, queries), base in results:
        ratio = p50 / base if base else float("nan")
        print(f"| {name:<42} | {p50:>8.2f} | {p95:>8.2f} | {queries:>7} | {ratio:>13.1f}x |")
    print()
    print("The whole board's baseline is six column pages plus the figures, by hand.")
    _name, (p50, _p95, queries), base = next(r for r in results if r[0] == "rep: whole board page")
    print(
        f"RESULT benchmark=pipeline-board figure={p50:.1f}ms/{queries}q baseline={base:.1f}ms "
        f"ratio={p50 / base:.2f}"
    )


def _card_ids(html: str) -> list[str]:
    import re

    return re.findall(r'data-opportunity="(\d+)"', html)


if __name__ == "__main__":
    main()
