"""Contacts tasks. Tasks are thin: ids in, one service call, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from patron.contacts.vcard_services import VCARD_IMPORT_TASK, vcard_import_run


@shared_task(name=VCARD_IMPORT_TASK)
def vcard_import(job_id: int) -> None:
    """Import the cards of vCard import job ``job_id`` (see vcard_services)."""
    vcard_import_run(job_id=job_id)
