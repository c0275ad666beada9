"""Where the generated benchmark data lives, and how benchmarks on it measure
(bench/generate.py, api_list.py, search.py).

Not a benchmark itself (``make bench`` skips files starting with ``_``). ``choose`` runs
before ``django.setup()``: it points the settings at the benchmark database through the
environment, the way Patron's settings read it.

- PostgreSQL (``DATABASE_URL`` or ``--database-url`` is a postgres URL): a database on the
  same server; a throwaway one is named ``patron_bench...`` beside the configured database.
  Only databases whose name contains ``bench`` are ever dropped.
- SQLite (neither is set): ``<dir>/patron.sqlite3`` in a temporary directory, or the file of
  a ``sqlite:///<dir>/patron.sqlite3`` URL; the directory becomes ``PATRON_DATA_DIR``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SQLITE_FILE = "patron.sqlite3"


@dataclass(frozen=True)
class Target:
    vendor: str
    url: str
    name: str
    data_dir: Path | None = None

    def describe(self) -> str:
        return self.url if self.vendor == "postgresql" else str(self.data_dir / SQLITE_FILE)

    def reuse_hint(self) -> str:
        if self.vendor == "postgresql":
            return f"--database-url {self.url}"
        return f"--database-url sqlite:///{self.data_dir / SQLITE_FILE}"


def choose(url: str | None, throwaway_name: str) -> Target:
    """The benchmark database: ``url`` if given, else a throwaway one; sets the environment."""
    configured = os.environ.get("DATABASE_URL", "")
    if url is None and configured.startswith("postgres"):
        parts = urlsplit(configured)
        url = urlunsplit(parts._replace(path=f"/{throwaway_name}"))
    if url is not None and url.startswith("postgres"):
        os.environ["DATABASE_URL"] = url
        return Target("postgresql", url, urlsplit(url).path.lstrip("/"))
    if url is not None:
        path = Path(urlsplit(url).path)
        if path.name != SQLITE_FILE:
            raise SystemExit(f"A SQLite benchmark database is a file named {SQLITE_FILE}: {url}")
        data_dir = path.parent
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="patron-bench-"))
    # SQLite is the embedded default: no DATABASE_URL, the file lives in the data directory.
    os.environ.pop("DATABASE_URL", None)
    os.environ["PATRON_DATA_DIR"] = str(data_dir)
    return Target("sqlite", f"sqlite:///{data_dir / SQLITE_FILE}", SQLITE_FILE, data_dir)


def _server(target: Target) -> str:
    return urlunsplit(urlsplit(target.url)._replace(path="/postgres"))


def create(target: Target) -> None:
    """An empty database for ``target`` (replacing an earlier benchmark database)."""
    if target.vendor == "sqlite":
        assert target.data_dir is not None
        (target.data_dir / SQLITE_FILE).unlink(missing_ok=True)
        target.data_dir.mkdir(parents=True, exist_ok=True)
        return
    import psycopg

    with psycopg.connect(_server(target), autocommit=True) as server:
        exists = server.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (target.name,)
        ).fetchone()
        if exists and "bench" not in target.name:
            raise SystemExit(
                f"Database {target.name} exists and is not a benchmark database: not replaced."
            )
        server.execute(f'DROP DATABASE IF EXISTS "{target.name}" WITH (FORCE)')
        server.execute(f'CREATE DATABASE "{target.name}"')


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def drop(target: Target) -> None:
    from django.db import connections

    connections.close_all()
    if target.vendor == "sqlite":
        if target.data_dir is not None:
            shutil.rmtree(target.data_dir, ignore_errors=True)
        return
    if "bench" not in target.name:
        return
    import psycopg

    with psycopg.connect(_server(target), autocommit=True) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{target.name}" WITH (FORCE)')


def exists(target: Target) -> bool:
    if target.vendor == "sqlite":
        return target.data_dir is not None and (target.data_dir / SQLITE_FILE).exists()
    import psycopg

    with psycopg.connect(_server(target), autocommit=True) as server:
        found = server.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (target.name,)
        ).fetchone()
    return found is not None


# --- measuring ----------------------------------------------------------------------------


@contextmanager
def generated(url: str | None, throwaway_name: str, scale: float) -> Iterator[Target]:
    """Django set up on the database at ``url`` (one bench/generate.py kept), or on a
    throwaway one built here at ``scale`` and dropped on the way out."""
    import warnings

    target = choose(url, throwaway_name)
    built_here = url is None
    if built_here:
        create(target)
    elif not exists(target):
        raise SystemExit(f"No database at {target.describe()}: run bench/generate.py --keep.")
    import django

    # Static files are not collected for a benchmark; WhiteNoise says so at the first request.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    try:
        if built_here:
            import _data

            migrate()
            _data.build(scale, log=lambda line: None)
        yield target
    finally:
        if built_here:
            drop(target)


def configure_client_settings(settings: Any) -> None:
    """What Django's test client needs under production settings (DATABASE_URL set)."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    # Production settings expect collected static files; API responses need none.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def interleaved(
    action: Callable[[], Any], baseline: Callable[[], Any], runs: int
) -> tuple[list[float], list[float]]:
    """Times in ms of ``action`` and ``baseline``, alternating so load hits both alike
    (one warm-up run of each first)."""
    action()
    baseline()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for side, call in enumerate((action, baseline)):
            began = time.perf_counter()
            call()
            times[side].append((time.perf_counter() - began) * 1000)
    return times


def percentiles(times: list[float]) -> tuple[float, float]:
    """(p50, p95) in the same unit as ``times``."""
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())
