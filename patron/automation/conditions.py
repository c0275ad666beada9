"""Condition trees: validate when a workflow is saved, evaluate in memory when it runs.

A tree is one of::

    {}                                            always true
    {"all": [tree, ...]}                          every child true
    {"any": [tree, ...]}                          at least one child true
    {"not": tree}                                 the child false
    {"field": "amount", "op": "gt", "value": 50000}

``field`` is a field of the record ("amount", "stage", "custom.region"), or one level into a
related record through a foreign key ("account.industry", "owner.role"). Foreign keys compare
by id. ``changed``, ``changed_from`` and ``changed_to`` read the triggering event's
``changes`` ({field: [old, new]}), so they apply to the record's own fields only.

Approvals use the same format for entry criteria and step conditions.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.dateparse import parse_date, parse_datetime

from patron.core.models import BusinessRecord, CustomFieldDefinition

EQUALITY = ("eq", "ne", "in", "not_in")
EMPTINESS = ("is_empty", "is_not_empty")
CHANGES = ("changed", "changed_from", "changed_to")
ORDERING = ("gt", "gte", "lt", "lte")
TEXT = ("contains", "starts_with")

OPERATORS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "text": EQUALITY + TEXT + EMPTINESS + CHANGES,
    "choice": EQUALITY + EMPTINESS + CHANGES,
    "number": EQUALITY + ORDERING + EMPTINESS + CHANGES,
    "date": EQUALITY + ORDERING + EMPTINESS + CHANGES,
    "datetime": EQUALITY + ORDERING + EMPTINESS + CHANGES,
    "boolean": ("eq", "ne", *CHANGES),
    "fk": EQUALITY + EMPTINESS + CHANGES,
    "multi_choice": ("contains", *EMPTINESS, "changed"),
}
OPERATOR_LABELS = {
    "eq": "is",
    "ne": "is not",
    "gt": "is greater than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "in": "is one of",
    "not_in": "is none of",
    "contains": "contains",
    "starts_with": "starts with",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "changed": "changed",
    "changed_from": "changed from",
    "changed_to": "changed to",
}
NO_VALUE_OPS = frozenset({"is_empty", "is_not_empty", "changed"})
LIST_VALUE_OPS = frozenset({"in", "not_in"})
MAX_DEPTH = 10
# Bookkeeping foreign keys are not offered as related paths.
HIDDEN_FIELDS = frozenset({"created_by", "deleted_by", "deleted_at", "custom", "version"})

Errors = dict[str, str]


@dataclass(frozen=True)
class FieldSpec:
    """A field the builder may offer in conditions, update steps and merge fields."""

    name: str
    label: str
    type: str
    choices: tuple[tuple[str, str], ...] = ()
    # Foreign keys: the related model ("users.user", "pipeline.stage").
    related_model: str = ""
    editable: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "choices": [list(choice) for choice in self.choices],
            "related_model": self.related_model,
            "operators": list(OPERATORS_BY_TYPE[self.type]),
        }


def model_for(object_type: str) -> type[BusinessRecord] | None:
    """The business record model of ``object_type`` ("pipeline.opportunity"), or None."""
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return None
    return model if issubclass(model, BusinessRecord) else None


def _field_type(field: models.Field[Any, Any]) -> str | None:
    if field.is_relation:
        return "fk" if field.many_to_one or field.one_to_one else None
    if field.choices:
        return "choice"
    if isinstance(field, models.BooleanField):
        return "boolean"
    if isinstance(field, models.DateTimeField):
        return "datetime"
    if isinstance(field, models.DateField):
        return "date"
    if isinstance(field, models.IntegerField | models.DecimalField | models.FloatField):
        return "number"
    if isinstance(field, models.CharField | models.TextField | models.EmailField):
        return "text"
    return None


def _spec(
    field: models.Field[Any, Any], prefix: str = "", label_prefix: str = ""
) -> FieldSpec | None:
    kind = _field_type(field)
    if kind is None:
        return None
    related = ""
    if kind == "fk" and field.related_model is not None:
        related = field.related_model._meta.label_lower  # type: ignore[union-attr]
    choices = tuple((str(value), str(label)) for value, label in (field.choices or ()))
    return FieldSpec(
        name=f"{prefix}{field.name}",
        label=f"{label_prefix}{str(field.verbose_name).capitalize()}",
        type=kind,
        choices=choices,
        related_model=related,
        editable=bool(field.editable) and not field.primary_key,
    )


@functools.cache
def _model_specs(model: type[models.Model]) -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    for field in model._meta.concrete_fields:
        if field.name in HIDDEN_FIELDS:
            continue
        spec = _spec(field)
        if spec is not None:
            specs[spec.name] = spec
    return specs


@functools.cache
def _path_spec(model: type[models.Model], path: str) -> FieldSpec | None:
    """The spec of a model field or of a one-level related path; custom fields excluded."""
    head, _, rest = path.partition(".")
    own = _model_specs(model).get(head)
    if own is None:
        return None
    if not rest:
        return own
    if own.type != "fk" or "." in rest:
        return None
    related = model._meta.get_field(head).related_model
    if related is None or isinstance(related, str):
        return None
    inner = _model_specs(related).get(rest)
    if inner is None:
        return None
    return FieldSpec(
        name=path,
        label=f"{own.label} > {inner.label}",
        type=inner.type,
        choices=inner.choices,
        related_model=inner.related_model,
        editable=False,
    )


_CUSTOM_TYPES = {
    "text": "text",
    "number": "number",
    "money": "number",
    "date": "date",
    "choice": "choice",
    "multi_choice": "multi_choice",
    "boolean": "boolean",
    "lookup": "fk",
}


def _custom_specs(object_type: str) -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    for definition in CustomFieldDefinition.objects.filter(object_type=object_type, active=True):
        choices = tuple((str(c), str(c)) for c in definition.choices or ())
        name = f"custom.{definition.key}"
        specs[name] = FieldSpec(
            name=name,
            label=definition.label,
            type=_CUSTOM_TYPES.get(definition.field_type, "text"),
            choices=choices,
            related_model=definition.lookup_object_type,
        )
    return specs


def field_spec(object_type: str, path: str) -> FieldSpec | None:
    """The spec of ``path`` on ``object_type`` (custom fields read their definitions)."""
    model = model_for(object_type)
    if model is None:
        return None
    if path.startswith("custom."):
        return _custom_specs(object_type).get(path)
    return _path_spec(model, path)


def describe_fields(object_type: str, *, related: bool = True) -> list[FieldSpec]:
    """The fields of ``object_type`` for the builder: its own fields, its active custom
    fields and (``related``) one level of fields of the records its foreign keys point to."""
    model = model_for(object_type)
    if model is None:
        return []
    own = list(_model_specs(model).values())
    found = [*own, *_custom_specs(object_type).values()]
    if related:
        for spec in own:
            if spec.type != "fk" or spec.name in HIDDEN_FIELDS:
                continue
            for inner in _model_specs(_related_model(model, spec.name)).values():
                nested = _path_spec(model, f"{spec.name}.{inner.name}")
                if nested is not None:
                    found.append(nested)
    return found


def _related_model(model: type[models.Model], name: str) -> type[models.Model]:
    related = model._meta.get_field(name).related_model
    assert related is not None
    assert not isinstance(related, str)
    return related


def coerce(kind: str, value: Any) -> Any:
    """``value`` (JSON from a definition or an event's changes) as the Python value a record
    holds for a field of ``kind``; raises ValueError when it cannot be one."""
    if value is None or value == "":
        return None
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError("not a number")
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a number") from exc
    if kind == "date":
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        parsed = parse_date(str(value)[:10])
        if parsed is None:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)")
        return parsed
    if kind == "datetime":
        if isinstance(value, datetime.datetime):
            return value
        parsed_dt = parse_datetime(str(value))
        if parsed_dt is None:
            raise ValueError(f"{value!r} is not a date and time (ISO 8601)")
        return parsed_dt
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise ValueError(f"{value!r} is not true or false")
    if kind == "fk":
        if isinstance(value, models.Model):
            return value.pk
        if isinstance(value, bool):
            raise ValueError("not an id")
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an id") from exc
    if kind == "multi_choice":
        return value
    return str(value)


def validate_conditions(tree: Any, object_type: str, path: str = "conditions") -> Errors:
    """Error messages keyed by the path of the bad node ("conditions.all[1].value");
    empty when ``tree`` is valid for ``object_type``."""
    errors: Errors = {}
    custom = _custom_specs(object_type) if model_for(object_type) else {}
    _validate_node(tree, object_type, path, errors, custom, depth=0)
    return errors


def _validate_node(
    node: Any,
    object_type: str,
    path: str,
    errors: Errors,
    custom: dict[str, FieldSpec],
    depth: int,
) -> None:
    if depth > MAX_DEPTH:
        errors[path] = f"Conditions nest deeper than {MAX_DEPTH} levels."
        return
    if not isinstance(node, dict):
        errors[path] = (
            'A condition is an object: {"all": [...]}, {"any": [...]}, {"not": {...}} '
            'or {"field", "op", "value"}.'
        )
        return
    if not node:
        return
    groups = [key for key in ("all", "any", "not") if key in node]
    if groups:
        if len(node) != 1:
            errors[path] = f'A "{groups[0]}" group has no other keys.'
            return
        key = groups[0]
        if key == "not":
            _validate_node(node["not"], object_type, f"{path}.not", errors, custom, depth + 1)
            return
        children = node[key]
        if not isinstance(children, list) or not children:
            errors[f"{path}.{key}"] = f'"{key}" needs a non-empty list of conditions.'
            return
        for index, child in enumerate(children):
            _validate_node(child, object_type, f"{path}.{key}[{index}]", errors, custom, depth + 1)
        return
    _validate_leaf(node, object_type, path, errors, custom)


def _validate_leaf(
    node: dict[str, Any], object_type: str, path: str, errors: Errors, custom: dict[str, FieldSpec]
) -> None:
    unknown = set(node) - {"field", "op", "value"}
    if unknown:
        errors[path] = f"Unknown keys in a condition: {', '.join(sorted(unknown))}."
        return
    name = node.get("field")
    if not isinstance(name, str) or not name:
        errors[f"{path}.field"] = "Choose a field."
        return
    model = model_for(object_type)
    if model is None:
        errors[f"{path}.field"] = (
            "This workflow acts on no record type, so its conditions cannot test fields."
        )
        return
    spec = custom.get(name) if name.startswith("custom.") else _path_spec(model, name)
    if spec is None:
        errors[f"{path}.field"] = f"Unknown field {name!r} on {object_type}."
        return
    op = node.get("op")
    allowed = OPERATORS_BY_TYPE[spec.type]
    if op not in allowed:
        errors[f"{path}.op"] = (
            f"{op!r} does not apply to {spec.label} ({spec.type}); "
            f"use one of: {', '.join(allowed)}."
        )
        return
    if op in CHANGES and "." in name and not name.startswith("custom."):
        errors[f"{path}.op"] = "Changes are known for the record's own fields only."
        return
    if op in NO_VALUE_OPS:
        return
    if "value" not in node:
        errors[f"{path}.value"] = "Give a value to compare with."
        return
    raw = node["value"]
    values = raw if op in LIST_VALUE_OPS else [raw]
    if op in LIST_VALUE_OPS and (not isinstance(raw, list) or not raw):
        errors[f"{path}.value"] = f'"{op}" needs a non-empty list of values.'
        return
    kind = "text" if spec.type == "multi_choice" else spec.type
    for value in values:
        if value is None:
            errors[f"{path}.value"] = "Use is_empty to test for an empty field."
            return
        try:
            coerce(kind, value)
        except ValueError as exc:
            errors[f"{path}.value"] = f"{spec.label}: {exc}."
            return
        if spec.choices and kind == "choice" and str(value) not in {c[0] for c in spec.choices}:
            errors[f"{path}.value"] = (
                f"{value!r} is not a choice of {spec.label}: "
                f"{', '.join(c[0] for c in spec.choices)}."
            )
            return


def conditions_fields(tree: Any) -> set[str]:
    """Every field path a (valid) tree reads."""
    found: set[str] = set()
    if not isinstance(tree, dict) or not tree:
        return found
    for key in ("all", "any"):
        for child in tree.get(key, ()):
            found |= conditions_fields(child)
    if "not" in tree:
        found |= conditions_fields(tree["not"])
    if "field" in tree:
        found.add(str(tree["field"]))
    return found


_MISSING = object()


def resolve(record: models.Model | None, path: str) -> Any:
    """The value at ``path`` on ``record``: foreign keys as ids, custom fields from JSON."""
    if record is None:
        return None
    if path.startswith("custom."):
        return (getattr(record, "custom", None) or {}).get(path[7:])
    head, _, rest = path.partition(".")
    field = _concrete_field(type(record), head)
    if field is None:
        return None
    if not rest:
        return getattr(record, field.attname)
    related: models.Model | None = getattr(record, head, None)
    if related is None:
        return None
    related_type: type[models.Model] = type(related)
    inner = _concrete_field(related_type, rest)
    return getattr(related, inner.attname) if inner is not None else None


@functools.cache
def _concrete_field(model: type[models.Model], name: str) -> models.Field[Any, Any] | None:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if isinstance(field, models.Field) and field.concrete else None


def _kind_for(record: models.Model, path: str, actual: Any) -> str:
    if not path.startswith("custom."):
        spec = _path_spec(type(record), path)
        if spec is not None:
            return "text" if spec.type == "multi_choice" else spec.type
    if isinstance(actual, bool):
        return "boolean"
    if isinstance(actual, int | float | Decimal):
        return "number"
    if isinstance(actual, list):
        return "multi_choice"
    return "text"


def _safe(kind: str, value: Any) -> Any:
    try:
        return coerce(kind, value)
    except ValueError:
        return _MISSING


def evaluate(tree: Any, record: models.Model | None, changes: dict[str, Any] | None = None) -> bool:
    """Whether ``record`` (with the event's ``changes``) satisfies ``tree``. Never raises on
    a validated tree; a value that cannot be compared makes its condition false."""
    if not tree:
        return True
    if "all" in tree:
        return all(evaluate(child, record, changes) for child in tree["all"])
    if "any" in tree:
        return any(evaluate(child, record, changes) for child in tree["any"])
    if "not" in tree:
        return not evaluate(tree["not"], record, changes)
    return _evaluate_leaf(tree, record, changes or {})


def _evaluate_leaf(
    node: dict[str, Any], record: models.Model | None, changes: dict[str, Any]
) -> bool:
    path, op, raw = str(node.get("field")), node.get("op"), node.get("value")
    if op in CHANGES:
        # The change log keys foreign keys by field name with the id as value.
        change = changes.get(path)
        if change is None:
            return False
        if op == "changed":
            return True
        old, new = change
        kind = _kind_for(record, path, new if new is not None else old) if record else "text"
        wanted = _safe(kind, raw)
        return bool(_safe(kind, old if op == "changed_from" else new) == wanted)
    actual = resolve(record, path)
    if op == "is_empty":
        return actual in (None, "", [], {})
    if op == "is_not_empty":
        return actual not in (None, "", [], {})
    if record is None:
        return False
    kind = _kind_for(record, path, actual)
    if kind == "multi_choice":
        return op == "contains" and isinstance(actual, list) and bool(raw in actual)
    value = _safe(kind, actual)
    if op in LIST_VALUE_OPS:
        options = [_safe(kind, item) for item in (raw if isinstance(raw, list) else [raw])]
        inside = bool(value in options)
        return inside if op == "in" else not inside
    wanted = _safe(kind, raw)
    if op == "eq":
        return bool(value == wanted)
    if op == "ne":
        return bool(value != wanted)
    if value is None or value is _MISSING or wanted is None or wanted is _MISSING:
        return False
    if op == "contains":
        return str(wanted).lower() in str(value).lower()
    if op == "starts_with":
        return str(value).lower().startswith(str(wanted).lower())
    try:
        if op == "gt":
            return bool(value > wanted)
        if op == "gte":
            return bool(value >= wanted)
        if op == "lt":
            return bool(value < wanted)
        if op == "lte":
            return bool(value <= wanted)
    except TypeError:
        return False
    return False


def describe_conditions(tree: Any) -> str:
    """A condition tree in words, for test mode and the run log."""
    if not tree:
        return "always"
    if "all" in tree:
        return "(" + " and ".join(describe_conditions(c) for c in tree["all"]) + ")"
    if "any" in tree:
        return "(" + " or ".join(describe_conditions(c) for c in tree["any"]) + ")"
    if "not" in tree:
        return f"not {describe_conditions(tree['not'])}"
    op = str(tree.get("op"))
    words = f"{tree.get('field')} {OPERATOR_LABELS.get(op, op)}"
    return words if op in NO_VALUE_OPS else f"{words} {tree.get('value')!r}"
