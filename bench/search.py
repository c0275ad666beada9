"""Benchmark 2: global search (name, email and phone fragments) against the raw trigram SQL.

Run: ``.venv/bin/python bench/search.py [--database-url URL] [--scale S] [--runs N]``.
With --database-url it uses a database bench/generate.py built and kept (1,000,000 contacts
at --scale 1.0); otherwise it builds a throwaway one at --scale (default 0.05) and drops it.

The figure is ``GET /api/v1/search/?q=...`` with a Bearer token (Django's test client in
process, no network) for 30 queries made from the data: name fragments ("smith",
"maria gar"), email fragments, and phone fragments typed as digits or formatted. The baseline
is the SQL that search compiles to without visibility, written by hand and run on its own
psycopg connection (sqlite3 on SQLite): the trigram ``ILIKE`` (FTS5 ``MATCH`` on SQLite) over
the search entries, title-prefix matches first, ranked (exact title, title prefix, word of
the title, word of the text, anywhere) from at most 1,000 candidates, 20 hits. The
administrator sees every record, so for them the API must return exactly the baseline's hits
(checked); the Central VP, who sees about 30 %, is measured against the same baseline, which
leaves out the visibility check they pay for. Target: p95 within 2x of the baseline; the
absolute p95 is reported too.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import _database

LIMIT = 20
CANDIDATES = 1000
TARGET = 2.0
QUERIES = 30


def _escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Baseline:
    """search()'s two statements by hand, without visibility, on a raw connection."""

    def __init__(self, target: _database.Target) -> None:
        from django.db import connection

        self.vendor = target.vendor
        if self.vendor == "postgresql":
            import psycopg

            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            self.db: Any = psycopg.connect(**params, autocommit=True)
            self.mark = "%s"
        else:
            import sqlite3

            assert target.data_dir is not None
            self.db = sqlite3.connect(target.data_dir / _database.SQLITE_FILE)
            self.mark = "?"

    def _best(self, terms: tuple[str, ...], phrase: str, prefix: bool, exclude: list[int],
              limit: int) -> list[tuple[Any, ...]]:  # fmt: skip
        m = self.mark
        params: list[Any] = []
        if self.vendor == "postgresql":
            where = " AND ".join(f"text ILIKE {m}" for _ in terms)
            params += [f"%{_escape(term)}%" for term in terms]
            if prefix:
                where += f" AND lower(title) LIKE {m}"
                params.append(_escape(phrase) + "%")
        else:
            match = " AND ".join('"' + term.replace('"', '""') + '"' for term in terms)
            where = (
                "id IN (SELECT rowid FROM core_searchentry_fts"
                f" WHERE core_searchentry_fts MATCH {m})"
            )
            params.append(match)
            if prefix:
                where += f" AND title LIKE {m} ESCAPE '\\'"
                params.append(_escape(phrase) + "%")
        if exclude:
            where += f" AND id NOT IN ({', '.join(m for _ in exclude)})"
            params += exclude
        escaped = _escape(phrase)
        sql = (
            f"SELECT id, content_type_id, object_id, title, subtitle FROM core_searchentry"
            f" WHERE id IN (SELECT id FROM core_searchentry WHERE {where} LIMIT {CANDIDATES})"
            f" ORDER BY CASE WHEN lower(title) = {m} THEN 0"
            f" WHEN lower(title) LIKE {m} ESCAPE '\\' THEN 1"
            f" WHEN ' ' || lower(title) LIKE {m} ESCAPE '\\' THEN 2"
            f" WHEN ' ' || lower(text) LIKE {m} ESCAPE '\\' THEN 3 ELSE 4 END, title, id"
            f" LIMIT {limit}"
        )
        params += [phrase, f"{escaped}%", f"% {escaped}%", f"% {escaped}%"]
        return list(self.db.execute(sql, params).fetchall())

    def search(self, query: str) -> list[tuple[int, int]]:
        from patron.core.search import parse_query

        parsed = parse_query(query)
        rows = self._best(parsed.long_terms, parsed.phrase, True, [], LIMIT)
        if len(rows) < LIMIT:
            rows += self._best(
                parsed.long_terms, parsed.phrase, False, [r[0] for r in rows], LIMIT - len(rows)
            )
        return [(content_type, object_id) for _id, content_type, object_id, *_rest in rows]

    def close(self) -> None:
        self.db.close()


def queries_from_data(count: int) -> list[str]:
    """Name, email and phone fragments of random contacts, as people type them."""
    from patron.contacts.models import Contact

    rng = random.Random(2)
    top = Contact.objects.order_by("-id").values_list("id", flat=True).first() or 0
    ids = [rng.randrange(1, top + 1) for _ in range(count * 2)]
    contacts = list(Contact.objects.filter(id__in=ids).values("first_name", "last_name", "email",
                                                                  "phone"))  # fmt: skip
    rng.shuffle(contacts)
    queries = []
    for n, contact in enumerate(contacts[:count]):
        first, last = contact["first_name"], contact["last_name"]
        email, phone = contact["email"], contact["phone"]
        kind = n % 6
        if kind == 0:
            queries.append(last[: max(3, len(last) - 1)].lower())
        elif kind == 1:
            queries.append(f"{first} {last[:3]}")
        elif kind == 2:
            queries.append(email.split("@")[0][: max(3, len(email.split("@")[0]) - 2)])
        elif kind == 3:
            queries.append(email.split("@")[1][:8])
        elif kind == 4:
            queries.append(phone[2:9])
        else:
            queries.append(f"({phone[2:5]}) {phone[5:8]}-{phone[8:10]}")
    return queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a database bench/generate.py built (--keep)")
    parser.add_argument("--scale", type=float, default=0.05, help="when building one here")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each query")
    parser.add_argument("--queries", type=int, default=QUERIES, help="queries made from the data")
    args = parser.parse_args()

    with _database.generated(args.database_url, "patron_bench_search", args.scale) as target:
        run(target, args.runs, args.queries)


def run(target: _database.Target, runs: int, count: int) -> None:
    import _data
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from patron.contacts.models import Contact
    from patron.core.models import SearchEntry
    from patron.users.models import ApiToken, User
    from patron.users.services import token_create

    _database.configure_client_settings(settings)
    secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
    queries = queries_from_data(count)
    contacts, entries = Contact.objects.count(), SearchEntry.objects.count()
    print(
        f"Global search benchmark on {connection.vendor}: {len(queries)} queries, {runs} runs each"
    )
    print(f"Data: {contacts:,} contacts, {entries:,} search entries")
    print(f"Queries: {', '.join(repr(q) for q in queries[:6])}, ...")
    print()
    header = ("measurement", "hits", "p50 ms", "p95 ms", "p95 ratio")
    print(
        f"| {header[0]:<44} | {header[1]:>5} | {header[2]:>8} | {header[3]:>8} | {header[4]:>9} |"
    )
    print(f"|{'-' * 46}|{'-' * 7}|{'-' * 10}|{'-' * 10}|{'-' * 11}|")
    baseline = Baseline(target)
    tokens = []
    lines = []
    try:
        # Each user's rows are printed as soon as they are measured.
        for email in (_data.ADMIN_USER, _data.BENCH_USER):
            user = User.objects.get(email=email)
            token, secret = token_create(user=user, name="bench search", scopes=["search:read"])
            tokens.append(token.pk)
            client = Client(headers={"Authorization": f"Bearer {secret}"})

            def api(query: str, client: Client = client) -> list[tuple[str, int]]:
                params = {"q": query, "limit": LIMIT}
                response = client.get("/api/v1/search/", params, secure=secure)
                if response.status_code != 200:
                    raise SystemExit(f"search {query!r} answered {response.status_code}")
                return [(item["type"], item["id"]) for item in response.json()["items"]]

            if email == _data.ADMIN_USER:
                check_same_hits(api, baseline, queries)
            api_times: list[float] = []
            base_times: list[float] = []
            hits = 0
            for query in queries:
                hits += len(api(query))
                times = _database.interleaved(
                    lambda query=query: api(query), lambda query=query: baseline.search(query), runs
                )
                api_times += times[0]
                base_times += times[1]
            lines.append(report(email, hits / len(queries), api_times, base_times))
    finally:
        baseline.close()
        ApiToken.objects.filter(pk__in=tokens).delete()
    print()
    print(f"Load average at the end: {_database.load_average()}")
    print("\n".join(lines))


def report(email: str, hits: float, api_times: list[float], base_times: list[float]) -> str:
    """Print the user's two rows; return their RESULT line."""
    import _data
    from django.db import connection

    who = "admin" if email == _data.ADMIN_USER else "VP (sees ~30 %)"
    api_p50, api_p95 = _database.percentiles(api_times)
    base_p50, base_p95 = _database.percentiles(base_times)
    ratio = api_p95 / base_p95
    for name, count, p50, p95, factor in (
        (f"baseline SQL (in the {who} round)", "", base_p50, base_p95, 1.0),
        (f"search API as {who}", f"{hits:.1f}", api_p50, api_p95, ratio),
    ):
        print(f"| {name:<44} | {count:>5} | {p50:>8.2f} | {p95:>8.2f} | {factor:>8.2f}x |")
    slug = "admin" if email == _data.ADMIN_USER else "vp30"
    return (
        f"RESULT benchmark=search_p95_{slug} figure={api_p95:.2f}ms baseline={base_p95:.2f}ms "
        f"ratio={ratio:.2f} target=<={TARGET:g} vendor={connection.vendor}"
    )


def check_same_hits(api: Any, baseline: Baseline, queries: list[str]) -> None:
    """For the administrator the API must return the baseline's hits, in its order."""
    from django.contrib.contenttypes.models import ContentType

    names = {ct.pk: ct.model for ct in ContentType.objects.all()}
    for query in queries:
        found = api(query)
        expected = [(names[ct], pk) for ct, pk in baseline.search(query)]
        if found != expected:
            raise SystemExit(f"search {query!r} differs from the baseline:\n{found}\n{expected}")


if __name__ == "__main__":
    main()
