"""Reads of the data-quality page and API: the checks a user may see, with their counts,
grouped by object type (checks come from the core registry, see patron.core.quality)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from patron.core.exceptions import PermissionDenied, RecordNotFound
from patron.core.quality import KINDS, QUALITY_PARAM, QualityCheck, checks_for, quality_counts
from patron.core.record_pages import object_ui
from patron.core.visibility import Principal


@dataclass(frozen=True)
class CheckRow:
    check: QualityCheck
    count: int
    list_url: str

    @property
    def kind_label(self) -> str:
        return KINDS[self.check.kind]


@dataclass(frozen=True)
class ObjectGroup:
    object_type: str
    label: str
    rows: list[CheckRow]

    @property
    def total(self) -> int:
        return sum(row.count for row in self.rows)


def quality_list_url(check: QualityCheck) -> str:
    """The object's own list narrowed to the check's records (bulk edit, export)."""
    ui = object_ui(check.object_type)
    return f"{ui.url('list')}?{QUALITY_PARAM}={check.key}" if ui is not None else ""


def quality_overview(user: Principal) -> list[ObjectGroup]:
    groups: dict[str, ObjectGroup] = {}
    for check, count in quality_counts(user):
        group = groups.get(check.object_type)
        if group is None:
            ui = object_ui(check.object_type)
            label = ui.label_plural if ui else str(check.model._meta.verbose_name_plural)
            group = groups[check.object_type] = ObjectGroup(check.object_type, label, [])
        group.rows.append(CheckRow(check, count, quality_list_url(check)))
    return list(groups.values())


def quality_check_get(*, user: Principal, key: str) -> QualityCheck:
    """A check ``user`` may see, or not-found / permission-denied naming it."""
    from patron.core.quality import quality_check

    check = quality_check(key)
    if check is None:
        raise RecordNotFound(f"There is no data-quality check {key!r}.")
    if check not in checks_for(user):
        raise PermissionDenied(f"Your role may not see the records of the check {key!r}.")
    return check


def check_out(check: QualityCheck, count: int | None = None) -> dict[str, Any]:
    return {
        "key": check.key,
        "object_type": check.object_type,
        "label": check.label,
        "kind": check.kind,
        "fields": list(check.fields),
        "hint": check.hint,
        "count": count,
        "list_url": quality_list_url(check),
    }
