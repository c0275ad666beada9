"""Generic write helpers used by every app's services: create, update with optimistic
concurrency, soft delete, restore, each writing the change log and emitting an event."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from patron.core import events
from patron.core.choices import Via
from patron.core.exceptions import RecordLocked, RecordNotFound, VersionConflict
from patron.core.models import BusinessRecord, ChangeLogEntry

R = TypeVar("R", bound=BusinessRecord)


def _json_value(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def snapshot(record: BusinessRecord) -> dict[str, Any]:
    """The tracked field values of ``record`` in JSON form (foreign keys as ids)."""
    values: dict[str, Any] = {}
    for field in record._meta.concrete_fields:
        if field.name in record.UNTRACKED_FIELDS:
            continue
        values[field.name] = _json_value(getattr(record, field.attname))
    return values


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for name in after:
        if name == "custom":
            old_custom, new_custom = before.get("custom") or {}, after.get("custom") or {}
            for key in sorted(set(old_custom) | set(new_custom)):
                if old_custom.get(key) != new_custom.get(key):
                    changes[f"custom.{key}"] = [old_custom.get(key), new_custom.get(key)]
        elif before.get(name) != after[name]:
            changes[name] = [before.get(name), after[name]]
    return changes


def log_change(
    record: BusinessRecord, *, actor: Any, via: str, action: str, changes: dict[str, list[Any]]
) -> None:
    ChangeLogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(type(record)),
        object_id=record.pk,
        actor=actor if getattr(actor, "pk", None) else None,
        via=via,
        action=action,
        changes=changes,
    )


# A write guard returns why ``record`` may not be changed now, or None. Higher apps register
# them (approvals lock a record while it is pending) so every write path honours the lock.
WriteGuard = Callable[[BusinessRecord], str | None]
_write_guards: list[WriteGuard] = []


def register_write_guard(guard: WriteGuard) -> None:
    _write_guards.append(guard)


def check_write_guards(record: BusinessRecord) -> None:
    """Raise RecordLocked when a registered guard refuses changes to ``record``."""
    for guard in _write_guards:
        reason = guard(record)
        if reason:
            raise RecordLocked(reason, errors={"__all__": [reason]})


# A create check looks at a record about to be inserted (e.g. for duplicates). It may raise
# (a ValidationFailed subclass such as DuplicateFound) to refuse the insert, and may return a
# callable run with the saved record (e.g. to record what it found). Higher apps register them
# so every create path honours them. ``confirmed`` is True when the user chose to go ahead
# despite warnings ("save anyway" in the UI, ``X-Confirm-Duplicate: true`` in the API), False
# in a create form or API create that has not, and None outside them (lead conversion, vCard
# import, workflows), where nobody could answer a warning, so checks only report.
CreateCheck = Callable[..., Callable[[BusinessRecord], None] | None]
_create_checks: list[CreateCheck] = []
_create_warnings_confirmed: ContextVar[bool | None] = ContextVar(
    "create_warnings_confirmed", default=None
)


def register_create_check(check: CreateCheck) -> None:
    """Register ``check(record, *, actor, via, confirmed)`` for every ``record_create``."""
    if check not in _create_checks:
        _create_checks.append(check)


@contextmanager
def create_warnings_confirmed(confirmed: bool = True) -> Iterator[None]:
    """Creates inside this block ask the user about warnings of create checks (False) or go
    ahead despite them (True); blocks always refuse."""
    token = _create_warnings_confirmed.set(confirmed)
    try:
        yield
    finally:
        _create_warnings_confirmed.reset(token)


def run_create_checks(
    record: BusinessRecord, *, actor: Any, via: str
) -> list[Callable[[BusinessRecord], None]]:
    confirmed = _create_warnings_confirmed.get()
    after: list[Callable[[BusinessRecord], None]] = []
    for check in _create_checks:
        then = check(record, actor=actor, via=via, confirmed=confirmed)
        if then is not None:
            after.append(then)
    return after


def event_name(record: BusinessRecord, verb: str) -> str:
    return f"{record._meta.model_name}.{verb}"


@transaction.atomic
def record_create(record: R, *, actor: Any, via: str = Via.UI) -> R:
    """Insert ``record`` (already validated), log it and emit ``<model>.created``."""
    if actor is not None and getattr(actor, "pk", None):
        record.created_by = actor
    after_insert = run_create_checks(record, actor=actor, via=via)
    record.save(force_insert=True)
    for then in after_insert:
        then(record)
    after = snapshot(record)
    log_change(
        record,
        actor=actor,
        via=via,
        action="create",
        changes={k: [None, v] for k, v in after.items() if v not in (None, "", {}, [])},
    )
    events.emit(event_name(record, "created"), pk=record.pk, actor_id=getattr(actor, "pk", None))
    return record


@transaction.atomic
def record_update(
    record: R,
    *,
    changes: dict[str, Any],
    actor: Any,
    via: str = Via.UI,
    expected_version: int | None = None,
) -> R:
    """Apply ``changes`` to ``record`` if its version is still ``expected_version``.

    The version check and the write are one UPDATE ... WHERE version = N, so two editors
    racing cannot both win; the loser gets VersionConflict and nothing is written.
    """
    model = type(record)
    check_write_guards(record)
    before = snapshot(record)
    for name, value in changes.items():
        setattr(record, name, value)
    after = snapshot(record)
    changed = diff(before, after)
    version = record.version if expected_version is None else expected_version
    if not changed:
        if version != record.version:
            raise VersionConflict(
                "This record was changed by someone else since you opened it.",
                current_version=record.version,
            )
        return record
    now = timezone.now()
    values = {
        field.attname: getattr(record, field.attname)
        for field in model._meta.concrete_fields
        if field.name in changes or (field.name == "custom" and "custom" in changes)
    }
    updated = model._base_manager.filter(pk=record.pk, version=version).update(
        **values, version=F("version") + 1, updated_at=now
    )
    if not updated:
        current = model._base_manager.filter(pk=record.pk).values_list("version", flat=True).first()
        if current is None:
            raise RecordNotFound("This record no longer exists.")
        raise VersionConflict(
            f"This record was changed by someone else since you opened it (you edited version "
            f"{version}, it is now at version {current}). Reload it to see their changes, then "
            "apply yours again.",
            current_version=current,
        )
    record.version = version + 1
    record.updated_at = now
    log_change(record, actor=actor, via=via, action="update", changes=changed)
    events.emit(
        event_name(record, "updated"),
        pk=record.pk,
        actor_id=getattr(actor, "pk", None),
        changes=changed,
    )
    return record


@transaction.atomic
def record_soft_delete(record: R, *, actor: Any, via: str = Via.UI) -> R:
    """Move ``record`` to the recycle bin; it can be restored."""
    check_write_guards(record)
    now = timezone.now()
    type(record)._base_manager.filter(pk=record.pk).update(
        deleted_at=now, deleted_by=actor, version=F("version") + 1, updated_at=now
    )
    record.deleted_at = now
    record.deleted_by = actor
    record.version += 1
    log_change(record, actor=actor, via=via, action="delete", changes={})
    events.emit(event_name(record, "deleted"), pk=record.pk, actor_id=getattr(actor, "pk", None))
    return record


@transaction.atomic
def record_restore(record: R, *, actor: Any, via: str = Via.UI) -> R:
    """Bring ``record`` back from the recycle bin."""
    now = timezone.now()
    type(record)._base_manager.filter(pk=record.pk).update(
        deleted_at=None, deleted_by=None, version=F("version") + 1, updated_at=now
    )
    record.deleted_at = None
    record.deleted_by = None
    record.version += 1
    log_change(record, actor=actor, via=via, action="restore", changes={})
    events.emit(event_name(record, "restored"), pk=record.pk, actor_id=getattr(actor, "pk", None))
    return record
