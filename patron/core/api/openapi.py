"""OpenAPI helpers: custom fields in record schemas, filter parameters, problem media type.

Record schemas mark their ``custom`` property with ``x-custom-fields: <object type>``;
``add_custom_fields`` fills that object's ``properties`` from the active
CustomFieldDefinition rows when the document is generated, so the live document at
/api/v1/openapi.json shows this installation's custom fields while the committed document
(generated without them) stays the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import django_filters

from patron.core.choices import CustomFieldType
from patron.core.models import CustomFieldDefinition

CUSTOM_FIELDS_MARKER = "x-custom-fields"


def custom_field_schema(object_type: str) -> dict[str, Any]:
    """The ``json_schema_extra`` for a record schema's ``custom`` field."""
    return {CUSTOM_FIELDS_MARKER: object_type, "properties": {}}


def _definition_schema(definition: CustomFieldDefinition) -> dict[str, Any]:
    kind = definition.field_type
    schema: dict[str, Any]
    if kind == CustomFieldType.TEXT:
        schema = {"type": "string", "maxLength": 1000}
    elif kind == CustomFieldType.NUMBER:
        schema = {"type": ["number", "string"], "description": "A decimal number."}
    elif kind == CustomFieldType.MONEY:
        schema = {
            "type": "object",
            "properties": {
                "amount": {"type": "string", "examples": ["1200.50"]},
                "currency": {"type": "string", "minLength": 3, "maxLength": 3},
            },
        }
    elif kind == CustomFieldType.DATE:
        schema = {"type": "string", "format": "date"}
    elif kind == CustomFieldType.BOOLEAN:
        schema = {"type": "boolean"}
    elif kind == CustomFieldType.CHOICE:
        schema = {"type": "string", "enum": list(definition.choices)}
    elif kind == CustomFieldType.MULTI_CHOICE:
        schema = {"type": "array", "items": {"type": "string", "enum": list(definition.choices)}}
    else:
        schema = {"type": "integer", "description": "The id of a record."}
    schema["title"] = definition.label
    notes = [definition.help_text] if definition.help_text else []
    if definition.required:
        notes.append("Required.")
    if definition.sensitive:
        notes.append("Sensitive: left out for users whose role may not see it.")
    if notes:
        schema["description"] = " ".join([schema.get("description", ""), *notes]).strip()
    schema["x-field-type"] = kind
    return schema


def _marked_objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if CUSTOM_FIELDS_MARKER in node:
            yield node
        for value in node.values():
            yield from _marked_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _marked_objects(value)


def add_custom_fields(schema: dict[str, Any]) -> None:
    """Fill every marked ``custom`` object with the active definitions of its type."""
    marked = list(_marked_objects(schema.get("components", {})))
    if not marked:
        return
    by_type: dict[str, dict[str, Any]] = {}
    for definition in CustomFieldDefinition.objects.filter(active=True).order_by(
        "object_type", "position", "id"
    ):
        by_type.setdefault(definition.object_type, {})[definition.key] = _definition_schema(
            definition
        )
    for node in marked:
        node["properties"] = dict(by_type.get(node[CUSTOM_FIELDS_MARKER], {}))


def use_problem_media_type(schema: dict[str, Any]) -> None:
    """Document error responses as application/problem+json (what the API sends)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content")
                if int(status) >= 400 and content and "application/json" in content:
                    content["application/problem+json"] = content.pop("application/json")


def _filter_schema(item: django_filters.Filter) -> dict[str, Any]:
    # ModelChoiceFilter is a ChoiceFilter too, so it goes first.
    if isinstance(item, django_filters.ModelChoiceFilter):
        return {"type": "integer", "description": "An id."}
    if isinstance(item, django_filters.ChoiceFilter):
        return {"type": "string", "enum": [str(value) for value, _ in item.extra["choices"]]}
    if isinstance(item, django_filters.NumberFilter):
        return {"type": "number"}
    if isinstance(item, django_filters.BooleanFilter):
        return {"type": "boolean"}
    if isinstance(item, django_filters.DateFilter):
        return {"type": "string", "format": "date"}
    return {"type": "string"}


def filter_parameters(filterset_class: type[django_filters.FilterSet]) -> list[dict[str, Any]]:
    """OpenAPI query parameters documenting a FilterSet's filters."""
    parameters = []
    for name, item in filterset_class.base_filters.items():
        label = item.label or name.replace("_", " ").capitalize()
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": str(label),
                "schema": _filter_schema(item),
            }
        )
    return parameters
