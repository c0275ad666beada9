"""The workflow builder's form: a definition posted as path-named fields, read back into the
JSON the services validate, edited by the builder's buttons, and laid out for the template.

Every input is named by the path of its value in the definition ("trigger.field",
"conditions.all[1].op", "steps[2].config.subject"), the same paths the services key their
errors by, so an error lands next to the input it is about. A condition group also posts
its kind ("conditions.all[1].group"), so switching a group from "all" to "any" keeps its
rows. The builder's buttons ("add a row", "move up") post the whole form with an action;
the page answers the edited form (an HTMX swap, or a full page without JavaScript).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.apps import apps
from django.http import QueryDict

from patron.automation import conditions
from patron.automation.registry import (
    ConfigField,
    events_catalogue,
    step_type,
    step_types,
    trigger_type,
    trigger_types,
)
from patron.automation.steps import MERGE_SOURCES, USER_MODEL_LABEL, merge_fields, settable_fields
from patron.contacts.forms import RecordPickerField
from patron.core.models import BusinessRecord
from patron.users.selectors import business_object_types

Errors = dict[str, str]
GROUP_KINDS = ("all", "any", "not")
GROUP_LABELS = {"all": "All of these", "any": "Any of these", "not": "None of these"}
# A foreign key's values are offered as a list when its table is this small.
RELATED_CHOICES_LIMIT = 200
# Inputs that post several values (the record-updated trigger's fields).
MULTI_VALUE_KEYS = frozenset({"trigger.fields"})
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def split_path(path: str) -> list[str | int]:
    """``"steps[2].config.then[0]"`` -> ``["steps", 2, "config", "then", 0]``."""
    return [name if name else int(index) for name, index in _TOKEN.findall(path)]


def join_path(tokens: list[str | int]) -> str:
    text = ""
    for token in tokens:
        text += f"[{token}]" if isinstance(token, int) else (f".{token}" if text else token)
    return text


# --------------------------------------------------------------------------- reading a post


def _nest(post: QueryDict) -> dict[str, Any]:
    """The posted path-named fields as nested dicts (list indexes as int keys)."""
    root: dict[str, Any] = {}
    for key in post:
        if not key.startswith(("trigger.", "conditions", "steps[")):
            continue
        tokens = split_path(key)
        if not tokens:
            continue
        node: dict[Any, Any] = root
        for token in tokens[:-1]:
            child = node.get(token)
            if not isinstance(child, dict):
                child = {}
                node[token] = child
            node = child
        # A list of field names is a multiple select: keep every value.
        node[tokens[-1]] = post.getlist(key) if key in MULTI_VALUE_KEYS else post.get(key, "")
    nested: dict[str, Any] = _listify(root)
    return nested


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(key, int) for key in node):
        return [_listify(node[key]) for key in sorted(node)]
    return {key: _listify(value) for key, value in node.items()}


def _number(text: str) -> Any:
    text = text.strip()
    if not _NUMBER.match(text):
        return text
    if "." not in text:
        return int(text)
    try:
        return float(Decimal(text))
    except InvalidOperation:
        return text


def typed_value(kind: str, text: str, *, many: bool = False) -> Any:
    """A value typed into the builder as the JSON the definition holds for a ``kind`` field;
    what cannot be converted stays text, and the services name the problem."""
    if many:
        return [typed_value(kind, part) for part in text.split(",") if part.strip()]
    text = text.strip()
    if kind in ("number", "fk"):
        return _number(text)
    if kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


def read_tree(raw: Any, object_type: str, *, root: bool = True) -> dict[str, Any]:
    """A posted condition group or row as a condition tree."""
    if not isinstance(raw, dict):
        return {}
    if "group" in raw:
        kind = raw["group"] if raw["group"] in GROUP_KINDS else "all"
        children: list[dict[str, Any]] = []
        for key in GROUP_KINDS:
            value = raw.get(key)
            items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
            children.extend(read_tree(item, object_type, root=False) for item in items)
        children = [child for child in children if child or kind != "not"]
        if kind == "not":
            if len(children) > 1:
                return {"not": {"all": children}}
            return {"not": children[0] if children else {}}
        if root and not children:
            return {}
        return {kind: children}
    leaf: dict[str, Any] = {
        "field": str(raw.get("field") or ""),
        "op": str(raw.get("op") or ""),
    }
    text = str(raw.get("value") or "")
    if leaf["op"] in conditions.NO_VALUE_OPS or not text.strip():
        return leaf
    spec = conditions.field_spec(object_type, leaf["field"]) if leaf["field"] else None
    kind = spec.type if spec is not None else "text"
    leaf["value"] = typed_value(kind, text, many=leaf["op"] in conditions.LIST_VALUE_OPS)
    return leaf


def _read_config(
    fields: tuple[ConfigField, ...],
    raw: Any,
    object_type: str,
    path: str,
    errors: Errors,
) -> dict[str, Any]:
    raw = raw if isinstance(raw, dict) else {}
    config: dict[str, Any] = {}
    for config_field in fields:
        value = raw.get(config_field.name)
        key = f"{path}.{config_field.name}"
        kind = config_field.kind
        if kind == "steps":
            config[config_field.name] = read_steps(value, object_type, key, errors)
            continue
        if kind == "conditions":
            config[config_field.name] = read_tree(value, object_type)
            continue
        if kind == "duration":
            parts = value if isinstance(value, dict) else {}
            typed = {
                unit: _number(str(parts.get(unit) or "0")) for unit in ("days", "hours", "minutes")
            }
            if any(str(parts.get(unit) or "").strip() for unit in typed):
                config[config_field.name] = typed
            continue
        if kind == "values":
            target = (
                str(raw.get("object_type") or "")
                if any(f.name == "object_type" for f in fields)
                else object_type
            )
            config[config_field.name] = read_values(value, target)
            continue
        if kind == "json" and isinstance(value, list):
            if any(value):
                config[config_field.name] = [item for item in value if item]
            continue
        text = str(value or "") if not isinstance(value, dict | list) else ""
        if not text.strip():
            continue
        if kind == "json":
            try:
                config[config_field.name] = json.loads(text)
            except ValueError as exc:
                errors[key] = f"Not valid JSON: {exc}."
        elif kind in ("number", "user", "queue"):
            config[config_field.name] = _number(text)
        elif config_field.name in ("from", "to") and isinstance(raw.get("field"), str):
            spec = conditions.field_spec(object_type, raw["field"])
            config[config_field.name] = typed_value(spec.type if spec else "text", text)
        else:
            config[config_field.name] = text
    return config


def read_values(raw: Any, target: str) -> dict[str, Any]:
    """Posted value rows (field, source, value / days / from_field) as ``{"field": value}``;
    a row without a field yet is kept under "" until it is saved (then dropped)."""
    specs = {spec.name: spec for spec in settable_fields(target)}
    values: dict[str, Any] = {}
    for row in raw if isinstance(raw, list) else []:
        if not isinstance(row, dict):
            continue
        name = str(row.get("field") or "")
        if name in values:
            continue
        source = str(row.get("source") or "value")
        if not name or source == "value":
            spec = specs.get(name)
            text = str(row.get("value") or "")
            values[name] = typed_value(spec.type if spec else "text", text) if name else None
        elif source == "today":
            values[name] = {"merge": "today", "days": _number(str(row.get("days") or "0"))}
        elif source == "record":
            values[name] = {"merge": "record", "field": str(row.get("from_field") or "")}
        else:
            values[name] = {"merge": source}
    return values


def _drop_empty_rows(steps: Any) -> Any:
    """The steps with value rows that never got a field left out (what is saved)."""
    if not isinstance(steps, list):
        return steps
    cleaned = []
    for step in steps:
        if isinstance(step, dict) and isinstance(step.get("config"), dict):
            config = dict(step["config"])
            if isinstance(config.get("values"), dict):
                config["values"] = {k: v for k, v in config["values"].items() if k}
            for branch in ("then", "else"):
                if isinstance(config.get(branch), list):
                    config[branch] = _drop_empty_rows(config[branch])
            step = {**step, "config": config}
        cleaned.append(step)
    return cleaned


def read_steps(raw: Any, object_type: str, path: str, errors: Errors) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict):
            continue
        key = f"{path}[{index}]"
        kind = step_type(str(item.get("type") or ""))
        step: dict[str, Any] = {
            "id": str(item.get("id") or ""),
            "type": str(item.get("type") or ""),
        }
        step["config"] = (
            _read_config(kind.fields, item.get("config"), object_type, f"{key}.config", errors)
            if kind is not None
            else {}
        )
        steps.append(step)
    return steps


@dataclass
class BuilderState:
    """What the builder shows: the header fields and the definition being edited."""

    name: str = ""
    description: str = ""
    object_type: str = ""
    is_enabled: bool = True
    definition: dict[str, Any] = field(
        default_factory=lambda: {"trigger": {}, "conditions": {}, "steps": []}
    )
    # Problems found while reading the post (JSON that does not parse).
    parse_errors: Errors = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        """The services' input."""
        return {
            "name": self.name,
            "description": self.description,
            "object_type": self.object_type,
            "is_enabled": self.is_enabled,
            **self.definition,
            "steps": _drop_empty_rows(self.definition.get("steps")),
        }


def state_from_post(post: QueryDict) -> BuilderState:
    object_type = post.get("object_type", "").strip()
    if object_type and conditions.model_for(object_type) is None:
        object_type = ""
    nested = _nest(post)
    errors: Errors = {}
    raw_trigger = nested.get("trigger") if isinstance(nested.get("trigger"), dict) else {}
    assert isinstance(raw_trigger, dict)
    trigger: dict[str, Any] = {"type": str(raw_trigger.get("type") or "")}
    kind = trigger_type(trigger["type"])
    if kind is not None:
        trigger.update(_read_config(kind.fields, raw_trigger, object_type, "trigger", errors))
    return BuilderState(
        name=post.get("name", "").strip(),
        description=post.get("description", ""),
        object_type=object_type,
        is_enabled=post.get("is_enabled") == "on",
        definition={
            "trigger": trigger,
            "conditions": read_tree(nested.get("conditions"), object_type),
            "steps": read_steps(nested.get("steps"), object_type, "steps", errors),
        },
        parse_errors=errors,
    )


def state_from_definition(data: dict[str, Any]) -> BuilderState:
    return BuilderState(
        name=str(data.get("name") or ""),
        description=str(data.get("description") or ""),
        object_type=str(data.get("object_type") or ""),
        is_enabled=bool(data.get("is_enabled", True)),
        definition={
            "trigger": dict(data.get("trigger") or {}),
            "conditions": dict(data.get("conditions") or {}),
            "steps": list(data.get("steps") or []),
        },
    )


# --------------------------------------------------------------------------- builder buttons


def _locate(root: Any, tokens: list[str | int]) -> Any:
    node = root
    for token in tokens:
        if isinstance(token, int):
            if not isinstance(node, list) or not 0 <= token < len(node):
                return None
            node = node[token]
        else:
            if not isinstance(node, dict):
                return None
            node = node.get(token)
    return node


def _step_ids(steps: list[Any]) -> set[str]:
    found: set[str] = set()
    for step in steps:
        if not isinstance(step, dict):
            continue
        found.add(str(step.get("id")))
        config = step.get("config") or {}
        for value in config.values() if isinstance(config, dict) else ():
            if isinstance(value, list):
                found |= _step_ids(value)
    return found


def new_step_id(steps: list[Any]) -> str:
    taken = _step_ids(steps)
    number = len(taken) + 1
    while f"s{number}" in taken:
        number += 1
    return f"s{number}"


def _add_row(group: dict[str, Any], row: dict[str, Any]) -> None:
    if not group:
        group["all"] = [row]
        return
    for kind in ("all", "any"):
        if isinstance(group.get(kind), list):
            group[kind].append(row)
            return
    if "not" in group:
        child = group["not"]
        group["not"] = row if not child else {"all": [child, row]}
        return
    # A single row where a group belongs: make it a group of two.
    previous = dict(group)
    group.clear()
    group["all"] = [previous, row]


def apply_action(state: BuilderState, action: str, post: QueryDict) -> None:
    """Do what a builder button asks ("add_row:conditions", "remove:steps[1]", ...)."""
    verb, _, path = action.partition(":")
    root = state.definition
    tokens = split_path(path)
    if verb in ("add_row", "add_group"):
        group = _locate(root, tokens)
        if isinstance(group, dict):
            row: dict[str, Any] = (
                {"field": "", "op": ""} if verb == "add_row" else {"any": [{"field": "", "op": ""}]}
            )
            _add_row(group, row)
    elif verb == "add_step":
        container = _locate(root, tokens[:-1]) if tokens else None
        kind = step_type(post.get(f"new_step:{path}", ""))
        if isinstance(container, dict) and kind is not None:
            steps = container.setdefault(tokens[-1], [])
            if isinstance(steps, list):
                steps.append({"id": new_step_id(root["steps"]), "type": kind.key, "config": {}})
    elif verb == "add_value":
        values = _locate(root, tokens)
        if isinstance(values, dict) and "" not in values:
            values[""] = None
        elif values is None and tokens:
            config = _locate(root, tokens[:-1])
            if isinstance(config, dict):
                config[str(tokens[-1])] = {"": None}
    elif verb == "remove_value" and tokens and isinstance(tokens[-1], int):
        values = _locate(root, tokens[:-1])
        if isinstance(values, dict) and 0 <= tokens[-1] < len(values):
            values.pop(list(values)[tokens[-1]])
    elif verb in ("remove", "up", "down") and tokens and isinstance(tokens[-1], int):
        parent = _locate(root, tokens[:-1])
        index = tokens[-1]
        if isinstance(parent, list) and 0 <= index < len(parent):
            if verb == "remove":
                parent.pop(index)
            else:
                other = index - 1 if verb == "up" else index + 1
                if 0 <= other < len(parent):
                    parent[index], parent[other] = parent[other], parent[index]
    elif verb == "remove" and tokens and tokens[-1] == "not":
        parent = _locate(root, tokens[:-1])
        if isinstance(parent, dict):
            parent["not"] = {}
    if isinstance(root.get("conditions"), dict) and root["conditions"] in (
        {"all": []},
        {"any": []},
    ):
        root["conditions"] = {}


# --------------------------------------------------------------------------- laying it out


@dataclass
class Choices:
    """The lists the builder's selects offer, read once per page."""

    object_type: str
    fields: list[conditions.FieldSpec]
    specs: dict[str, conditions.FieldSpec]
    users: list[tuple[str, str]]
    roles: list[tuple[str, str]]
    queues: list[tuple[str, str]]
    related: dict[str, list[tuple[str, str]]]
    merge_fields: list[str]

    @classmethod
    def load(cls, object_type: str) -> Choices:
        from patron.routing.models import RoutingQueue
        from patron.users.models import Role, User

        fields = conditions.describe_fields(object_type) if object_type else []
        return cls(
            object_type=object_type,
            fields=fields,
            specs={spec.name: spec for spec in fields},
            users=[
                (str(user.pk), str(user))
                for user in User.objects.filter(is_active=True).order_by("full_name", "id")[:500]
            ],
            roles=[(str(role.pk), str(role)) for role in Role.objects.order_by("name")],
            queues=[(str(q.pk), str(q)) for q in RoutingQueue.objects.order_by("name")],
            related={},
            merge_fields=sorted(merge_fields(object_type)) if object_type else ["workflow.name"],
        )

    def related_choices(self, model_label: str) -> list[tuple[str, str]] | None:
        """The rows of a small related table ("pipeline.stage"), or None for a big one."""
        if model_label not in self.related:
            model = apps.get_model(model_label)
            queryset = model._default_manager.all()
            if issubclass(model, BusinessRecord):
                self.related[model_label] = []
            else:
                rows = list(queryset[: RELATED_CHOICES_LIMIT + 1])
                self.related[model_label] = (
                    [(str(row.pk), str(row)) for row in rows]
                    if len(rows) <= RELATED_CHOICES_LIMIT
                    else []
                )
        return self.related[model_label] or None


class ErrorBag:
    """The services' errors, taken by the inputs they are about; what is left is shown at the
    top of the form so no message is lost."""

    def __init__(self, errors: Errors) -> None:
        self.left = dict(errors)

    def take(self, *keys: str) -> str:
        found = [self.left.pop(key) for key in keys if key in self.left]
        return " ".join(found)

    def take_under(self, key: str) -> str:
        found = [
            self.left.pop(name)
            for name in list(self.left)
            if name == key or name.startswith((f"{key}[", f"{key}."))
        ]
        return " ".join(found)


def dom_id(path: str) -> str:
    return "wf-" + re.sub(r"[^a-zA-Z0-9]+", "-", path).strip("-")


def _value_input(spec: conditions.FieldSpec | None, choices: Choices, op: str) -> dict[str, Any]:
    """How to ask for a value of ``spec``'s type."""
    if op in conditions.NO_VALUE_OPS:
        return {"type": "none"}
    if spec is None:
        return {"type": "text"}
    many = op in conditions.LIST_VALUE_OPS
    if spec.type in ("choice", "boolean", "fk") and not many:
        options = (
            list(spec.choices)
            if spec.type == "choice"
            else [("true", "Yes"), ("false", "No")]
            if spec.type == "boolean"
            else choices.related_choices(spec.related_model) or []
        )
        if options:
            return {"type": "select", "choices": options}
    if many:
        hint = ", ".join(value for value, _ in spec.choices[:6])
        return {"type": "text", "hint": f"Separate values with commas{': ' + hint if hint else ''}"}
    if spec.type in ("number", "fk"):
        return {"type": "number"}
    if spec.type == "date":
        return {"type": "date"}
    if spec.type == "datetime":
        return {"type": "datetime-local"}
    return {"type": "text"}


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_shown(item) for item in value)
    return str(value)


def layout_tree(
    tree: Any, path: str, choices: Choices, errors: ErrorBag, depth: int = 0
) -> dict[str, Any]:
    """A condition group for the template (a root that is one row becomes a group of one)."""
    if not isinstance(tree, dict):
        tree = {}
    kind = next((key for key in GROUP_KINDS if key in tree), None)
    if kind is None and tree:
        tree = {"all": [tree]}
        kind = "all"
    kind = kind or "all"
    raw = tree.get(kind)
    if kind == "not":
        items = [(f"{path}.not", raw)] if isinstance(raw, dict) and raw else []
    else:
        items = [(f"{path}.{kind}[{i}]", item) for i, item in enumerate(raw or [])]
    group_error = errors.take(path, f"{path}.{kind}")
    children: list[dict[str, Any]] = []
    for child_path, child in items:
        if isinstance(child, dict) and any(key in child for key in GROUP_KINDS):
            children.append(layout_tree(child, child_path, choices, errors, depth + 1))
        else:
            children.append(layout_row(child, child_path, choices, errors))
    return {
        "is_group": True,
        "path": path,
        "id": dom_id(path),
        "kind": kind,
        "kinds": [(key, GROUP_LABELS[key]) for key in GROUP_KINDS],
        "children": children,
        "error": group_error,
        "depth": depth,
        "nested": depth > 0,
        "may_add_group": depth < conditions.MAX_DEPTH - 1,
    }


def layout_row(row: Any, path: str, choices: Choices, errors: ErrorBag) -> dict[str, Any]:
    row = row if isinstance(row, dict) else {}
    name = str(row.get("field") or "")
    spec = choices.specs.get(name)
    operators = conditions.OPERATORS_BY_TYPE[spec.type] if spec else ()
    op = str(row.get("op") or "")
    return {
        "is_group": False,
        "path": path,
        "id": dom_id(path),
        "field": name,
        "op": op,
        "value": _shown(row.get("value")),
        "field_choices": [(s.name, s.label) for s in choices.fields],
        "op_choices": [(key, conditions.OPERATOR_LABELS[key]) for key in operators],
        "value_input": _value_input(spec, choices, op),
        "error": errors.take(path),
        "field_error": errors.take(f"{path}.field"),
        "op_error": errors.take(f"{path}.op"),
        "value_error": errors.take(f"{path}.value"),
    }


def _select_choices(
    config_field: ConfigField, choices: Choices, *, events_for: str
) -> list[tuple[str, str]]:
    if config_field.choices:
        return list(config_field.choices)
    if config_field.dynamic_choices is not None:
        return config_field.dynamic_choices(choices.object_type)
    if config_field.name == "event":
        return [
            (info.name, f"{info.label} ({info.name})")
            for info in events_catalogue()
            if not events_for or info.object_type == events_for
        ]
    if config_field.name == "object_type":
        return business_object_types()
    return []


def layout_config(
    fields: tuple[ConfigField, ...],
    config: dict[str, Any],
    path: str,
    choices: Choices,
    errors: ErrorBag,
) -> list[dict[str, Any]]:
    laid_out: list[dict[str, Any]] = []
    for config_field in fields:
        name = f"{path}.{config_field.name}"
        value = config.get(config_field.name)
        item: dict[str, Any] = {
            "name": name,
            "id": dom_id(name),
            "label": config_field.label,
            "kind": config_field.kind,
            "required": config_field.required,
            "help": config_field.help_text,
            "value": _shown(value) if not isinstance(value, dict | list) else "",
        }
        kind = config_field.kind
        if kind == "values":
            target = (
                str(config.get("object_type") or "")
                if any(f.name == "object_type" for f in fields)
                else choices.object_type
            )
            item["rows"] = layout_values(value, name, target, choices, errors)
            item["add_action"] = f"add_value:{name}"
            item["error"] = errors.take_under(name)
            laid_out.append(item)
            continue
        if kind == "steps":
            item["steps"] = layout_steps(value or [], name, choices, errors)
            item["new_step"] = f"new_step:{name}"
            item["step_types"] = [(t.key, t.label) for t in step_types()]
        elif kind == "conditions":
            item["tree"] = layout_tree(value or {}, name, choices, errors, depth=1)
            item["tree"]["nested"] = False
        else:
            item["error"] = errors.take_under(name)
        if kind == "json" and name in MULTI_VALUE_KEYS:
            item["kind"] = "fields"
            item["choices"] = [(s.name, s.label) for s in choices.fields if "." not in s.name]
            item["selected"] = [str(v) for v in value] if isinstance(value, list) else []
        elif kind == "json":
            item["value"] = json.dumps(value, indent=2) if value not in (None, "") else ""
        elif kind == "duration":
            parts = value if isinstance(value, dict) else {}
            item["parts"] = [
                (unit, f"{name}.{unit}", dom_id(f"{name}.{unit}"), _shown(parts.get(unit)))
                for unit in ("days", "hours", "minutes")
            ]
        elif kind == "select":
            item["choices"] = _select_choices(config_field, choices, events_for=choices.object_type)
            values = {choice for choice, _ in item["choices"]}
            if item["value"] and item["value"] not in values:
                # A definition naming its choice (an approval process by name) selects it.
                item["value"] = next(
                    (choice for choice, label in item["choices"] if label == item["value"]),
                    item["value"],
                )
            item["refresh"] = config_field.name == "object_type" and any(
                f.kind == "values" for f in fields
            )
        elif kind == "field":
            item["choices"] = [(s.name, s.label) for s in choices.fields]
        elif kind == "user":
            item["choices"] = choices.users
        elif kind == "role":
            item["choices"] = choices.roles
        elif kind == "queue":
            item["choices"] = choices.queues
        elif kind == "template":
            item["merge_fields"] = choices.merge_fields
        if config_field.name in ("from", "to") and "field" in config:
            spec = choices.specs.get(str(config.get("field")))
            widget = _value_input(spec, choices, "eq")
            if widget["type"] == "select":
                item["kind"], item["choices"] = "select", widget["choices"]
        laid_out.append(item)
    return laid_out


SOURCE_LABELS = (("value", "A fixed value"), *MERGE_SOURCES)


def _sources_for(spec: conditions.FieldSpec | None, has_record: bool) -> list[tuple[str, str]]:
    """Where a value for ``spec`` may come from (the merge values that fit its type)."""
    fits = {"value"}
    if has_record:
        fits.add("record")
    if spec is not None and spec.type in ("date", "datetime"):
        fits.add("today")
    if has_record and spec is not None and spec.related_model == USER_MODEL_LABEL:
        fits |= {"owner", "owner_manager"}
    return [(key, label) for key, label in SOURCE_LABELS if key in fits]


def layout_values(
    values: Any, path: str, target: str, choices: Choices, errors: ErrorBag
) -> list[dict[str, Any]]:
    """One row per value: the field, where its value comes from and an input for its type."""
    specs = {spec.name: spec for spec in settable_fields(target)} if target else {}
    field_choices = [(spec.name, spec.label) for spec in specs.values()]
    rows: list[dict[str, Any]] = []
    items = list(values.items()) if isinstance(values, dict) else []
    for index, (name, raw) in enumerate(items):
        prefix = f"{path}[{index}]"
        spec = specs.get(name)
        merge = raw if isinstance(raw, dict) and "merge" in raw else None
        source = str(merge["merge"]) if merge else "value"
        record_fields = [
            (s.name, s.label)
            for s in choices.fields
            if spec is None
            or (
                (s.type == "fk") == (spec.type == "fk")
                and (spec.type != "fk" or s.related_model == spec.related_model)
            )
        ]
        widget = _value_input(spec, choices, "eq") if spec else {"type": "none"}
        rows.append(
            {
                "index": index,
                "number": index + 1,
                "prefix": prefix,
                "id": dom_id(prefix),
                "field": name,
                "field_label": spec.label if spec else name,
                "field_choices": field_choices,
                "source": source,
                "source_choices": _sources_for(spec, bool(choices.object_type)),
                "widget": widget,
                "value": "" if merge else _shown(raw),
                "days": _shown(merge.get("days")) if merge else "",
                "from_field": str(merge.get("field") or "") if merge else "",
                "record_fields": record_fields,
                "remove_action": f"remove_value:{prefix}",
                "error": errors.take(f"{path}.{name}"),
            }
        )
    return rows


def layout_steps(
    steps: list[Any], path: str, choices: Choices, errors: ErrorBag
) -> list[dict[str, Any]]:
    laid_out: list[dict[str, Any]] = []
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        key = f"{path}[{index}]"
        kind = step_type(str(step.get("type")))
        config = step.get("config") if isinstance(step.get("config"), dict) else {}
        assert isinstance(config, dict)
        fields = (
            layout_config(kind.fields, config, f"{key}.config", choices, errors) if kind else []
        )
        laid_out.append(
            {
                "path": key,
                "id": dom_id(key),
                "number": index + 1,
                "step_id": str(step.get("id") or ""),
                "type": str(step.get("type") or ""),
                "label": kind.label if kind else f"Unknown step type {step.get('type')!r}",
                "description": kind.description if kind else "",
                "fields": fields,
                "error": errors.take(key, f"{key}.id", f"{key}.type", f"{key}.config"),
                "is_first": index == 0,
                "is_last": index == len(steps) - 1,
            }
        )
    return laid_out


def builder_context(state: BuilderState, errors: Errors) -> dict[str, Any]:
    """Everything the builder template shows for ``state`` with ``errors``."""
    bag = ErrorBag({**errors, **state.parse_errors})
    choices = Choices.load(state.object_type)
    trigger = state.definition.get("trigger") or {}
    kind = trigger_type(str(trigger.get("type") or ""))
    trigger_config = {k: v for k, v in trigger.items() if k != "type"}
    header_errors = {name: bag.take(name) for name in ("name", "description", "object_type")}
    context = {
        "state": state,
        "object_types": business_object_types(),
        "trigger_types": [(t.key, t.label) for t in trigger_types()],
        "trigger_kind": kind,
        "trigger_type_error": bag.take("trigger.type", "trigger"),
        "trigger_fields": (
            layout_config(kind.fields, trigger_config, "trigger", choices, bag) if kind else []
        ),
        "tree": layout_tree(state.definition.get("conditions") or {}, "conditions", choices, bag),
        "steps": layout_steps(state.definition.get("steps") or [], "steps", choices, bag),
        "steps_error": bag.take("steps"),
        "step_types": [(t.key, t.label) for t in step_types()],
        "merge_fields": choices.merge_fields,
        "header_errors": header_errors,
    }
    context["other_errors"] = bag.left
    context["has_errors"] = bool(errors or state.parse_errors)
    return context


# --------------------------------------------------------------------------- other forms


class ImportForm(forms.Form):
    definition = forms.CharField(
        label="Workflow definition (JSON)",
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false"}),
        required=False,
    )
    file = forms.FileField(label="Or upload a .json file", required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        text = upload.read().decode("utf-8", "replace") if upload else cleaned.get("definition")
        if not text or not str(text).strip():
            raise forms.ValidationError("Paste a definition or choose a file.")
        try:
            data = json.loads(str(text))
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from exc
        if not isinstance(data, dict):
            raise forms.ValidationError("A definition is a JSON object with name, trigger, ...")
        cleaned["data"] = data
        return cleaned


def record_picker_form(object_type: str, user: Any, data: Any = None) -> forms.Form:
    """A form with one record picker for ``object_type`` (test mode)."""
    model = conditions.model_for(object_type)
    assert model is not None
    form = forms.Form(data)
    form.fields["record"] = RecordPickerField(
        queryset=model._default_manager.visible_to(user),
        label=f"Record ({model._meta.verbose_name})",
    )
    return form


class RunFilterForm(forms.Form):
    status = forms.ChoiceField(required=False)
    workflow = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
