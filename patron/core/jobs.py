"""User-visible background jobs: a Job row records progress that pages show as a bar.

Tasks are enqueued only after the surrounding transaction commits, carry ids only, and are
idempotent: a job that is already done is not run again when a message is redelivered.

A running job is leased to the worker running it (renewed by each progress report), so a
message the broker hands out again while that worker is alive (Redis redelivers unacked
messages after its visibility timeout) backs off instead of running the job a second time
at once; once the lease runs out (the worker died), a delivery resumes the job. A delivery
on the machine the lease was taken on does not wait for that when the owner process is
gone (a worker killed there and restarted): it takes the job over at once.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from patron.core.choices import JobStatus
from patron.core.exceptions import BrokerUnavailable
from patron.core.models import Job

logger = logging.getLogger(__name__)
BROKER_DOWN_ERROR = (
    "The task broker was unavailable when this job was started, so it never ran. Start it again."
)


@dataclass(frozen=True)
class JobKind:
    """How pages name one kind of job and where its result is shown."""

    kind: str
    label: str
    # A page that shows this kind's result (its URL takes the job's pk); without one the
    # generic job page with the progress bar and download is used.
    url_name: str = ""


_job_kinds: dict[str, JobKind] = {}


def register_job_kind(kind: JobKind) -> None:
    _job_kinds[kind.kind] = kind


def job_label(job: Job) -> str:
    registered = _job_kinds.get(job.kind)
    return registered.label if registered else "Background job"


def job_url(job: Job) -> str:
    registered = _job_kinds.get(job.kind)
    if registered and registered.url_name:
        return reverse(registered.url_name, args=[job.pk])
    return reverse("ui:job_detail", args=[job.pk])


def _send(task_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Hand the task to the broker; False (and an error in the log) when it is unreachable."""
    from celery import current_app

    try:
        current_app.send_task(task_name, args=args, kwargs=kwargs)
    except Exception as exc:  # kombu's OperationalError, or the connection's own error
        logger.error("The task broker refused %s%r: %s: %s", task_name, args, type(exc).__name__,
                     exc)
        return False
    return True


def enqueue(task_name: str, *args: Any, **kwargs: Any) -> None:
    """Send a Celery task by name once the current transaction has committed.

    The data it works on is committed by then, so a broker that is down does not fail the
    request: the error is logged, and the periodic sweeps that own that data (automation
    tick, the never-lost lead sweep, webhook retries) pick the work up when it returns."""
    transaction.on_commit(lambda: _send(task_name, args, kwargs))


def broker_check() -> None:
    """Raise BrokerUnavailable (a 503) when the broker does not answer within 2 seconds."""
    from patron.core.health import check_broker

    problem = check_broker()
    if problem is not None:
        raise BrokerUnavailable(
            "The task broker is unavailable, so the job was not started and nothing was "
            "saved. Try again in a moment.",
            errors={"broker": [problem]},
        )


def job_start(*, kind: str, user: Any, params: dict[str, Any], task_name: str) -> Job:
    """Create a Job row and enqueue ``task_name(job_id)`` after commit.

    A job is never lost silently: with the broker down it is refused before anything is
    written (BrokerUnavailable, a 503), and should the broker fail between that check and
    the send, the job is marked failed with that reason instead of waiting forever."""
    broker_check()
    job = Job.objects.create(kind=kind, created_by=user, params=params)

    def send() -> None:
        if not _send(task_name, (job.pk,), {}):
            Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
                status=JobStatus.FAILED,
                finished_at=timezone.now(),
                message="Failed",
                error=BROKER_DOWN_ERROR,
            )

    transaction.on_commit(send)
    return job


class JobLeaseLost(Exception):
    """Another worker took the job over after this one's lease ran out; this copy stops."""


def _lease_length() -> timedelta:
    return timedelta(seconds=settings.PATRON_JOB_LEASE_SECONDS)


def _this_host() -> str:
    return socket.gethostname()[:60]


@functools.cache
def _pid_namespace() -> str:
    """This process's PID namespace (its inode on Linux), "" where it cannot be read.

    Containers sharing the host's network also share its hostname, yet a pid of one means
    nothing in another: a claim compares namespaces before it trusts a pid."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def _lease_owner() -> str:
    # Unique per claim (two deliveries in one process are two owners); host and pid say
    # where a job runs when someone reads the row, and let a claim on that host see that
    # the owner process is gone (_owner_is_dead).
    return f"{_this_host()}:{os.getpid()}:{_pid_namespace() or '-'}:{uuid.uuid4().hex[:12]}"


def _owner_is_dead(owner: str) -> bool:
    """True only when ``owner`` names a process of this host and PID namespace that no
    longer exists.

    Anything else (another host or namespace, a malformed owner, a live process, one we may
    not signal) is "cannot tell", and the lease is honoured until it runs out. A reused pid
    can only make a dead owner look alive, which waits: safe."""
    parts = owner.split(":")
    if len(parts) != 4 or parts[0] != _this_host():
        return False
    if not _pid_namespace() or parts[2] != _pid_namespace():
        return False
    pid_text = parts[1]
    if not (pid_text.isascii() and pid_text.isdigit()):
        return False
    pid = int(pid_text)
    if pid == 0:  # would ask about our own process group, not the owner
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):  # PermissionError: it exists, under another user
        return False
    return False


def job_claim(job_id: int) -> Job | None:
    """Lease a queued (or abandoned) job and mark it running; None when it is finished
    already (a redelivery) or, outside a Celery task, while another worker holds it.

    Inside a task, a job another worker holds makes the task retry itself once that lease
    would run out: if that worker finishes, the retry is a no-op; if it died, the retry
    resumes the job. A job held by a process of this machine that no longer exists (a
    worker killed there) is taken over at once instead."""
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in (JobStatus.DONE, JobStatus.FAILED):
            return None
        held_until = job.lease_expires_at
        owner_is_dead = (
            held_until is not None and held_until > now and _owner_is_dead(job.lease_owner)
        )
        if owner_is_dead:
            logger.warning(
                "Job %s was leased to %s, whose process is gone; taking it over now",
                job_id,
                job.lease_owner,
            )
        if held_until is None or held_until <= now or owner_is_dead:
            job.status = JobStatus.RUNNING
            job.started_at = job.started_at or now
            job.lease_owner = _lease_owner()
            job.lease_expires_at = now + _lease_length()
            job.save(update_fields=["status", "started_at", "lease_owner", "lease_expires_at"])
            return job
    wait = (held_until - now).total_seconds()
    logger.info("Job %s is running on %s for %.0f s more; not starting it twice", job_id,
                job.lease_owner, wait)
    _retry_after(wait + 1)
    return None


def _retry_after(seconds: float) -> None:
    """Retry the Celery task being run (if any) after ``seconds``; never gives up, because
    the retry is what resumes the job should the worker holding it die."""
    from celery import current_app

    task = current_app.current_task
    if task is None or task.request.called_directly or task.request.is_eager:
        return
    raise task.retry(countdown=round(seconds), max_retries=None)


def job_release(job: Job) -> None:
    """End this worker's lease now, so the next delivery resumes the job at once."""
    if job.lease_owner:
        Job.objects.filter(pk=job.pk, lease_owner=job.lease_owner).update(
            lease_expires_at=timezone.now()
        )


def job_progress(job: Job, *, done: int, total: int | None = None, message: str = "") -> None:
    """Record progress and renew the lease; JobLeaseLost when another worker took over."""
    job.progress_done = done
    if total is not None:
        job.progress_total = total
    if message:
        job.message = message[:300]
    rows = Job.objects.filter(pk=job.pk)
    renewal: dict[str, Any] = {}
    if job.lease_owner:
        rows = rows.filter(lease_owner=job.lease_owner)
        job.lease_expires_at = renewal["lease_expires_at"] = timezone.now() + _lease_length()
    updated = rows.update(
        progress_done=job.progress_done,
        progress_total=job.progress_total,
        message=job.message,
        **renewal,
    )
    if not updated and job.lease_owner:
        raise JobLeaseLost(f"Job {job.pk} is now run by another worker.")


def _save_ending(job: Job) -> None:
    """Save a finished or failed job, unless another worker has taken it over."""
    with transaction.atomic():
        if job.lease_owner and not (
            Job.objects.select_for_update()
            .filter(pk=job.pk, lease_owner=job.lease_owner)
            .exists()
        ):
            raise JobLeaseLost(f"Job {job.pk} is now run by another worker.")
        job.lease_owner = ""
        job.lease_expires_at = None
        job.save()


def job_file_name(job: Job) -> str:
    """The name a job's result file is downloaded under (the page and the API alike)."""
    return str(job.result.get("filename") or job.result_file.name.rsplit("/", 1)[-1])


def job_finish(job: Job, *, result: dict[str, Any] | None = None, message: str = "") -> None:
    job.status = JobStatus.DONE
    job.finished_at = timezone.now()
    job.result = result or {}
    job.message = message[:300] or "Done"
    if job.progress_total is not None:
        job.progress_done = job.progress_total
    _save_ending(job)


def job_fail(job: Job, *, error: str) -> None:
    job.status = JobStatus.FAILED
    job.finished_at = timezone.now()
    job.error = error
    job.message = "Failed"
    _save_ending(job)


JobWork = Callable[[Job], dict[str, Any] | None]


def job_execute(job_id: int, work: JobWork) -> Job | None:
    """Run ``work(job)`` for a task body: claim, then finish with its result or record the error.

    Returns None when the job is missing, already finished or running elsewhere, so a
    redelivered message is a no-op. ``work`` reports progress with ``job_progress`` (at
    least once per lease, which renews it) and should itself be safe to repeat, because a
    worker lost mid-job makes the broker deliver the message again.
    """
    job = job_claim(job_id)
    if job is None:
        return None
    try:
        result = work(job)
        # A "message" in the result is the summary the job's page shows once it is done.
        job_finish(job, result=result, message=str((result or {}).get("message", "")))
    except JobLeaseLost:
        logger.warning("Job %s was taken over by another worker; this copy stopped", job_id)
        return None
    except Exception as exc:
        try:
            job_fail(job, error=f"{type(exc).__name__}: {exc}")
        except JobLeaseLost:
            logger.warning("Job %s failed here after another worker took it over", job_id)
        raise
    except BaseException:
        # The process is stopping (shutdown, interrupt): the next delivery may resume now.
        job_release(job)
        raise
    return job
