"""CSV and XLSX export of any filtered record list, run as a background job.

Apps register an ``ExportSpec`` per object type (``register_export``) from ``ready()``.

The job's params hold the list state (filters and sort as a query string), so the file has
exactly the rows the user saw, limited to what they may export, without sensitive fields
hidden from them. Re-running a job (a redelivered message) rewrites the same file.

``params["list"]`` is ``"api"`` for an export started through the API: its rows follow the
API list's order (empty values first when ascending) rather than the page's (empty values
last). ``params["format"]`` chooses the file: ``csv`` (the default) or ``xlsx``. The XLSX file is
written with openpyxl's write-only workbook (rows are streamed to disk, memory stays flat)
and keeps types: numbers as numbers, dates and times as dates (times in UTC), booleans as
booleans; text that a spreadsheet would run as a formula is neutralised as in the CSV.
"""

from __future__ import annotations

import csv
import datetime
import logging
import tempfile
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import django_filters
from django.core.files import File
from django.db.models import Model, QuerySet
from django.http import QueryDict
from django.utils import timezone

from patron.core.api.pagination import api_ordering
from patron.core.choices import Action, SecurityEventKind
from patron.core.custom_fields import definitions_for
from patron.core.filters import FilterContext
from patron.core.jobs import job_claim, job_fail, job_finish, job_progress
from patron.core.models import BusinessRecord, Job, SecurityEvent
from patron.core.quality import apply_quality_filter
from patron.core.views import apply_custom_filters, page_ordering
from patron.core.visibility import Principal, hidden_field_names

logger = logging.getLogger(__name__)

# Spreadsheet programs run cells starting with these as formulas (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
PROGRESS_EVERY = 500
EXPORT_FORMATS = {"csv": "CSV", "xlsx": "Excel (XLSX)"}
# Excel's limit on the characters in one cell.
XLSX_CELL_LIMIT = 32_767


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


def exportable_types() -> list[str]:
    """The object types with a registered export, sorted (to name them in errors)."""
    return sorted(_SPECS)


def _orders_by_hidden(columns: tuple[str, ...], hidden: Set[str]) -> bool:
    return any(column.lstrip("-") in hidden for column in columns)


def chosen_sort(
    sorts: Mapping[str, tuple[str, ...]], requested: str, default: str, hidden: Set[str]
) -> str:
    """The sort key a list uses: ``requested`` if it is one of ``sorts``, else ``default``;
    either is passed over when it orders by a field in ``hidden`` (the order would reveal
    the field's values), for the first of ``sorts`` that orders by none."""
    for key in (requested, default):
        if key in sorts and not _orders_by_hidden(sorts[key], hidden):
            return key
    return next(
        (key for key, columns in sorts.items() if not _orders_by_hidden(columns, hidden)),
        default,
    )


def default_sort_key(spec: ExportSpec, hidden: Set[str] = frozenset()) -> str:
    """The sort an export of ``spec`` falls back to, as its list does: the list's own default
    sort (its page's and API list's), else the export's first sort; passed over, as on the
    page, when it orders by a field in ``hidden``."""
    # record_pages imports this module, so its registry is looked up only when needed.
    from patron.core.record_pages import object_ui

    ui = object_ui(spec.model.object_type())
    default = next(iter(spec.sorts))
    if ui is not None and ui.default_sort in spec.sorts:
        default = ui.default_sort
    return chosen_sort(spec.sorts, "", default, hidden)


def record_export(
    user: Any, *, object_type: str, query: str, file_format: str, **detail: Any
) -> SecurityEvent:
    """Write who took which list, in which format, to the security log (every export path)."""
    return SecurityEvent.objects.create(
        kind=SecurityEventKind.EXPORT,
        user=user if getattr(user, "pk", None) else None,
        email=getattr(user, "email", ""),
        detail={"object_type": object_type, "query": query, "format": file_format, **detail},
    )


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


def _neutralised(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def xlsx_value(value: Any) -> Any:
    """A value as an XLSX cell keeps it: numbers, dates (naive, in UTC) and booleans typed,
    anything else as text with formula-looking text neutralised and XML-illegal characters
    dropped."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return None
    if isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, datetime.date | datetime.time):
        return value
    if isinstance(value, dict) and "amount" in value:
        amount = value.get("amount")
        try:
            return Decimal(str(amount)) if amount not in (None, "") else None
        except ArithmeticError:
            text = str(amount)
    elif isinstance(value, list):
        text = "; ".join(str(item) for item in value)
    else:
        text = str(value)
    text = ILLEGAL_CHARACTERS_RE.sub("", text)[:XLSX_CELL_LIMIT]
    return _neutralised(text)


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


def export_rows(
    spec: ExportSpec, user: Principal, query: str, *, api_order: bool = False
) -> QuerySet[Any]:
    """The rows of the list described by ``query`` that ``user`` may export, in list order:
    the API list's (empty values first when ascending) with ``api_order``, else the page's
    (empty values last)."""
    params = QueryDict(query)
    model = spec.model
    base = model.objects.visible_to(user, Action.EXPORT).select_related(*spec.related)
    filterset = spec.filterset(params, queryset=base, request=FilterContext(user=user))
    # As on the list page, hidden fields neither filter nor order the rows.
    hidden = hidden_field_names(user, model)
    visible = [d for d in definitions_for(model.object_type()) if f"custom.{d.key}" not in hidden]
    rows = apply_custom_filters(filterset.qs, visible, params)
    rows, _check = apply_quality_filter(rows, model.object_type(), params)
    sort = chosen_sort(spec.sorts, params.get("sort", ""), default_sort_key(spec, hidden), hidden)
    order = spec.sorts[sort]
    ordering = api_ordering(model, order) if api_order else page_ordering(model, order)
    return rows.order_by(*ordering)


def _write_xlsx(
    handle: Any, columns: list[tuple[str, Any]], rows: Iterable[Model], job: Job, total: int
) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=str(job.params.get("object", "Export"))[:31] or "Export")
    sheet.append([_neutralised(header) for header, _source in columns])
    written = 0
    for record in rows:
        cells: list[Any] = []
        for _header, source in columns:
            value = xlsx_value(source(record) if callable(source) else getattr(record, source))
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                # openpyxl would store "=..." as a formula; a string cell is never run.
                cell.data_type = "s"
            elif isinstance(value, datetime.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            cells.append(cell)
        sheet.append(cells)
        written += 1
        if written % PROGRESS_EVERY == 0:
            job_progress(job, done=written, total=total)
    workbook.save(handle)
    return written


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
        logger.exception("Export job %s failed", job_id)
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
    file_format = str(job.params.get("format") or "csv")
    if file_format not in EXPORT_FORMATS:
        job_fail(job, error=f"Unknown export format {file_format!r}; choose CSV or XLSX.")
        return
    rows = export_rows(spec, user, query, api_order=job.params.get("list") == "api")
    total = rows.count()
    job_progress(job, done=0, total=total, message=f"Exporting {total} {spec.plural}…")
    columns = _columns(spec, user)
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    filename = f"{spec.plural}-{stamp}-job{job.pk}.{file_format}"
    if file_format == "xlsx":
        with tempfile.TemporaryFile(mode="w+b") as binary:
            written = _write_xlsx(binary, columns, rows.iterator(chunk_size=1000), job, total)
            binary.seek(0)
            _store(job, filename, binary)
    else:
        with tempfile.TemporaryFile(mode="w+", encoding="utf-8", newline="") as handle:
            written = _write(handle, columns, rows.iterator(chunk_size=1000), job, total)
            handle.seek(0)
            _store(job, filename, handle)
    if not SecurityEvent.objects.filter(
        kind=SecurityEventKind.EXPORT, detail__job_id=job.pk
    ).exists():
        record_export(
            user,
            object_type=object_type,
            query=query,
            file_format=file_format,
            job_id=job.pk,
            rows=written,
        )
    job_finish(
        job,
        result={
            "filename": filename,
            "rows": written,
            "object": spec.plural,
            "format": file_format,
        },
        message=f"Exported {written} {spec.plural}.",
    )


def _store(job: Job, filename: str, handle: Any) -> None:
    if job.result_file:
        job.result_file.delete(save=False)
    job.result_file.save(filename, File(handle), save=False)
