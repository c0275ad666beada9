"""core.jobs: enqueue after commit, idempotent claim, progress, and the ping task body."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery, current_app
from django.utils import timezone

from patron.core.choices import JobStatus
from patron.core.jobs import (
    JobLeaseLost,
    _pid_namespace,
    enqueue,
    job_claim,
    job_execute,
    job_fail,
    job_finish,
    job_progress,
    job_start,
)
from patron.core.models import Job
from patron.core.tasks import ping

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """Messages handed to the broker, recorded instead of sent."""
    messages: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(
        current_app,
        "send_task",
        lambda name, args=(), kwargs=None: messages.append((name, tuple(args), kwargs or {})),
    )
    return messages


def test_enqueue_waits_for_commit(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue("core.ping", 7, flag=True)
        assert sent == []
    assert len(callbacks) == 1
    assert sent == [("core.ping", (7,), {"flag": True})]


def test_enqueue_in_rolled_back_transaction_sends_nothing(sent, django_capture_on_commit_callbacks):
    from django.db import transaction

    def enqueue_then_fail() -> None:
        with transaction.atomic():
            enqueue("core.ping", 1)
            raise RuntimeError("roll back")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        enqueue_then_fail()
    assert callbacks == []
    assert sent == []


def test_job_start_creates_queued_job_and_sends_its_id(
    sent, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(kind="export", user=admin_user, params={"q": "x"}, task_name="core.ping")
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.created_by == admin_user
    assert sent == [("core.ping", (job.pk,), {})]


def _lease_runs_out(job: Job) -> None:
    """What time does to the lease of a worker that died (SIGKILL leaves no trace)."""
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def test_claim_marks_running_and_refuses_finished_job():
    job = Job.objects.create(kind="export")
    claimed = job_claim(job.pk)
    assert claimed is not None
    assert claimed.status == JobStatus.RUNNING
    assert claimed.started_at is not None
    first_started = claimed.started_at

    # A redelivery while the first worker holds the job does not run it a second time.
    assert job_claim(job.pk) is None
    # Once that worker's lease runs out (it died), a redelivery claims it; the start is kept.
    _lease_runs_out(claimed)
    again = job_claim(job.pk)
    assert again is not None
    assert again.started_at == first_started
    assert again.lease_owner != claimed.lease_owner

    job_finish(again, result={"rows": 3})
    job.refresh_from_db()
    assert (job.lease_owner, job.lease_expires_at) == ("", None)
    assert job_claim(job.pk) is None
    assert job_claim(999_999) is None


def test_a_second_delivery_backs_off_while_the_first_worker_runs_the_job():
    job = Job.objects.create(kind="import")
    calls: list[str] = []

    def work(running: Job) -> dict[str, int]:
        calls.append("run")
        # The broker's visibility timeout passes: it hands the message to another worker.
        assert job_execute(job.pk, work) is None
        job_progress(running, done=1, total=1)
        return {"imported": 1}

    assert job_execute(job.pk, work) is not None
    assert calls == ["run"]
    job.refresh_from_db()
    assert job.status == JobStatus.DONE


def test_inside_a_task_the_backed_off_delivery_retries_when_the_lease_runs_out(monkeypatch):
    from celery.exceptions import Retry

    job = Job.objects.create(kind="import")
    holder = job_claim(job.pk)
    assert holder is not None
    assert holder.lease_expires_at is not None
    retries: list[dict[str, Any]] = []

    class Delivery:
        request = SimpleNamespace(called_directly=False, is_eager=False)

        def retry(self, **options: Any) -> Retry:
            retries.append(options)
            return Retry()

    # The task being run, as a worker (not eager, not called directly) sees it.
    monkeypatch.setattr(Celery, "current_task", property(lambda app: Delivery()))
    with pytest.raises(Retry):
        job_execute(job.pk, lambda running: None)
    [options] = retries
    lease = (holder.lease_expires_at - timezone.now()).total_seconds()
    assert options["max_retries"] is None  # the retry is what resumes a job whose worker died
    assert lease <= options["countdown"] <= lease + 2


def test_a_job_whose_worker_died_is_resumed_once_its_lease_runs_out():
    job = Job.objects.create(kind="import")
    dead = job_claim(job.pk)
    assert dead is not None
    job_progress(dead, done=5, total=10)
    calls: list[int] = []

    def work(running: Job) -> dict[str, int]:
        calls.append(running.progress_done)
        return {"imported": 10}

    assert job_execute(job.pk, work) is None
    _lease_runs_out(dead)
    assert job_execute(job.pk, work) is not None
    assert calls == [5]
    job.refresh_from_db()
    assert job.status == JobStatus.DONE


def test_progress_renews_the_lease():
    job = Job.objects.create(kind="import")
    running = job_claim(job.pk)
    assert running is not None
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() + timedelta(seconds=2))
    job_progress(running, done=1, total=3)
    job.refresh_from_db()
    assert job.lease_expires_at is not None
    assert job.lease_expires_at > timezone.now() + timedelta(seconds=60)
    assert job_claim(job.pk) is None


def test_a_copy_that_lost_its_lease_stops_and_leaves_the_job_to_the_new_owner():
    job = Job.objects.create(kind="import")
    copies: list[Job] = []

    def silent_too_long(running: Job) -> dict[str, int]:
        copies.append(running)
        # Silent past its lease: another delivery took the job over meanwhile.
        _lease_runs_out(running)
        assert job_claim(job.pk) is not None
        job_progress(running, done=1)
        raise AssertionError("job_progress let the old copy go on")

    assert job_execute(job.pk, silent_too_long) is None
    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.RUNNING, "")
    # Nor can the old copy finish or fail the job the new owner runs.
    with pytest.raises(JobLeaseLost):
        job_finish(copies[0], result={})
    with pytest.raises(JobLeaseLost):
        job_fail(copies[0], error="late")


def test_an_interrupted_worker_releases_the_job_for_the_next_delivery():
    job = Job.objects.create(kind="import")

    class Interrupted(BaseException):
        pass

    def interrupted(running: Job) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        job_execute(job.pk, interrupted)
    assert job_execute(job.pk, lambda running: {"resumed": True}) is not None


# Longer than the 60 characters a lease owner keeps of it, so a claim must cut it alike.
LONG_HOSTNAME = "worker-" + "x" * 70


@pytest.fixture
def this_host(monkeypatch) -> str:
    """This machine's name as a lease owner records it."""
    monkeypatch.setattr(socket, "gethostname", lambda: LONG_HOSTNAME)
    return LONG_HOSTNAME[:60]


@pytest.fixture
def namespace() -> str:
    """This process's PID namespace as a lease owner records it."""
    return _pid_namespace()


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped): a worker killed here."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _claimed_by(owner: str) -> Job:
    """A running job whose lease, still far from running out, was taken by ``owner``."""
    job = Job.objects.create(kind="import")
    claimed = job_claim(job.pk)
    assert claimed is not None
    Job.objects.filter(pk=job.pk).update(lease_owner=owner)
    claimed.lease_owner = owner
    return claimed


def test_a_redelivery_takes_the_job_over_at_once_when_the_owner_process_is_dead(
    this_host, namespace, dead_pid, caplog
):
    killed = _claimed_by(f"{this_host}:{dead_pid}:{namespace}:0123456789ab")
    with caplog.at_level(logging.WARNING, logger="patron.core.jobs"):
        resumed = job_claim(killed.pk)
    assert resumed is not None
    assert resumed.status == JobStatus.RUNNING
    assert resumed.lease_owner.startswith(f"{this_host}:{os.getpid()}:{namespace}:")
    assert resumed.started_at == killed.started_at
    assert f"leased to {killed.lease_owner}, whose process is gone" in caplog.text
    # Should the old copy still be running after all, it stops without touching the job.
    with pytest.raises(JobLeaseLost):
        job_progress(killed, done=1)
    with pytest.raises(JobLeaseLost):
        job_finish(killed, result={})
    job_finish(resumed, result={"imported": 1})
    killed.refresh_from_db()
    assert killed.status == JobStatus.DONE


def test_a_job_whose_owner_process_is_dead_is_run_at_once_by_the_redelivered_task(
    this_host, namespace, dead_pid
):
    killed = _claimed_by(f"{this_host}:{dead_pid}:{namespace}:0123456789ab")
    assert job_execute(killed.pk, lambda running: {"imported": 1}) is not None
    killed.refresh_from_db()
    assert (killed.status, killed.result) == (JobStatus.DONE, {"imported": 1})


@pytest.mark.parametrize(
    "owner",
    [
        pytest.param("{host}:{own_pid}:{ns}:0123456789ab", id="owner-alive"),
        pytest.param("other-machine:{dead_pid}:{ns}:0123456789ab", id="another-host"),
        # A container sharing the host's name: its pids mean nothing here.
        pytest.param("{host}:{dead_pid}:1{ns}:0123456789ab", id="another-pid-namespace"),
        pytest.param("{host}:{dead_pid}:-:0123456789ab", id="namespace-unknown"),
        pytest.param("{host}:{dead_pid}:0123456789ab", id="before-namespaces"),
        pytest.param("{host}:{dead_pid}", id="no-claim-part"),
        pytest.param("{host}:{dead_pid}:{ns}:0123456789ab:extra", id="too-many-parts"),
        pytest.param("{host}:pid{dead_pid}:{ns}:0123456789ab", id="pid-not-a-number"),
        pytest.param("{host}:-{dead_pid}:{ns}:0123456789ab", id="negative-pid"),
        pytest.param("{host}:0:{ns}:0123456789ab", id="pid-zero"),
        pytest.param("{host}:9999999999:{ns}:0123456789ab", id="pid-out-of-range"),
        pytest.param("", id="empty"),
    ],
)
def test_a_redelivery_waits_for_the_lease_when_it_cannot_tell_the_owner_is_dead(
    this_host, namespace, dead_pid, owner
):
    held = _claimed_by(
        owner.format(host=this_host, own_pid=os.getpid(), dead_pid=dead_pid, ns=namespace)
    )
    assert job_claim(held.pk) is None
    fresh = Job.objects.get(pk=held.pk)
    assert (fresh.lease_owner, fresh.lease_expires_at) == (held.lease_owner, held.lease_expires_at)
    job_progress(held, done=1)  # the owner keeps its lease


def test_a_live_owner_under_another_user_is_not_taken_over(
    this_host, namespace, dead_pid, monkeypatch
):
    def not_permitted(pid: int, signal: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    held = _claimed_by(f"{this_host}:{dead_pid}:{namespace}:0123456789ab")
    monkeypatch.setattr(os, "kill", not_permitted)
    assert job_claim(held.pk) is None


def test_progress_is_saved_and_shown_as_percent():
    job = Job.objects.create(kind="import")
    job_progress(job, done=25, total=200, message="Reading rows")
    job.refresh_from_db()
    assert (job.progress_done, job.progress_total, job.message) == (25, 200, "Reading rows")
    assert job.percent == 12

    job_progress(job, done=150)
    job.refresh_from_db()
    assert job.percent == 75
    assert job.message == "Reading rows"

    job_finish(job, result={})
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert job.percent == 100


def test_execute_runs_work_once_per_job():
    job = Job.objects.create(kind="import")
    calls: list[int] = []

    def work(running: Job) -> dict[str, int]:
        calls.append(running.pk)
        job_progress(running, done=1, total=1)
        return {"imported": 1}

    assert job_execute(job.pk, work) is not None
    assert job_execute(job.pk, work) is None  # the broker delivered the message twice
    job.refresh_from_db()
    assert calls == [job.pk]
    assert job.status == JobStatus.DONE
    assert job.result == {"imported": 1}


def test_execute_records_failure_and_reraises():
    job = Job.objects.create(kind="import")

    def work(running: Job) -> None:
        raise ValueError("row 3: bad date")

    with pytest.raises(ValueError, match="bad date"):
        job_execute(job.pk, work)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == "ValueError: row 3: bad date"
    assert job_execute(job.pk, work) is None


def test_ping_task_finishes_its_job_and_is_idempotent():
    job = Job.objects.create(kind="core.ping")
    ping.run(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert job.result["pong"] is True
    finished_at = job.finished_at

    ping.run(job.pk)
    job.refresh_from_db()
    assert job.finished_at == finished_at


def test_celery_settings_make_delivery_safe():
    from django.conf import settings

    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


def test_clear_expired_sessions_keeps_live_ones():
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from patron.core.tasks import clear_expired_sessions

    now = timezone.now()
    Session.objects.create(session_key="old", session_data="", expire_date=now - timedelta(1))
    Session.objects.create(session_key="live", session_data="", expire_date=now + timedelta(1))
    clear_expired_sessions.run()
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]


def test_scheduled_tasks_are_registered():
    from django.conf import settings

    # Import every app's tasks.py as a worker does at start-up, whatever this test process
    # happened to import before.
    current_app.loader.import_default_modules()

    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in current_app.tasks
