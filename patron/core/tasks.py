"""Platform tasks. Tasks are thin: ids in, one service call, safe to run twice."""

from __future__ import annotations

import os
from typing import Any

from celery import shared_task

from patron.core.exports import export_csv_run
from patron.core.jobs import job_execute, job_progress
from patron.core.models import Job


def _pong(job: Job) -> dict[str, Any]:
    job_progress(job, done=1, total=1, message="Pong")
    return {"pong": True, "worker_pid": os.getpid()}


@shared_task(name="core.ping")
def ping(job_id: int) -> None:
    """Answer a ping Job: proves a message reached a worker that can write to the database."""
    job_execute(job_id, _pong)


@shared_task(name="core.clear_expired_sessions")
def clear_expired_sessions() -> None:
    """Delete expired login sessions (the scheduler runs it; repeating it is harmless)."""
    from importlib import import_module

    from django.conf import settings

    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()


@shared_task(name="core.export_csv")
def export_csv(job_id: int) -> None:
    """Write the CSV file of export job ``job_id`` (see core.exports)."""
    export_csv_run(job_id=job_id)
