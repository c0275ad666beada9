"""The duplicate scan: every active rule across a whole table, in bounded memory.

Exact rules are one ``GROUP BY key HAVING COUNT(*) > 1`` read as a stream; the ids of each
chunk of keys are then fetched with one ``IN`` query. Fuzzy rules walk the table in keyset
chunks (``pk > last ORDER BY pk LIMIT n``) and match each chunk against its blocks, so memory
is one chunk plus its candidate blocks whatever the table size. Groups go through
``record_group``, which never duplicates an open group nor re-raises dismissed records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.db.models import Count

from patron.core.jobs import JobKind, job_execute, job_progress, job_start, register_job_kind
from patron.core.models import Job
from patron.data_exchange.duplicate_matching import (
    _alive,
    _db_column,
    _valid_rule,
    active_rules,
    duplicate_object,
    duplicate_objects,
    match_rows,
)
from patron.data_exchange.duplicate_services import record_group
from patron.data_exchange.models import DuplicateRule

SCAN_TASK = "data_exchange.duplicate_scan"
SCAN_ALL_TASK = "data_exchange.duplicate_scan_all"
SCAN_KIND = "duplicate_scan"
CHUNK = 1000

Progress = Callable[[int, int], None]


def _scan_exact(rule: DuplicateRule, chunk: int) -> int:
    spec = duplicate_object(rule.object_type)
    assert spec is not None
    model = spec.model
    columns = [_db_column(model, name) for name in rule.exact_keys]
    base = _alive(model)
    for column in columns:
        base = base.exclude(**{f"{column}__isnull": True})
        concrete = {f.attname: f for f in model._meta.concrete_fields}
        if concrete[column].get_internal_type() in (
            "CharField",
            "EmailField",
            "URLField",
            "TextField",
        ):
            base = base.exclude(**{column: ""})
    keys = (
        base.values(*columns)
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .order_by(*columns)
        .values_list(*columns)
    )
    created = 0
    pending: list[tuple[Any, ...]] = []

    def flush() -> int:
        made = 0
        wanted = set(pending)
        ids: dict[tuple[Any, ...], list[int]] = {}
        rows = base.filter(**{f"{columns[0]}__in": [k[0] for k in pending]}).values_list(
            "pk", *columns
        )
        for row in rows.order_by("pk"):
            key = tuple(row[1:])
            if key in wanted:
                ids.setdefault(key, []).append(row[0])
        for key, members in ids.items():
            text = ", ".join(f"{n} {v}" for n, v in zip(rule.exact_keys, key, strict=True))
            if record_group(rule.object_type, rule, members, similarity=100, match_key=text):
                made += 1
        pending.clear()
        return made

    for key in keys.iterator(chunk_size=chunk):
        pending.append(tuple(key))
        if len(pending) >= chunk:
            created += flush()
    if pending:
        created += flush()
    return created


def _scan_fuzzy(rule: DuplicateRule, chunk: int, progress: Progress | None) -> int:
    spec = duplicate_object(rule.object_type)
    assert spec is not None
    model = spec.model
    fields = [*rule.exact_keys, *rule.fuzzy_fields]
    columns = {name: _db_column(model, name) for name in fields}
    total = _alive(model).count()
    last = 0
    done = created = 0
    while True:
        rows = list(
            _alive(model)
            .filter(pk__gt=last)
            .order_by("pk")
            .values("pk", *set(columns.values()))[:chunk]
        )
        if not rows:
            break
        last = rows[-1]["pk"]
        values = [{name: row[columns[name]] for name in fields} for row in rows]
        results = match_rows(
            rule.object_type,
            values,
            rules=[rule],
            exclude_ids=[row["pk"] for row in rows],
            within_batch=False,
        )
        for row, hits in zip(rows, results, strict=True):
            for hit in hits:
                if hit.object_id is None or hit.object_id < row["pk"]:
                    # Each pair is found from both ends; keep the one seen from the lower id,
                    # and pairs within a chunk are found against the table already.
                    continue
                if record_group(
                    rule.object_type,
                    rule,
                    [row["pk"], hit.object_id],
                    similarity=hit.similarity,
                    match_key=hit.match_key,
                ):
                    created += 1
        done += len(rows)
        if progress is not None:
            progress(done, total)
    return created


def scan_object(
    object_type: str, *, chunk: int = CHUNK, progress: Progress | None = None
) -> dict[str, int]:
    """Run every active rule of ``object_type`` over the whole table; groups found per rule."""
    spec = duplicate_object(object_type)
    if spec is None:
        return {}
    found: dict[str, int] = {}
    for rule in active_rules(spec.object_type):
        if not _valid_rule(spec.model, rule):
            continue
        if rule.fuzzy_fields:
            found[rule.name] = _scan_fuzzy(rule, chunk, progress)
        else:
            found[rule.name] = _scan_exact(rule, chunk)
    return found


def _run(job: Job) -> dict[str, Any]:
    types = (
        [job.params["object"]]
        if job.params.get("object")
        else [spec.object_type for spec in duplicate_objects()]
    )
    result: dict[str, Any] = {}
    for index, object_type in enumerate(types):

        def progress(
            done: int, total: int, index: int = index, object_type: str = object_type
        ) -> None:
            job_progress(
                job,
                done=done,
                total=total,
                message=f"{object_type} ({index + 1} of {len(types)}): {done} of {total} records",
            )

        result[object_type] = scan_object(object_type, progress=progress)
    groups = sum(sum(per_rule.values()) for per_rule in result.values())
    message = f"{groups} new candidate groups"
    job_progress(job, done=1, total=1, message=message)
    return {"groups": groups, "by_object": result, "message": message}


def scan_start(*, user: Any, object_type: str = "") -> Job:
    """Start a scan job (one object or all) that a page follows with a progress bar."""
    return job_start(kind=SCAN_KIND, user=user, params={"object": object_type}, task_name=SCAN_TASK)


@shared_task(name=SCAN_TASK)
def duplicate_scan(job_id: int) -> None:
    """Scan for duplicates for Job ``job_id`` (started from the duplicates page)."""
    job_execute(job_id, _run)


@shared_task(name=SCAN_ALL_TASK)
def duplicate_scan_all() -> None:
    """Nightly: scan every object with duplicate rules (the beat schedule runs it)."""
    for spec in duplicate_objects():
        scan_object(spec.object_type)


def register() -> None:
    register_job_kind(JobKind(SCAN_KIND, "Duplicate scan"))
