"""Forms of the routing pages: they collect and type input; the services validate and write."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.http import QueryDict

from patron.routing.availability import DAY_LABELS, DAYS
from patron.routing.choices import SkillKind, Strategy
from patron.routing.conditions import OPERATORS
from patron.routing.models import Pool, RoutingQueue
from patron.routing.registry import routables
from patron.users.models import User

NUMBER_OPERATORS = frozenset({"gt", "gte", "lt", "lte", "between"})
LIST_OPERATORS = frozenset({"in", "not_in", "between"})
MAX_CONDITION_ROWS = 20


def _object_types() -> list[tuple[str, str]]:
    return [(spec.object_type, spec.label) for spec in routables()]


def _users() -> Any:
    return User.objects.filter(is_active=True).order_by("full_name", "email")


class PoolForm(forms.Form):
    name = forms.CharField(max_length=150)
    object_type = forms.ChoiceField(label="Routes", choices=())
    strategy = forms.ChoiceField(choices=Strategy.choices)
    queue_id = forms.ModelChoiceField(
        label="Waiting queue",
        queryset=RoutingQueue.objects.order_by("name"),
        required=False,
        help_text="Items wait here when no member fits.",
    )
    relax_skills_after_minutes = forms.IntegerField(
        label="Relax skill levels after (minutes)", min_value=1, required=False
    )
    description = forms.CharField(max_length=300, required=False)
    is_active = forms.BooleanField(label="Active", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["object_type"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = _object_types()


class MemberForm(forms.Form):
    member_user_id = forms.ModelChoiceField(
        label="User", queryset=User.objects.none(), required=False
    )
    member_queue_id = forms.ModelChoiceField(
        label="or a queue", queryset=RoutingQueue.objects.order_by("name"), required=False
    )
    weight = forms.IntegerField(min_value=1, max_value=100, initial=1)
    max_open_items = forms.IntegerField(label="Max open items", min_value=0, required=False)
    max_items_per_day = forms.IntegerField(label="Max per day", min_value=0, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["member_user_id"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = _users()


class CapacityForm(forms.Form):
    weight = forms.IntegerField(min_value=1, max_value=100)
    max_open_items = forms.IntegerField(label="Max open items", min_value=0, required=False)
    max_items_per_day = forms.IntegerField(label="Max per day", min_value=0, required=False)


class SkillForm(forms.Form):
    kind = forms.ChoiceField(choices=SkillKind.choices)
    value = forms.CharField(max_length=100)
    level = forms.IntegerField(min_value=1, max_value=5, initial=3)


class QueueForm(forms.Form):
    name = forms.CharField(max_length=150)
    description = forms.CharField(max_length=300, required=False)
    member_ids = forms.ModelMultipleChoiceField(
        label="Members", queryset=User.objects.none(), required=False
    )
    is_active = forms.BooleanField(label="Active", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["member_ids"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = _users()


class RuleForm(forms.Form):
    name = forms.CharField(max_length=150)
    object_type = forms.ChoiceField(label="Routes", choices=())
    pool_id = forms.ModelChoiceField(label="Pool", queryset=Pool.objects.order_by("name"))
    strategy = forms.ChoiceField(
        choices=[("", "The pool's strategy"), *Strategy.choices], required=False
    )
    match = forms.ChoiceField(
        label="Match",
        choices=[("all", "All conditions"), ("any", "Any condition")],
        initial="all",
    )
    is_active = forms.BooleanField(label="Active", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["object_type"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = _object_types()


def _typed(text: str) -> Any:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    return int(number) if number == number.to_integral_value() else float(number)


def condition_rows_from(data: QueryDict) -> list[dict[str, Any]]:
    """The rule editor's condition rows (``cond-N-field``, ``-op``, ``-value``) as the
    service expects them; comparison values become numbers, list values split on commas.
    Type problems are left for the service to name (``conditions[N].value``)."""
    rows: list[dict[str, Any]] = []
    for index in range(MAX_CONDITION_ROWS):
        field = data.get(f"cond-{index}-field", "").strip()
        op = data.get(f"cond-{index}-op", "").strip()
        text = data.get(f"cond-{index}-value", "").strip()
        if not field and not text:
            continue
        value: Any = text
        if op in LIST_OPERATORS:
            value = [part.strip() for part in text.split(",") if part.strip()]
            if op in NUMBER_OPERATORS:
                value = [_typed(part) for part in value]
        elif op in NUMBER_OPERATORS:
            value = _typed(text)
        elif OPERATORS.get(op, ("", ""))[1] == "none":
            value = None
        rows.append({"field": field, "op": op, "value": value})
    return rows


def skill_rows_from(data: QueryDict) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for index in range(MAX_CONDITION_ROWS):
        kind = data.get(f"skill-{index}-kind", "").strip()
        value = data.get(f"skill-{index}-value", "").strip()
        level = data.get(f"skill-{index}-level", "").strip()
        if not kind and not value:
            continue
        rows.append(
            {"kind": kind, "value": value, "min_level": int(level) if level.isdigit() else level}
        )
    return rows


def value_text(value: Any) -> str:
    """A stored condition value as the editor shows it."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def working_hours_from(data: QueryDict) -> dict[str, list[list[str]]]:
    """The week editor's rows (``<day>-start``/``<day>-end``, one span a day; a second span
    ``<day>-start2``/``<day>-end2``) as ``{"mon": [["09:00", "17:30"]]}``."""
    hours: dict[str, list[list[str]]] = {}
    for day in DAYS:
        spans = []
        for suffix in ("", "2"):
            start = data.get(f"{day}-start{suffix}", "").strip()
            end = data.get(f"{day}-end{suffix}", "").strip()
            if start or end:
                spans.append([start, end])
        if spans:
            hours[day] = spans
    return hours


def week_rows(hours: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for day in DAYS:
        spans = hours.get(day) or []
        first = spans[0] if spans else ["", ""]
        second = spans[1] if len(spans) > 1 else ["", ""]
        rows.append(
            {
                "day": day,
                "label": DAY_LABELS[day],
                "start": first[0],
                "end": first[1],
                "start2": second[0],
                "end2": second[1],
            }
        )
    return rows
