"""Two deliveries of one job message at the same moment on PostgreSQL (Redis hands an
unacknowledged message out again after its visibility timeout): the job runs once.

Each thread has its own database connection, like two Celery workers, so the row lock taken
by ``job_claim`` and the lease it writes are what keep them apart.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from patron.core.choices import JobStatus
from patron.core.jobs import job_execute
from patron.core.models import Job

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="proves PostgreSQL's row locks; SQLite serialises every writer with BEGIN "
        "IMMEDIATE (and the in-memory test database cannot be shared between threads)",
    ),
    pytest.mark.django_db(transaction=True),
]

DELIVERIES = 4


def test_deliveries_of_one_job_at_the_same_moment_run_it_once():
    job = Job.objects.create(kind="import")
    runs: list[int] = []
    outcomes: list[bool] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(DELIVERIES)

    def work(running: Job) -> dict[str, int]:
        runs.append(threading.get_ident())
        time.sleep(0.5)  # still running when the other deliveries look
        return {"imported": 1}

    def delivery() -> None:
        try:
            barrier.wait()
            outcomes.append(job_execute(job.pk, work) is not None)
        except BaseException as error:  # reported by the test, not swallowed
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=delivery) for _ in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(runs) == 1
    assert sorted(outcomes) == [False] * (DELIVERIES - 1) + [True]
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
