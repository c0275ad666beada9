"""The workflow engine: match events to active workflows, start runs, execute their steps.

Matching (``on_event``, subscribed to every core event) must cost next to nothing for events
no workflow listens to, because it runs after every write in every app: active versions are
indexed in process by event name, and the index is rebuilt only when the stamp in the shared
cache (replaced after every committed workflow change, by any process) differs from the one
the index was built at; a lost stamp only costs a rebuild. Conditions are evaluated in
memory on the record loaded once per event; matching workflows get their runs inserted in
one statement and executed by one Celery task.

Runs are idempotent: ``WorkflowRun.idempotency_key`` is unique per triggering occurrence, and
each step's effect is remembered in ``run.context["effects"]`` in the same transaction as the
effect, so a retried step or a redelivered task never makes a second email or task.

Loops: while a step writes, the context variable ``CHAIN`` holds the ids of the workflows
that led to it; core.events delivers in the emitter's context, so a run started by those
writes carries the chain, and a workflow appearing twice (or a chain deeper than
``MAX_CHAIN``) is stopped before any step runs.
"""

from __future__ import annotations

import contextvars
import datetime
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from patron.automation import conditions
from patron.automation.choices import RunStatus, StepStatus, VersionState
from patron.automation.models import StepRun, Workflow, WorkflowRun, WorkflowVersion
from patron.automation.registry import StepContext, StepError, StepResult, step_type, trigger_type
from patron.automation.schedule import parse_cron
from patron.core.exceptions import PatronError, RecordLocked, VersionConflict
from patron.core.jobs import enqueue
from patron.core.models import BusinessRecord

logger = logging.getLogger(__name__)

CHAIN: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar(
    "automation_chain", default=()
)
MAX_CHAIN = 5
STAMP_KEY = "automation:workflow-index-stamp"
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 60
# Date-relative triggers look back this far, so a scheduler that was down catches up.
DATE_LOOKBACK_DAYS = 2
# A run executes at most this many steps in one go (branches included), against runaway
# definitions; the rest continues on the next resume.
MAX_STEPS_PER_EXECUTION = 200
# A running run holds a lease (``resume_at`` while its status is running), renewed after
# every step; a run whose lease ran out was left by a worker that died, and the scheduler
# takes it back (``reclaim_stale``). Longer than the longest step (a webhook call times out
# after 10 seconds).
RUN_LEASE = datetime.timedelta(minutes=5)
# A pending run not started after this long lost its task (see ``resume_due``).
PENDING_GRACE = datetime.timedelta(minutes=2)
# A run whose worker died this many times (a step that kills it) fails instead.
MAX_RECLAIMS = 3


@dataclass(frozen=True)
class IndexedVersion:
    workflow_id: int
    workflow_name: str
    version_id: int
    object_type: str
    trigger: dict[str, Any]
    conditions: dict[str, Any]
    extra_conditions: dict[str, Any]


class _Index:
    stamp: str | None = None
    by_event: dict[str, list[IndexedVersion]] = {}


_index = _Index()


def _stamp() -> str:
    """The shared version of the workflow definitions (one cache read, no query)."""
    stamp = cache.get(STAMP_KEY)
    if stamp is None:
        cache.add(STAMP_KEY, uuid.uuid4().hex, timeout=None)
        stamp = cache.get(STAMP_KEY) or ""
    return str(stamp)


def invalidate_index() -> None:
    """Rebuild the index here at once and, after commit, in every other process."""
    _index.stamp = None
    transaction.on_commit(lambda: cache.set(STAMP_KEY, uuid.uuid4().hex, timeout=None))


def manual_key(object_type: str) -> str:
    """The index entry of manual workflows for ``object_type`` (never an event's name: those
    have no colon), so record pages learn that there are none without a query."""
    return f"manual:{object_type}"


def active_index() -> dict[str, list[IndexedVersion]]:
    """Active versions of enabled workflows by the event names their triggers listen to."""
    stamp = _stamp()
    if stamp == _index.stamp:
        return _index.by_event
    by_event: dict[str, list[IndexedVersion]] = {}
    versions = WorkflowVersion.objects.filter(
        state=VersionState.ACTIVE, workflow__is_enabled=True
    ).select_related("workflow")
    for version in versions:
        trigger = version.trigger or {}
        kind = trigger_type(str(trigger.get("type")))
        if kind is None:
            continue
        entry = IndexedVersion(
            workflow_id=version.workflow_id,
            workflow_name=version.workflow.name,
            version_id=version.pk,
            object_type=version.workflow.object_type,
            trigger=trigger,
            conditions=version.conditions or {},
            extra_conditions=kind.conditions(trigger),
        )
        for name in kind.event_names(trigger, version.workflow.object_type):
            by_event.setdefault(name, []).append(entry)
        if kind.key == "manual":
            by_event.setdefault(manual_key(version.workflow.object_type), []).append(entry)
    _index.by_event, _index.stamp = by_event, stamp
    return by_event


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _occurrence(event: str, payload: dict[str, Any], record: BusinessRecord | None) -> str:
    """What makes this event one occurrence: its id when the emitter gave one, else the
    record's version after the write with a digest of the changes."""
    if payload.get("event_id"):
        return str(payload["event_id"])
    body = json.dumps(payload, default=str, sort_keys=True)
    version = getattr(record, "version", "")
    return f"v{version}:{hashlib.sha256(body.encode()).hexdigest()[:16]}"


def _load(object_type: str, pk: Any) -> BusinessRecord | None:
    model = conditions.model_for(object_type)
    if model is None or pk is None:
        return None
    return model.all_objects.filter(pk=pk).first()


def loop_error(chain: tuple[int, ...], workflow_id: int, names: dict[int, str]) -> str | None:
    if workflow_id not in chain and len(chain) < MAX_CHAIN:
        return None
    path = " → ".join(names.get(pk, f"#{pk}") for pk in (*chain, workflow_id))
    if workflow_id in chain:
        return f"Loop stopped: this workflow was started by its own steps ({path})."
    return f"Loop stopped: more than {MAX_CHAIN} workflows started each other ({path})."


def on_event(event: str, payload: dict[str, Any]) -> None:
    """core.events subscriber: start the runs ``event`` triggers."""
    entries = active_index().get(event)
    if not entries:
        return
    kind_of = {entry.version_id: trigger_type(str(entry.trigger.get("type"))) for entry in entries}
    changes = payload.get("changes") or {}
    chain = CHAIN.get()
    loaded: dict[str, BusinessRecord | None] = {}
    runs: list[WorkflowRun] = []
    for entry in entries:
        kind = kind_of[entry.version_id]
        if kind is None or not kind.matches(entry.trigger, event, payload):
            continue
        record = None
        if entry.object_type:
            if entry.object_type not in loaded:
                loaded[entry.object_type] = _load(entry.object_type, payload.get("pk"))
            record = loaded[entry.object_type]
            if record is None:
                continue
        if not conditions.evaluate(entry.extra_conditions, record, changes):
            continue
        if not conditions.evaluate(entry.conditions, record, changes):
            continue
        key = (
            f"{entry.version_id}:{event}:{payload.get('pk')}:{_occurrence(event, payload, record)}"
        )
        runs.append(
            _new_run(
                entry.workflow_id,
                entry.version_id,
                trigger=str(entry.trigger.get("type")),
                object_type=entry.object_type,
                object_id=record.pk if record is not None else None,
                key=key,
                context={"event": event, "payload": _json_safe(payload)},
                chain=chain,
                names={entry.workflow_id: entry.workflow_name},
            )
        )
    if runs:
        dispatch(insert_runs(runs))


def _new_run(
    workflow_id: int,
    version_id: int,
    *,
    trigger: str,
    object_type: str,
    object_id: int | None,
    key: str,
    context: dict[str, Any],
    chain: tuple[int, ...],
    names: dict[int, str],
    user: Any = None,
) -> WorkflowRun:
    error = loop_error(chain, workflow_id, _chain_names(chain, names))
    now = timezone.now()
    return WorkflowRun(
        workflow_id=workflow_id,
        version_id=version_id,
        trigger_type=trigger,
        object_type=object_type,
        object_id=object_id,
        idempotency_key=key[:200],
        status=RunStatus.LOOP_STOPPED if error else RunStatus.PENDING,
        error=error or "",
        finished_at=now if error else None,
        chain=list(chain),
        context=context,
        cursor=[0],
        started_by=user,
        created_at=now,
    )


def _chain_names(chain: tuple[int, ...], names: dict[int, str]) -> dict[int, str]:
    if not chain:
        return names
    known = dict(Workflow.objects.filter(pk__in=chain).values_list("pk", "name"))
    return {**known, **names}


def insert_runs(runs: list[WorkflowRun]) -> list[int]:
    """Insert ``runs`` (a key already used is skipped) and return the ids to execute."""
    WorkflowRun.objects.bulk_create(runs, ignore_conflicts=True)
    return list(
        WorkflowRun.objects.filter(
            idempotency_key__in=[run.idempotency_key for run in runs], status=RunStatus.PENDING
        ).values_list("pk", flat=True)
    )


def start_run(
    version: WorkflowVersion,
    *,
    trigger: str,
    key: str,
    record: BusinessRecord | None = None,
    context: dict[str, Any] | None = None,
    user: Any = None,
) -> WorkflowRun:
    """The run for occurrence ``key`` (created once), dispatched for execution."""
    run = _new_run(
        version.workflow_id,
        version.pk,
        trigger=trigger,
        object_type=version.workflow.object_type,
        object_id=record.pk if record is not None else None,
        key=key,
        context=_json_safe(context or {}),
        chain=CHAIN.get(),
        names={version.workflow_id: version.workflow.name},
        user=user,
    )
    ids = insert_runs([run])
    dispatch(ids)
    return WorkflowRun.objects.get(idempotency_key=run.idempotency_key)


def dispatch(run_ids: list[int]) -> None:
    """Execute ``run_ids`` in a worker after the surrounding transaction commits."""
    if not run_ids:
        return

    # With the broker down the runs stay pending and ``resume_due`` starts them later.
    enqueue("automation.execute_runs", list(run_ids))


# ---------------------------------------------------------------- execution


def _list_at(steps: list[Any], prefix: list[Any]) -> list[Any]:
    current = steps
    for index in range(0, len(prefix), 2):
        step = current[prefix[index]]
        current = (step.get("config") or {}).get(prefix[index + 1]) or []
    return current


def step_at(steps: list[Any], cursor: list[Any]) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        items = _list_at(steps, cursor[:-1])
        index = cursor[-1]
        return items[index] if isinstance(index, int) and 0 <= index < len(items) else None
    except (IndexError, KeyError, TypeError, AttributeError):
        return None


def advance(steps: list[Any], cursor: list[Any]) -> list[Any]:
    """The cursor of the step after ``cursor`` (leaving finished branches); [] at the end."""
    current = list(cursor)
    while current:
        parent, index = current[:-1], current[-1]
        if index + 1 < len(_list_at(steps, parent)):
            return [*parent, index + 1]
        current = parent[:-1]
    return []


def iter_steps(steps: list[Any], prefix: str = "steps") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every step of a definition with its path ("steps[2].config.then[0]")."""
    for index, step in enumerate(steps):
        path = f"{prefix}[{index}]"
        yield path, step
        if isinstance(step, dict) and step.get("type") == "branch":
            config = step.get("config") or {}
            for key in ("then", "else"):
                nested = config.get(key)
                if isinstance(nested, list):
                    yield from iter_steps(nested, f"{path}.config.{key}")


def run_actor(workflow: Workflow) -> Any:
    """Whom a run's writes are attributed to (the change log adds "via workflow"): the
    administrator who created the workflow, else the first active administrator."""
    creator = workflow.created_by
    if creator is not None and creator.is_active:
        return creator
    users = get_user_model()._default_manager.filter(is_active=True)
    return (
        users.filter(Q(is_superuser=True) | Q(role__is_admin=True)).order_by("id").first()
        or users.order_by("id").first()
    )


def _claim(run_id: int, now: datetime.datetime) -> bool:
    due = Q(status=RunStatus.PENDING) | Q(status=RunStatus.WAITING, resume_at__lte=now)
    return bool(
        WorkflowRun.objects.filter(due, pk=run_id).update(
            status=RunStatus.RUNNING, resume_at=now + RUN_LEASE
        )
    )


def _retryable(exc: Exception) -> tuple[str, bool]:
    if isinstance(exc, StepError):
        return exc.message, exc.retryable
    if isinstance(exc, RecordLocked | VersionConflict):
        return str(exc), True
    if isinstance(exc, PatronError):
        errors = getattr(exc, "errors", None)
        detail = f" {errors}" if errors else ""
        return f"{exc}{detail}", False
    return f"{type(exc).__name__}: {exc}", True


def execute_run(run_id: int, *, now: datetime.datetime | None = None) -> WorkflowRun | None:
    """Execute run ``run_id`` from its cursor until it ends, waits or fails. Safe to call
    twice or concurrently: only the caller that claims the run executes it."""
    now = now or timezone.now()
    if not _claim(run_id, now):
        return None
    run = WorkflowRun.objects.select_related("workflow", "version").get(pk=run_id)
    run.resume_at = now + RUN_LEASE
    if run.started_at is None:
        run.started_at = now
    steps = run.version.steps or []
    record = _load(run.object_type, run.object_id) if run.object_type else None
    actor = run_actor(run.workflow)
    chain = (*[int(pk) for pk in run.chain], run.workflow_id)
    for _ in range(MAX_STEPS_PER_EXECUTION):
        step = step_at(steps, run.cursor)
        if step is None:
            return _finish(run, RunStatus.SUCCEEDED, "", now)
        outcome = _execute_step(run, step, record, actor, chain, now)
        if outcome == "stop":
            return run
    run.status = RunStatus.PENDING
    run.resume_at = None
    run.save(update_fields=["status", "cursor", "context", "started_at", "resume_at"])
    dispatch([run.pk])
    return run


def _finish(run: WorkflowRun, status: str, error: str, now: datetime.datetime) -> WorkflowRun:
    run.status = status
    run.error = error
    run.finished_at = now
    run.resume_at = None
    run.save(
        update_fields=[
            "status",
            "error",
            "finished_at",
            "resume_at",
            "cursor",
            "context",
            "started_at",
        ]
    )
    return run


def _execute_step(
    run: WorkflowRun,
    step: dict[str, Any],
    record: BusinessRecord | None,
    actor: Any,
    chain: tuple[int, ...],
    now: datetime.datetime,
) -> str:
    step_id = str(step.get("id"))
    kind = step_type(str(step.get("type")))
    attempt = StepRun.objects.filter(run=run, step_id=step_id).count() + 1
    config = step.get("config") or {}
    started = time.monotonic()
    log = StepRun(
        run=run,
        step_id=step_id,
        step_type=str(step.get("type")),
        attempt=attempt,
        input=config,
        started_at=timezone.now(),
    )
    if kind is None:
        _log(log, StepStatus.FAILED, started, error=f"Unknown step type {step.get('type')!r}.")
        _finish(run, RunStatus.FAILED, f"Step {step_id}: unknown step type.", now)
        return "stop"
    ctx = StepContext(
        step_id=step_id,
        step_type=kind.key,
        config=config,
        object_type=run.object_type,
        record=record,
        actor=actor,
        run=run,
        payload=(run.context or {}).get("payload") or {},
        attempt=attempt,
        now=now,
    )
    token = CHAIN.set(chain)
    waits = False
    cursor = list(run.cursor)
    try:
        # The effect, the cursor past the step, its log and the renewed lease commit
        # together: a worker that dies at any point leaves either all of them or none, so
        # the reclaimed run neither redoes a finished step nor skips an unfinished one.
        with transaction.atomic():
            result = kind.execute(ctx)
            run.cursor = _next_cursor(run.version.steps or [], run.cursor, result)
            waits = result.wait_until is not None and result.wait_until > now
            if waits:
                run.status = RunStatus.WAITING
                run.resume_at = result.wait_until
            else:
                run.resume_at = timezone.now() + RUN_LEASE
            run.save(update_fields=["context", "cursor", "started_at", "status", "resume_at"])
            _log(
                log,
                StepStatus.WAITING if waits else StepStatus.SUCCEEDED,
                started,
                output=result.output,
            )
    except Exception as exc:
        message, retryable = _retryable(exc)
        if not isinstance(exc, StepError | PatronError):
            logger.exception("workflow step %s of run %s failed", step_id, run.pk)
        # What the rolled-back transaction would have saved.
        run.status, run.cursor, log.pk = RunStatus.RUNNING, cursor, None
        return _failed(run, log, started, message, retryable and attempt < MAX_ATTEMPTS, now)
    finally:
        CHAIN.reset(token)
    return "stop" if waits else "next"


def _next_cursor(steps: list[Any], cursor: list[Any], result: StepResult) -> list[Any]:
    if result.branch:
        step = step_at(steps, cursor) or {}
        nested = (step.get("config") or {}).get(result.branch) or []
        if nested:
            return [*cursor, result.branch, 0]
    return advance(steps, cursor)


def _failed(
    run: WorkflowRun,
    log: StepRun,
    started: float,
    message: str,
    retry: bool,
    now: datetime.datetime,
) -> str:
    if retry:
        retry_at = now + datetime.timedelta(seconds=BACKOFF_SECONDS * 4 ** (log.attempt - 1))
        log.next_retry_at = retry_at
        _log(log, StepStatus.RETRY_SCHEDULED, started, error=message)
        run.status = RunStatus.WAITING
        run.resume_at = retry_at
        run.error = f"Step {log.step_id} failed (attempt {log.attempt}): {message}"
        run.save(update_fields=["status", "resume_at", "error", "started_at"])
        return "stop"
    _log(log, StepStatus.FAILED, started, error=message)
    _finish(run, RunStatus.FAILED, f"Step {log.step_id} failed: {message}", now)
    return "stop"


def _log(
    log: StepRun,
    status: str,
    started: float,
    *,
    output: dict[str, Any] | None = None,
    error: str = "",
) -> None:
    log.status = status
    log.output = _json_safe(output or {})
    log.error = error
    log.finished_at = timezone.now()
    log.duration_ms = int((time.monotonic() - started) * 1000)
    log.save(force_insert=True)


def reclaim_stale(*, now: datetime.datetime | None = None, limit: int = 200) -> int:
    """Take back runs left running by a worker that died (their lease ran out) and continue
    them from their cursor: steps that finished are not done again (the cursor moved past
    them in the same transaction as their effect), the step that was cut off runs again
    with the same effect key. The scheduler calls it every minute."""
    now = now or timezone.now()
    stale = Q(status=RunStatus.RUNNING) & (
        Q(resume_at__lte=now)
        # Claimed before runs carried a lease.
        | Q(resume_at__isnull=True, created_at__lte=now - RUN_LEASE)
    )
    found = list(
        WorkflowRun.objects.filter(stale).order_by("pk").values_list("pk", flat=True)[:limit]
    )
    reclaimed = 0
    for run_id in found:
        # Only one scheduler takes a run back.
        if not WorkflowRun.objects.filter(stale, pk=run_id).update(
            status=RunStatus.PENDING, resume_at=None
        ):
            continue
        reclaimed += 1
        run = WorkflowRun.objects.get(pk=run_id)
        times = int((run.context or {}).get("reclaimed") or 0) + 1
        run.context = {**(run.context or {}), "reclaimed": times}
        if times > MAX_RECLAIMS:
            _finish(
                run,
                RunStatus.FAILED,
                f"The worker running this run stopped {times} times (at step "
                f"{_step_label(run)}); it was not taken back again.",
                now,
            )
            continue
        run.save(update_fields=["context"])
        logger.warning("workflow run %s was left running; taking it back (%s)", run_id, times)
        execute_run(run_id, now=now)
    return reclaimed


def _step_label(run: WorkflowRun) -> str:
    step = step_at(run.version.steps or [], run.cursor)
    return str(step.get("id")) if step else "?"


def resume_due(*, now: datetime.datetime | None = None, limit: int = 500) -> int:
    """Continue waiting runs whose time has come (waits and step retries) and pending runs
    whose task was lost; the scheduler calls it every minute. Only database state is read,
    so it works after a restart."""
    now = now or timezone.now()
    # Pending runs whose task never reached a worker (the broker was down when they were
    # dispatched); the grace keeps a merely busy queue from being dispatched twice, and
    # ``execute_run``'s claim makes a double dispatch harmless anyway.
    lost = Q(status=RunStatus.PENDING, created_at__lte=now - PENDING_GRACE)
    due = list(
        WorkflowRun.objects.filter(Q(status=RunStatus.WAITING, resume_at__lte=now) | lost)
        .order_by("resume_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for run_id in due:
        execute_run(run_id, now=now)
    return len(due)


# ---------------------------------------------------------------- date and schedule triggers


def scan_date_triggers(*, now: datetime.datetime | None = None) -> int:
    """Start runs of date-relative workflows whose date plus offset fell due in the last
    DATE_LOOKBACK_DAYS (once per record and date, so rescans start nothing twice)."""
    now = now or timezone.now()
    today = now.date()
    started: list[int] = []
    versions = WorkflowVersion.objects.filter(
        state=VersionState.ACTIVE, workflow__is_enabled=True, trigger__type="date_relative"
    ).select_related("workflow")
    for version in versions:
        model = conditions.model_for(version.workflow.object_type)
        name = str(version.trigger.get("field"))
        spec = conditions.field_spec(version.workflow.object_type, name)
        if model is None or spec is None:
            continue
        offset = datetime.timedelta(days=int(version.trigger.get("offset_days") or 0))
        since = max(
            today - datetime.timedelta(days=DATE_LOOKBACK_DAYS),
            (version.activated_at or now).date(),
        )
        window: dict[str, datetime.date]
        if spec.type == "datetime":
            window = {
                f"{name}__gt": now - offset - datetime.timedelta(days=DATE_LOOKBACK_DAYS),
                f"{name}__lte": now - offset,
            }
        else:
            window = {f"{name}__gte": since - offset, f"{name}__lte": today - offset}
        runs = []
        for record in model.objects.filter(**window).order_by("pk")[:1000]:
            if not conditions.evaluate(version.conditions, record, {}):
                continue
            value = getattr(record, name)
            runs.append(
                _new_run(
                    version.workflow_id,
                    version.pk,
                    trigger="date_relative",
                    object_type=version.workflow.object_type,
                    object_id=record.pk,
                    key=f"{version.pk}:date:{record.pk}:{value.isoformat()}",
                    context={"date": value.isoformat()},
                    chain=(),
                    names={},
                )
            )
        if runs:
            started.extend(insert_runs(runs))
    dispatch(started)
    return len(started)


def fire_schedules(*, now: datetime.datetime | None = None) -> int:
    """Start one run per due slot of each schedule-triggered workflow and move its
    next_fire_at on; the slot is in the idempotency key, so a slot never fires twice."""
    now = now or timezone.now()
    due = WorkflowVersion.objects.filter(
        state=VersionState.ACTIVE,
        workflow__is_enabled=True,
        trigger__type="schedule",
        next_fire_at__lte=now,
    ).select_related("workflow")
    started: list[int] = []
    for version in due:
        slot = version.next_fire_at
        assert slot is not None
        run = _new_run(
            version.workflow_id,
            version.pk,
            trigger="schedule",
            object_type="",
            object_id=None,
            key=f"{version.pk}:schedule:{slot.isoformat()}",
            context={"slot": slot.isoformat()},
            chain=(),
            names={},
        )
        started.extend(insert_runs([run]))
        version.next_fire_at = parse_cron(str(version.trigger.get("cron"))).next_after(now)
        version.save(update_fields=["next_fire_at"])
    dispatch(started)
    return len(started)


def new_key() -> str:
    return uuid.uuid4().hex
