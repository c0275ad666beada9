"""Privacy request tasks: ids in, one service call, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from patron.data_exchange.privacy_services import PRIVACY_TASK, privacy_request_run


@shared_task(name=PRIVACY_TASK)
def privacy_request(job_id: int) -> None:
    """Carry out the privacy request of job ``job_id`` (export, erase or anonymise)."""
    privacy_request_run(job_id=job_id)
