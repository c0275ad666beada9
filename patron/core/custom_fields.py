"""Admin-defined custom fields: definitions, validation and cleaning of values.

Values are stored in each record's ``custom`` JSON column, keyed by the definition key, in
JSON-native form (money as {"amount": "12.50", "currency": "EUR"}, dates as ISO strings).
"""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from patron.core.choices import CustomFieldType
from patron.core.models import CustomFieldDefinition


def definitions_for(object_type: str) -> list[CustomFieldDefinition]:
    return list(CustomFieldDefinition.objects.filter(object_type=object_type, active=True))


def clean_custom_values(
    object_type: str,
    values: dict[str, Any],
    *,
    existing: dict[str, Any] | None = None,
    definitions: list[CustomFieldDefinition] | None = None,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Validate ``values`` against the definitions; return (merged values, field errors).

    Error keys are ``custom.<key>`` so forms and the API can show them on the field.
    """
    defs = {
        d.key: d for d in (definitions if definitions is not None else definitions_for(object_type))
    }
    merged = dict(existing or {})
    errors: dict[str, list[str]] = {}
    for key, raw in values.items():
        definition = defs.get(key)
        if definition is None:
            errors[f"custom.{key}"] = [f"Unknown custom field {key!r}."]
            continue
        try:
            cleaned = clean_value(definition, raw)
        except ValueError as exc:
            errors[f"custom.{key}"] = [str(exc)]
            continue
        if cleaned is None:
            merged.pop(key, None)
        else:
            merged[key] = cleaned
    for key, definition in defs.items():
        if (
            definition.required
            and merged.get(key) in (None, "", [])
            and f"custom.{key}" not in errors
        ):
            errors[f"custom.{key}"] = [f"{definition.label} is required."]
    return merged, errors


def clean_value(definition: CustomFieldDefinition, raw: Any) -> Any:
    """One value in JSON-native form, or ValueError with a message for the user."""
    if raw is None or raw == "" or raw == []:
        return None
    kind = definition.field_type
    label = definition.label
    if kind == CustomFieldType.TEXT:
        text = str(raw)
        if len(text) > 1000:
            raise ValueError(f"{label} must be at most 1000 characters.")
        return text
    if kind == CustomFieldType.NUMBER:
        try:
            number = Decimal(str(raw))
        except InvalidOperation:
            raise ValueError(f"{label} must be a number.") from None
        if not number.is_finite():
            raise ValueError(f"{label} must be a finite number.")
        return str(number)
    if kind == CustomFieldType.MONEY:
        amount, currency = _money_parts(raw)
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            raise ValueError(f"{label} must be an amount of money, e.g. 1200.50.") from None
        if not value.is_finite():
            raise ValueError(f"{label} must be a finite amount.")
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
            raise ValueError(f"{label}: currency must be a three-letter ISO code such as EUR.")
        return {"amount": str(value.quantize(Decimal("0.01"))), "currency": currency.upper()}
    if kind == CustomFieldType.DATE:
        if isinstance(raw, datetime.date):
            return raw.isoformat()
        try:
            return datetime.date.fromisoformat(str(raw)).isoformat()
        except ValueError:
            raise ValueError(f"{label} must be a date in the form YYYY-MM-DD.") from None
    if kind == CustomFieldType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"true", "1", "yes", "on"}:
            return True
        if text in {"false", "0", "no", "off"}:
            return False
        raise ValueError(f"{label} must be yes or no.")
    if kind == CustomFieldType.CHOICE:
        if str(raw) not in definition.choices:
            raise ValueError(f"{label} must be one of: {', '.join(definition.choices)}.")
        return str(raw)
    if kind == CustomFieldType.MULTI_CHOICE:
        items = raw if isinstance(raw, list) else [part.strip() for part in str(raw).split(",")]
        unknown = [str(item) for item in items if str(item) not in definition.choices]
        if unknown:
            raise ValueError(
                f"{label}: {', '.join(unknown)} not allowed; choose from "
                f"{', '.join(definition.choices)}."
            )
        return [str(item) for item in items]
    if kind == CustomFieldType.LOOKUP:
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{label} must be the id of a record.") from None
    raise ValueError(f"{label} has an unknown type.")


def _money_parts(raw: Any) -> tuple[Any, Any]:
    if isinstance(raw, dict):
        return raw.get("amount"), raw.get("currency")
    text = str(raw).strip()
    parts = text.split()
    if len(parts) == 2 and parts[1].isalpha():
        return parts[0], parts[1]
    from patron.core.org import org_settings

    return text, org_settings().default_currency
