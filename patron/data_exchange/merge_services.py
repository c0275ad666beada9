"""Merging duplicate records into one survivor, in one transaction.

Children are re-linked generically: every foreign key to the merged model (activities'
opportunities, contact emails and phones, relations, leads' matched/converted records, ...)
and every generic ``content_type``/``object_id`` link (activity links and attendees, shares,
territory and routing assignments) is pointed at the survivor. A child that would duplicate one
the survivor already has (same activity link twice) is dropped; a second "primary" child
becomes non-primary. The merged-away records are soft-deleted, keep their own change log, and
a MergeRecord holds their snapshots, the chosen values and what was re-linked; the survivor's
change log gets a "merge" entry that names them and the custom-field values chosen.

The user chooses per field (model fields and custom fields, ``custom.<key>``) whose value the
survivor keeps. Sensitive fields hidden from the user are neither shown nor choosable, and ones
they may only read cannot be chosen: the survivor keeps its own value of both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models.fields.related import ForeignObjectRel
from django.utils import timezone

from patron.core import events, records
from patron.core.choices import Action, FieldAccess, Via
from patron.core.custom_fields import definitions_for
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.models import BusinessRecord, ChangeLogEntry, SearchEntry
from patron.core.visibility import sensitive_field_access
from patron.data_exchange.choices import DuplicateGroupStatus
from patron.data_exchange.duplicate_matching import DuplicateObject, duplicate_object
from patron.data_exchange.models import DuplicateGroup, MergeRecord

# Generic links that stay with the record they describe (history, search index, this app).
_GENERIC_SKIP = frozenset({ChangeLogEntry, SearchEntry})


@dataclass(frozen=True)
class MergeField:
    """One row of a merge: a model field, or a custom field named ``custom.<key>``."""

    name: str
    label: str
    # False when the user may read the field but not change it: the survivor keeps its value.
    choosable: bool
    attname: str = ""
    custom_key: str = ""

    def value(self, record: Any) -> Any:
        """The stored value (a foreign key as its id; a custom value in JSON form)."""
        if self.custom_key:
            return (record.custom or {}).get(self.custom_key)
        return getattr(record, self.attname)


def mergeable_fields(spec: DuplicateObject) -> list[models.Field[Any, Any]]:
    """Fields a user chooses the surviving value of (unique fields stay the survivor's)."""
    model = spec.model
    concrete = {f.name: f for f in model._meta.concrete_fields}
    return [
        concrete[name]
        for name in spec.display_fields
        if name in concrete and not concrete[name].unique and concrete[name].editable
    ]


def merge_fields(spec: DuplicateObject, user: Any) -> list[MergeField]:
    """The rows ``user`` sees in a merge: the model's mergeable fields, then the active custom
    fields. Sensitive fields hidden from the user are left out, so the survivor keeps them."""
    access = sensitive_field_access(user, spec.model)
    rows = []
    for field in mergeable_fields(spec):
        level = access.get(field.name, FieldAccess.EDIT)
        if level != FieldAccess.HIDDEN:
            rows.append(
                MergeField(
                    name=field.name,
                    label=str(field.verbose_name).capitalize(),
                    choosable=level == FieldAccess.EDIT,
                    attname=field.attname,
                )
            )
    for definition in definitions_for(spec.object_type):
        name = f"custom.{definition.key}"
        level = access.get(name, FieldAccess.EDIT)
        if level != FieldAccess.HIDDEN:
            rows.append(
                MergeField(
                    name=name,
                    label=definition.label,
                    choosable=level == FieldAccess.EDIT,
                    custom_key=definition.key,
                )
            )
    return rows


def _empty(value: Any) -> bool:
    return value in (None, "", [], {})


def default_choices(fields: Sequence[MergeField], ordered: Sequence[Any]) -> dict[str, int]:
    """Per field: the survivor's (first record's) value unless empty, else the first filled;
    always the survivor's for a field the user may not change."""
    choices: dict[str, int] = {}
    for field in fields:
        chosen = ordered[0].pk
        if field.choosable:
            for record in ordered:
                if not _empty(field.value(record)):
                    chosen = record.pk
                    break
        choices[field.name] = chosen
    return choices


def _checked_choices(
    spec: DuplicateObject,
    fields: dict[str, MergeField],
    field_choices: dict[str, Any],
    record_ids: Sequence[int],
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """The valid choices of ``field_choices`` and an error per invalid one."""
    chosen: dict[str, int] = {}
    errors: dict[str, list[str]] = {}
    for name, raw in field_choices.items():
        field = fields.get(name)
        if field is None and name.startswith("custom."):
            # A hidden sensitive custom field is answered like one that does not exist.
            errors[name] = [f"{spec.label} have no custom field {name[7:]!r}."]
            continue
        if field is None:
            errors[name] = ["This field cannot be chosen in a merge."]
            continue
        if not field.choosable:
            errors[name] = ["You may not change this field; the survivor keeps its value."]
            continue
        try:
            record_id = int(raw)
        except (TypeError, ValueError):
            record_id = -1
        if record_id not in record_ids:
            errors[name] = [f"Choose one of the merged records: {', '.join(map(str, record_ids))}."]
            continue
        chosen[name] = record_id
    return chosen, errors


def load_for_merge(
    *, user: Any, object_type: str, ids: Sequence[int], lock: bool = False
) -> tuple[DuplicateObject, list[Any]]:
    """The records in ``ids`` order, each visible to ``user`` for update and delete."""
    spec = duplicate_object(object_type)
    if spec is None:
        raise ValidationFailed(
            f"{object_type!r} records cannot be merged.",
            errors={"object_type": ["Choose contacts, accounts, leads or products."]},
        )
    unique_ids = list(dict.fromkeys(int(i) for i in ids))
    if len(unique_ids) < 2:
        raise ValidationFailed(
            "Choose at least two different records to merge.",
            errors={"ids": ["Give the survivor and at least one record to merge into it."]},
        )
    model = spec.model
    alive = model.objects.filter(pk__in=unique_ids)  # type: ignore[attr-defined]
    if lock:
        alive = alive.select_for_update()
    found = {r.pk: r for r in alive}
    missing = [pk for pk in unique_ids if pk not in found]
    if missing:
        raise RecordNotFound(
            f"No such {model._meta.verbose_name}: {', '.join(map(str, missing))} (deleted or "
            "already merged).",
            errors={"ids": [f"{pk} does not exist." for pk in missing]},
        )
    manager: Any = model.objects  # type: ignore[attr-defined]
    visible = set(manager.visible_to(user).filter(pk__in=unique_ids).values_list("pk", flat=True))
    if len(visible) < len(unique_ids):
        raise RecordNotFound(f"No such {model._meta.verbose_name}.")
    for action in (Action.UPDATE, Action.DELETE):
        allowed = set(
            model.objects.visible_to(user, action)  # type: ignore[attr-defined]
            .filter(pk__in=unique_ids)
            .values_list("pk", flat=True)
        )
        refused = [found[pk] for pk in unique_ids if pk not in allowed]
        if refused:
            verb = "change" if action == Action.UPDATE else "delete"
            names = ", ".join(f"“{r}”" for r in refused)
            raise PermissionDenied(
                f"You may not {verb} {names}; merging needs permission to change and delete "
                "every record involved."
            )
    return spec, [found[pk] for pk in unique_ids]


def _relink_rows(queryset: models.QuerySet[Any], field_name: str, target: Any) -> tuple[int, int]:
    """Point ``field_name`` of the rows at ``target``; (moved, dropped as duplicates)."""
    try:
        with transaction.atomic():
            return queryset.update(**{field_name: target}), 0
    except IntegrityError:
        pass
    moved = dropped = 0
    model = queryset.model
    has_primary = any(f.name == "is_primary" for f in model._meta.concrete_fields)
    for row in list(queryset):
        try:
            with transaction.atomic():
                model._base_manager.filter(pk=row.pk).update(**{field_name: target})
            moved += 1
            continue
        except IntegrityError:
            pass
        if has_primary:
            try:
                with transaction.atomic():
                    model._base_manager.filter(pk=row.pk).update(
                        **{field_name: target, "is_primary": False}
                    )
                moved += 1
                continue
            except IntegrityError:
                pass
        model._base_manager.filter(pk=row.pk).delete()
        dropped += 1
    return moved, dropped


def relink_children(
    model: type[BusinessRecord], survivor: Any, merged_ids: list[int]
) -> dict[str, int]:
    """Re-point every child of the merged records at ``survivor``; counts per relation."""
    counts: dict[str, int] = {}
    for rel in model._meta.get_fields(include_hidden=True):
        if not isinstance(rel, ForeignObjectRel) or rel.many_to_many:
            continue
        field = rel.field
        child = rel.related_model
        if not isinstance(field, models.ForeignKey) or child is None:
            continue
        queryset = child._base_manager.filter(**{f"{field.attname}__in": merged_ids})  # type: ignore[union-attr]
        moved, dropped = _relink_rows(queryset, field.attname, survivor.pk)
        if moved or dropped:
            key = f"{child._meta.label_lower}.{field.name}"  # type: ignore[union-attr]
            counts[key] = moved
            if dropped:
                counts[f"{key} (duplicates dropped)"] = dropped
    content_type = ContentType.objects.get_for_model(model)
    for child in apps.get_models():
        if child in _GENERIC_SKIP or child._meta.app_label == "data_exchange":
            continue
        names = {f.name: f for f in child._meta.concrete_fields}
        ct_field = names.get("content_type")
        if (
            "object_id" not in names
            or ct_field is None
            or getattr(ct_field, "related_model", None) is not ContentType
        ):
            continue
        queryset = child._base_manager.filter(content_type=content_type, object_id__in=merged_ids)
        moved, dropped = _relink_rows(queryset, "object_id", survivor.pk)
        if moved or dropped:
            key = f"{child._meta.label_lower}.object_id"
            counts[key] = moved
            if dropped:
                counts[f"{key} (duplicates dropped)"] = dropped
    return counts


@transaction.atomic
def merge_records(
    *,
    user: Any,
    object_type: str,
    survivor_id: int,
    merged_ids: Sequence[int],
    field_choices: dict[str, int] | None = None,
    group: DuplicateGroup | None = None,
    via: str = Via.UI,
) -> MergeRecord:
    """Merge ``merged_ids`` into ``survivor_id``; ``field_choices`` says, per field (a model
    field or ``custom.<key>``), whose value the survivor keeps (defaults: its own unless
    empty). A field hidden from ``user`` or unknown is refused with ValidationFailed."""
    spec, ordered = load_for_merge(
        user=user, object_type=object_type, ids=[survivor_id, *merged_ids], lock=True
    )
    survivor, merged = ordered[0], ordered[1:]
    merged_pks = [r.pk for r in merged]
    for record in ordered:
        records.check_write_guards(record)
    by_id = {r.pk: r for r in ordered}
    fields = {f.name: f for f in merge_fields(spec, user)}
    chosen, errors = _checked_choices(spec, fields, field_choices or {}, list(by_id))
    if errors:
        raise ValidationFailed(
            "Some field choices are not valid: " + ", ".join(sorted(errors)) + ".", errors=errors
        )
    choices = {**default_choices(list(fields.values()), ordered), **chosen}
    snapshots = {str(r.pk): records.snapshot(r) for r in merged}
    changes: dict[str, Any] = {
        name: getattr(by_id[pk], name)
        for name, pk in choices.items()
        if pk != survivor.pk and not fields[name].custom_key
    }
    custom_before = dict(survivor.custom or {})
    custom_after = dict(custom_before)
    custom_log: dict[str, list[Any]] = {}
    for name, field in fields.items():
        if not field.custom_key:
            continue
        kept = field.value(by_id[choices[name]])
        if _empty(kept):
            custom_after.pop(field.custom_key, None)
        else:
            custom_after[field.custom_key] = kept
        # The merge entry names every custom value chosen among differing ones.
        values = [field.value(r) for r in ordered]
        if any(value != values[0] for value in values):
            custom_log[name] = [custom_before.get(field.custom_key), kept]
    if custom_after != custom_before:
        changes["custom"] = custom_after
    relinked = relink_children(type(survivor), survivor, merged_pks)
    model = type(survivor)
    # A self-reference (an account's parent) that now points at the survivor is cleared.
    for field in model._meta.concrete_fields:
        if isinstance(field, models.ForeignKey) and field.related_model is model:
            chosen_value = changes.get(field.name)
            if chosen_value is not None and chosen_value.pk in [survivor.pk, *merged_pks]:
                changes[field.name] = None
            model._base_manager.filter(pk=survivor.pk, **{field.attname: survivor.pk}).update(
                **{field.attname: None}
            )
    survivor = model._base_manager.get(pk=survivor.pk)
    if changes:
        survivor = records.record_update(survivor, changes=changes, actor=user, via=via)
    for record in merged:
        record.refresh_from_db()
        records.record_soft_delete(record, actor=user, via=via)
    merge = MergeRecord.objects.create(
        object_type=spec.object_type,
        survivor_id=survivor.pk,
        merged_ids=merged_pks,
        field_choices=choices,
        merged_snapshots=snapshots,
        relinked=relinked,
        merged_by=user if getattr(user, "pk", None) else None,
    )
    names = ", ".join(f"#{pk} “{by_id[pk]}”" for pk in merged_pks)
    records.log_change(
        survivor,
        actor=user,
        via=via,
        action="merge",
        changes={"merged": [names, f"merge #{merge.pk}"], **custom_log},
    )
    for record in merged:
        records.log_change(
            record,
            actor=user,
            via=via,
            action="merge_away",
            changes={"merged into": [None, f"#{survivor.pk} “{survivor}” (merge #{merge.pk})"]},
        )
    now = timezone.now()
    groups = DuplicateGroup.objects.filter(
        object_type=spec.object_type,
        status=DuplicateGroupStatus.OPEN,
        members__object_id__in=merged_pks,
    )
    if group is not None:
        groups = groups | DuplicateGroup.objects.filter(pk=group.pk)
    DuplicateGroup.objects.filter(pk__in=list(groups.values_list("pk", flat=True))).update(
        status=DuplicateGroupStatus.MERGED, resolved_at=now, resolved_by=user
    )
    events.emit(
        f"{model._meta.model_name}.merged",
        pk=survivor.pk,
        merged_ids=merged_pks,
        actor_id=getattr(user, "pk", None),
    )
    return merge
