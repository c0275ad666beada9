"""The built-in trigger types and the event catalogue of the apps below automation.

Trigger definitions are JSON on a workflow version::

    {"type": "record_created"}
    {"type": "record_updated", "fields": ["amount", "stage"]}      fields optional: any change
    {"type": "field_changed", "field": "stage", "to": 7}            "from" / "to" optional
    {"type": "record_deleted"}
    {"type": "event", "event": "opportunity.stage_changed"}
    {"type": "date_relative", "field": "close_date", "offset_days": -7}   7 days before
    {"type": "schedule", "cron": "0 8 * * mon-fri"}
    {"type": "inbound_webhook"}
    {"type": "manual"}
"""

from __future__ import annotations

import functools
from typing import Any

from patron.automation import conditions
from patron.automation.registry import (
    ConfigField,
    FieldErrors,
    TriggerType,
    event_info,
    register_event,
    register_trigger_type,
)
from patron.automation.schedule import cron_error
from patron.users.selectors import business_models

RECORD_VERBS = {
    "created": "created",
    "updated": "updated",
    "deleted": "deleted",
    "restored": "restored from the recycle bin",
}
# Events the apps below automation emit besides record events (grep `events.emit(`).
APP_EVENTS = (
    ("opportunity.stage_changed", "Opportunity moved to another stage", "pipeline.opportunity"),
    ("lead.converted", "Lead converted", "leads.lead"),
    ("lead.status_changed", "Lead status changed", "leads.lead"),
    ("lead.disqualified", "Lead disqualified", "leads.lead"),
    ("lead.archived", "Lead archived", "leads.lead"),
    ("contact.related_row_changed", "Contact related list changed", "contacts.contact"),
    ("activity.linked", "Activity linked to a record", "activities.activity"),
    ("activity.unlinked", "Activity unlinked from a record", "activities.activity"),
    ("routing.assigned", "Item assigned by routing", ""),
)


@functools.cache
def object_type_of_model_name() -> dict[str, str]:
    """ "opportunity" -> "pipeline.opportunity": record events name the model only."""
    found: dict[str, str] = {}
    for model in business_models():
        found.setdefault(model._meta.model_name or "", model._meta.label_lower)
    return found


def register_record_events() -> None:
    for model in business_models():
        name = str(model._meta.verbose_name).capitalize()
        for verb, words in RECORD_VERBS.items():
            register_event(
                f"{model._meta.model_name}.{verb}", f"{name} {words}", model.object_type()
            )
    for event, label, object_type in APP_EVENTS:
        register_event(event, label, object_type)


def _model_name(object_type: str) -> str:
    model = conditions.model_for(object_type)
    return model._meta.model_name or "" if model is not None else ""


def _record_event(verb: str) -> Any:
    def names(config: dict[str, Any], object_type: str) -> tuple[str, ...]:
        model_name = _model_name(object_type)
        return (f"{model_name}.{verb}",) if model_name else ()

    return names


def _field_errors(object_type: str, name: Any, key: str = "field") -> FieldErrors:
    if not isinstance(name, str) or not name:
        return {key: "Choose a field."}
    if conditions.field_spec(object_type, name) is None or "." in name.removeprefix("custom."):
        return {key: f"Unknown field {name!r} on {object_type}."}
    return {}


def _validate_updated(config: dict[str, Any], object_type: str) -> FieldErrors:
    fields = config.get("fields", [])
    if not isinstance(fields, list):
        return {"fields": "Give a list of field names (or leave it out for any change)."}
    for index, name in enumerate(fields):
        errors = _field_errors(object_type, name, f"fields[{index}]")
        if errors:
            return errors
    return {}


def _matches_updated(config: dict[str, Any], event: str, payload: dict[str, Any]) -> bool:
    wanted = config.get("fields") or []
    if not wanted:
        return True
    changes = payload.get("changes") or {}
    return any(name in changes for name in wanted)


def _validate_field_changed(config: dict[str, Any], object_type: str) -> FieldErrors:
    errors = _field_errors(object_type, config.get("field"))
    if errors:
        return errors
    for key, op in (("from", "changed_from"), ("to", "changed_to")):
        if config.get(key) is not None:
            leaf = {"field": config["field"], "op": op, "value": config[key]}
            for message in conditions.validate_conditions(leaf, object_type, key).values():
                errors[key] = message
    return errors


def _matches_field_changed(config: dict[str, Any], event: str, payload: dict[str, Any]) -> bool:
    return str(config.get("field")) in (payload.get("changes") or {})


def _field_changed_conditions(config: dict[str, Any]) -> dict[str, Any]:
    leaves = [
        {"field": config["field"], "op": op, "value": config[key]}
        for key, op in (("from", "changed_from"), ("to", "changed_to"))
        if config.get(key) is not None
    ]
    return {"all": leaves} if leaves else {}


def _validate_event(config: dict[str, Any], object_type: str) -> FieldErrors:
    name = config.get("event")
    info = event_info(str(name)) if isinstance(name, str) else None
    if info is None:
        return {"event": f"Unknown event {name!r}; choose one from the event catalogue."}
    if object_type and info.object_type != object_type:
        return {
            "event": f"{info.name} is about {info.object_type or 'no record'}, "
            f"but the workflow acts on {object_type}."
        }
    return {}


def _event_names(config: dict[str, Any], object_type: str) -> tuple[str, ...]:
    return (str(config.get("event")),)


def _validate_date_relative(config: dict[str, Any], object_type: str) -> FieldErrors:
    errors = _field_errors(object_type, config.get("field"))
    if not errors:
        spec = conditions.field_spec(object_type, str(config["field"]))
        if spec is None or spec.type not in ("date", "datetime"):
            errors["field"] = "Choose a date field."
    offset = config.get("offset_days", 0)
    if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) > 3650:
        errors["offset_days"] = "Give a whole number of days (negative: before the date)."
    return errors


def _validate_schedule(config: dict[str, Any], object_type: str) -> FieldErrors:
    message = cron_error(str(config.get("cron") or ""))
    return {"cron": message} if message else {}


FIELD = ConfigField("field", "Field", "field", required=True)


def register_builtin_triggers() -> None:
    register_trigger_type(
        TriggerType(
            key="record_created",
            label="A record is created",
            event_names=_record_event("created"),
        )
    )
    register_trigger_type(
        TriggerType(
            key="record_updated",
            label="A record is updated",
            fields=(
                ConfigField(
                    "fields",
                    "Only when one of these fields changes",
                    "json",
                    help_text="A list of field names; empty for any change.",
                ),
            ),
            validate=_validate_updated,
            event_names=_record_event("updated"),
            matches=_matches_updated,
        )
    )
    register_trigger_type(
        TriggerType(
            key="field_changed",
            label="A field changes",
            fields=(
                FIELD,
                ConfigField("from", "From (optional)", "text"),
                ConfigField("to", "To (optional)", "text"),
            ),
            validate=_validate_field_changed,
            event_names=_record_event("updated"),
            matches=_matches_field_changed,
            conditions=_field_changed_conditions,
        )
    )
    register_trigger_type(
        TriggerType(
            key="record_deleted",
            label="A record is deleted",
            event_names=_record_event("deleted"),
        )
    )
    register_trigger_type(
        TriggerType(
            key="event",
            label="An app event happens",
            fields=(ConfigField("event", "Event", "select", required=True),),
            validate=_validate_event,
            event_names=_event_names,
            description="Named events such as lead.converted or opportunity.stage_changed.",
        )
    )
    register_trigger_type(
        TriggerType(
            key="date_relative",
            label="Days before or after a date",
            fields=(
                ConfigField("field", "Date field", "field", required=True),
                ConfigField(
                    "offset_days",
                    "Days after the date",
                    "number",
                    required=True,
                    help_text="Negative for before: -7 is a week before the close date.",
                ),
            ),
            validate=_validate_date_relative,
            description="Checked by the scheduler every few minutes; once per record and date.",
        )
    )
    register_trigger_type(
        TriggerType(
            key="schedule",
            label="On a schedule",
            fields=(
                ConfigField(
                    "cron",
                    "Schedule (cron, UTC)",
                    "text",
                    required=True,
                    help_text="minute hour day month weekday, e.g. 0 8 * * mon-fri",
                ),
            ),
            validate=_validate_schedule,
            needs_object_type=False,
        )
    )
    register_trigger_type(
        TriggerType(
            key="inbound_webhook",
            label="A call to the workflow's secret URL",
            needs_object_type=False,
            description="POST JSON to the URL shown once when the workflow is saved.",
        )
    )
    register_trigger_type(
        TriggerType(
            key="manual",
            label="A button on the record's page",
            description="Started by a user from a record's page or the API.",
        )
    )
