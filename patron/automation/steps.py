"""The built-in step types. Each validates its config at save time, executes idempotently
(effects keyed by run and step, see StepContext.effect_key) and describes itself for test mode.

Step definitions are JSON: ``{"id": "s1", "type": "create_task", "config": {...}}``.
"""

from __future__ import annotations

import datetime
import importlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import models
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import TextNode, VariableNode
from django.utils import timezone

from patron.automation import conditions
from patron.automation.registry import (
    ConfigField,
    FieldErrors,
    StepContext,
    StepError,
    StepResult,
    StepType,
    register_step_type,
)
from patron.core import records
from patron.core.choices import Via
from patron.core.models import BusinessRecord
from patron.core.notifications import notification_send

# Merge-field templates: autoescaped, no tags, only the {{ record.x }} paths describe_fields
# offers; values are plain data (dicts and strings), so nothing reaches a model method.
TEMPLATES = Engine(autoescape=True)
TEXT_TEMPLATES = Engine(autoescape=False)
MAX_WAIT_DAYS = 366
RECIPIENT_CHOICES = (
    ("owner", "The record's owner"),
    ("owner_manager", "The owner's manager"),
    ("user", "A named user"),
)


# ---------------------------------------------------------------- shared helpers


def effect(ctx: StepContext) -> Any:
    """What this step did on an earlier attempt of this run (None the first time)."""
    if ctx.run is None:
        return None
    return (ctx.run.context.get("effects") or {}).get(ctx.step_id)


def remember(ctx: StepContext, value: Any) -> None:
    """Record this step's effect; saved in the same transaction as the effect itself."""
    if ctx.run is not None:
        ctx.run.context.setdefault("effects", {})[ctx.step_id] = value


def require_record(ctx: StepContext) -> BusinessRecord:
    if ctx.record is None:
        raise StepError("The record this run is about no longer exists.", retryable=False)
    return ctx.record


def manager_of(user: Any) -> Any:
    """The first active user in the role above ``user``'s role (None without one)."""
    role = getattr(user, "role", None)
    if role is None or role.parent_id is None:
        return None
    return (
        get_user_model()
        ._default_manager.filter(role_id=role.parent_id, is_active=True)
        .order_by("id")
        .first()
    )


def _active_user(pk: Any) -> Any:
    if isinstance(pk, bool) or not isinstance(pk, int):
        return None
    return get_user_model()._default_manager.filter(pk=pk, is_active=True).first()


def validate_recipient(config: dict[str, Any], key: str = "recipient") -> FieldErrors:
    value = config.get(key)
    if value not in {choice for choice, _ in RECIPIENT_CHOICES}:
        return {key: f"Choose one of: {', '.join(c for c, _ in RECIPIENT_CHOICES)}."}
    if value == "user" and _active_user(config.get("user_id")) is None:
        return {"user_id": "Choose an active user."}
    return {}


def resolve_recipient(ctx: StepContext, key: str = "recipient") -> Any:
    value = ctx.config.get(key)
    if value == "user":
        person = _active_user(ctx.config.get("user_id"))
        if person is None:
            raise StepError("The chosen user is no longer active.", retryable=False)
        return person
    record = require_record(ctx)
    owner = record.owner
    if value == "owner_manager":
        manager = manager_of(owner)
        if manager is None:
            raise StepError(
                f"{owner} has no manager (their role has no parent role with an active user).",
                retryable=False,
            )
        return manager
    return owner


def recipient_words(ctx: StepContext, key: str = "recipient") -> str:
    try:
        return str(resolve_recipient(ctx, key))
    except StepError as exc:
        return f"nobody ({exc.message})"


# ---------------------------------------------------------------- merge-field templates


class MergeObject(dict[str, Any]):
    """A related record in a template: prints as its name, exposes its fields as keys."""

    def __init__(self, label: str, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.label = label

    def __str__(self) -> str:
        return self.label


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value) if timezone.is_aware(value) else value
    if isinstance(value, str | int | float | Decimal | datetime.date | bool) or value is None:
        return value
    return str(value)


def merge_data(record: models.Model | None, object_type: str) -> dict[str, Any]:
    """The ``record`` variable of a template: the paths describe_fields lists, nothing more."""
    if record is None:
        return {}
    data: dict[str, Any] = {}
    for spec in conditions.describe_fields(object_type, related=False):
        if spec.name.startswith("custom."):
            data.setdefault("custom", {})[spec.name[7:]] = _plain(
                conditions.resolve(record, spec.name)
            )
        elif spec.type == "fk":
            related = getattr(record, spec.name, None)
            if related is None:
                data[spec.name] = ""
                continue
            values = {
                name.split(".", 1)[1]: _plain(conditions.resolve(record, name))
                for name in _related_paths(object_type, spec.name)
            }
            data[spec.name] = MergeObject(str(related), values)
        else:
            value = getattr(record, spec.name, None)
            display = getattr(record, f"get_{spec.name}_display", None)
            data[spec.name] = display() if spec.choices and callable(display) else _plain(value)
    return data


def _related_paths(object_type: str, head: str) -> list[str]:
    prefix = f"{head}."
    return [
        spec.name
        for spec in conditions.describe_fields(object_type)
        if spec.name.startswith(prefix)
    ]


def merge_fields(object_type: str) -> set[str]:
    """Every {{ ... }} path a template of ``object_type`` may use."""
    found = {"workflow.name"}
    for spec in conditions.describe_fields(object_type):
        found.add(f"record.{spec.name}")
    return found


def validate_template(source: Any, object_type: str, key: str) -> FieldErrors:
    """Errors of a merge-field template: syntax, tags, unknown merge fields."""
    if not isinstance(source, str):
        return {key: "Give the text as a string."}
    try:
        template = Template(source, engine=TEMPLATES)
    except TemplateSyntaxError as exc:
        return {key: f"Template error: {exc}."}
    allowed = merge_fields(object_type)
    for node in template.nodelist:
        if not isinstance(node, TextNode | VariableNode):
            return {key: "Only {{ merge fields }} are allowed, no {% tags %}."}
        if isinstance(node, VariableNode):
            variable = node.filter_expression.var
            name = str(getattr(variable, "var", variable))
            if name not in allowed:
                return {key: f"unknown merge field {name}"}
    return {}


def render(source: str, ctx: StepContext, *, html: bool = False) -> str:
    engine = TEMPLATES if html else TEXT_TEMPLATES
    workflow_name = ctx.run.workflow.name if ctx.run is not None else ""
    context = Context(
        {"record": merge_data(ctx.record, ctx.object_type), "workflow": {"name": workflow_name}},
        autoescape=html,
    )
    return Template(source, engine=engine).render(context)


# ---------------------------------------------------------------- merge values
#
# A value in update_fields / create_record may be fixed ({"stage": 4}) or a merge value
# worked out when the step runs:
#   {"merge": "record", "field": "close_date"}   a field of the triggering record ("account.owner")
#   {"merge": "owner"}                           the record's owner
#   {"merge": "owner_manager"}                   the owner's manager
#   {"merge": "today", "days": 14}               today plus N days (now plus N days for a time)

MERGE_SOURCES = (
    ("record", "A field of the record"),
    ("owner", "The record's owner"),
    ("owner_manager", "The owner's manager"),
    ("today", "Today + N days"),
)
USER_MODEL_LABEL = "users.user"


def is_merge(raw: Any) -> bool:
    return isinstance(raw, dict) and "merge" in raw


def validate_merge(raw: dict[str, Any], spec: Any, source_type: str) -> str:
    """What is wrong with merge value ``raw`` for a field ``spec`` ("" when nothing)."""
    kind = raw.get("merge")
    if kind not in {key for key, _ in MERGE_SOURCES}:
        return f"unknown merge value {kind!r} (use one of {', '.join(k for k, _ in MERGE_SOURCES)})"
    if kind == "today":
        days = raw.get("days", 0)
        if isinstance(days, bool) or not isinstance(days, int) or abs(days) > 3650:
            return "give a whole number of days from -3650 to 3650"
        if spec.type not in ("date", "datetime"):
            return "today + N days fits only a date field"
        return ""
    if kind in ("owner", "owner_manager"):
        if conditions.model_for(source_type) is None:
            return "the workflow has no record with an owner"
        if spec.type != "fk" or spec.related_model != USER_MODEL_LABEL:
            return "a user fits only a user field"
        return ""
    path = str(raw.get("field") or "")
    source = conditions.field_spec(source_type, path) if path else None
    if source is None:
        return f"{path or 'no field'} is not a field of the record"
    if (spec.type == "fk") != (source.type == "fk") or (
        spec.type == "fk" and source.related_model != spec.related_model
    ):
        return f"{source.label} does not fit {spec.label}"
    return ""


def merge_words(raw: dict[str, Any]) -> str:
    kind = raw.get("merge")
    if kind == "today":
        return f"today + {raw.get('days') or 0} days"
    if kind == "record":
        return f"the record's {raw.get('field')}"
    return dict(MERGE_SOURCES).get(str(kind), str(kind)).lower()


def resolve_merge(raw: Any, ctx: StepContext, kind: str) -> Any:
    """The value a merge value stands for on ``ctx.record`` (a fixed value as it is)."""
    if not is_merge(raw):
        return raw
    merge = raw["merge"]
    if merge == "today":
        days = datetime.timedelta(days=int(raw.get("days") or 0))
        if kind == "datetime":
            return (timezone.now() + days).isoformat()
        return (timezone.localdate() + days).isoformat()
    record = require_record(ctx)
    if merge == "owner":
        return record.owner_id
    if merge == "owner_manager":
        manager = manager_of(record.owner)
        if manager is None:
            raise StepError(
                f"{record.owner} has no manager (their role has no parent role with an active "
                "user).",
                retryable=False,
            )
        return manager.pk
    value = conditions.resolve(record, str(raw.get("field")))
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _resolved(ctx: StepContext, model: type[models.Model], values: dict[str, Any]) -> Any:
    specs = conditions._model_specs(model)
    return {
        name: resolve_merge(raw, ctx, specs[name].type if name in specs else "text")
        for name, raw in values.items()
    }


# ---------------------------------------------------------------- update_fields


def _field_value(record_model: type[models.Model], name: str, raw: Any) -> Any:
    field = record_model._meta.get_field(name)
    if field.is_relation:
        if raw in (None, ""):
            return None
        related = field.related_model
        assert related is not None
        assert not isinstance(related, str)
        instance = related._default_manager.filter(pk=raw).first()
        if instance is None:
            raise ValueError(f"no {related._meta.verbose_name} with id {raw}")
        return instance
    spec = conditions._model_specs(record_model).get(name)
    kind = spec.type if spec is not None else "text"
    value = conditions.coerce(kind, raw)
    if (
        kind == "choice"
        and value is not None
        and spec is not None
        and value not in {choice for choice, _ in spec.choices}
    ):
        raise ValueError(f"{raw!r} is not one of {', '.join(c for c, _ in spec.choices)}")
    if kind == "text" and value is None:
        return ""
    return value


def settable_fields(object_type: str) -> list[conditions.FieldSpec]:
    """The fields a workflow may set on ``object_type`` (update fields, create a record)."""
    model = conditions.model_for(object_type)
    if model is None:
        return []
    return [
        spec
        for spec in conditions._model_specs(model).values()
        if spec.editable and spec.name not in ("owner", "id")
    ]


def _validate_update(
    config: dict[str, Any], object_type: str, source_type: str | None = None
) -> FieldErrors:
    """Errors of ``config["values"]`` for a record of ``object_type``; merge values read the
    triggering record, of ``source_type`` (the same type by default)."""
    model = conditions.model_for(object_type)
    values = config.get("values")
    if model is None:
        return {"values": "Updating fields needs a workflow on a record type."}
    if not isinstance(values, dict) or not values:
        return {"values": "Choose at least one field and its new value."}
    specs = conditions._model_specs(model)
    errors: FieldErrors = {}
    for name, raw in values.items():
        key = f"values.{name}"
        spec = specs.get(name)
        if not name:
            errors[key] = "Choose a field."
            continue
        if spec is None or not spec.editable or name in ("owner", "id"):
            errors[key] = f"{name!r} is not a field a workflow can set on {object_type}."
            continue
        if is_merge(raw):
            problem = validate_merge(raw, spec, source_type or object_type)
            if problem:
                errors[key] = f"{spec.label}: {problem}."
            continue
        try:
            _field_value(model, name, raw)
        except (ValueError, TypeError) as exc:
            errors[key] = f"{spec.label}: {exc}."
    return errors


# (actor, record, fields); the record is the app's own model, hence Any.
Updater = Callable[[Any, Any, dict[str, Any]], Any]


def _app_updaters() -> dict[str, Updater]:
    """Each app's own update service, so a workflow's writes keep the app's rules (stage
    moves, derived columns, search index); other records go through core.records."""
    from patron.activities.services import activity_update
    from patron.contacts.services import account_update, contact_update
    from patron.leads.services import lead_update
    from patron.orders.quote_services import quote_update
    from patron.pipeline.services import opportunity_update

    w = Via.WORKFLOW
    return {
        "contacts.account": lambda u, r, f: account_update(user=u, account=r, via=w, **f),
        "contacts.contact": lambda u, r, f: contact_update(user=u, contact=r, via=w, **f),
        "pipeline.opportunity": lambda u, r, f: opportunity_update(
            user=u, opportunity=r, via=w, **f
        ),
        "orders.quote": lambda u, r, f: quote_update(user=u, quote=r, via=w, **f),
        "leads.lead": lambda u, r, f: lead_update(user=u, lead=r, data=f, via=w),
        "activities.activity": lambda u, r, f: activity_update(user=u, activity=r, via=w, **f),
    }


def update_record(actor: Any, record: BusinessRecord, fields: dict[str, Any]) -> None:
    updater = _app_updaters().get(record.object_type())
    if updater is not None:
        updater(actor, record, fields)
    else:
        records.record_update(record, changes=fields, actor=actor, via=Via.WORKFLOW)


def _execute_update(ctx: StepContext) -> StepResult:
    record = require_record(ctx)
    model = type(record)
    try:
        values = {
            name: _field_value(model, name, raw)
            for name, raw in _resolved(ctx, model, ctx.config["values"]).items()
        }
    except ValueError as exc:
        raise StepError(f"A value no longer fits: {exc}.", retryable=False) from exc
    update_record(ctx.actor, record, values)
    return StepResult(output={"updated": sorted(values)})


def _value_words(ctx: StepContext, raw: Any) -> str:
    if not is_merge(raw):
        return repr(raw)
    try:
        value = resolve_merge(raw, ctx, "date" if raw.get("merge") == "today" else "text")
    except StepError as exc:
        return f"{merge_words(raw)} ({exc.message})"
    return f"{merge_words(raw)} ({value!r})" if ctx.record is not None else merge_words(raw)


def _describe_update(ctx: StepContext) -> str:
    pairs = ", ".join(
        f"{name} = {_value_words(ctx, value)}" for name, value in ctx.config["values"].items()
    )
    return f"Set {pairs} on {ctx.record}."


# ---------------------------------------------------------------- create_record / create_task


def _validate_create(config: dict[str, Any], object_type: str) -> FieldErrors:
    target = str(config.get("object_type") or "")
    model = conditions.model_for(target)
    if model is None:
        return {"object_type": f"Unknown record type {target!r}."}
    values = config.get("values")
    if not isinstance(values, dict):
        return {"values": 'Give the values as {"field": value}.'}
    if target == "activities.activity":
        kind = values.get("kind")
        if kind not in ("task", "note", "call", "appointment", "email"):
            return {"values.kind": "Choose the kind of activity: task, note, call, ..."}
    errors = _validate_update(
        {"values": {k: v for k, v in values.items() if k != "owner"}}, target, object_type
    )
    if errors:
        return errors
    missing = [
        field.name
        for field in model._meta.concrete_fields
        if not field.blank
        and not field.has_default()
        and not field.null
        and not field.primary_key
        and field.name not in values
        and field.name not in ("owner", "created_at", "updated_at", "occurred_at", "kind")
        and field.editable
    ]
    if missing:
        return {"values": f"Required fields missing: {', '.join(missing)}."}
    return {}


def _execute_create(ctx: StepContext) -> StepResult:
    done = effect(ctx)
    if done is not None:
        return StepResult(output={"created": done, "repeated": True})
    target = str(ctx.config["object_type"])
    model = conditions.model_for(target)
    if model is None:
        raise StepError(f"Unknown record type {target!r}.", retryable=False)
    values = _resolved(ctx, model, dict(ctx.config["values"]))
    owner = ctx.record.owner if ctx.record is not None else ctx.actor
    if target == "activities.activity":
        kind = values.pop("kind")
        fields = {name: _field_value(model, name, raw) for name, raw in values.items()}
        fields.setdefault("owner", owner)
        created = _create_activity(ctx, kind, fields)
    else:
        fields = {name: _field_value(model, name, raw) for name, raw in values.items()}
        instance = model(owner=owner, **fields)
        try:
            instance.full_clean(exclude=["owner", "team", "created_by", "deleted_by", "custom"])
        except Exception as exc:
            raise StepError(f"The new record is not valid: {exc}", retryable=False) from exc
        created = records.record_create(instance, actor=ctx.actor, via=Via.WORKFLOW)
    remember(ctx, {"object_type": target, "id": created.pk})
    return StepResult(output={"created": {"object_type": target, "id": created.pk}})


def _create_activity(ctx: StepContext, kind: str, fields: dict[str, Any]) -> BusinessRecord:
    from patron.activities.services import activity_create

    links = []
    if ctx.record is not None:
        links.append({"object_type": ctx.record.object_type(), "id": ctx.record.pk})
    activity: BusinessRecord = activity_create(
        user=ctx.actor, kind=kind, links=links, via=Via.WORKFLOW, **fields
    )
    return activity


def _describe_create(ctx: StepContext) -> str:
    pairs = ", ".join(
        f"{name} = {_value_words(ctx, value)}" for name, value in ctx.config["values"].items()
    )
    return f"Create a {ctx.config['object_type']} with {pairs}."


def _validate_task(config: dict[str, Any], object_type: str) -> FieldErrors:
    errors = validate_recipient(config, "assignee")
    subject = config.get("subject")
    if not isinstance(subject, str) or not subject.strip():
        errors["subject"] = "Give the task a subject."
    else:
        errors.update(validate_template(subject, object_type, "subject"))
    due = config.get("due_in_days", 0)
    if isinstance(due, bool) or not isinstance(due, int) or not 0 <= due <= 3650:
        errors["due_in_days"] = "Give a whole number of days from 0 to 3650."
    if config.get("priority", "normal") not in ("low", "normal", "high"):
        errors["priority"] = "Choose low, normal or high."
    if not conditions.model_for(object_type):
        errors["assignee"] = "A task needs a workflow on a record type to link to."
    return errors


def _execute_task(ctx: StepContext) -> StepResult:
    done = effect(ctx)
    if done is not None:
        return StepResult(output={"task_id": done, "repeated": True})
    assignee = resolve_recipient(ctx, "assignee")
    due = timezone.now() + datetime.timedelta(days=int(ctx.config.get("due_in_days") or 0))
    task = _create_activity(
        ctx,
        "task",
        {
            "subject": render(ctx.config["subject"], ctx)[:300],
            "description": str(ctx.config.get("description") or ""),
            "owner": assignee,
            "assignee": assignee,
            "due_at": due,
            "priority": ctx.config.get("priority") or "normal",
        },
    )
    remember(ctx, task.pk)
    return StepResult(output={"task_id": task.pk, "assignee_id": assignee.pk})


def _describe_task(ctx: StepContext) -> str:
    return (
        f"Create the task {render(ctx.config['subject'], ctx)!r} for "
        f"{recipient_words(ctx, 'assignee')}, due in {ctx.config.get('due_in_days') or 0} day(s), "
        f"linked to {ctx.record}."
    )


# ---------------------------------------------------------------- send_email / notify


def _validate_email(config: dict[str, Any], object_type: str) -> FieldErrors:
    to = config.get("to")
    errors: FieldErrors = {}
    if to == "address":
        address = str(config.get("address") or "")
        if "@" not in address or " " in address.strip():
            errors["address"] = "Give one email address."
    else:
        errors.update(validate_recipient(config, "to"))
    for key in ("subject", "body"):
        if not str(config.get(key) or "").strip():
            errors[key] = "Required."
        else:
            errors.update(validate_template(config[key], object_type, key))
    return errors


def _email_target(ctx: StepContext) -> str:
    if ctx.config.get("to") == "address":
        return str(ctx.config["address"]).strip()
    return str(resolve_recipient(ctx, "to").email)


def _execute_email(ctx: StepContext) -> StepResult:
    done = effect(ctx)
    if done is not None:
        return StepResult(output={"sent_to": done, "repeated": True})
    target = _email_target(ctx)
    subject = render(ctx.config["subject"], ctx).replace("\n", " ")[:200]
    body = render(ctx.config["body"], ctx)
    # Marked first: the mark commits with the step, so a retry after a crash between the
    # send and the commit is the only way to send twice, never a plain retry.
    remember(ctx, target)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [target], fail_silently=False)
    except OSError as exc:
        raise StepError(f"The mail server refused: {exc}") from exc
    return StepResult(output={"sent_to": target, "subject": subject})


def _describe_email(ctx: StepContext) -> str:
    try:
        target = _email_target(ctx)
    except StepError as exc:
        target = f"nobody ({exc.message})"
    return f"Email {target}: {render(ctx.config['subject'], ctx)!r}."


def _validate_notify(config: dict[str, Any], object_type: str) -> FieldErrors:
    errors = validate_recipient(config)
    if not str(config.get("title") or "").strip():
        errors["title"] = "Required."
    else:
        errors.update(validate_template(config["title"], object_type, "title"))
    if config.get("body"):
        errors.update(validate_template(config["body"], object_type, "body"))
    return errors


def _execute_notify(ctx: StepContext) -> StepResult:
    person = resolve_recipient(ctx)
    notification, created = notification_send(
        user=person,
        kind="workflow",
        title=render(ctx.config["title"], ctx),
        body=render(str(ctx.config.get("body") or ""), ctx),
        dedupe_key=ctx.effect_key,
    )
    return StepResult(
        output={"user_id": person.pk, "notification_id": notification.pk, "new": created}
    )


def _describe_notify(ctx: StepContext) -> str:
    return f"Notify {recipient_words(ctx)}: {render(ctx.config['title'], ctx)!r}."


# ---------------------------------------------------------------- assign


def _validate_assign(config: dict[str, Any], object_type: str) -> FieldErrors:
    from patron.routing.registry import routables

    if object_type not in {spec.object_type for spec in routables()}:
        return {"mode": f"{object_type or 'This workflow'} is not routed by the routing engine."}
    mode = config.get("mode", "route")
    if mode == "route":
        return {}
    if mode != "reassign":
        return {"mode": "Choose route (by the rules) or reassign (to a user or queue)."}
    errors: FieldErrors = {}
    if not str(config.get("reason") or "").strip():
        errors["reason"] = "Say why the item is reassigned."
    if config.get("user_id") is None and config.get("queue_id") is None:
        errors["user_id"] = "Choose a user or a queue."
    elif config.get("user_id") is not None and _active_user(config.get("user_id")) is None:
        errors["user_id"] = "Choose an active user."
    return errors


def _execute_assign(ctx: StepContext) -> StepResult:
    from patron.routing.models import RoutingQueue
    from patron.routing.services import reassign_item, route_item

    record = require_record(ctx)
    if ctx.config.get("mode", "route") == "route":
        # route_item is idempotent itself: an item with an open assignment is left alone.
        outcome = route_item(item=record, actor=ctx.actor)
        return StepResult(output={"queued": outcome.queued, "decision_id": outcome.decision.pk})
    if effect(ctx) is not None:
        return StepResult(output={"repeated": True})
    queue = None
    if ctx.config.get("queue_id") is not None:
        queue = RoutingQueue.objects.filter(pk=ctx.config["queue_id"]).first()
    decision = reassign_item(
        item=record,
        actor=ctx.actor,
        reason=str(ctx.config["reason"]),
        user=_active_user(ctx.config.get("user_id")),
        queue=queue,
    )
    remember(ctx, decision.pk)
    return StepResult(output={"decision_id": decision.pk})


def _describe_assign(ctx: StepContext) -> str:
    if ctx.config.get("mode", "route") == "route":
        return f"Route {ctx.record} by the assignment rules."
    return f"Reassign {ctx.record} ({ctx.config.get('reason')})."


# ---------------------------------------------------------------- webhook


def _outbound() -> Any:
    # The webhooks part provides signed_request and validate_target_url in this module.
    return importlib.import_module("patron.automation.outbound_http")


def _validate_webhook(config: dict[str, Any], object_type: str) -> FieldErrors:
    url = str(config.get("url") or "")
    if not url:
        return {"url": "Give the URL to call."}
    try:
        message = _outbound().validate_target_url(url)
    except ImportError:
        message = None if url.startswith(("http://", "https://")) else "Use an http(s) URL."
    if message:
        return {"url": message}
    if not str(config.get("secret") or ""):
        return {"secret": "Give a secret the receiver verifies the signature with."}
    return {}


def _webhook_body(ctx: StepContext) -> bytes:
    record = ctx.record
    data = {
        "workflow": ctx.run.workflow.name if ctx.run is not None else "",
        "run_id": ctx.run.pk if ctx.run is not None else None,
        "step_id": ctx.step_id,
        "object_type": ctx.object_type,
        "object_id": record.pk if record is not None else None,
        "record": records.snapshot(record) if record is not None else None,
        "payload": ctx.payload,
    }
    return json.dumps(data, default=str, sort_keys=True).encode()


def _execute_webhook(ctx: StepContext) -> StepResult:
    if effect(ctx) is not None:
        return StepResult(output={"repeated": True})
    outbound = _outbound()
    url = str(ctx.config["url"])
    message = outbound.validate_target_url(url)
    if message:
        raise StepError(f"Refused target: {message}", retryable=False)
    result = outbound.signed_request(
        url=url,
        body=_webhook_body(ctx),
        secret=str(ctx.config["secret"]),
        extra_headers={"Idempotency-Key": ctx.effect_key},
    )
    output = {
        "status_code": result.status_code,
        "body_excerpt": result.body_excerpt,
        "duration_ms": result.duration_ms,
    }
    if result.status_code is None or not 200 <= result.status_code < 300:
        raise StepError(f"The target answered {result.status_code or result.error}.")
    remember(ctx, result.status_code)
    return StepResult(output=output)


def _describe_webhook(ctx: StepContext) -> str:
    return f"POST the record as signed JSON to {ctx.config['url']}."


# ---------------------------------------------------------------- wait and branch


def _duration(config: dict[str, Any]) -> datetime.timedelta | None:
    raw = config.get("duration")
    if not isinstance(raw, dict):
        return None
    parts = {key: raw.get(key, 0) for key in ("days", "hours", "minutes")}
    if set(raw) - set(parts) or any(
        isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in parts.values()
    ):
        return None
    return datetime.timedelta(**parts)


def _validate_wait(config: dict[str, Any], object_type: str) -> FieldErrors:
    if "duration" in config:
        span = _duration(config)
        if span is None or span <= datetime.timedelta(0):
            return {"duration": 'Give {"days": n, "hours": n, "minutes": n} (whole, positive).'}
        if span > datetime.timedelta(days=MAX_WAIT_DAYS):
            return {"duration": f"Wait at most {MAX_WAIT_DAYS} days."}
        return {}
    name = config.get("until_field")
    spec = conditions.field_spec(object_type, str(name)) if isinstance(name, str) else None
    if spec is None or spec.type not in ("date", "datetime") or "." in str(name):
        return {"until_field": "Give a duration or a date field of the record to wait for."}
    offset = config.get("offset_days", 0)
    if isinstance(offset, bool) or not isinstance(offset, int):
        return {"offset_days": "Give a whole number of days."}
    return {}


def wait_until(ctx: StepContext) -> datetime.datetime:
    now = ctx.now or timezone.now()
    span = _duration(ctx.config)
    if span is not None:
        return now + span
    value = conditions.resolve(require_record(ctx), str(ctx.config["until_field"]))
    if value is None:
        return now
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime.combine(value, datetime.time(9), tzinfo=datetime.UTC)
    return value + datetime.timedelta(days=int(ctx.config.get("offset_days") or 0))


def _execute_wait(ctx: StepContext) -> StepResult:
    until = wait_until(ctx)
    return StepResult(output={"until": until.isoformat()}, wait_until=until)


def _describe_wait(ctx: StepContext) -> str:
    return f"Wait until {wait_until(ctx):%Y-%m-%d %H:%M} UTC, then continue."


def _validate_branch(config: dict[str, Any], object_type: str) -> FieldErrors:
    # The nested step lists are validated by the definition validator (it knows the paths).
    errors = conditions.validate_conditions(config.get("conditions", {}), object_type)
    for key in ("then", "else"):
        if not isinstance(config.get(key, []), list):
            errors[key] = "Give a list of steps."
    return errors


def _execute_branch(ctx: StepContext) -> StepResult:
    changes = (ctx.payload or {}).get("changes") or {}
    taken = (
        "then" if conditions.evaluate(ctx.config.get("conditions"), ctx.record, changes) else "else"
    )
    return StepResult(output={"branch": taken}, branch=taken)


def _describe_branch(ctx: StepContext) -> str:
    changes = (ctx.payload or {}).get("changes") or {}
    taken = conditions.evaluate(ctx.config.get("conditions"), ctx.record, changes)
    words = conditions.describe_conditions(ctx.config.get("conditions"))
    return (
        f"If {words}: {'yes' if taken else 'no'}, so the {'then' if taken else 'else'} steps run."
    )


def register_builtin_steps() -> None:
    recipient = ConfigField("recipient", "Who", "select", required=True, choices=RECIPIENT_CHOICES)
    user = ConfigField("user_id", "User (when a named user)", "user")
    register_step_type(
        StepType(
            key="update_fields",
            label="Update fields",
            fields=(ConfigField("values", "New values", "values", required=True),),
            validate=_validate_update,
            execute=_execute_update,
            describe=_describe_update,
            needs_record=True,
        )
    )
    register_step_type(
        StepType(
            key="create_record",
            label="Create a record",
            fields=(
                ConfigField("object_type", "Record type", "select", required=True),
                ConfigField("values", "Values", "values", required=True),
            ),
            validate=_validate_create,
            execute=_execute_create,
            describe=_describe_create,
        )
    )
    register_step_type(
        StepType(
            key="create_task",
            label="Create a task",
            fields=(
                ConfigField("subject", "Subject", "template", required=True),
                ConfigField(
                    "assignee", "Assign to", "select", required=True, choices=RECIPIENT_CHOICES
                ),
                user,
                ConfigField("due_in_days", "Due in (days)", "number"),
                ConfigField(
                    "priority",
                    "Priority",
                    "select",
                    choices=(("low", "Low"), ("normal", "Normal"), ("high", "High")),
                ),
                ConfigField("description", "Description", "textarea"),
            ),
            validate=_validate_task,
            execute=_execute_task,
            describe=_describe_task,
            needs_record=True,
        )
    )
    register_step_type(
        StepType(
            key="send_email",
            label="Send an email",
            fields=(
                ConfigField(
                    "to",
                    "To",
                    "select",
                    required=True,
                    choices=(*RECIPIENT_CHOICES, ("address", "An email address")),
                ),
                user,
                ConfigField("address", "Address (when an email address)", "text"),
                ConfigField("subject", "Subject", "template", required=True),
                ConfigField("body", "Body", "template", required=True),
            ),
            validate=_validate_email,
            execute=_execute_email,
            describe=_describe_email,
        )
    )
    register_step_type(
        StepType(
            key="notify",
            label="Notify in the app",
            fields=(
                recipient,
                user,
                ConfigField("title", "Title", "template", required=True),
                ConfigField("body", "Text", "template"),
            ),
            validate=_validate_notify,
            execute=_execute_notify,
            describe=_describe_notify,
        )
    )
    register_step_type(
        StepType(
            key="assign",
            label="Assign through routing",
            fields=(
                ConfigField(
                    "mode",
                    "How",
                    "select",
                    choices=(
                        ("route", "By the assignment rules"),
                        ("reassign", "To a user or queue"),
                    ),
                ),
                user,
                ConfigField("queue_id", "Queue", "queue"),
                ConfigField("reason", "Reason (reassign)", "text"),
            ),
            validate=_validate_assign,
            execute=_execute_assign,
            describe=_describe_assign,
            needs_record=True,
        )
    )
    register_step_type(
        StepType(
            key="webhook",
            label="Call a webhook",
            fields=(
                ConfigField("url", "URL", "text", required=True),
                ConfigField("secret", "Signing secret", "text", required=True),
            ),
            validate=_validate_webhook,
            execute=_execute_webhook,
            describe=_describe_webhook,
        )
    )
    register_step_type(
        StepType(
            key="wait",
            label="Wait",
            fields=(
                ConfigField("duration", "For", "duration"),
                ConfigField("until_field", "Or until the date in", "field"),
                ConfigField("offset_days", "Days after that date", "number"),
            ),
            validate=_validate_wait,
            execute=_execute_wait,
            describe=_describe_wait,
        )
    )
    register_step_type(
        StepType(
            key="branch",
            label="Branch on a condition",
            fields=(
                ConfigField("conditions", "If", "conditions", required=True),
                ConfigField("then", "Then", "steps"),
                ConfigField("else", "Else", "steps"),
            ),
            validate=_validate_branch,
            execute=_execute_branch,
            describe=_describe_branch,
        )
    )
