"""Territory tasks. Tasks are thin: ids in, one service call, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from patron.territories.services import ASSIGN_TASK, assignment_run


@shared_task(name=ASSIGN_TASK)
def territory_assignment_run(job_id: int) -> None:
    """Recompute the assignments of the territory model of job ``job_id``."""
    assignment_run(job_id=job_id)
