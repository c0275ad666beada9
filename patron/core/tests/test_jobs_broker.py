"""A task travels from a web-like process through the broker to a separate worker process.

Both processes share a file SQLite database in a temporary data directory (not the pytest
test database), once over the embedded filesystem transport and once over Redis.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.db_templates import build_template

pytestmark = pytest.mark.broker

REDIS_URL = "redis://127.0.0.1:6379/15"
WAIT_SECONDS = 60
PRODUCTION_VARIABLES = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
}

ENQUEUE_SCRIPT = """
import os, django
django.setup()
from celery import current_app
from django.db import transaction
from patron.core.jobs import job_start
current_app.conf.task_default_queue = os.environ["TEST_QUEUE"]
with transaction.atomic():
    job = job_start(kind="core.ping", user=None, params={}, task_name="core.ping")
print(job.pk, os.getpid())
"""


def _env(data_dir: Path, broker_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_VARIABLES}
    # Cached bytecode makes each of the several child processes start in a second, not four.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["PATRON_DATA_DIR"] = str(data_dir)
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    return env


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, django_db_blocker):
    path = tmp_path_factory.mktemp("broker")
    if connection.vendor == "sqlite":
        # The run's migrated template is that database already, without another ~25 s of
        # migrating (`patron run` in test_cli.py migrates a new database through the CLI).
        with django_db_blocker.unblock():
            shutil.copyfile(build_template(connection), path / "patron.sqlite3")
        return path
    subprocess.run(
        [sys.executable, "-m", "patron.cli", "migrate", "--verbosity", "0"],
        env=_env(path, None),
        check=True,
        timeout=120,
    )
    return path


def _enqueue(env: dict[str, str]) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", ENQUEUE_SCRIPT],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    return int(out[-2]), int(out[-1])


def _job_row(data_dir: Path, job_id: int) -> tuple[str, dict[str, Any]]:
    with sqlite3.connect(data_dir / "patron.sqlite3", timeout=10) as db:
        status, result = db.execute(
            "SELECT status, result FROM core_job WHERE id = ?", (job_id,)
        ).fetchone()
    return status, json.loads(result)


def _wait_for_done(data_dir: Path, job_id: int, worker: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        status, result = _job_row(data_dir, job_id)
        if status == "done":
            return result
        assert worker.poll() is None, "the worker exited early"
        time.sleep(0.3)
    pytest.fail(f"job {job_id} was not done within {WAIT_SECONDS} s (status {status})")


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    queue = env["TEST_QUEUE"]
    return subprocess.Popen(
        [sys.executable, "-m", "patron.cli", "worker", "--concurrency", "1", "--queues", queue],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def _stop(worker: subprocess.Popen[bytes]) -> None:
    # Cold shutdown: the work is done, and a warm one waits out the transport's polling.
    worker.send_signal(signal.SIGQUIT)
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def _travels(data_dir: Path, broker_url: str | None, tmp_path: Path) -> None:
    env = _env(data_dir, broker_url)
    # A queue of its own, so a worker from a concurrent run on the same Redis takes nothing.
    env["TEST_QUEUE"] = f"patron-test-{uuid.uuid4().hex}"
    # Enqueued before the worker runs: the broker must keep the message until one is there.
    job_id, producer_pid = _enqueue(env)
    assert _job_row(data_dir, job_id)[0] == "queued"
    worker = _start_worker(env, tmp_path / "worker.log")
    try:
        result = _wait_for_done(data_dir, job_id, worker)
        # And a message sent while the worker is running.
        second_id, _ = _enqueue(env)
        _wait_for_done(data_dir, second_id, worker)
    finally:
        _stop(worker)
    assert result["pong"] is True
    assert result["worker_pid"] not in (producer_pid, os.getpid())


def test_task_travels_through_filesystem_broker_to_worker(data_dir, tmp_path):
    _travels(data_dir, None, tmp_path)
    assert (data_dir / "broker" / "queue").is_dir()


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def test_task_travels_through_redis_to_worker(data_dir, tmp_path):
    if not _redis_reachable():
        pytest.skip("Redis is not reachable at 127.0.0.1:6379 (CI provides it)")
    _travels(data_dir, REDIS_URL, tmp_path)
