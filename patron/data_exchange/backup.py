"""Backup and restore of the whole database and the uploaded files (``patron backup FILE``,
``patron restore FILE``).

The archive is a ZIP file:

- ``manifest.json``: format, Patron version, the database vendor it came from, the applied
  migrations per app (and the latest of each), and per table its file and row count;
- ``data/<app_label.model>.jsonl``: one JSON line per row (the table's columns by attribute
  name, in the header line), every table including many-to-many link tables, in dependency
  order;
- ``media/<path>``: every file under MEDIA_ROOT.

Rows are read with a chunked iterator and written line by line into the ZIP stream, and read
back line by line in batches, so memory stays flat whatever the database's size. Values are
written in a vendor-neutral form (ISO dates, decimals as text, bytes as base64) and read back
through each field's ``to_python``, so a SQLite backup restores into PostgreSQL and back.

Restore requires the target database to be at exactly the archive's migration state (run the
same Patron version, ``patron migrate``, then restore); a database that already holds data is
replaced only with ``force``. All rows are written in one transaction (constraints are
deferred until commit), so a failed restore leaves the database as it was; PostgreSQL
sequences are then moved past the restored ids and the SQLite search index is rebuilt.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import IO, Any
from uuid import UUID
from zipfile import ZIP_DEFLATED, BadZipFile, ZipFile

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.color import no_style
from django.db import connections, models, transaction
from django.db.migrations.recorder import MigrationRecorder

ARCHIVE_FORMAT = "patron-backup"
ARCHIVE_VERSION = 1
MANIFEST = "manifest.json"
CHUNK = 2000
BATCH = 500
Progress = Callable[[str], None]


class BackupError(Exception):
    """A problem the person restoring can fix; the message says what to do."""


def patron_version() -> str:
    try:
        return metadata.version("patron")
    except metadata.PackageNotFoundError:
        return "0+unknown"


# ---------- what is in the database ----------


def backup_models(using: str = "default") -> list[type[models.Model]]:
    """Every table Django manages, link tables included, parents before children."""
    existing = set(connections[using].introspection.table_names())
    chosen = [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and model._meta.db_table in existing
    ]
    chosen.sort(key=lambda model: model._meta.label_lower)
    ordered: list[type[models.Model]] = []
    placed: set[type[models.Model]] = set()
    visiting: set[type[models.Model]] = set()

    def place(model: type[models.Model]) -> None:
        if model in placed or model in visiting:
            return  # placed already, or a cycle (constraints are deferred on restore)
        visiting.add(model)
        for model_field in model._meta.concrete_fields:
            target = model_field.related_model if model_field.is_relation else None
            if isinstance(target, type) and target in chosen_set and target is not model:
                place(target)
        visiting.discard(model)
        placed.add(model)
        ordered.append(model)

    chosen_set = set(chosen)
    for model in chosen:
        place(model)
    return ordered


def _columns(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if not getattr(f, "generated", False)]


def applied_migrations(using: str = "default") -> dict[str, list[str]]:
    """Applied migration names per app, sorted."""
    applied: dict[str, list[str]] = {}
    for app_label, name in MigrationRecorder(connections[using]).applied_migrations():
        applied.setdefault(app_label, []).append(name)
    return {label: sorted(names) for label, names in sorted(applied.items())}


# ---------- values ----------


def _encode(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return {"__duration__": value.total_seconds()}
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"cannot back up a value of type {type(value).__name__}")


def _decoder(model_field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    if isinstance(model_field, models.JSONField):
        return lambda value: value
    if isinstance(model_field, models.DurationField):
        return lambda value: (
            None if value is None else datetime.timedelta(seconds=value["__duration__"])
        )
    if isinstance(model_field, models.BinaryField):
        return lambda value: None if value is None else base64.b64decode(value)
    target = model_field.target_field if model_field.is_relation else model_field  # type: ignore[attr-defined]
    return lambda value: None if value is None else target.to_python(value)


# ---------- backup ----------


@dataclass
class BackupSummary:
    tables: int = 0
    rows: int = 0
    files: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def _media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def _media_files() -> Iterator[tuple[Path, str]]:
    root = _media_root()
    if not root.is_dir():
        return
    for folder, _dirs, names in sorted(os.walk(root)):
        for name in sorted(names):
            path = Path(folder) / name
            yield path, path.relative_to(root).as_posix()


def backup_write(
    target: str | os.PathLike[str] | IO[bytes],
    *,
    using: str = "default",
    progress: Progress | None = None,
) -> BackupSummary:
    """Write the whole database ``using`` and MEDIA_ROOT into a ZIP archive ``target``."""
    connection = connections[using]
    summary = BackupSummary()
    tables: list[dict[str, Any]] = []
    with ZipFile(target, "w", compression=ZIP_DEFLATED, allowZip64=True) as archive:
        # One transaction: on PostgreSQL a repeatable-read snapshot, so the tables agree.
        outer = connection.in_atomic_block
        with transaction.atomic(using=using):
            if connection.vendor == "postgresql" and not outer:
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            migrations = applied_migrations(using)
            for model in backup_models(using):
                label = model._meta.label_lower
                columns = _columns(model)
                names = [f.attname for f in columns]
                member = f"data/{label}.jsonl"
                rows = 0
                with archive.open(member, "w", force_zip64=True) as raw:
                    out = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
                    out.write(json.dumps(names) + "\n")
                    queryset = (
                        model._base_manager.using(using)
                        .order_by(model._meta.pk.attname)
                        .values_list(*names)
                    )
                    for values in queryset.iterator(chunk_size=CHUNK):
                        out.write(json.dumps(values, default=_encode, ensure_ascii=False))
                        out.write("\n")
                        rows += 1
                    out.flush()
                    out.detach()
                tables.append({"model": label, "file": member, "rows": rows})
                summary.counts[label] = rows
                summary.rows += rows
                if progress:
                    progress(f"{label}: {rows} rows")
        for path, relative in _media_files():
            archive.write(path, arcname=f"media/{relative}")
            summary.files += 1
        if progress:
            progress(f"uploaded files: {summary.files}")
        manifest = {
            "format": ARCHIVE_FORMAT,
            "format_version": ARCHIVE_VERSION,
            "patron_version": patron_version(),
            "created_at": datetime.datetime.now(datetime.UTC).isoformat(),
            "vendor": connection.vendor,
            "latest_migrations": {app: names[-1] for app, names in migrations.items()},
            "migrations": migrations,
            "tables": tables,
            "media_files": summary.files,
        }
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2))
    summary.tables = len(tables)
    return summary


# ---------- restore ----------


def read_manifest(archive: ZipFile) -> dict[str, Any]:
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except KeyError:
        raise BackupError("This file is not a Patron backup (it has no manifest.json).") from None
    except ValueError:
        raise BackupError("This backup's manifest.json is damaged (not JSON).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
        raise BackupError("This file is not a Patron backup (unknown manifest format).")
    if int(manifest.get("format_version", 0)) > ARCHIVE_VERSION:
        raise BackupError(
            f"This backup uses archive format {manifest.get('format_version')}, newer than this "
            f"Patron ({patron_version()}) reads; restore it with Patron "
            f"{manifest.get('patron_version')} or later."
        )
    return manifest


def check_migrations(manifest: dict[str, Any], using: str = "default") -> None:
    """Refuse unless the database is at exactly the archive's migration state."""
    theirs = {app: set(names) for app, names in manifest.get("migrations", {}).items()}
    ours = {app: set(names) for app, names in applied_migrations(using).items()}
    unknown = sorted(
        f"{app}.{n}" for app, names in theirs.items() for n in names - ours.get(app, set())
    )
    missing = sorted(
        f"{app}.{n}" for app, names in ours.items() for n in names - theirs.get(app, set())
    )
    version = manifest.get("patron_version", "?")
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise BackupError(
            f"This backup comes from newer migrations than this database has ({shown}; "
            f"Patron {version}). Upgrade Patron to {version} or later and run `patron migrate` "
            "before restoring."
        )
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise BackupError(
            f"This backup comes from older migrations than this database has (it lacks {shown}). "
            f"Restore requires the same migration state: restore it with Patron {version} into "
            "a database migrated by that version, then upgrade Patron and run `patron migrate`."
        )


def database_has_data(using: str = "default") -> bool:
    """Whether anyone has used the database: a user or a business record exists (what
    migrations seed, such as content types and default rules, does not count)."""
    from django.contrib.auth import get_user_model

    from patron.core.models import BusinessRecord

    if get_user_model()._base_manager.using(using).exists():
        return True
    for model in backup_models(using):
        if issubclass(model, BusinessRecord) and model._base_manager.using(using).exists():
            return True
    return False


@dataclass
class RestoreSummary:
    tables: int = 0
    rows: int = 0
    files: int = 0
    vendor: str = ""
    patron_version: str = ""


def _safe_media_path(root: Path, name: str) -> Path:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise BackupError(f"The backup holds an unsafe file path ({name!r}); nothing was restored.")
    return root.joinpath(*relative.parts)


def _rows(archive: ZipFile, member: str) -> Iterator[list[Any]]:
    with archive.open(member) as raw:
        for number, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8"), start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError:
                raise BackupError(
                    f"The backup's {member} line {number} is damaged (not JSON); nothing was "
                    "restored."
                ) from None


def restore_read(
    source: str | os.PathLike[str] | IO[bytes],
    *,
    using: str = "default",
    force: bool = False,
    progress: Progress | None = None,
) -> RestoreSummary:
    """Replace database ``using`` and MEDIA_ROOT's files by those of backup ``source``."""
    try:
        archive = ZipFile(source)
    except (BadZipFile, OSError) as exc:
        raise BackupError(f"This file is not a Patron backup (not a ZIP archive: {exc}).") from None
    with archive:
        manifest = read_manifest(archive)
        check_migrations(manifest, using)
        if not force and database_has_data(using):
            raise BackupError(
                "The database already holds data; restoring replaces all of it. Run again with "
                "--force to confirm."
            )
        root = _media_root()
        media = [n for n in archive.namelist() if n.startswith("media/") and not n.endswith("/")]
        targets = [(n, _safe_media_path(root, n.removeprefix("media/"))) for n in media]
        by_label = {m._meta.label_lower: m for m in backup_models(using)}
        tables = manifest.get("tables", [])
        unknown = [t["model"] for t in tables if t["model"] not in by_label]
        if unknown:
            raise BackupError(
                "This backup holds tables this Patron does not have: " + ", ".join(unknown)
            )
        summary = RestoreSummary(
            vendor=str(manifest.get("vendor", "")),
            patron_version=str(manifest.get("patron_version", "")),
        )
        connection = connections[using]
        with transaction.atomic(using=using):
            if connection.vendor == "postgresql":
                # Checks still pending from earlier writes in this transaction would make
                # TRUNCATE fail: run them now, then defer all checks to the commit.
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            flush = connection.ops.sql_flush(
                no_style(),
                [m._meta.db_table for m in by_label.values()],
                reset_sequences=True,
                allow_cascade=False,
            )
            connection.ops.execute_sql_flush(flush)
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for table in tables:
                model = by_label[table["model"]]
                summary.rows += _restore_table(archive, table["file"], model, using)
                summary.tables += 1
                if progress:
                    progress(f"{table['model']}: {table['rows']} rows")
            _after_rows(using, list(by_label.values()))
        summary.files = _restore_media(archive, targets, root)
        if progress:
            progress(f"uploaded files: {summary.files}")
    return summary


def _restore_table(archive: ZipFile, member: str, model: type[models.Model], using: str) -> int:
    rows = _rows(archive, member)
    header = next(rows, None)
    if header is None:
        return 0
    by_attname = {f.attname: f for f in _columns(model)}
    missing = [name for name in header if name not in by_attname]
    if missing:
        raise BackupError(
            f"The backup's {model._meta.label_lower} has columns this Patron does not: "
            + ", ".join(missing)
        )
    decoders = [_decoder(by_attname[name]) for name in header]
    with _stored_times_kept(model):
        return _insert_rows(rows, header, decoders, model, using)


@contextmanager
def _stored_times_kept(model: type[models.Model]) -> Iterator[None]:
    """Let ``auto_now``/``auto_now_add`` fields keep the backed-up time (bulk_create would
    stamp the restore's time on them)."""
    stamped = [
        (f, f.auto_now, f.auto_now_add)  # type: ignore[attr-defined]
        for f in model._meta.concrete_fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    for model_field, _now, _now_add in stamped:
        model_field.auto_now = model_field.auto_now_add = False  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for model_field, now, now_add in stamped:
            model_field.auto_now = now  # type: ignore[attr-defined]
            model_field.auto_now_add = now_add  # type: ignore[attr-defined]


def _insert_rows(
    rows: Iterator[list[Any]],
    header: list[str],
    decoders: list[Callable[[Any], Any]],
    model: type[models.Model],
    using: str,
) -> int:
    manager = model._base_manager.using(using)
    batch: list[models.Model] = []
    count = 0
    for line, values in enumerate(rows, start=2):
        try:
            fields = {
                name: decode(value)
                for name, decode, value in zip(header, decoders, values, strict=True)
            }
        except (ValueError, TypeError, ValidationError) as exc:
            raise BackupError(
                f"The backup's {model._meta.label_lower} line {line} is damaged ({exc}); "
                "nothing was restored."
            ) from None
        batch.append(model(**fields))
        if len(batch) >= BATCH:
            manager.bulk_create(batch)
            count += len(batch)
            batch = []
    if batch:
        manager.bulk_create(batch)
        count += len(batch)
    return count


def _after_rows(using: str, restored: list[type[models.Model]]) -> None:
    connection = connections[using]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), restored):
            cursor.execute(sql)
        if connection.vendor == "sqlite":
            tables = set(connection.introspection.table_names(cursor))
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            tables |= {row[0] for row in cursor.fetchall()}
            if "core_searchentry_fts" in tables:
                cursor.execute(
                    "INSERT INTO core_searchentry_fts(core_searchentry_fts) VALUES ('rebuild')"
                )


def _restore_media(archive: ZipFile, targets: list[tuple[str, Path]], root: Path) -> int:
    for member, path in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as source, path.open("wb") as destination:
            shutil.copyfileobj(source, destination)
    return len(targets)
