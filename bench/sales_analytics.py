"""Benchmark: sales analytics on many opportunities against hand-written SQL.

Run: ``.venv/bin/python bench/sales_analytics.py [--runs N] [--rows N]`` (default 100,000
opportunities; ``--rows 1000000`` with DATABASE_URL set for PostgreSQL). It builds a
throwaway database (SQLite in a temporary directory, or a test database beside the
configured DATABASE_URL, dropped afterwards): a sales manager with 20 reps below them, and
another team's rep whose deals (a tenth of all) the manager may not see; opportunities over
three years in a Prospecting > Qualification > Proposal > Negotiation > Won / Lost pipeline,
with their stage history, bulk-inserted. As the manager (private org-wide defaults, so every
query carries the visibility predicate) it times:

- win rate by owner by quarter (``analytics.win_rates``), the win-rate API call (over HTTP,
  in process) and stage conversion (``analytics.stage_conversion``),
- for each report two hand-written SQL queries giving the same figures: the *equivalent*,
  which spells out the same visibility rules (own deals, deals of users in roles below,
  shares, opportunity teams), and the *floor*, which knows which owners the manager sees,

checks that every report and baseline give the same numbers, and prints p50/p95 and the
ratios to both baselines measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
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

warnings.filterwarnings("ignore", message="No directory at")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

REPS = 20
BATCH = 5000
STAGES = (
    ("Prospecting", 10, "pipeline"),
    ("Qualification", 20, "pipeline"),
    ("Proposal", 60, "best_case"),
    ("Negotiation", 80, "commit"),
    ("Won", 100, "closed_won"),
    ("Lost", 0, "closed_lost"),
)


def build(rows: int) -> dict[str, Any]:
    from django.contrib.contenttypes.models import ContentType

    from patron.core.choices import OrgWideAccess
    from patron.core.testing import grant, set_org_default
    from patron.pipeline.models import Opportunity, Pipeline, Stage, StageHistory
    from patron.users.models import User
    from patron.users.services import role_create

    manager_role = role_create(name="Sales Manager")
    rep_role = role_create(name="Sales Rep", parent=manager_role)
    outsider_role = role_create(name="Partner Rep")
    for role in (manager_role, rep_role, outsider_role):
        grant(role, "pipeline.opportunity", "create", "read", "update", "delete")
    set_org_default("pipeline.opportunity", OrgWideAccess.PRIVATE)
    manager = User.objects.create_user(
        "manager@bench.example", "bench-password", role=manager_role, full_name="Bench Manager"
    )
    reps = [
        User.objects.create_user(
            f"rep{n}@bench.example", "bench-password", role=rep_role, full_name=f"Rep {n:02d}"
        )
        for n in range(REPS)
    ]
    outsider = User.objects.create_user(
        "partner@bench.example", "bench-password", role=outsider_role, full_name="Partner"
    )
    pipeline = Pipeline.objects.create(name="Bench", is_default=True)
    stages = [
        Stage.objects.create(
            pipeline=pipeline, name=name, position=n, probability=p, forecast_category=category
        )
        for n, (name, p, category) in enumerate(STAGES)
    ]
    won, lost = stages[4], stages[5]
    rng = random.Random(42)
    start = datetime.date(2024, 1, 1)
    made = 0
    while made < rows:
        size = min(BATCH, rows - made)
        opportunities = []
        paths = []
        for n in range(made, made + size):
            owner = outsider if n % 10 == 9 else reps[n % REPS]
            engaged = start + datetime.timedelta(days=rng.randrange(3 * 365))
            furthest = rng.choice((0, 0, 1, 1, 2, 2, 3, 4, 4))
            outcome = rng.random()
            if furthest == 4:
                final = won
            elif outcome < 0.6:
                final = lost
            else:
                final = stages[furthest]
            closed = engaged + datetime.timedelta(days=rng.randrange(5, 200))
            is_closed = final in (won, lost)
            amount = Decimal(rng.randrange(500, 50_000))
            opportunities.append(
                Opportunity(
                    name=f"Deal {n}",
                    pipeline=pipeline,
                    stage=final,
                    amount=amount,
                    currency="USD",
                    amount_org=amount,
                    close_date=closed,
                    probability=final.probability,
                    forecast_category=final.forecast_category,
                    engaged_on=engaged,
                    is_closed=is_closed,
                    is_won=final is won,
                    closed_on=closed if is_closed else None,
                    owner=owner,
                )
            )
            path = [stages[s] for s in range(furthest + 1) if s < 4 and rng.random() < 0.8]
            path = path or [stages[0]]
            if final is won or final is lost:
                path.append(final)
            paths.append((engaged, path))
        saved = Opportunity.objects.bulk_create(opportunities)
        history = []
        for opportunity, (engaged, path) in zip(saved, paths, strict=True):
            previous = None
            for step, stage in enumerate(path):
                history.append(
                    StageHistory(
                        opportunity=opportunity,
                        from_stage=previous,
                        to_stage=stage,
                        changed_at=datetime.datetime.combine(
                            engaged + datetime.timedelta(days=step * 7),
                            datetime.time(12),
                            tzinfo=datetime.UTC,
                        ),
                        probability=stage.probability,
                        forecast_category=stage.forecast_category,
                        close_date=opportunity.close_date,
                    )
                )
                previous = stage
        StageHistory.objects.bulk_create(history, batch_size=BATCH)
        made += size
    return {
        "manager": manager,
        "reps": [rep.pk for rep in reps],
        "pipeline": pipeline.pk,
        "rows": rows,
        "history": StageHistory.objects.count(),
        "content_type": ContentType.objects.get_for_model(Opportunity).pk,
    }


def _visible(data: dict[str, Any], floor: bool) -> tuple[str, dict[str, Any]]:
    """The manager's visibility by hand: the floor knows the owners they see; the equivalent
    spells out the same rules the app applies (own deals, deals of users in roles below,
    shares, opportunity teams)."""
    if floor:
        return f"o.owner_id IN ({', '.join(str(pk) for pk in data['reps'])})", {}
    clause = (
        "(o.owner_id = %(me)s"
        " OR o.owner_id IN (SELECT u.id FROM users_user u JOIN users_role r ON r.id = u.role_id"
        " WHERE r.path LIKE %(below)s AND u.role_id <> %(role)s)"
        " OR o.id IN (SELECT s.object_id FROM core_recordshare s WHERE s.content_type_id = %(ct)s"
        " AND (s.user_id = %(me)s OR s.role_id = %(role)s))"
        " OR o.id IN (SELECT t.opportunity_id FROM pipeline_opportunityteammember t"
        " WHERE t.user_id = %(me)s))"
    )
    return clause, {
        "me": data["manager"].pk,
        "role": data["manager"].role_id,
        "below": data["manager"].role.path + "%",
        "ct": data["content_type"],
    }


def _quarter_sql() -> str:
    if connection.vendor == "sqlite":
        return (
            "((CAST(strftime('%%Y', o.closed_on) AS INTEGER) * 12 "
            "+ CAST(strftime('%%m', o.closed_on) AS INTEGER) - 1) / 3)"
        )
    return (
        "((EXTRACT(YEAR FROM o.closed_on)::int * 12 "
        "+ EXTRACT(MONTH FROM o.closed_on)::int - 1) / 3)"
    )


def baseline_win_rate(
    data: dict[str, Any], floor: bool = False
) -> dict[tuple[int, int], tuple[int, int]]:
    """Won and closed per (owner, quarter) of the deals the manager sees."""
    visible, params = _visible(data, floor)
    quarter = _quarter_sql()
    sql = (
        f"SELECT o.owner_id, u.full_name, {quarter} AS q, COUNT(*), "
        "SUM(CASE WHEN o.is_won THEN 1 ELSE 0 END) "
        "FROM pipeline_opportunity o JOIN users_user u ON u.id = o.owner_id "
        f"WHERE o.deleted_at IS NULL AND o.is_closed AND {visible} "
        "GROUP BY o.owner_id, u.full_name, q ORDER BY q, COUNT(*) DESC, u.full_name"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(row[0], int(row[2])): (int(row[4]), row[3]) for row in cursor.fetchall()}


def baseline_conversion(data: dict[str, Any], floor: bool = False) -> dict[int, int]:
    """Deals by the furthest stage their history reached (Lost moves left out)."""
    visible, params = _visible(data, floor)
    sql = (
        "SELECT furthest, COUNT(*) FROM (SELECT h.opportunity_id, MAX(s.position) AS furthest "
        "FROM pipeline_stagehistory h JOIN pipeline_stage s ON s.id = h.to_stage_id "
        "JOIN pipeline_opportunity o ON o.id = h.opportunity_id "
        f"WHERE o.deleted_at IS NULL AND o.pipeline_id = %(pipeline)s AND {visible} "
        "AND s.forecast_category <> 'closed_lost' GROUP BY h.opportunity_id) AS reached "
        "GROUP BY furthest"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "pipeline": data["pipeline"]})
        return {row[0]: row[1] for row in cursor.fetchall()}


def report_win_rate(data: dict[str, Any]) -> dict[tuple[int, int], tuple[int, int]]:
    from patron.pipeline import analytics

    rows = analytics.win_rates(
        viewer=data["manager"],
        filters=analytics.AnalyticsFilters(),
        dimension="owner",
        grain="quarter",
    )
    return {
        (int(row.drill["value"]), int(row.drill["period"])): (
            row.values["won"],
            row.values["closed"],
        )
        for row in rows
    }


def report_conversion(data: dict[str, Any]) -> list[int]:
    from patron.pipeline import analytics

    rows = analytics.stage_conversion(viewer=data["manager"], filters=analytics.AnalyticsFilters())
    return [row.values["reached"] for row in rows]


def reached_from(counts: dict[int, int]) -> list[int]:
    return [sum(n for position, n in counts.items() if position >= s) for s in range(5)]


def measure(action: Callable[[], Any], runs: int) -> tuple[float, float]:
    """(p50 ms, p95 ms); one warm-up run first."""
    action()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per measurement")
    parser.add_argument("--rows", type=int, default=100_000, help="opportunities to generate")
    args = parser.parse_args()

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
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
        with connection.cursor() as cursor:
            # Statistics as autovacuum (or SQLite's optimizer hints) would gather after a load.
            cursor.execute("ANALYZE")
        built = time.perf_counter() - began
        run(data, args.runs, built)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(data: dict[str, Any], runs: int, built: float) -> None:
    for floor in (True, False):
        got, expected = report_win_rate(data), baseline_win_rate(data, floor)
        if got != expected:
            diff = sorted(set(got.items()) ^ set(expected.items()))[:6]
            raise SystemExit(f"Win rate by owner by quarter differs from the SQL: {diff}")
        if report_conversion(data) != reached_from(baseline_conversion(data, floor)):
            raise SystemExit("Stage conversion differs from the hand-written SQL.")
    client = Client()
    client.force_login(data["manager"])
    secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
    api = "/api/v1/analytics/sales/win-rate?dimension=owner&period=quarter"

    def get() -> Any:
        response = client.get(api, secure=secure)
        if response.status_code != 200:
            raise SystemExit(f"{api} answered {response.status_code}: {response.content[:300]!r}")
        return response

    win_floor = measure(lambda: baseline_win_rate(data, floor=True), runs)
    win_base = measure(lambda: baseline_win_rate(data), runs)
    win = measure(lambda: report_win_rate(data), runs)
    api_time = measure(get, runs)
    conv_floor = measure(lambda: baseline_conversion(data, floor=True), runs)
    conv_base = measure(lambda: baseline_conversion(data), runs)
    conv = measure(lambda: report_conversion(data), runs)
    print(f"Sales analytics benchmark on {connection.vendor}, {runs} runs each")
    print(
        f"Data: {data['rows']:,} opportunities ({data['rows'] // 10:,} not visible to the "
        f"viewer), {data['history']:,} stage-history rows (built in {built:.1f} s)"
    )
    print()
    header = f"| {'measurement':<50} | {'p50 ms':>9} | {'p95 ms':>9} | {'/ equivalent':>12} |"
    print(f"{header} {'/ floor':>7} |")
    print(f"|{'-' * 52}|{'-' * 11}|{'-' * 11}|{'-' * 14}|{'-' * 9}|")
    for name, (p50, p95), base, floor_base in (
        ("win rate by owner by quarter: SQL, owners known", win_floor, win_base, win_floor),
        ("win rate by owner by quarter: SQL, visibility", win_base, win_base, win_floor),
        ("win rate by owner by quarter: report", win, win_base, win_floor),
        ("win rate API (HTTP in process)", api_time, win_base, win_floor),
        ("stage conversion: SQL, owners known", conv_floor, conv_base, conv_floor),
        ("stage conversion: SQL, visibility", conv_base, conv_base, conv_floor),
        ("stage conversion: report", conv, conv_base, conv_floor),
    ):
        print(
            f"| {name:<50} | {p50:>9.1f} | {p95:>9.1f} | {p50 / base[0]:>11.2f}x "
            f"| {p50 / floor_base[0]:>6.2f}x |"
        )
    for name, (p50, _p95), base in (
        ("sales-analytics-win-rate", win, win_base),
        ("sales-analytics-conversion", conv, conv_base),
    ):
        print(
            f"RESULT benchmark={name} figure={p50:.1f}ms baseline={base[0]:.1f}ms "
            f"ratio={p50 / base[0]:.2f} target=<=1.5"
        )


if __name__ == "__main__":
    main()
