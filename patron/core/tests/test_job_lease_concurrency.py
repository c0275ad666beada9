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
from patron.core.testing import run_together

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

    def work(running: Job) -> dict[str, int]:
        runs.append(threading.get_ident())
        time.sleep(0.5)  # still running when the other deliveries look
        return {"imported": 1}

    outcomes = [
        done is not None
        for done in run_together(*[lambda: job_execute(job.pk, work)] * DELIVERIES)
    ]
    assert len(runs) == 1
    assert sorted(outcomes) == [False] * (DELIVERIES - 1) + [True]
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
