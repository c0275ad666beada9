"""Imports: upload, mapping, preview, the background run (batches, resumption), the error
file and revert. The write path for ImportRun / ImportRow / ImportMapping.

A run reads the file as a stream and handles it in batches of BATCH_SIZE rows. Each batch is
one transaction holding the records written, the ImportRow of every row and the run's
``rows_done``: a worker killed mid-batch loses the whole batch's transaction, and the
redelivered task resumes after ``rows_done``, so no row is imported twice and none is lost.
Within a batch the rows are validated first (conversion, related records, match key,
duplicates); the valid ones are written with bulk statements in a savepoint, and if that fails
each row is written in its own savepoint so one bad row never stops the others.

A row naming a record of the imported type that is not there yet (an account's parent further
down the file) waits: its ImportRow is written with the outcome "deferred" in its batch, and
after the last batch the waiting rows are read again from the file and imported (see
``_retry_deferred``); only those still unmatched then fail.
"""

from __future__ import annotations

import csv
import importlib
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.files.base import File
from django.db import IntegrityError, models, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from patron.core.choices import Action, JobStatus, Via
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.importing import (
    RELATED,
    BatchWriter,
    ImportSpec,
    Unmatched,
    WriteResult,
    convert,
    describe_error,
    find_existing,
    import_spec,
    insert_rows,
    normalise_key,
    resolve_related,
    resolver,
    soft_delete_many,
    suggest_mapping,
)
from patron.core.jobs import job_execute, job_progress, job_start
from patron.core.models import Job
from patron.data_exchange.choices import ImportMode, ImportStatus, RowOutcome
from patron.data_exchange.import_reading import (
    FileInfo,
    ImportFileError,
    check_size,
    count_rows,
    inspect_file,
    iter_rows,
    row_dict,
)
from patron.data_exchange.models import ImportMapping, ImportRow, ImportRun

BATCH_SIZE = 1000
PREVIEW_SIZE = 10
IMPORT_KIND = "data_exchange.import"
IMPORT_TASK = "data_exchange.import_run"
REVERT_KIND = "data_exchange.import_revert"
REVERT_TASK = "data_exchange.import_revert"
ERROR_COLUMN = "Import error"
LATER_ROW_HINT = "If it is further down the file, this row is imported after it."
# Appended to the reason of a row still waiting when no retry finds anything more.
STILL_MISSING = " It is not further down the file either."
IMPORT_ROW_FIELDS = (
    "run_id",
    "row_number",
    "outcome",
    "object_id",
    "previous_values",
    "raw",
    "error",
)


# ---------- access ----------


def _spec(object_type: str) -> ImportSpec:
    spec = import_spec(object_type)
    if spec is None:
        raise ValidationFailed(
            f"“{object_type}” cannot be imported.",
            errors={"object_type": [f"Unknown object type “{object_type}”."]},
        )
    return spec


def require_import(user: Any, spec: ImportSpec) -> None:
    if not spec.may_import(user):
        raise PermissionDenied(f"Your role may not import {spec.label_plural}.")


def import_runs_visible(user: Any) -> models.QuerySet[ImportRun]:
    """Runs ``user`` may see: their own, or every run for an administrator."""
    runs = ImportRun.objects.all()
    if getattr(user, "is_superuser", False) or getattr(user, "is_admin", False):
        return runs
    return runs.filter(created_by=user)


def import_run_get(*, user: Any, pk: Any) -> ImportRun:
    run = import_runs_visible(user).filter(pk=pk).select_related("job", "mapping").first()
    if run is None:
        raise RecordNotFound("This import does not exist or is not yours.")
    require_import(user, _spec(run.object_type))
    return run


# ---------- upload and mapping ----------


def _file_path(run: ImportRun) -> Path:
    return Path(run.file.path)


def _info(run: ImportRun) -> FileInfo:
    kind = (
        "xlsx" if run.file_name.lower().endswith((".xlsx", ".xlsm")) or not run.delimiter else "csv"
    )
    return FileInfo(kind=kind, encoding=run.encoding, delimiter=run.delimiter, headers=run.headers)


def import_upload(*, user: Any, object_type: str, upload: Any, file_name: str = "") -> ImportRun:
    """Store an uploaded file (streamed to disk in chunks) and read its headers.

    Refuses (ValidationFailed, nothing kept) an empty, binary, undecodable or too large file.
    """
    spec = _spec(object_type)
    require_import(user, spec)
    name = file_name or str(getattr(upload, "name", "") or "import.csv")
    size = int(getattr(upload, "size", 0) or 0)
    try:
        check_size(size)
    except ImportFileError as exc:
        raise ValidationFailed(str(exc), errors={"file": [str(exc)]}) from None
    run = ImportRun(object_type=object_type, file_name=name[:255], created_by=user, file_size=size)
    run.file.save(
        Path(name).name or "import.csv",
        upload if isinstance(upload, File) else File(upload),
        save=False,
    )
    try:
        info = inspect_file(_file_path(run), name)
    except ImportFileError as exc:
        run.file.delete(save=False)
        raise ValidationFailed(
            f"Nothing was imported: {exc}", errors={"file": [str(exc)]}
        ) from None
    run.file_size = _file_path(run).stat().st_size
    run.encoding = info.encoding
    run.delimiter = info.delimiter
    run.headers = info.headers
    run.columns = suggest_mapping(spec, info.headers)
    run.mode = ImportMode.CREATE
    run.save()
    return run


def apply_preset(spec: ImportSpec, headers: Sequence[str], preset: str) -> dict[str, str]:
    """Columns of a Salesforce/HubSpot preset that are present in the file."""
    table = spec.presets.get(preset)
    if table is None:
        raise ValidationFailed(
            f"There is no preset “{preset}” for {spec.label_plural}.",
            errors={"preset": [f"Choose one of: {', '.join(sorted(spec.presets)) or 'none'}."]},
        )
    lowered = {h.strip().lower(): h for h in headers}
    columns: dict[str, str] = {}
    for header, field_name in table.items():
        actual = lowered.get(header.strip().lower())
        if actual is not None and field_name not in columns.values():
            columns[actual] = field_name
    return columns


def validate_config(
    spec: ImportSpec,
    *,
    headers: Sequence[str],
    columns: Mapping[str, str],
    defaults: Mapping[str, Any],
    mode: str,
    match_key: str,
) -> dict[str, list[str]]:
    """Errors of a mapping (columns mapped twice, unknown fields, match key...), by field."""
    errors: dict[str, list[str]] = {}
    fields = spec.field_map()
    if mode not in ImportMode.values:
        errors["mode"] = [f"Choose one of: {', '.join(ImportMode.values)}."]
    used: dict[str, str] = {}
    for header, name in columns.items():
        if not name:
            continue
        if header not in headers:
            errors.setdefault("columns", []).append(f"The file has no column “{header}”.")
        if name not in fields:
            errors.setdefault("columns", []).append(
                f"“{header}” is mapped to “{name}”, which is not a field of {spec.label_plural}."
            )
        elif name in used:
            errors.setdefault("columns", []).append(
                f"“{fields[name].label}” is mapped twice (columns “{used[name]}” and "
                f"“{header}”); map each field from one column."
            )
        else:
            used[name] = header
    for name, value in defaults.items():
        if name not in fields:
            errors.setdefault("defaults", []).append(
                f"“{name}” is not a field of {spec.label_plural}."
            )
            continue
        if value in (None, ""):
            continue
        if fields[name].type != RELATED:
            try:
                convert(fields[name], value)
            except ValueError as exc:
                errors.setdefault("defaults", []).append(f"{fields[name].label}: {exc}")
    keys = spec.match_key_map()
    if match_key and match_key not in keys:
        allowed = ", ".join(keys) or "none"
        errors["match_key"] = [
            f"“{match_key}” is not a match key for {spec.label_plural}; use one of: {allowed}."
        ]
    if mode in (ImportMode.UPDATE, ImportMode.UPSERT):
        if not match_key:
            errors.setdefault("match_key", []).append(
                "Choose the match key that finds the records to update (e.g. email)."
            )
        elif match_key in keys and keys[match_key].lookup not in used:
            errors.setdefault("match_key", []).append(
                f"Map a column to “{keys[match_key].label}”: it finds the records to update."
            )
    if mode in (ImportMode.CREATE, ImportMode.UPSERT):
        for f in spec.fields:
            if f.required and f.name not in used and defaults.get(f.name) in (None, ""):
                errors.setdefault("columns", []).append(
                    f"“{f.label}” is required: map a column to it or give a default value."
                )
    return errors


def import_configure(
    *,
    user: Any,
    run: ImportRun,
    columns: Mapping[str, str],
    defaults: Mapping[str, Any] | None = None,
    mode: str = ImportMode.CREATE,
    match_key: str = "",
    mapping: ImportMapping | None = None,
    save_as: str = "",
) -> ImportRun:
    """Set the mapping of an uploaded run (optionally saved for reuse); errors name the field."""
    spec = _spec(run.object_type)
    require_import(user, spec)
    if run.status not in (ImportStatus.UPLOADED, ImportStatus.MAPPED):
        raise ValidationFailed("This import has started already; its mapping cannot change.")
    clean_columns = {h: n for h, n in columns.items() if n}
    clean_defaults = {n: v for n, v in (defaults or {}).items() if v not in (None, "")}
    errors = validate_config(
        spec,
        headers=run.headers,
        columns=clean_columns,
        defaults=clean_defaults,
        mode=mode,
        match_key=match_key,
    )
    if errors:
        raise ValidationFailed(
            "The mapping cannot be used: "
            + " ".join(m for messages in errors.values() for m in messages),
            errors=errors,
        )
    with transaction.atomic():
        if save_as.strip():
            mapping = import_mapping_save(
                user=user,
                object_type=run.object_type,
                name=save_as,
                columns=clean_columns,
                defaults=clean_defaults,
                mode=mode,
                match_key=match_key,
            )
        run.columns = clean_columns
        run.defaults = clean_defaults
        run.mode = mode
        run.match_key = match_key
        run.mapping = mapping
        run.status = ImportStatus.MAPPED
        run.save(update_fields=["columns", "defaults", "mode", "match_key", "mapping", "status"])
    return run


def import_mapping_may_change(user: Any, mapping: ImportMapping) -> bool:
    """Whether ``user`` may change or delete a saved mapping: its owner (who saved it first)
    or an administrator. Everyone who may import the object type may use it."""
    if getattr(user, "is_superuser", False) or getattr(user, "is_admin", False):
        return True
    return mapping.created_by_id is not None and mapping.created_by_id == getattr(user, "pk", None)


def _require_mapping_owner(user: Any, mapping: ImportMapping) -> None:
    if import_mapping_may_change(user, mapping):
        return
    whose = f"belongs to {mapping.created_by}" if mapping.created_by else "has no owner"
    raise PermissionDenied(
        f"The saved mapping “{mapping.name}” {whose}: only its owner or an administrator may "
        "change or delete it. You can use it, or save your own mapping under another name."
    )


def _name_taken(name: str) -> ValidationFailed:
    return ValidationFailed(
        "Name taken.",
        errors={"name": [f"A mapping named “{name}” exists; choose another name."]},
    )


def import_mapping_save(
    *,
    user: Any,
    object_type: str,
    name: str,
    columns: Mapping[str, str],
    defaults: Mapping[str, Any] | None = None,
    mode: str = ImportMode.CREATE,
    match_key: str = "",
    mapping: ImportMapping | None = None,
) -> ImportMapping:
    """Create a saved mapping, or replace one (``mapping``, or the one with this name for
    the object type); replacing needs its owner or an administrator."""
    spec = _spec(object_type)
    require_import(user, spec)
    name = name.strip()
    if not name:
        raise ValidationFailed("Name the mapping.", errors={"name": ["Give the mapping a name."]})
    replaced = mapping or (
        ImportMapping.objects.select_related("created_by")
        .filter(object_type=object_type, name=name)
        .first()
    )
    if replaced is not None:
        _require_mapping_owner(user, replaced)
    errors = validate_config(
        spec,
        headers=list(columns),
        columns=columns,
        defaults=defaults or {},
        mode=mode,
        match_key=match_key,
    )
    errors.pop("columns", None) if not any(
        "twice" in m or "not a field" in m for m in errors.get("columns", [])
    ) else None
    if errors:
        raise ValidationFailed("The mapping cannot be saved.", errors=errors)
    now = timezone.now()
    values = {
        "columns": dict(columns),
        "defaults": dict(defaults or {}),
        "mode": mode,
        "match_key": match_key,
        "updated_at": now,
    }
    if replaced is None:
        try:
            with transaction.atomic():
                return ImportMapping.objects.create(
                    object_type=object_type, name=name, created_by=user, created_at=now, **values
                )
        except IntegrityError:
            # Someone saved a mapping with this name a moment ago.
            raise _name_taken(name) from None
    if (
        ImportMapping.objects.filter(object_type=replaced.object_type, name=name)
        .exclude(pk=replaced.pk)
        .exists()
    ):
        raise _name_taken(name)
    for key, value in values.items():
        setattr(replaced, key, value)
    replaced.name = name
    replaced.save()
    return replaced


def import_mapping_delete(*, user: Any, mapping: ImportMapping) -> None:
    require_import(user, _spec(mapping.object_type))
    _require_mapping_owner(user, mapping)
    mapping.delete()


def mapping_columns_for(mapping: ImportMapping, headers: Sequence[str]) -> dict[str, str]:
    """A saved mapping's columns present in this file (header compared case-insensitively)."""
    lowered = {h.strip().lower(): h for h in headers}
    return {
        lowered[h.strip().lower()]: n
        for h, n in mapping.columns.items()
        if h.strip().lower() in lowered
    }


# ---------- preparing rows ----------


@dataclass
class PreparedRow:
    number: int
    raw: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    action: str = "create"  # create | update | skip | fail | merged
    existing: models.Model | None = None
    note: str = ""
    merged_into: int | None = None  # index of the row this one was merged into
    # Related records of the imported type that are not there (yet): see ``prepare_rows``.
    missing: list[str] = field(default_factory=list)

    @property
    def error(self) -> str:
        return " ".join(self.errors)


def _duplicates_module() -> Any:
    try:
        return importlib.import_module("patron.data_exchange.duplicate_matching")
    except ImportError:
        return None


def prepare_rows(
    run: ImportRun,
    rows: Sequence[tuple[int, list[Any]]],
    *,
    user: Any,
    allow_duplicates: bool = False,
    lock: bool = False,
    defer: bool = False,
) -> list[PreparedRow]:
    """Convert, resolve, match and check rows for writing; reads only, never writes.

    A row naming a record of the imported type that does not exist (an account's parent)
    may name a row further down the file: with ``defer`` such a row, if nothing else is
    wrong with it, gets the action "defer" (the run retries it after the rest of the file);
    without, it fails and its error says so.
    """
    spec = _spec(run.object_type)
    fields = spec.field_map()
    columns = {h: n for h, n in run.columns.items() if n in fields}
    mode = run.mode
    prepared: list[PreparedRow] = []
    for number, cells in rows:
        raw, ragged = row_dict(run.headers, cells)
        row = PreparedRow(number=number, raw=raw)
        if ragged:
            row.errors.append(ragged)
        for header, name in columns.items():
            f = fields[name]
            value = raw.get(header)
            if (
                value is None or (isinstance(value, str) and not value.strip())
            ) and run.defaults.get(name) not in (None, ""):
                value = run.defaults[name]
            try:
                converted = convert(f, value)
            except ValueError as exc:
                row.errors.append(f"{f.label}: {exc}")
                continue
            if converted in (None, "") and mode != ImportMode.CREATE:
                # An empty cell never clears a value on update.
                row.values.setdefault("_empty", set()).add(name)
            row.values[name] = converted
        for name, value in run.defaults.items():
            if name in row.values or name not in fields or value in (None, ""):
                continue
            try:
                row.values[name] = convert(fields[name], value)
            except ValueError as exc:
                row.errors.append(f"{fields[name].label}: {exc}")
            row.values.setdefault("_defaulted", set()).add(name)
        prepared.append(row)
    # Related records, one lookup per resolver per batch.
    for name, f in fields.items():
        if f.type != RELATED:
            continue
        texts = {str(r.values[name]) for r in prepared if r.values.get(name)}
        if not texts:
            continue
        answers = resolve_related(f.resolver, texts, user=user)
        same_type = resolver(f.resolver).model is spec.model
        for r in prepared:
            text = r.values.get(name)
            if not text:
                continue
            answer = answers.get(str(text))
            if same_type and isinstance(answer, Unmatched):
                r.missing.append(f"{f.label}: {answer}")
            elif isinstance(answer, str) or answer is None:
                r.errors.append(f"{f.label}: {answer}")
            else:
                r.values[name] = answer
    hint = "" if defer else f" {LATER_ROW_HINT}"
    for r in prepared:
        if r.missing and defer and not r.errors:
            # The reason goes to ``errors`` too, so the checks below pass the row by.
            r.action = "defer"
        r.errors.extend(f"{m}{hint}" for m in r.missing)
    # Existing records by match key.
    key = spec.match_key_map().get(run.match_key) if run.match_key else None
    keyed: dict[Any, int] = {}
    if key is not None:
        for r in prepared:
            if r.errors:
                continue
            try:
                r.note = str(normalise_key(key, r.values.get(key.lookup, "")))
            except ValueError as exc:
                r.errors.append(f"{key.label}: {exc}")
        action = Action.READ if mode == ImportMode.CREATE else Action.UPDATE
        found = (
            find_existing(
                spec,
                key,
                [r.note for r in prepared if not r.errors and r.note],
                user=user,
                action=action,
            )
            if not lock
            else _locked(find_existing, spec, key, prepared, user, action)
        )
        for index, r in enumerate(prepared):
            if r.errors:
                continue
            value = r.note.lower() if key.case_insensitive else r.note
            if not value and mode == ImportMode.UPDATE:
                r.errors.append(f"{key.label} is empty: it is needed to find the record to update.")
                continue
            matches = found.get(_typed(key, value), []) if value else []
            if len(matches) > 1:
                r.errors.append(
                    f"{len(matches)} {spec.label_plural} have {key.label} “{value}”; merge them "
                    "first or use another match key."
                )
                continue
            if value and value in keyed:
                first = keyed[value]
                r.action = "merged"
                r.merged_into = first
                target = prepared[first]
                for name, v in r.values.items():
                    if not name.startswith("_") and (
                        v not in (None, "") or target.action == "create"
                    ):
                        target.values[name] = v
                continue
            if value:
                keyed[value] = index
            if matches:
                if mode == ImportMode.CREATE:
                    r.action = "skip"
                    r.errors.append(
                        f"Skipped: {spec.label} {matches[0].pk} already has {key.label} “{value}”."
                    )
                else:
                    r.action = "update"
                    r.existing = matches[0]
            elif mode == ImportMode.UPDATE:
                r.errors.append(f"No {spec.label} with {key.label} “{value}” that you may edit.")
    # Field-level security, looked up once per batch: a sensitive field the user may not edit
    # fails the rows that set it.
    blocked: dict[str, str] = {}
    if spec.is_business_record:
        from patron.core.choices import FieldAccess
        from patron.core.visibility import sensitive_field_access

        access = sensitive_field_access(user, spec.model)
        blocked = {
            n: str(fields[n].label)
            for n, a in access.items()
            if a != FieldAccess.EDIT and n in fields
        }
    for r in prepared:
        if blocked and not r.errors:
            names = [n for n in blocked if r.values.get(n) not in (None, "")]
            if names:
                r.errors.append(
                    "You may not set "
                    + ", ".join(blocked[n] for n in names)
                    + " (field-level security)."
                )
    # Object-specific derivations and checks.
    for r in prepared:
        if r.errors or r.action in ("merged", "skip"):
            continue
        empties = r.values.pop("_empty", set())
        defaulted = r.values.pop("_defaulted", set())
        if r.action == "update":
            r.values = {
                k: v for k, v in r.values.items() if k not in empties and k not in defaulted
            }
            if key is not None:
                r.values.pop(key.lookup, None) if key.lookup not in r.values else None
        if spec.prepare is not None:
            try:
                r.values = spec.prepare(user, r.values, r.existing)
            except Exception as exc:
                r.errors.append(describe_error(exc))
    for r in prepared:
        r.values.pop("_empty", None)
        r.values.pop("_defaulted", None)
        if r.errors and r.action not in ("skip", "defer"):
            r.action = "fail"
    _check_duplicates(spec, prepared, allow_duplicates=allow_duplicates)
    return prepared


def _typed(key: Any, value: Any) -> Any:
    from patron.core.importing import INTEGER

    return int(value) if key.type == INTEGER and str(value).isdigit() else value


def _locked(
    finder: Any, spec: ImportSpec, key: Any, prepared: list[PreparedRow], user: Any, action: str
) -> Any:
    return finder(
        spec, key, [r.note for r in prepared if not r.errors and r.note], user=user, action=action
    )


def _check_duplicates(
    spec: ImportSpec, prepared: list[PreparedRow], *, allow_duplicates: bool
) -> None:
    """Duplicate rules (duplicates helper's contract): block fails the row, warn fails it
    unless duplicates are allowed, report imports it and notes the match."""
    module = _duplicates_module()
    finder = getattr(module, "find_duplicates_batch", None) if module else None
    if finder is None:
        return
    candidates = [r for r in prepared if r.action == "create"]
    if not candidates:
        return
    payloads = []
    for r in candidates:
        values: dict[str, Any] = {}
        for name, value in r.values.items():
            values[name] = value.pk if isinstance(value, models.Model) else value
        payloads.append(values)
    hits_per_row = finder(spec.object_type, payloads)
    for r, hits in zip(candidates, hits_per_row, strict=True):
        for hit in hits:
            where = f"{spec.label} {hit.object_id}" if hit.object_id else "another row of this file"
            text = (
                f"Possible duplicate of {where} ({hit.rule_name}: {hit.match_key}, "
                f"{hit.similarity}% similar)."
            )
            if hit.action == "block" or (hit.action == "warn" and not allow_duplicates):
                r.errors.append(text)
                r.action = "fail"
                break
            r.note = (r.note + " " + text).strip() if r.note else text
            r.__dict__.setdefault("report_hits", []).append(hit)


@dataclass
class PreviewRow:
    number: int
    action: str
    values: dict[str, str]
    error: str


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def import_preview(*, user: Any, run: ImportRun, limit: int = PREVIEW_SIZE) -> list[PreviewRow]:
    """The first rows as they will be saved, with their errors; writes nothing."""
    require_import(user, _spec(run.object_type))
    rows: list[tuple[int, list[Any]]] = []
    for number, cells in iter_rows(_file_path(run), _info(run)):
        if number == 1:
            continue
        rows.append((number, cells))
        if len(rows) >= limit:
            break
    prepared = prepare_rows(run, rows, user=user)
    fields = _spec(run.object_type).field_map()
    out = []
    for r in prepared:
        shown = {
            str(fields[name].label): _display(value)
            for name, value in r.values.items()
            if name in fields
        }
        action = {"merged": "update", "fail": "error"}.get(r.action, r.action)
        out.append(PreviewRow(number=r.number, action=action, values=shown, error=r.error))
    return out


# ---------- running ----------


def import_start(
    *, user: Any, run: ImportRun, allow_duplicates: bool = False, enqueue: bool = True
) -> ImportRun:
    """Queue the import in the background; its Job shows the progress bar.

    ``enqueue=False`` creates the Job without sending a task (the command line runs it in
    its own process with ``import_execute``)."""
    spec = _spec(run.object_type)
    require_import(user, spec)
    if run.status != ImportStatus.MAPPED:
        raise ValidationFailed(
            "Map the columns first."
            if run.status == ImportStatus.UPLOADED
            else "This import has started already."
        )
    with transaction.atomic():
        starter = job_start if enqueue else _job_create
        job = starter(
            kind=IMPORT_KIND,
            user=user,
            params={
                "run_id": run.pk,
                "allow_duplicates": bool(allow_duplicates),
                "filename": run.file_name,
            },
            task_name=IMPORT_TASK,
        )
        run.job = job
        run.status = ImportStatus.QUEUED
        run.save(update_fields=["job", "status"])
    return run


def _job_create(*, kind: str, user: Any, params: dict[str, Any], task_name: str) -> Job:
    return Job.objects.create(kind=kind, created_by=user, params=params)


Progress = Callable[[int, int], None]


def import_execute(
    job_id: int, *, batch_size: int = BATCH_SIZE, on_progress: Progress | None = None
) -> Job | None:
    """Task body: run (or resume) the import of job ``job_id``; a no-op when it is done."""
    return job_execute(
        job_id, lambda job: _run(job, batch_size=batch_size, on_progress=on_progress)
    )


def _batches(run: ImportRun, size: int) -> Iterator[list[tuple[int, list[Any]]]]:
    batch: list[tuple[int, list[Any]]] = []
    for number, cells in iter_rows(_file_path(run), _info(run)):
        if number == 1 or number - 1 <= run.rows_done:
            continue
        batch.append((number, cells))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _run(job: Job, *, batch_size: int, on_progress: Progress | None = None) -> dict[str, Any]:
    run = ImportRun.objects.select_related("created_by").get(pk=job.params["run_id"])
    if run.status in (ImportStatus.DONE, ImportStatus.REVERTED, ImportStatus.REVERTING):
        return _summary(run)
    user = run.created_by
    if run.total_rows is None:
        run.total_rows = count_rows(_file_path(run), _info(run))
    run.status = ImportStatus.RUNNING
    run.started_at = run.started_at or timezone.now()
    run.save(update_fields=["total_rows", "status", "started_at"])
    allow = bool(job.params.get("allow_duplicates"))
    job_progress(job, done=run.rows_done, total=run.total_rows, message="Importing…")
    for batch in _batches(run, batch_size):
        with transaction.atomic():
            counts = _import_batch(run, batch, user=user, allow_duplicates=allow)
            run.rows_done = batch[-1][0] - 1
            _add_counts(run, counts, rows_done=run.rows_done)
        job_progress(
            job,
            done=run.rows_done,
            message=f"{run.rows_done:,} of {run.total_rows:,} rows",
        )
        if on_progress is not None:
            on_progress(run.rows_done, run.total_rows or 0)
    _retry_deferred(run, job, user=user, allow_duplicates=allow, batch_size=batch_size)
    run.refresh_from_db()
    run.status = ImportStatus.DONE
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at"])
    return _summary(run)


def _add_counts(run: ImportRun, counts: Mapping[str, int], **extra: Any) -> None:
    ImportRun.objects.filter(pk=run.pk).update(
        created_count=F("created_count") + counts[RowOutcome.CREATED],
        updated_count=F("updated_count") + counts[RowOutcome.UPDATED],
        skipped_count=F("skipped_count") + counts[RowOutcome.SKIPPED],
        failed_count=F("failed_count") + counts[RowOutcome.FAILED],
        **extra,
    )


def _retry_deferred(
    run: ImportRun, job: Job, *, user: Any, allow_duplicates: bool, batch_size: int
) -> None:
    """Rows put off because the record they name (a parent account) was not there yet.

    Each pass reads the file once more and imports the waiting rows in batches, as the
    first pass did (a batch is one transaction, so a killed worker resumes here with the
    rows still waiting). A pass finds what the passes before created, so a chain (A's
    parent B, B's parent C, both further down) takes one pass per level. When a pass
    settles none of them, the rows still waiting fail with their reason.
    """
    waiting = ImportRow.objects.filter(run=run, outcome=RowOutcome.DEFERRED)
    while count := waiting.count():
        job_progress(
            job,
            done=run.rows_done,
            message=f"Importing {count:,} rows whose related record is further down the file…",
        )
        settled = 0
        for batch in _waiting_batches(run, waiting, batch_size):
            with transaction.atomic():
                counts = _import_batch(
                    run, batch, user=user, allow_duplicates=allow_duplicates, retry=True
                )
                _add_counts(run, counts)
            settled += len(batch) - counts[RowOutcome.DEFERRED]
        if not settled:
            break
    with transaction.atomic():
        failed = waiting.update(
            outcome=RowOutcome.FAILED, error=Concat(F("error"), Value(STILL_MISSING))
        )
        if failed:
            ImportRun.objects.filter(pk=run.pk).update(failed_count=F("failed_count") + failed)


def _waiting_batches(
    run: ImportRun, waiting: models.QuerySet[ImportRow], size: int
) -> Iterator[list[tuple[int, list[Any]]]]:
    """The waiting rows in file order, ``size`` at a time, from one more read of the file.

    Only row numbers are held, a batch at a time. A batch is handled (and its rows leave the
    waiting state or stay) before the next is looked up, after the last row number seen.
    """
    rows = iter_rows(_file_path(run), _info(run))
    last = 0
    while numbers := list(
        waiting.filter(row_number__gt=last)
        .order_by("row_number")
        .values_list("row_number", flat=True)[:size]
    ):
        last = numbers[-1]
        wanted = set(numbers)
        batch = []
        for number, cells in rows:
            if number in wanted:
                batch.append((number, cells))
                if number == last:
                    break
        if not batch:
            return
        yield batch


def _summary(run: ImportRun) -> dict[str, Any]:
    return {
        "run_id": run.pk,
        "created": run.created_count,
        "updated": run.updated_count,
        "skipped": run.skipped_count,
        "failed": run.failed_count,
    }


def _import_batch(
    run: ImportRun,
    batch: list[tuple[int, list[Any]]],
    *,
    user: Any,
    allow_duplicates: bool,
    retry: bool = False,
) -> dict[str, int]:
    """Import rows of the file; ``retry``: rows that were waiting (their ImportRow is
    replaced by the new outcome)."""
    spec = _spec(run.object_type)
    prepared = prepare_rows(
        run, batch, user=user, allow_duplicates=allow_duplicates, lock=True, defer=True
    )
    creates = {i: r.values for i, r in enumerate(prepared) if r.action == "create"}
    updates = {
        i: (r.existing, r.values)
        for i, r in enumerate(prepared)
        if r.action == "update" and r.existing is not None
    }
    writer = BatchWriter(spec, user=user, via=Via.IMPORT)
    result: WriteResult
    try:
        with transaction.atomic():
            result = writer.write(creates, updates)
    except Exception:
        result = writer.write_rows_one_by_one(creates, updates)
    counts = dict.fromkeys(RowOutcome.values, 0)
    out: list[tuple[Any, ...]] = []
    for index, r in enumerate(prepared):
        object_id: int | None = None
        previous = None
        error = ""
        if index in result.failed:
            outcome, error = RowOutcome.FAILED, result.failed[index]
        elif index in result.created:
            outcome, object_id = RowOutcome.CREATED, result.created[index].pk
            error = r.note if getattr(r, "report_hits", None) else ""
        elif index in result.updated:
            outcome, object_id = RowOutcome.UPDATED, result.updated[index].pk
            previous = result.previous.get(index)
        elif index in result.unchanged:
            outcome, object_id = RowOutcome.SKIPPED, result.unchanged[index].pk
            error = "No change: the record already has these values."
        elif r.action == "merged" and r.merged_into is not None:
            target = r.merged_into
            target_record = (
                result.created.get(target)
                or result.updated.get(target)
                or result.unchanged.get(target)
            )
            if target_record is None:
                outcome, error = (
                    RowOutcome.FAILED,
                    f"Same key as row {prepared[target].number}, which failed.",
                )
            else:
                outcome, object_id = RowOutcome.UPDATED, target_record.pk
                error = f"Merged with row {prepared[target].number} (same {run.match_key})."
        elif r.action == "skip":
            outcome, error = RowOutcome.SKIPPED, r.error
        elif r.action == "defer":
            outcome, error = RowOutcome.DEFERRED, r.error
        else:
            outcome, error = RowOutcome.FAILED, r.error or "Not imported."
        counts[outcome] += 1
        kept = outcome in (RowOutcome.FAILED, RowOutcome.DEFERRED)
        raw = {k: _cell(v) for k, v in r.raw.items()} if kept else None
        out.append((run.pk, r.number, outcome, object_id, previous, raw, error))
    if retry:
        ImportRow.objects.filter(
            run=run, outcome=RowOutcome.DEFERRED, row_number__in=[n for n, _cells in batch]
        ).delete()
    # Plain rows (COPY on PostgreSQL), no ImportRow instances: one per file row adds up.
    insert_rows(ImportRow, IMPORT_ROW_FIELDS, out)
    _record_reported_duplicates(spec, prepared, result)
    return counts


def _record_reported_duplicates(
    spec: ImportSpec, prepared: list[PreparedRow], result: WriteResult
) -> None:
    """Rows imported despite a "report" duplicate rule become open duplicate groups (two
    bulk inserts per batch)."""
    from patron.data_exchange.models import DuplicateGroup, DuplicateGroupMember

    pairs: list[tuple[DuplicateGroup, int, int]] = []
    for index, r in enumerate(prepared):
        hits = getattr(r, "report_hits", None)
        record = result.created.get(index)
        if not hits or record is None:
            continue
        for hit in hits:
            if hit.object_id and hit.object_id != record.pk:
                group = DuplicateGroup(
                    object_type=spec.object_type,
                    rule_id=hit.rule_id,
                    match_key=str(hit.match_key)[:300],
                    similarity=hit.similarity,
                )
                pairs.append((group, hit.object_id, record.pk))
    if not pairs:
        return
    DuplicateGroup.objects.bulk_create([group for group, _a, _b in pairs])
    DuplicateGroupMember.objects.bulk_create(
        [
            DuplicateGroupMember(group=group, object_id=pk)
            for group, first, second in pairs
            for pk in (first, second)
        ]
    )


# ---------- errors file ----------


def import_error_rows(run: ImportRun) -> Iterator[list[str]]:
    """The failed rows as they were in the file plus the reason column, header first."""
    headers = list(run.headers)
    yield [*headers, ERROR_COLUMN]
    failed = ImportRow.objects.filter(run=run, outcome=RowOutcome.FAILED).order_by("row_number")
    for row in failed.iterator(chunk_size=2000):
        raw = row.raw or {}
        yield [_cell(raw.get(h)) for h in headers] + [f"Row {row.row_number}: {row.error}"]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def import_errors_csv(run: ImportRun) -> Iterator[str]:
    """The error file as CSV text chunks (UTF-8 BOM so spreadsheets read accents)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff"
    for values in import_error_rows(run):
        writer.writerow(values)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)


# ---------- revert ----------


def import_revert_start(*, user: Any, run: ImportRun) -> ImportRun:
    """Queue the revert: records the import created are removed, updated ones restored,
    except records changed since the import finished, which are kept as they are."""
    require_import(user, _spec(run.object_type))
    if run.status not in (ImportStatus.DONE, ImportStatus.FAILED):
        raise ValidationFailed("Only a finished import can be reverted.")
    with transaction.atomic():
        job = job_start(
            kind=REVERT_KIND,
            user=user,
            params={"run_id": run.pk, "filename": run.file_name},
            task_name=REVERT_TASK,
        )
        run.status = ImportStatus.REVERTING
        run.reverted_by = user
        run.job = job
        run.save(update_fields=["status", "reverted_by", "job"])
    return run


def import_revert_execute(job_id: int) -> Job | None:
    return job_execute(job_id, _revert)


def _restore_value(model: type[models.Model], name: str, value: Any) -> tuple[str, Any]:
    f = model._meta.get_field(name)
    attname = str(getattr(f, "attname", name))
    if value is None:
        return attname, None
    return attname, f.to_python(value)  # type: ignore[union-attr]


def _revert(job: Job) -> dict[str, Any]:
    run = ImportRun.objects.select_related("reverted_by").get(pk=job.params["run_id"])
    spec = _spec(run.object_type)
    user = run.reverted_by
    rows = ImportRow.objects.filter(
        run=run, outcome__in=[RowOutcome.CREATED, RowOutcome.UPDATED]
    ).exclude(object_id=None)
    total = rows.count()
    job_progress(job, done=0, total=total, message="Reverting…")
    done = 0
    removed = restored = kept = 0
    last = 0
    while True:
        chunk = list(rows.filter(row_number__gt=last).order_by("row_number")[:BATCH_SIZE])
        if not chunk:
            break
        last = chunk[-1].row_number
        with transaction.atomic():
            changed = _changed_since(spec, [r.object_id for r in chunk], run.finished_at)
            kept += len(changed)
            chunk = [r for r in chunk if r.object_id not in changed]
            created_ids = [
                r.object_id for r in chunk if r.outcome == RowOutcome.CREATED and r.object_id
            ]
            if created_ids:
                if spec.remove is not None:
                    spec.remove(user, created_ids)
                elif spec.is_business_record:
                    soft_delete_many(user, spec.model, created_ids, via=Via.IMPORT)
                else:
                    spec.model._default_manager.filter(pk__in=created_ids).delete()
                removed += len(created_ids)
            updated = {
                r.object_id: r.previous_values
                for r in chunk
                if r.outcome == RowOutcome.UPDATED and r.previous_values
            }
            if updated:
                records = spec.model._base_manager.in_bulk(list(updated))
                changes = {}
                for index, (pk, previous) in enumerate(updated.items()):
                    record = records.get(pk)
                    if record is None:
                        continue
                    changes[index] = (
                        record,
                        dict(_restore_value(spec.model, n, v) for n, v in previous.items()),
                    )
                BatchWriter(spec, user=user, via=Via.IMPORT)._bulk_update(changes, WriteResult())
                restored += len(changes)
        done = min(total, done + BATCH_SIZE)
        job_progress(job, done=done, message=f"{done:,} of {total:,} records")
    run.status = ImportStatus.REVERTED
    run.reverted_at = timezone.now()
    run.reverted_kept = kept
    run.save(update_fields=["status", "reverted_at", "reverted_kept"])
    return {"run_id": run.pk, "removed": removed, "restored": restored, "kept": kept}


def _changed_since(spec: ImportSpec, ids: list[int | None], moment: Any) -> set[int]:
    """Which of the records were changed after ``moment`` (by a person, a workflow or a later
    import): reverting them would throw that work away, so they are kept as they are."""
    if moment is None or not spec.is_business_record:
        return set()
    from django.contrib.contenttypes.models import ContentType

    from patron.core.models import ChangeLogEntry

    return set(
        ChangeLogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(spec.model),
            object_id__in=[pk for pk in ids if pk],
            at__gt=moment,
        ).values_list("object_id", flat=True)
    )


def job_is_finished(job: Job | None) -> bool:
    return job is not None and job.status in (JobStatus.DONE, JobStatus.FAILED)
