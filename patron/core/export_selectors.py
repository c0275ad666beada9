"""Reads of list export jobs: a user sees only the exports they started."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from patron.core.exceptions import RecordNotFound
from patron.core.models import Job
from patron.core.record_pages import EXPORT_TASK


def export_jobs(*, user: Any) -> QuerySet[Job]:
    """The list export jobs ``user`` started (UI or API), whatever their state."""
    return Job.objects.filter(created_by_id=user.pk, kind=EXPORT_TASK)


def export_job_get(*, user: Any, pk: int) -> Job:
    """One of ``user``'s export jobs; someone else's is not found (its id reveals nothing)."""
    job = export_jobs(user=user).filter(pk=pk).first()
    if job is None:
        raise RecordNotFound("No export with this id among the exports you started.")
    return job
