"""Celery tasks of the contacts app: ids in, one call, idempotent."""

from __future__ import annotations

from celery import shared_task

from patron.contacts.exports import export_csv_run


@shared_task(name="contacts.export_csv")
def export_csv(job_id: int) -> None:
    """Write the CSV file of export job ``job_id`` (see contacts.exports)."""
    export_csv_run(job_id=job_id)
