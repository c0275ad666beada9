"""Which kinds of record are assigned to territories, and how their attributes are read.

Lower apps cannot import territories, so higher ones (and territories itself, for accounts)
register their models here from ``AppConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Model


@dataclass(frozen=True)
class TerritorySubject:
    object_type: str
    model: type[Model]
    # country, region, postal_code, industry, employee_count, annual_revenue (any may be
    # missing or empty: a rule on a missing attribute does not match).
    attributes: Callable[[Any], Mapping[str, Any]]
    label: str = ""


_subjects: dict[str, TerritorySubject] = {}
_listeners: list[Callable[[TerritorySubject], None]] = []


def register_territory_subject(subject: TerritorySubject) -> None:
    _subjects[subject.object_type] = subject
    for listener in _listeners:
        listener(subject)


def on_subject_registered(listener: Callable[[TerritorySubject], None]) -> None:
    """Call ``listener`` for every subject registered so far and every later one (apps'
    ready() run in INSTALLED_APPS order, so leads registers after territories subscribes)."""
    _listeners.append(listener)
    for subject in list(_subjects.values()):
        listener(subject)


def territory_subjects() -> list[TerritorySubject]:
    return list(_subjects.values())


def territory_subject(object_type: str) -> TerritorySubject | None:
    return _subjects.get(object_type)


def subject_for_model(model: type[Model]) -> TerritorySubject | None:
    return _subjects.get(model._meta.label_lower)
