"""The workflow engine's plug-in points: trigger types, step types and the event catalogue.

How to plug in (approvals, webhooks and any later app do this in ``AppConfig.ready``):

* A **step type** is a ``StepType`` registered with ``register_step_type``::

      register_step_type(StepType(
          key="start_approval",
          label="Start an approval process",
          fields=(ConfigField("process", "Approval process", "select", required=True,
                              choices=...),),
          validate=validate_start_approval,   # (config, object_type) -> {field: message}
          execute=execute_start_approval,     # (StepContext) -> StepResult, may raise StepError
          describe=describe_start_approval,   # (StepContext) -> str, NO side effects
      ))

  - ``validate(config, object_type)`` runs when a workflow is saved; it returns error messages
    keyed by config field name (the engine prefixes "steps[2].config."), never raises. A
    definition that validates must not crash at run time because of its shape.
  - ``execute(ctx)`` performs the step. It must be idempotent per ``ctx.effect_key`` (one
    key per run and step, the same on every retry): a retried step must find the effect it
    made the first time (dedupe keys, a lookup by the key stored in ``ctx.run.context``, ...)
    instead of making a second one. Raise ``StepError(message, retryable=True)`` for
    transient failures (the engine retries with backoff) and ``retryable=False`` for
    permanent ones (the run fails at once). Writes should pass ``via=Via.WORKFLOW`` and
    ``ctx.actor`` as the actor so the change log says a workflow did it.
  - ``describe(ctx)`` says in one sentence what the step would do to ``ctx.record`` (test
    mode). It must not write anything.
  - ``StepResult(output=...)`` is stored on the StepRun (JSON); ``wait_until`` pauses the run
    until then; ``branch`` ("then"/"else") is only used by the branch step.

* A **trigger type** is a ``TriggerType``; the built-in ones cover record events, named app
  events, dates, schedules, inbound webhooks and the manual button. ``event_names(config,
  object_type)`` lists the core.events names that may start the workflow (the engine indexes
  active versions by them, so other events cost nothing), ``matches(config, event, payload)``
  the finer test on one event.

* An **event** another app emits with ``core.events.emit`` is offered to workflow "event"
  triggers and webhook subscriptions once it is in the catalogue:
  ``register_event("quote.accepted", "Quote accepted", "orders.quote")``. Record events
  ("<model>.created|updated|deleted|restored") of every business object are registered by
  the automation app itself.

ConfigField kinds (what the builder renders): text, textarea, number, select, field (a field
of the workflow's object type), user, role, queue, template (text with {{ record.x }} merge
fields), duration (e.g. {"days": 2, "hours": 0}), json, steps (a nested step list), conditions
(a condition tree).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patron.automation.models import WorkflowRun
    from patron.core.models import BusinessRecord

CONFIG_FIELD_KINDS = frozenset(
    {
        "text",
        "textarea",
        "number",
        "select",
        "field",
        "user",
        "role",
        "queue",
        "template",
        "duration",
        "json",
        "values",
        "steps",
        "conditions",
    }
)

FieldErrors = dict[str, str]


@dataclass(frozen=True)
class ConfigField:
    """One setting of a trigger or step, as the builder shows it."""

    name: str
    label: str
    kind: str
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    help_text: str = ""
    dynamic_choices: Callable[[str], list[tuple[str, str]]] | None = None

    def __post_init__(self) -> None:
        if self.kind not in CONFIG_FIELD_KINDS:
            raise ValueError(f"Unknown config field kind {self.kind!r} for {self.name!r}.")

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "required": self.required,
            "choices": [list(choice) for choice in self.choices],
            "help_text": self.help_text,
        }


class StepError(Exception):
    """A step could not do its work; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass
class StepContext:
    """Everything a step sees: the run, its own config and the record the run is about.

    ``record`` is None for workflows without an object type (schedule, inbound webhook) and
    when the record was deleted. ``payload`` is the triggering event's payload or the inbound
    webhook's JSON body. ``is_test`` is True in test mode, where only ``describe`` is called.
    """

    step_id: str
    step_type: str
    config: dict[str, Any]
    object_type: str
    record: BusinessRecord | None
    actor: Any
    run: WorkflowRun | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    is_test: bool = False
    now: datetime.datetime | None = None

    @property
    def effect_key(self) -> str:
        """The same for every attempt of this step in this run: the idempotency key of the
        step's external effect (an email, a task, a notification)."""
        run_id = self.run.pk if self.run is not None else "test"
        return f"workflow-run:{run_id}:{self.step_id}"


@dataclass
class StepResult:
    output: dict[str, Any] = field(default_factory=dict)
    # Pause the run until then (wait steps); the scheduler resumes it.
    wait_until: datetime.datetime | None = None
    # Branch steps: which nested list runs next ("then" or "else").
    branch: str | None = None


def _no_errors(config: dict[str, Any], object_type: str) -> FieldErrors:
    return {}


@dataclass(frozen=True)
class StepType:
    key: str
    label: str
    fields: tuple[ConfigField, ...]
    execute: Callable[[StepContext], StepResult]
    describe: Callable[[StepContext], str]
    validate: Callable[[dict[str, Any], str], FieldErrors] = _no_errors
    description: str = ""
    # Whether the step needs a record (an object type on the workflow) to make sense.
    needs_record: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "description": self.description,
            "needs_record": self.needs_record,
            "fields": [f.as_dict() for f in self.fields],
        }


def _no_events(config: dict[str, Any], object_type: str) -> tuple[str, ...]:
    return ()


def _no_conditions(config: dict[str, Any]) -> dict[str, Any]:
    return {}


def _always(config: dict[str, Any], event: str, payload: dict[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class TriggerType:
    key: str
    label: str
    fields: tuple[ConfigField, ...] = ()
    validate: Callable[[dict[str, Any], str], FieldErrors] = _no_errors
    # The core.events names that may start a workflow with this trigger (indexed).
    event_names: Callable[[dict[str, Any], str], tuple[str, ...]] = _no_events
    matches: Callable[[dict[str, Any], str, dict[str, Any]], bool] = _always
    # Extra conditions the trigger adds once the record is loaded (field_changed from/to).
    conditions: Callable[[dict[str, Any]], dict[str, Any]] = _no_conditions
    needs_object_type: bool = True
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "description": self.description,
            "needs_object_type": self.needs_object_type,
            "fields": [f.as_dict() for f in self.fields],
        }


@dataclass(frozen=True)
class EventInfo:
    name: str
    label: str
    # The record type whose pk the payload carries as "pk" ("" when none).
    object_type: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "label": self.label, "object_type": self.object_type}


_step_types: dict[str, StepType] = {}
_trigger_types: dict[str, TriggerType] = {}
_events: dict[str, EventInfo] = {}


def register_step_type(step_type: StepType) -> None:
    """Offer ``step_type`` to workflows (a second registration of the key replaces it)."""
    _step_types[step_type.key] = step_type


def register_trigger_type(trigger_type: TriggerType) -> None:
    _trigger_types[trigger_type.key] = trigger_type


def register_event(name: str, label: str, object_type: str = "") -> None:
    """Add a named event (what ``core.events.emit`` sends) to the catalogue."""
    _events[name] = EventInfo(name=name, label=label, object_type=object_type)


def step_types() -> list[StepType]:
    return list(_step_types.values())


def step_type(key: str) -> StepType | None:
    return _step_types.get(key)


def trigger_types() -> list[TriggerType]:
    return list(_trigger_types.values())


def trigger_type(key: str) -> TriggerType | None:
    return _trigger_types.get(key)


def events_catalogue() -> list[EventInfo]:
    return sorted(_events.values(), key=lambda info: info.name)


def event_info(name: str) -> EventInfo | None:
    return _events.get(name)
