"""Import tasks: ids in, one service call, safe to run twice (a redelivered message resumes
after the run's ``rows_done`` or does nothing when the job is finished)."""

from __future__ import annotations

from celery import shared_task

from patron.data_exchange.import_services import (
    IMPORT_TASK,
    REVERT_TASK,
    import_execute,
    import_revert_execute,
)


@shared_task(name=IMPORT_TASK, acks_late=True)
def import_run(job_id: int) -> None:
    """Import (or resume importing) the file of job ``job_id``."""
    import_execute(job_id)


@shared_task(name=REVERT_TASK, acks_late=True)
def import_revert(job_id: int) -> None:
    """Revert the import of job ``job_id``."""
    import_revert_execute(job_id)
