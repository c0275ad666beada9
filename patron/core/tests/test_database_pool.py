"""PostgreSQL connections stay bounded however many requests are in flight (issue 8's load
test: under ASGI every request runs in its own thread, and persistent per-thread connections
ran the server out of connections at 50 concurrent requests)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"

# Twelve "requests", each in a new thread as Django's ASGI handler runs them, each ending
# the way Django ends a request (close_if_unusable_or_obsolete on request_finished).
REQUESTS_IN_THREADS = """
import json, threading
import django
django.setup()
from django.db import connection

backends = set()
lock = threading.Lock()

def request():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), pg_sleep(0.05)")
        backend = cursor.fetchone()[0]
    with lock:
        backends.add(backend)
    connection.close_if_unusable_or_obsolete()

threads = [threading.Thread(target=request) for _ in range(12)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"backends": len(backends)}))
"""


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def test_concurrent_requests_share_a_bounded_pool_of_postgresql_connections(tmp_path: Path):
    if not _postgres_reachable():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (CI provides it)")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": POSTGRES_URL,
        "SECRET_KEY": "pool-test-" + "q8Zr2LmX7pW4tN6bV1cY5dF0gH3jK7sA9eU2iO4mN8",
        "ALLOWED_HOSTS": "localhost",
        "PATRON_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_POOL_SIZE": "3",
    }
    result = subprocess.run(
        [sys.executable, "-c", REQUESTS_IN_THREADS],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    backends = json.loads(result.stdout.strip().splitlines()[-1])["backends"]
    assert 1 <= backends <= 3
