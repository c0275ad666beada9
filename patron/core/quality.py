"""Data-quality checks: which records miss key fields or break validation rules.

Apps register a ``QualityCheck`` per rule from ``ready()`` (``register_quality_check``), so
later apps add theirs without changes here. A check is a SQL predicate (a ``Q``) on its model:
counts are one aggregate query per object type over the rows the user may see, never a scan
in Python. The record list of a check is the object's own list page with ``?quality=<key>``
(``apply_quality_filter``), so its filters, columns, bulk edit and export all apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import QueryDict

from patron.core.choices import Action
from patron.core.models import BusinessRecord
from patron.core.visibility import Principal, hidden_field_names

QUALITY_PARAM = "quality"
MISSING = "missing"
INVALID = "invalid"
KINDS = {MISSING: "Missing key fields", INVALID: "Breaks a validation rule"}

# Patterns both SQLite (Python's re through Django's REGEXP) and PostgreSQL (~) read alike.
EMAIL_PATTERN = r"^[^@ ]+@[^@ ]+\.[^@ .]+$"
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"


@dataclass(frozen=True)
class QualityCheck:
    """One rule: ``condition()`` selects the records that fail it."""

    key: str
    model: type[BusinessRecord]
    label: str
    kind: str
    condition: Callable[[], Q]
    # The fields a fix changes (hidden fields hide the check: its rows would reveal them).
    fields: tuple[str, ...]
    # How to fix it, shown on the page and in the API.
    hint: str = ""
    order: int = 100

    @property
    def object_type(self) -> str:
        return self.model.object_type()


_CHECKS: dict[str, QualityCheck] = {}


def register_quality_check(check: QualityCheck) -> None:
    if check.kind not in KINDS:
        raise ValueError(f"quality check {check.key}: kind must be one of {sorted(KINDS)}")
    _CHECKS[check.key] = check


def quality_check(key: str) -> QualityCheck | None:
    return _CHECKS.get(key)


def quality_checks() -> list[QualityCheck]:
    return sorted(_CHECKS.values(), key=lambda c: (c.object_type, c.order, c.key))


def malformed_email(name: str = "email") -> Q:
    """A non-blank address that is not ``local@domain.tld``."""
    return ~Q(**{name: ""}) & ~Q(**{f"{name}__regex": EMAIL_PATTERN})


def malformed_phone(name: str = "phone") -> Q:
    """A non-blank number that is not E.164 (what parsing stores)."""
    return ~Q(**{name: ""}) & ~Q(**{f"{name}__regex": E164_PATTERN})


def blank(name: str) -> Q:
    return Q(**{name: ""}) | Q(**{f"{name}__isnull": True})


def malformed_contact_point_checks(
    model: type[BusinessRecord],
    *,
    key_prefix: str,
    plural: str,
    order: int,
    email_hint: str = "",
    phone_hint: str = "",
) -> tuple[QualityCheck, QualityCheck]:
    """The malformed-email and unparsable-phone checks every object with an ``email`` and a
    ``phone`` field has, ordered ``order`` and ``order + 10``."""
    return (
        QualityCheck(
            key=f"{key_prefix}_bad_email",
            model=model,
            label=f"{plural} with a malformed email",
            kind=INVALID,
            condition=lambda: malformed_email("email"),
            fields=("email",),
            hint=email_hint,
            order=order,
        ),
        QualityCheck(
            key=f"{key_prefix}_bad_phone",
            model=model,
            label=f"{plural} with a phone that does not parse",
            kind=INVALID,
            condition=lambda: malformed_phone("phone"),
            fields=("phone",),
            hint=phone_hint,
            order=order + 10,
        ),
    )


def checks_for(user: Principal) -> list[QualityCheck]:
    """The checks whose records ``user`` may read, without those over hidden fields."""
    profile = user.access_profile()
    hidden_by_type: dict[str, set[str]] = {}
    shown: list[QualityCheck] = []
    for check in quality_checks():
        if not profile.may(check.object_type, Action.READ):
            continue
        if check.object_type not in hidden_by_type:
            hidden_by_type[check.object_type] = set(hidden_field_names(user, check.model))
        if set(check.fields) & hidden_by_type[check.object_type]:
            continue
        shown.append(check)
    return shown


def quality_counts(user: Principal) -> list[tuple[QualityCheck, int]]:
    """Each check ``user`` may see with its number of failing visible records: one SQL
    aggregate per object type."""
    checks = checks_for(user)
    by_model: dict[type[BusinessRecord], list[QualityCheck]] = {}
    for check in checks:
        by_model.setdefault(check.model, []).append(check)
    counts: dict[str, int] = {}
    for model, group in by_model.items():
        aggregates = {
            f"c{index}": Count("pk", filter=check.condition()) for index, check in enumerate(group)
        }
        values = model.objects.visible_to(user, Action.READ).aggregate(**aggregates)
        for index, check in enumerate(group):
            counts[check.key] = int(values[f"c{index}"] or 0)
    return [(check, counts[check.key]) for check in checks]


def quality_rows(user: Principal, check: QualityCheck) -> QuerySet[Any]:
    """The visible records failing ``check``."""
    return check.model.objects.visible_to(user, Action.READ).filter(check.condition())


def apply_quality_filter(
    queryset: QuerySet[Any], object_type: str, params: QueryDict
) -> tuple[QuerySet[Any], QualityCheck | None]:
    """Narrow a list to the records failing the check named by ``?quality=``, when that
    check belongs to this object type."""
    key = params.get(QUALITY_PARAM, "")
    check = _CHECKS.get(key) if key else None
    if check is None or check.object_type != object_type:
        return queryset, None
    return queryset.filter(check.condition()), check
