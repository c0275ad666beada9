"""OpenAPI helpers: custom fields in record schemas, filter parameters, problem media type,
unique component names.

Record schemas mark their ``custom`` property with ``x-custom-fields: <object type>``;
``add_custom_fields`` fills that object's ``properties`` from the active
CustomFieldDefinition rows when the document is generated, so the live document at
/api/v1/openapi.json shows this installation's custom fields while the committed document
(generated without them) stays the same everywhere.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import django_filters
from ninja.openapi import schema as ninja_openapi
from ninja.schema import NinjaGenerateJsonSchema
from pydantic.json_schema import CoreModeRef, CoreRef, DefsRef

from patron.core.choices import CustomFieldType
from patron.core.filters import UserRefFilter
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


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_GENERIC_ERRORS = {
    400: "The request body is not valid JSON, or a header is malformed.",
    404: "No such record (or none that you can see).",
    413: "The request body is too large.",
    422: "Some input is not valid; errors names each field or parameter.",
}


def document_generic_errors(schema: dict[str, Any]) -> None:
    """Document the errors the API machinery answers for any operation of a kind, so each
    operation's list of responses is complete: 422 for any parameter or body (validation),
    404 for a path naming a record, 400 and 413 for a body."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            places = {parameter.get("in") for parameter in operation.get("parameters", [])}
            statuses = set()
            if places or "requestBody" in operation:
                statuses.add(422)
            if "path" in places:
                statuses.add(404)
            if "requestBody" in operation:
                statuses |= {400, 413}
            responses = operation.setdefault("responses", {})
            # Ninja keys responses by int, openapi_extra may use str.
            for status in sorted(statuses - {int(key) for key in responses}):
                responses[status] = {
                    "description": _GENERIC_ERRORS[status],
                    "content": {"application/problem+json": {"schema": dict(_PROBLEM_REF)}},
                }


def _filter_schema(item: django_filters.Filter) -> dict[str, Any]:
    # ModelChoiceFilter is a ChoiceFilter too, so it goes first.
    if isinstance(item, django_filters.ModelChoiceFilter | UserRefFilter):
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


# --- component names ---------------------------------------------------------------------
# Ninja names a component after its class only, so two apps' ``TokenOut`` (or ``RuleOut``)
# overwrite each other in components.schemas and an operation documents another's body.
# While the document is generated, every short name is recorded with the classes behind it;
# names shared by more than one class are then qualified with their app (AutomationTokenOut,
# UsersTokenOut) in a second pass. Unique names stay as they are.

_REF_SEPARATORS = re.compile(r"([\][,])")


class ComponentNames:
    def __init__(
        self,
        ambiguous: frozenset[str] = frozenset(),
        modules: dict[str, str] | None = None,
    ) -> None:
        self.ambiguous = ambiguous
        # Generic arguments appear in a core ref without their module ("Page:1[TokenOut:2]");
        # the class's id (after the colon) finds the module seen elsewhere.
        self.modules: dict[str, str] = dict(modules or {})
        self.classes: dict[str, set[str]] = defaultdict(set)

    def shared(self) -> frozenset[str]:
        return frozenset(name for name, modules in self.classes.items() if len(modules) > 1)

    def rename(self, core_ref: str) -> str:
        """``core_ref`` with each ambiguous class renamed to its qualified name."""
        parts = []
        for part in _REF_SEPARATORS.split(core_ref):
            path, colon, ident = part.rpartition(":")
            module, _, name = path.rpartition(".")
            if not colon or not name:
                parts.append(part)
                continue
            if module:
                self.modules[ident] = module
                self.classes[name].add(module)
            module = self.modules.get(ident, module)
            if name in self.ambiguous and module:
                part = f"{module}.{qualified_name(module, name)}:{ident}"
            parts.append(part)
        return "".join(parts)


def qualified_name(module: str, name: str) -> str:
    """``patron.data_exchange.duplicate_api`` + ``RuleOut`` -> ``DataExchangeRuleOut``."""
    segments = module.split(".")
    app = segments[1] if len(segments) > 1 and segments[0] == "patron" else segments[0]
    return "".join(word.capitalize() for word in app.split("_")) + name


_component_names: ContextVar[ComponentNames | None] = ContextVar(
    "patron_openapi_component_names", default=None
)


class PatronJsonSchema(NinjaGenerateJsonSchema):
    def get_defs_ref(self, core_mode_ref: CoreModeRef) -> DefsRef:
        names = _component_names.get()
        if names is not None:
            core_ref, mode = core_mode_ref
            core_mode_ref = (CoreRef(names.rename(core_ref)), mode)
        return super().get_defs_ref(core_mode_ref)


# Ninja's document builder looks the generator up in its module at each call.
ninja_openapi.NinjaGenerateJsonSchema = PatronJsonSchema  # type: ignore[attr-defined]


def with_unique_component_names(generate: Any) -> Any:
    """Run ``generate()`` (which builds the document) so that no two classes share a
    component name; twice when some short name is shared."""
    first = ComponentNames()
    token = _component_names.set(first)
    try:
        document = generate()
    finally:
        _component_names.reset(token)
    shared = first.shared()
    if not shared:
        return document
    token = _component_names.set(ComponentNames(shared, first.modules))
    try:
        return generate()
    finally:
        _component_names.reset(token)
