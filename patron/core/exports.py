"""CSV export of any filtered record list, run as a background job.

Apps register an ``ExportSpec`` per object type (``register_export``) from ``ready()``.

The job's params hold the list state (filters and sort as a query string), so the file has
exactly the rows the user saw, limited to what they may export, without sensitive fields
hidden from them. Re-running a job (a redelivered message) rewrites the same file.
"""

from __future__ import annotations

import csv
import datetime
import logging
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import django_filters
from django.core.files import File
from django.db.models import Model, QuerySet
from django.http import QueryDict
from django.utils import timezone

from patron.core.choices import Action, SecurityEventKind
from patron.core.custom_fields import definitions_for
from patron.core.filters import FilterContext
from patron.core.jobs import job_claim, job_fail, job_finish, job_progress
from patron.core.models import BusinessRecord, Job, SecurityEvent
from patron.core.views import apply_custom_filters
from patron.core.visibility import Principal, hidden_field_names

logger = logging.getLogger(__name__)

# Spreadsheet programs run cells starting with these as formulas (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
PROGRESS_EVERY = 500


@dataclass(frozen=True)
class ExportSpec:
    model: type[BusinessRecord]
    plural: str
    filterset: type[django_filters.FilterSet]
    sorts: dict[str, tuple[str, ...]]
    related: tuple[str, ...]
    # (CSV header, field name or a function of the record)
    columns: tuple[tuple[str, str | Callable[[Any], Any]], ...]


def owner_email(record: Any) -> str:
    return str(record.owner.email)


def team_name(record: Any) -> str:
    return str(record.team) if record.team_id else ""


_SPECS: dict[str, ExportSpec] = {}


def register_export(spec: ExportSpec) -> None:
    """Make ``spec``'s object type exportable; keyed by its object type (``app.model``)."""
    _SPECS[spec.model.object_type()] = spec


def export_spec(object_type: str) -> ExportSpec | None:
    return _SPECS.get(object_type)


def safe_cell(value: Any) -> str:
    """A CSV cell as text, with formula-looking text neutralised by a leading quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat()
    if isinstance(value, datetime.date | Decimal | int | float):
        return str(value)
    if isinstance(value, dict) and "amount" in value:
        text = f"{value.get('amount', '')} {value.get('currency', '')}".strip()
    elif isinstance(value, list):
        text = "; ".join(str(item) for item in value)
    else:
        text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _custom_value(key: str) -> Callable[[Any], Any]:
    def value(record: Any) -> Any:
        return (record.custom or {}).get(key)

    return value


def _columns(spec: ExportSpec, user: Principal) -> list[tuple[str, str | Callable[[Any], Any]]]:
    """The spec's columns plus custom fields, without fields hidden from ``user``."""
    model = spec.model
    hidden = hidden_field_names(user, model)
    columns: list[tuple[str, str | Callable[[Any], Any]]] = [
        (header, source)
        for header, source in spec.columns
        if not (isinstance(source, str) and source in hidden)
    ]
    for definition in definitions_for(model.object_type()):
        if f"custom.{definition.key}" in hidden:
            continue
        columns.append((f"custom.{definition.key}", _custom_value(definition.key)))
    return columns


def export_rows(spec: ExportSpec, user: Principal, query: str) -> QuerySet[Any]:
    """The rows of the list described by ``query`` that ``user`` may export, in list order."""
    params = QueryDict(query)
    model = spec.model
    base = model.objects.visible_to(user, Action.EXPORT).select_related(*spec.related)
    filterset = spec.filterset(params, queryset=base, request=FilterContext(user=user))
    # As on the list page, hidden fields neither filter nor order the rows.
    hidden = hidden_field_names(user, model)
    visible = [d for d in definitions_for(model.object_type()) if f"custom.{d.key}" not in hidden]
    rows = apply_custom_filters(filterset.qs, visible, params)
    default = next(iter(spec.sorts.values()))
    order = spec.sorts.get(params.get("sort", ""), default)
    if any(name.lstrip("-") in hidden for name in order):
        order = default
    return rows.order_by(*order)


def _write(
    handle: Any, columns: list[tuple[str, Any]], rows: Iterable[Model], job: Job, total: int
) -> int:
    writer = csv.writer(handle)
    writer.writerow([header for header, _source in columns])
    written = 0
    for record in rows:
        writer.writerow(
            [
                safe_cell(source(record) if callable(source) else getattr(record, source))
                for _header, source in columns
            ]
        )
        written += 1
        if written % PROGRESS_EVERY == 0:
            job_progress(job, done=written, total=total)
    return written


def export_csv_run(*, job_id: int) -> None:
    """Run export job ``job_id``; a job already finished is left alone (redelivery)."""
    job = job_claim(job_id)
    if job is None:
        return
    try:
        _export(job)
    except Exception as exc:
        logger.exception("CSV export job %s failed", job_id)
        job_fail(job, error=f"The export stopped with an error ({type(exc).__name__}).")


def _export(job: Job) -> None:
    user = job.created_by
    spec = export_spec(str(job.params.get("object", "")))
    if spec is None:
        job_fail(job, error="This job does not say which list to export.")
        return
    if user is None or not user.is_active:
        job_fail(job, error="The person who started this export can no longer sign in.")
        return
    object_type = spec.model.object_type()
    if not user.access_profile().may(object_type, Action.EXPORT):
        job_fail(job, error=f"Your role may not export {spec.plural}.")
        return
    query = str(job.params.get("query", ""))
    rows = export_rows(spec, user, query)
    total = rows.count()
    job_progress(job, done=0, total=total, message=f"Exporting {total} {spec.plural}…")
    columns = _columns(spec, user)
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    filename = f"{spec.plural}-{stamp}-job{job.pk}.csv"
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", newline="") as handle:
        written = _write(handle, columns, rows.iterator(chunk_size=1000), job, total)
        handle.seek(0)
        if job.result_file:
            job.result_file.delete(save=False)
        job.result_file.save(filename, File(handle), save=False)
    if not SecurityEvent.objects.filter(
        kind=SecurityEventKind.EXPORT, detail__job_id=job.pk
    ).exists():
        SecurityEvent.objects.create(
            kind=SecurityEventKind.EXPORT,
            user=user,
            email=user.email,
            detail={"job_id": job.pk, "object_type": object_type, "rows": written, "query": query},
        )
    job_finish(
        job,
        result={"filename": filename, "rows": written, "object": spec.plural},
        message=f"Exported {written} {spec.plural}.",
    )
