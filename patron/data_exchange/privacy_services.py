"""Privacy (GDPR) requests: the one write path.

``privacy_request_create`` checks who asks, finds the person (a clear error when nothing is
held), records the request with what was found and starts its background job;
``privacy_request_run`` (the task body) builds the export archive or erases / anonymises, then
records the outcome, who carried it out and when. Each request is written to the security log
when it is made, and each archive download when it happens.
"""

from __future__ import annotations

import tempfile
from typing import Any

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from patron.core.choices import SecurityEventKind
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.jobs import job_execute, job_progress, job_start
from patron.core.models import Job, SecurityEvent
from patron.data_exchange.choices import PrivacyRequestKind, PrivacyRequestStatus
from patron.data_exchange.models import PrivacyRequest
from patron.data_exchange.privacy_erase import erase_subject
from patron.data_exchange.privacy_export import write_archive
from patron.data_exchange.privacy_selectors import (
    PrivacySubject,
    find_subject,
    require_privacy_handler,
    subject_counts,
)

PRIVACY_TASK = "data_exchange.privacy_request_run"
PRIVACY_JOB_KIND = "data_exchange.privacy"
# The security-log kind of privacy requests and archive downloads.
SECURITY_KIND = SecurityEventKind.PRIVACY_REQUEST
CONFIRM_REFUSAL = (
    "Erasing or anonymising cannot be undone: confirm the request (confirm = true) after "
    "checking what was found."
)


def _security_log(*, user: Any, action: str, request: PrivacyRequest, ip: str | None) -> None:
    SecurityEvent.objects.create(
        kind=SECURITY_KIND,
        user=user if getattr(user, "pk", None) else None,
        email=getattr(user, "email", "")[:254],
        ip_address=ip,
        detail={
            "change": action,
            "privacy_request": request.pk,
            "request_kind": request.kind,
            "contact_id": request.contact_id,
            "lead_id": request.lead_id,
        },
    )


def privacy_preview(
    *, user: Any, email: str = "", contact_id: int | None = None, lead_id: int | None = None
) -> tuple[PrivacySubject, dict[str, int]]:
    """What a request would cover: the person's records and how many of each (no writes)."""
    require_privacy_handler(user)
    subject = find_subject(email=email, contact_id=contact_id, lead_id=lead_id)
    return subject, subject_counts(subject)


def _validate_kind(kind: str) -> None:
    if kind not in PrivacyRequestKind.values:
        raise ValidationFailed(
            f"Unknown request kind {kind!r}.",
            errors={"kind": [f"Choose one of: {', '.join(PrivacyRequestKind.values)}."]},
        )


def privacy_request_create(
    *,
    user: Any,
    kind: str,
    email: str = "",
    contact_id: int | None = None,
    lead_id: int | None = None,
    reason: str = "",
    confirmed: bool = False,
    ip_address: str | None = None,
) -> PrivacyRequest:
    """Record a request about one person and start the job that carries it out."""
    _validate_kind(kind)
    require_privacy_handler(user, export=kind == PrivacyRequestKind.EXPORT)
    subject = find_subject(email=email, contact_id=contact_id, lead_id=lead_id)
    if kind != PrivacyRequestKind.EXPORT and not confirmed:
        raise ValidationFailed(CONFIRM_REFUSAL, errors={"confirm": [CONFIRM_REFUSAL]})
    counts = subject_counts(subject)
    with transaction.atomic():
        request = PrivacyRequest.objects.create(
            kind=kind,
            subject_email=(email or next(iter(sorted(subject.emails)), "")).strip().lower(),
            contact_id=contact_id or (subject.contact_ids[0] if subject.contact_ids else None),
            lead_id=lead_id or (subject.lead_ids[0] if subject.lead_ids else None),
            reason=reason.strip(),
            requested_by=user,
            summary={
                "found": counts,
                "contact_ids": subject.contact_ids,
                "lead_ids": subject.lead_ids,
                "account_ids": subject.account_ids,
                "emails": sorted(subject.emails),
            },
        )
        request.job = job_start(
            kind=PRIVACY_JOB_KIND,
            user=user,
            params={"privacy_request_id": request.pk},
            task_name=PRIVACY_TASK,
        )
        request.save(update_fields=["job"])
        _security_log(user=user, action=f"requested {kind}", request=request, ip=ip_address)
    return request


def _subject_of(request: PrivacyRequest) -> PrivacySubject:
    """The records found when the request was made (an erased person can no longer be found
    by email, so a re-run works on the same ids)."""
    summary = request.summary or {}
    return PrivacySubject(
        emails=set(summary.get("emails", [])),
        contact_ids=list(summary.get("contact_ids", [])),
        lead_ids=list(summary.get("lead_ids", [])),
        account_ids=list(summary.get("account_ids", [])),
    )


def _run(job: Job) -> dict[str, Any]:
    request = PrivacyRequest.objects.get(pk=job.params["privacy_request_id"])
    PrivacyRequest.objects.filter(pk=request.pk).update(status=PrivacyRequestStatus.RUNNING)
    subject = _subject_of(request)

    def progress(done: int, total: int, message: str) -> None:
        job_progress(job, done=done, total=total, message=message)

    try:
        if request.kind == PrivacyRequestKind.EXPORT:
            with tempfile.TemporaryFile() as handle:
                counts = write_archive(
                    handle,
                    subject=subject,
                    request_id=request.pk,
                    kind=request.kind,
                    progress=progress,
                )
                handle.seek(0)
                if request.archive:
                    request.archive.delete(save=False)
                request.archive.save(f"privacy-request-{request.pk}.zip", File(handle), save=False)
            done_key = "exported"
        else:
            counts = erase_subject(
                subject,
                kind=request.kind,
                request_id=request.pk,
                actor=request.requested_by,
                progress=progress,
            )
            done_key = "erased" if request.kind == PrivacyRequestKind.ERASE else "anonymised"
    except Exception:
        PrivacyRequest.objects.filter(pk=request.pk).update(status=PrivacyRequestStatus.FAILED)
        raise
    summary = {**(request.summary or {}), done_key: counts}
    request.summary = summary
    request.status = PrivacyRequestStatus.DONE
    request.performed_by = request.requested_by
    request.completed_at = timezone.now()
    request.save(update_fields=["summary", "status", "performed_by", "completed_at", "archive"])
    return {"privacy_request": request.pk, done_key: counts}


def privacy_request_run(*, job_id: int) -> None:
    """The task body: carry out the request of job ``job_id`` (a finished job is a no-op)."""
    job_execute(job_id, _run)


def privacy_archive_opened(*, user: Any, request: PrivacyRequest, ip: str | None) -> None:
    """Check the user may download the export archive and log the download."""
    require_privacy_handler(user, export=True)
    if request.kind != PrivacyRequestKind.EXPORT or not request.archive:
        raise RecordNotFound("This request has no archive to download (yet).")
    _security_log(user=user, action="downloaded export", request=request, ip=ip)
