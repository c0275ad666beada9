"""Build the benchmark database: a realistic CRM at --scale 1.0 = 1,000,000 contacts.

Run: ``.venv/bin/python bench/generate.py [--scale S] [--database-url URL] [--keep]``.

With DATABASE_URL set (PostgreSQL; SECRET_KEY and ALLOWED_HOSTS too, as for any production
settings) it builds ``patron_bench`` on the same server, or the database of --database-url
(replaced if it exists and its name contains "bench"): ``migrate``, then 200 users in a role
hierarchy and teams, 200,000 accounts with hierarchies, 1,000,000 contacts, 1,000,000
opportunities, 5,000,000 activities, 500,000 leads and their search entries per 1.0 of scale,
bulk-loaded with COPY (see bench/_data.py). Without DATABASE_URL it builds a SQLite file with
a tenth of those rows. It prints rows/s per table. Without --keep the database is dropped at
the end (a build-speed run); with --keep it stays, and the benchmarks that need a large
database reuse it:

    .venv/bin/python bench/generate.py --scale 1.0 --keep
    .venv/bin/python bench/api_list.py --database-url postgres://.../patron_bench
    .venv/bin/python bench/search.py --database-url postgres://.../patron_bench

``make bench`` runs this at the default --scale 0.05 (build speed only); the benchmarks
generate their own small database when not given one.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import _database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.05, help="1.0 = 1,000,000 contacts")
    parser.add_argument("--database-url", help="where to build (default: patron_bench)")
    parser.add_argument("--keep", action="store_true", help="keep the database for benchmarks")
    args = parser.parse_args()
    if args.scale <= 0:
        parser.error("--scale must be positive")

    target = _database.choose(args.database_url, "patron_bench")
    _database.create(target)
    import django

    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    import _data

    try:
        import time

        began = time.perf_counter()
        _database.migrate()
        print(f"migrate {time.perf_counter() - began:.1f} s ({target.describe()})")
        result = _data.build(args.scale)
    except BaseException:
        _database.drop(target)
        raise
    if args.keep:
        print(f"Kept. Benchmarks reuse it with: {target.reuse_hint()}")
    else:
        _database.drop(target)
    rate = result["rows"] / result["seconds"]
    print(f"RESULT benchmark=generate_{target.vendor} figure={rate:.0f}rows/s")


if __name__ == "__main__":
    main()
