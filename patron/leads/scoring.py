"""Lead scoring by rules: fit (a condition on a lead field) and behaviour (points per event
such as a logged call, later an opened email or a web visit), plus the learned model's
probability (scoring_model.py), with an explanation of every point.

Apps above leads (email marketing, web analytics) add behaviour event types with
``register_behaviour_source`` and report events with ``behaviour_record``; nothing here
changes. ``BehaviourEvent`` is unique per lead and source key, so a replayed event scores
once. Scores are derived values: they are written with a plain UPDATE that neither bumps the
lead's version (no edit conflict for a user with the lead open) nor emits an event (no
rescoring loop).
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from patron.activities.choices import ActivityKind
from patron.activities.models import Activity, ActivityLink
from patron.core import events
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.jobs import enqueue, job_progress
from patron.core.models import Job
from patron.core.visibility import Principal, require_admin
from patron.leads.choices import ScoringKind
from patron.leads.models import BehaviourEvent, Lead, ScoringRule
from patron.leads.policy_services import RESCORE_TASK, lead_settings, open_leads
from patron.leads.scoring_model import current_model, model_explain, score_model_fit
from patron.leads.scoring_sources import (
    ACTIVITY_SOURCES,
    behaviour_counts,
    behaviour_label,
    behaviour_sources,
    is_behaviour_source,
    register_behaviour_source,
)

SCORING_ADMIN_ONLY = "Only administrators may change scoring rules."

RESCORE_BATCH = 500


# --- fit rules: fields and operators ----------------------------------------------------------

TEXT_OPERATORS = ("eq", "ne", "in", "contains", "is_empty", "is_not_empty")
NUMBER_OPERATORS = ("eq", "ne", "in", "gt", "gte", "lt", "lte", "is_empty", "is_not_empty")
CHOICE_OPERATORS = ("eq", "ne", "in", "is_empty", "is_not_empty")
BOOLEAN_OPERATORS = ("eq", "ne")
ALL_OPERATORS = (*NUMBER_OPERATORS, "contains")
OPERATOR_LABELS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "contains": "contains",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
}
VALUELESS = frozenset({"is_empty", "is_not_empty"})
# Lead fields fit rules may test: what a person or their company is, not what Patron keeps.
FIT_FIELDS = (
    "title",
    "email",
    "phone",
    "mobile",
    "language",
    "company",
    "website",
    "domain",
    "industry",
    "employee_count",
    "annual_revenue",
    "city",
    "region",
    "postal_code",
    "country",
    "source",
    "campaign",
    "status",
    "email_opt_out",
    "opt_in_state",
)


@dataclass(frozen=True)
class FitField:
    name: str
    label: str
    kind: str  # text, number, choice, boolean
    choices: tuple[tuple[str, str], ...] = ()

    @property
    def operators(self) -> tuple[str, ...]:
        return {
            "text": TEXT_OPERATORS,
            "number": NUMBER_OPERATORS,
            "choice": CHOICE_OPERATORS,
            "boolean": BOOLEAN_OPERATORS,
        }[self.kind]


def _fit_field(name: str) -> FitField:
    model_field = Lead._meta.get_field(name)
    assert isinstance(model_field, models.Field)
    label = str(model_field.verbose_name).capitalize()
    if model_field.choices:
        choices = tuple((str(v), str(lbl)) for v, lbl in model_field.flatchoices)
        return FitField(name, label, "choice", choices)
    if isinstance(model_field, models.BooleanField):
        return FitField(name, label, "boolean")
    if isinstance(model_field, models.IntegerField | models.DecimalField | models.FloatField):
        return FitField(name, label, "number")
    return FitField(name, label, "text")


def fit_fields() -> dict[str, FitField]:
    return {name: _fit_field(name) for name in FIT_FIELDS}


# --- validating rules -------------------------------------------------------------------------

RULE_FIELDS = (
    "name",
    "kind",
    "field",
    "operator",
    "value",
    "event_type",
    "points",
    "max_points",
    "is_active",
    "position",
)
POINTS_LIMIT = 1000


def _number(value: Any) -> decimal.Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = decimal.Decimal(str(value).strip().replace(",", ""))
    except decimal.InvalidOperation:
        return None
    return number if number.is_finite() else None


def _whole(value: Any, name: str, errors: dict[str, list[str]], *, low: int, high: int) -> int:
    number = _number(value)
    if number is None or number != number.to_integral_value():
        errors[name] = [f"Enter a whole number between {low} and {high}."]
        return 0
    if not low <= number <= high:
        errors[name] = [f"Enter a number between {low} and {high} (got {number})."]
        return 0
    return int(number)


def _clean_value(spec: FitField, operator: str, value: Any, errors: dict[str, list[str]]) -> Any:
    """The rule's value in the JSON form evaluation uses, or an error keyed ``value``."""
    if operator in VALUELESS:
        return None
    if operator == "in":
        items = value if isinstance(value, list) else str(value or "").split(",")
        cleaned = [_clean_value(spec, "eq", item, errors) for item in items]
        cleaned = [item for item in cleaned if item not in (None, "")]
        if not cleaned and "value" not in errors:
            errors["value"] = ["Give at least one value (a list, or text separated by commas)."]
        return cleaned
    if isinstance(value, list | dict):
        errors["value"] = [f"Give one value for “{OPERATOR_LABELS[operator]}”, not a list."]
        return None
    if spec.kind == "number":
        number = _number(value)
        if number is None:
            errors["value"] = [f"{spec.label} is a number: enter a number such as 50."]
            return None
        return int(number) if number == number.to_integral_value() else float(number)
    if spec.kind == "boolean":
        text = str(value).strip().lower()
        if text not in ("true", "false", "yes", "no", "1", "0"):
            errors["value"] = [f"{spec.label} is yes or no: enter true or false."]
            return None
        return text in ("true", "yes", "1")
    text = str(value if value is not None else "").strip()
    if not text:
        errors["value"] = [f"Enter the value to compare {spec.label.lower()} with."]
        return None
    if spec.kind == "choice":
        by_label = {label.lower(): key for key, label in spec.choices}
        keys = {key for key, _label in spec.choices}
        if text not in keys and text.lower() not in by_label:
            options = ", ".join(key for key, _label in spec.choices)
            errors["value"] = [f"{text!r} is not a {spec.label.lower()}; choose one of: {options}."]
            return None
        return text if text in keys else by_label[text.lower()]
    return text


def clean_rule(data: dict[str, Any], *, instance: ScoringRule | None = None) -> dict[str, Any]:
    """Validate a rule (the given fields over ``instance``'s); errors keyed by field."""
    errors: dict[str, list[str]] = {
        name: [f"Not a rule field; fields are: {', '.join(RULE_FIELDS)}."]
        for name in sorted(set(data) - set(RULE_FIELDS))
    }
    current: dict[str, Any] = {}
    if instance is not None:
        current = {name: getattr(instance, name) for name in RULE_FIELDS}
    merged = {**current, **data}
    cleaned: dict[str, Any] = {}
    name = str(merged.get("name") or "").strip()
    if not name:
        errors["name"] = ["Give the rule a name, e.g. “Works in software”."]
    elif len(name) > 150:
        errors["name"] = ["At most 150 characters."]
    cleaned["name"] = name
    kind = merged.get("kind")
    if kind not in ScoringKind.values:
        errors["kind"] = [f"Choose one of: {', '.join(ScoringKind.values)}."]
    cleaned["kind"] = kind
    cleaned["points"] = _whole(
        merged.get("points"), "points", errors, low=-POINTS_LIMIT, high=POINTS_LIMIT
    )
    if cleaned["points"] == 0 and "points" not in errors:
        errors["points"] = ["A rule must add or subtract points: enter a number other than 0."]
    cleaned["is_active"] = bool(merged.get("is_active", True))
    cleaned["position"] = _whole(merged.get("position") or 0, "position", errors, low=0, high=10**6)
    if kind == ScoringKind.FIT:
        _clean_fit(merged, cleaned, errors)
    elif kind == ScoringKind.BEHAVIOUR:
        _clean_behaviour(merged, cleaned, errors)
    if errors:
        raise ValidationFailed("The scoring rule was not saved: please correct it.", errors=errors)
    return cleaned


def _clean_fit(
    merged: dict[str, Any], cleaned: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    specs = fit_fields()
    field_name = str(merged.get("field") or "")
    spec = specs.get(field_name)
    if spec is None:
        errors["field"] = [
            f"{field_name!r} is not a lead field rules can test; choose one of: "
            + ", ".join(specs)
            + "."
            if field_name
            else "Choose the lead field the rule tests."
        ]
        return
    operator = str(merged.get("operator") or "")
    if operator not in spec.operators:
        errors["operator"] = [
            f"{spec.label} can be tested with: " + ", ".join(spec.operators) + "."
        ]
        return
    cleaned.update(
        field=field_name,
        operator=operator,
        value=_clean_value(spec, operator, merged.get("value"), errors),
        event_type="",
        max_points=None,
    )


def _clean_behaviour(
    merged: dict[str, Any], cleaned: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    event_type = str(merged.get("event_type") or "")
    if not is_behaviour_source(event_type):
        known = ", ".join(s.event_type for s in behaviour_sources())
        errors["event_type"] = [
            f"{event_type!r} is not a behaviour Patron records; choose one of: {known}."
            if event_type
            else f"Choose the behaviour that scores: {known}."
        ]
    cap = merged.get("max_points")
    max_points = None
    if cap not in (None, ""):
        max_points = _whole(cap, "max_points", errors, low=1, high=100 * POINTS_LIMIT)
        points = cleaned.get("points") or 0
        if "max_points" not in errors and abs(points) > max_points:
            errors["max_points"] = [
                f"The cap ({max_points}) is below one event's points ({abs(points)})."
            ]
    cleaned.update(field="", operator="", value=None, event_type=event_type, max_points=max_points)


# --- rule services (administrators) ----------------------------------------------------------


def scoring_rule_get(*, pk: Any) -> ScoringRule:
    rule = ScoringRule.objects.filter(pk=pk).first() if str(pk).isdigit() else None
    if rule is None:
        raise RecordNotFound(f"No scoring rule with id {pk}.")
    return rule


def scoring_rule_create(*, user: Principal, data: dict[str, Any]) -> ScoringRule:
    require_admin(user, SCORING_ADMIN_ONLY)
    rule = ScoringRule(**clean_rule(data))
    rule.save()
    _rescore_later()
    return rule


def scoring_rule_update(*, user: Principal, rule: ScoringRule, data: dict[str, Any]) -> ScoringRule:
    require_admin(user, SCORING_ADMIN_ONLY)
    for name, value in clean_rule(data, instance=rule).items():
        setattr(rule, name, value)
    rule.save()
    _rescore_later()
    return rule


def scoring_rule_delete(*, user: Principal, rule: ScoringRule) -> None:
    require_admin(user, SCORING_ADMIN_ONLY)
    rule.delete()
    _rescore_later()


def _rescore_later() -> None:
    enqueue(RESCORE_TASK)


# --- evaluating -------------------------------------------------------------------------------


def _comparable(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().casefold()
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | decimal.Decimal):
        return decimal.Decimal(str(value))
    return value


def fit_rule_holds(rule: ScoringRule, lead: Lead) -> bool:
    actual = getattr(lead, rule.field, None)
    empty = actual is None or actual == ""
    operator = rule.operator
    if operator == "is_empty":
        return empty
    if operator == "is_not_empty":
        return not empty
    if operator == "ne":
        return empty or _comparable(actual) != _comparable(rule.value)
    if empty:
        return False
    left = _comparable(actual)
    if operator == "eq":
        return bool(left == _comparable(rule.value))
    if operator == "in":
        return left in {_comparable(item) for item in (rule.value or [])}
    if operator == "contains":
        return str(_comparable(rule.value)) in str(left)
    right = _comparable(rule.value)
    if not isinstance(left, decimal.Decimal) or not isinstance(right, decimal.Decimal):
        return False
    return {
        "gt": left > right,
        "gte": left >= right,
        "lt": left < right,
        "lte": left <= right,
    }.get(operator, False)


def describe_rule(rule: ScoringRule) -> str:
    """The rule's condition in words: "Industry is one of software, saas"."""
    if rule.kind == ScoringKind.BEHAVIOUR:
        cap = f", at most {rule.max_points}" if rule.max_points else ""
        return f"{behaviour_label(rule.event_type)}: {rule.points:+d} each{cap}"
    spec = fit_fields().get(rule.field)
    label = spec.label if spec else rule.field
    verb = OPERATOR_LABELS.get(rule.operator, rule.operator)
    if rule.operator in VALUELESS:
        return f"{label} {verb}"
    value = ", ".join(map(str, rule.value)) if isinstance(rule.value, list) else rule.value
    return f"{label} {verb} {value}"


@dataclass
class ScoreResult:
    fit: int = 0
    behaviour: int = 0
    probability: float | None = None
    rules: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[dict[str, Any]] = field(default_factory=list)
    model_id: int | None = None
    hot_score: int | None = None

    @property
    def total(self) -> int:
        return self.fit + self.behaviour

    @property
    def is_hot(self) -> bool:
        return self.hot_score is not None and self.total >= self.hot_score

    def explanation(self) -> dict[str, Any]:
        return {
            "rules": self.rules,
            "model": self.reasons,
            "model_id": self.model_id,
            "hot": self.is_hot,
        }


def score_compute(
    lead: Lead,
    *,
    rules: list[ScoringRule],
    counts: dict[str, int],
    model: Any = None,
    hot_score: int | None = None,
) -> ScoreResult:
    """The score of ``lead`` and why, from loaded rules, its event counts and the model;
    ``hot_score`` (the settings' threshold) decides whether it counts as hot."""
    result = ScoreResult(hot_score=hot_score)
    for rule in rules:
        if rule.kind == ScoringKind.FIT:
            if not fit_rule_holds(rule, lead):
                continue
            points, detail = rule.points, describe_rule(rule)
            result.fit += points
        else:
            n = counts.get(rule.event_type, 0)
            if not n:
                continue
            raw = rule.points * n
            points = raw
            if rule.max_points is not None and abs(raw) > rule.max_points:
                points = rule.max_points if raw > 0 else -rule.max_points
            capped = " (capped)" if points != raw else ""
            times = "once" if n == 1 else f"{n} times"
            detail = f"{behaviour_label(rule.event_type)} {times}, {rule.points:+d} each{capped}"
            result.behaviour += points
        result.rules.append(
            {
                "rule_id": rule.pk,
                "label": rule.name,
                "kind": rule.kind,
                "points": points,
                "detail": detail,
            }
        )
    if model is not None:
        result.model_id = model.pk
        result.probability, result.reasons = model_explain(model, lead, counts)
    return result


def active_rules() -> list[ScoringRule]:
    return list(ScoringRule.objects.filter(is_active=True).order_by("position", "id"))


def _write(lead_id: int, result: ScoreResult) -> None:
    Lead.all_objects.filter(pk=lead_id).update(
        score=result.total,
        score_fit=result.fit,
        score_behaviour=result.behaviour,
        score_probability=result.probability,
        score_explanation=result.explanation(),
    )


def lead_score_refresh(*, lead: Lead) -> ScoreResult:
    """Score ``lead`` now and store the score with its explanation."""
    counts = behaviour_counts([lead.pk]).get(lead.pk, {})
    result = score_compute(
        lead,
        rules=active_rules(),
        counts=counts,
        model=current_model(),
        hot_score=lead_settings().hot_score,
    )
    _write(lead.pk, result)
    lead.score, lead.score_fit, lead.score_behaviour = result.total, result.fit, result.behaviour
    lead.score_probability, lead.score_explanation = result.probability, result.explanation()
    return result


def leads_rescore(
    *, batch: int = RESCORE_BATCH, on_batch: Callable[[int], None] | None = None
) -> int:
    """Rescore every open lead (after rules or the model change); the number scored.

    ``on_batch`` is told the running count after each batch (a job's progress bar)."""
    rules, model, hot_score = active_rules(), current_model(), lead_settings().hot_score
    done, last_id = 0, 0
    while True:
        leads = list(open_leads(Lead.objects.filter(pk__gt=last_id)).order_by("pk")[:batch])
        if not leads:
            return done
        counts = behaviour_counts(lead.pk for lead in leads)
        # One short UPDATE per lead in one transaction per batch: measured faster than a
        # bulk_update's CASE expression over five columns.
        with transaction.atomic():
            for lead in leads:
                result = score_compute(
                    lead,
                    rules=rules,
                    counts=counts.get(lead.pk, {}),
                    model=model,
                    hot_score=hot_score,
                )
                _write(lead.pk, result)
        done += len(leads)
        last_id = leads[-1].pk
        if on_batch is not None:
            on_batch(done)


def score_model_refit(*, job: Job | None = None) -> str:
    """Learn the model, then rescore the open leads; ``job`` shows each step's progress."""
    if job is not None:
        job_progress(job, done=0, message="Learning the score model from the leads' history.")
    outcome = score_model_fit()
    if outcome.model is None:
        return outcome.message
    if job is None:
        leads_rescore()
        return outcome.message
    total = open_leads(Lead.objects.all()).count()
    job_progress(job, done=0, total=total, message="Scoring the open leads with the new model.")
    leads_rescore(on_batch=lambda done: job_progress(job, done=done, total=total))
    return outcome.message


# --- behaviour events -------------------------------------------------------------------------


def behaviour_record(
    *, lead: Lead, event_type: str, source_key: str, occurred_at: Any = None
) -> bool:
    """Count one behaviour of ``lead`` and rescore it; False when ``source_key`` was already
    counted (a replayed or redelivered event scores once)."""
    if not is_behaviour_source(event_type):
        raise ValidationFailed(
            "Unknown behaviour.",
            errors={"event_type": [f"{event_type!r} is not a registered behaviour source."]},
        )
    try:
        with transaction.atomic():
            BehaviourEvent.objects.create(
                lead=lead,
                event_type=event_type,
                source_key=source_key[:150],
                occurred_at=occurred_at or timezone.now(),
            )
    except IntegrityError:
        return False
    lead_score_refresh(lead=lead)
    return True


def on_activity_event(event: str, payload: dict[str, Any]) -> None:
    """A call, email, meeting or note logged on a lead is behaviour of that lead."""
    activity = Activity.objects.filter(pk=int(payload["pk"])).first()
    if activity is None or activity.kind == ActivityKind.TASK:
        return
    lead_ct = ContentType.objects.get_for_model(Lead)
    if event == "activity.linked":
        if payload.get("object_type") != Lead.object_type():
            return
        lead_ids = [int(payload["object_id"])]
    else:
        lead_ids = list(
            ActivityLink.objects.filter(activity=activity, content_type=lead_ct).values_list(
                "object_id", flat=True
            )
        )
    for lead in Lead.objects.filter(pk__in=lead_ids):
        behaviour_record(
            lead=lead,
            event_type=f"activity.{activity.kind}",
            source_key=f"activity:{activity.pk}",
            occurred_at=activity.occurred_at,
        )


def on_lead_saved(event: str, payload: dict[str, Any]) -> None:
    lead = Lead.objects.filter(pk=int(payload["pk"])).first()
    if lead is not None and lead.converted_at is None:
        lead_score_refresh(lead=lead)


def connect() -> None:
    for source in ACTIVITY_SOURCES:
        register_behaviour_source(source)
    for event in ("activity.created", "activity.linked"):
        events.subscribe(event, on_activity_event)
    for event in ("lead.created", "lead.updated"):
        events.subscribe(event, on_lead_saved)
