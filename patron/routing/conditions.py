"""Assignment rule conditions: checking what an admin typed and evaluating it on an item.

A rule's ``conditions`` is ``{"match": "all"|"any", "conditions": [{"field", "op", "value"}]}``.
Fields are the routable's ``condition_fields``; values are compared case-insensitively when
both sides are text, numerically when both are numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from patron.routing.choices import SkillKind

Errors = dict[str, list[str]]

# op -> (label, what the value must be)
OPERATORS: dict[str, tuple[str, str]] = {
    "eq": ("is", "scalar"),
    "ne": ("is not", "scalar"),
    "in": ("is one of", "list"),
    "not_in": ("is none of", "list"),
    "contains": ("contains", "text"),
    "starts_with": ("starts with", "text"),
    "gt": ("is greater than", "number"),
    "gte": ("is at least", "number"),
    "lt": ("is less than", "number"),
    "lte": ("is at most", "number"),
    "between": ("is between", "range"),
    "is_empty": ("is empty", "none"),
    "is_not_empty": ("is not empty", "none"),
}
MATCH_MODES = ("all", "any")
MAX_CONDITIONS = 50


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool) or _is_number(value)


def _value_error(kind: str, value: Any) -> str | None:
    """Why ``value`` does not fit an operator needing ``kind``, or None when it fits."""
    if kind == "scalar" and not _is_scalar(value):
        return "Give one value (text or a number)."
    if kind == "list":
        if not isinstance(value, list) or not value:
            return "Give a list of one or more values."
        if not all(_is_scalar(item) for item in value):
            return "Each value in the list must be text or a number."
    if kind == "text" and (not isinstance(value, str) or not value):
        return "Give some text."
    if kind == "number" and not _is_number(value):
        return "Give a number."
    if kind == "range":
        if not (isinstance(value, list) and len(value) == 2 and all(map(_is_number, value))):
            return "Give two numbers: [lowest, highest]."
        if value[0] > value[1]:
            return "The lowest number comes first."
    if kind == "none" and value not in (None, "", []):
        return "This operator takes no value."
    return None


def validate_conditions(conditions: Any, fields: Sequence[str]) -> tuple[dict[str, Any], Errors]:
    """The normalised conditions and the problems, keyed ``conditions`` or
    ``conditions[2].value`` so a form or API client can point at the row."""
    errors: Errors = {}
    if conditions in (None, "", {}):
        return {"match": "all", "conditions": []}, errors
    if not isinstance(conditions, Mapping):
        return {}, {"conditions": ['Give an object: {"match": "all", "conditions": [...]}.']}
    unknown_keys = sorted(set(conditions) - {"match", "conditions"})
    if unknown_keys:
        errors["conditions"] = [f"Unknown key(s): {', '.join(unknown_keys)}."]
    match = conditions.get("match", "all")
    if match not in MATCH_MODES:
        errors["conditions.match"] = ['Use "all" (every condition) or "any" (one is enough).']
    rows = conditions.get("conditions", [])
    if not isinstance(rows, list):
        errors["conditions.conditions"] = ["Give a list of conditions."]
        return {}, errors
    if len(rows) > MAX_CONDITIONS:
        errors["conditions.conditions"] = [f"Use at most {MAX_CONDITIONS} conditions."]
    clean_rows: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        where = f"conditions[{index}]"
        if not isinstance(row, Mapping):
            errors[where] = ['Give an object: {"field": ..., "op": ..., "value": ...}.']
            continue
        field, op, value = row.get("field"), row.get("op"), row.get("value")
        if field not in fields:
            choices = ", ".join(fields) or "none are offered for this object type"
            errors[f"{where}.field"] = [f"Unknown field {field!r}; choose one of: {choices}."]
        if op not in OPERATORS:
            errors[f"{where}.op"] = [
                f"Unknown operator {op!r}; use one of: {', '.join(OPERATORS)}."
            ]
        else:
            problem = _value_error(OPERATORS[op][1], value)
            if problem:
                errors[f"{where}.value"] = [problem]
        clean: dict[str, Any] = {"field": field, "op": op}
        if op in OPERATORS and OPERATORS[op][1] != "none":
            clean["value"] = value
        clean_rows.append(clean)
    return {"match": match, "conditions": clean_rows}, errors


def validate_required_skills(skills: Any) -> tuple[list[dict[str, Any]], Errors]:
    """``[{"kind": "language", "value": "de", "min_level": 3}]``, checked and normalised."""
    if skills in (None, "", []):
        return [], {}
    if not isinstance(skills, list):
        return [], {"required_skills": ['Give a list: [{"kind", "value", "min_level"}].']}
    errors: Errors = {}
    clean: list[dict[str, Any]] = []
    for index, skill in enumerate(skills):
        where = f"required_skills[{index}]"
        if not isinstance(skill, Mapping):
            errors[where] = ['Give an object: {"kind", "value", "min_level"}.']
            continue
        kind, value, level = skill.get("kind"), skill.get("value"), skill.get("min_level", 1)
        if kind not in SkillKind.values:
            errors[f"{where}.kind"] = [
                f"Unknown skill kind {kind!r}; use one of: " + ", ".join(SkillKind.values) + "."
            ]
        if not isinstance(value, str) or not value.strip():
            errors[f"{where}.value"] = ["Name the skill (e.g. de, EMEA, Enterprise)."]
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 5:
            errors[f"{where}.min_level"] = ["Give a level from 1 (basic) to 5 (expert)."]
        if isinstance(value, str):
            clean.append({"kind": kind, "value": value.strip(), "min_level": level})
    return clean, errors


def _text(value: Any) -> str:
    return str(value).strip().casefold()


def _number(value: Any) -> Decimal | None:
    if _is_number(value):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _equal(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    if _is_number(expected) or isinstance(expected, bool):
        if isinstance(expected, bool) or isinstance(actual, bool):
            return actual is expected
        return _number(actual) == _number(expected)
    return _text(actual) == _text(expected)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def condition_holds(condition: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    op = condition["op"]
    actual = attributes.get(condition["field"])
    expected: Any = condition.get("value")
    if op == "is_empty":
        return _empty(actual)
    if op == "is_not_empty":
        return not _empty(actual)
    if op == "eq":
        return _equal(actual, expected)
    if op == "ne":
        return not _equal(actual, expected)
    if op in ("in", "not_in"):
        found = any(_equal(actual, option) for option in expected)
        return found if op == "in" else (actual is not None and not found)
    if op == "contains":
        if isinstance(actual, list | tuple | set):
            return any(_equal(item, expected) for item in actual)
        return actual is not None and _text(expected) in _text(actual)
    if op == "starts_with":
        return actual is not None and _text(actual).startswith(_text(expected))
    number = _number(actual)
    if number is None:
        return False
    if op == "between":
        return Decimal(str(expected[0])) <= number <= Decimal(str(expected[1]))
    bound = Decimal(str(expected))
    return {
        "gt": number > bound,
        "gte": number >= bound,
        "lt": number < bound,
        "lte": number <= bound,
    }[op]


def conditions_hold(conditions: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    """Whether a rule's conditions hold for an item; no conditions means "every item"."""
    rows = conditions.get("conditions") or []
    if not rows:
        return True
    results = (condition_holds(row, attributes) for row in rows)
    return any(results) if conditions.get("match") == "any" else all(results)


def describe_conditions(conditions: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """The conditions in words, for the rules list ("country is one of DE, AT and ...")."""
    rows = conditions.get("conditions") or []
    if not rows:
        return "Every item"
    parts = []
    for row in rows:
        label = labels.get(row["field"], row["field"])
        verb = OPERATORS.get(row["op"], (row["op"], ""))[0]
        value = row.get("value")
        if isinstance(value, list):
            shown = (" and " if row["op"] == "between" else ", ").join(map(str, value))
        else:
            shown = "" if value is None else str(value)
        parts.append(f"{label} {verb} {shown}".strip())
    joiner = " or " if conditions.get("match") == "any" else " and "
    return joiner.join(parts)
