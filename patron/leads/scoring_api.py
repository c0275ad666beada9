"""Lead scoring in /api/v1/ (mounted through policy_api's router):

- ``GET /leads/{id}/score``: a lead's score and its explanation;
- ``GET/POST /lead-scoring/rules``, ``GET/PATCH/DELETE /lead-scoring/rules/{id}``;
- ``GET /lead-scoring/behaviours``: the behaviour event types rules can score;
- ``GET /lead-scoring/model`` and ``POST /lead-scoring/model/refit``.

Reading a score needs read access to the lead; rules and the model are for administrators
(reading the rules too, since they are the organisation's sales policy).
No ``from __future__ import annotations``: Ninja reads the annotations.
"""

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.core.api.auth import request_admin, request_user
from patron.core.api.problems import problem_responses
from patron.core.jobs import job_start
from patron.leads.models import ScoringRule
from patron.leads.policy_services import lead_settings
from patron.leads.scoring import (
    describe_rule,
    scoring_rule_create,
    scoring_rule_delete,
    scoring_rule_get,
    scoring_rule_update,
)
from patron.leads.scoring_model import MIN_PER_CLASS, current_model, history
from patron.leads.scoring_sources import behaviour_sources
from patron.leads.selectors import lead_get
from patron.leads.tasks import REFIT_JOB_KIND, REFIT_JOB_TASK

SCORING_ADMIN_ONLY = "Only administrators may see and change scoring rules and the model."

router = Router(tags=["Lead scoring"])

_ADMIN = "Administrators only (403 otherwise)."


class FiredRule(Schema):
    rule_id: int | None
    label: str
    kind: str
    points: int
    detail: str = Field(description="The condition, or how often the behaviour happened.")


class Reason(Schema):
    feature: str
    label: str = Field(description="The feature in words.")
    effect: float = Field(description="Its contribution to the log-odds (coefficient x value).")
    direction: str = Field(description="raises or lowers the chance.")


class ScoreOut(Schema):
    lead: int
    score: int = Field(description="fit + behaviour.")
    fit: int
    behaviour: int
    is_hot: bool = Field(description="score >= the settings' hot_score.")
    probability: float | None = Field(
        description="The learned model's chance that the lead converts (null: no model yet)."
    )
    rules: list[FiredRule]
    reasons: list[Reason] = Field(description="The model's top reasons, largest first.")


@router.get(
    "/leads/{int:lead_id}/score",
    response={200: ScoreOut, **problem_responses(401, 403, 404)},
    summary="A lead's score and why",
    description="The rules that fired with their points, and the model's probability with its "
    "top reasons. A lead you cannot see is a 404.",
    operation_id="lead_score_get",
)
def score_get(request: HttpRequest, lead_id: int) -> dict[str, Any]:
    lead = lead_get(user=request_user(request), pk=lead_id)
    explanation = lead.score_explanation or {}
    return {
        "lead": lead.pk,
        "score": lead.score,
        "fit": lead.score_fit,
        "behaviour": lead.score_behaviour,
        "is_hot": lead.score >= lead_settings().hot_score,
        "probability": lead.score_probability,
        "rules": explanation.get("rules") or [],
        "reasons": explanation.get("model") or [],
    }


class RuleOut(Schema):
    id: int
    name: str
    kind: str
    field: str
    operator: str
    value: Any
    event_type: str
    points: int
    max_points: int | None
    is_active: bool
    position: int
    description: str = Field(description="The rule in words.")


class RuleInput(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=150)
    kind: str = Field(description="fit or behaviour.")
    field: str = Field("", description="Fit: a lead field (see the rule editor's list).")
    operator: str = Field(
        "",
        description="Fit: eq, ne, in, contains, gt, gte, lt, lte, is_empty or is_not_empty "
        "(those the field's type allows).",
    )
    value: Any = Field(None, description="Fit: the value to compare with; a list for in.")
    event_type: str = Field("", description="Behaviour: see GET /lead-scoring/behaviours.")
    points: int = Field(description="-1000 to 1000, not 0.")
    max_points: int | None = Field(None, description="Behaviour: the most points it can give.")
    is_active: bool = True
    position: int = Field(0, ge=0)


class RulePatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    kind: str | None = None
    field: str | None = None
    operator: str | None = None
    value: Any = None
    event_type: str | None = None
    points: int | None = None
    max_points: int | None = None
    is_active: bool | None = None
    position: int | None = Field(None, ge=0)


def _rule_out(rule: ScoringRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "name": rule.name,
        "kind": rule.kind,
        "field": rule.field,
        "operator": rule.operator,
        "value": rule.value,
        "event_type": rule.event_type,
        "points": rule.points,
        "max_points": rule.max_points,
        "is_active": rule.is_active,
        "position": rule.position,
        "description": describe_rule(rule),
    }


@router.get(
    "/lead-scoring/rules",
    response={200: list[RuleOut], **problem_responses(401, 403)},
    summary="List the scoring rules",
    description="In evaluation order. " + _ADMIN,
    operation_id="scoring_rule_list",
)
def rules_list(request: HttpRequest) -> list[dict[str, Any]]:
    request_admin(request, SCORING_ADMIN_ONLY)
    return [_rule_out(rule) for rule in ScoringRule.objects.order_by("position", "id")]


@router.post(
    "/lead-scoring/rules",
    response={201: RuleOut, **problem_responses(400, 401, 403, 422)},
    summary="Add a scoring rule",
    description="Validated against the lead's fields and the registered behaviours; open "
    "leads are scored again in the background. " + _ADMIN,
    operation_id="scoring_rule_create",
)
def rules_create(request: HttpRequest, payload: RuleInput) -> Status[dict[str, Any]]:
    rule = scoring_rule_create(
        user=request_admin(request, SCORING_ADMIN_ONLY), data=payload.model_dump()
    )
    return Status(201, _rule_out(rule))


@router.get(
    "/lead-scoring/rules/{int:rule_id}",
    response={200: RuleOut, **problem_responses(401, 403, 404)},
    summary="Read a scoring rule",
    description=_ADMIN,
    operation_id="scoring_rule_get",
)
def rules_get(request: HttpRequest, rule_id: int) -> dict[str, Any]:
    request_admin(request, SCORING_ADMIN_ONLY)
    return _rule_out(scoring_rule_get(pk=rule_id))


@router.patch(
    "/lead-scoring/rules/{int:rule_id}",
    response={200: RuleOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Change a scoring rule",
    description="Only the fields sent change; the whole rule is validated again. " + _ADMIN,
    operation_id="scoring_rule_update",
)
def rules_update(request: HttpRequest, rule_id: int, payload: RulePatch) -> dict[str, Any]:
    user = request_admin(request, SCORING_ADMIN_ONLY)
    rule = scoring_rule_get(pk=rule_id)
    data = payload.model_dump(include=payload.model_fields_set)
    return _rule_out(scoring_rule_update(user=user, rule=rule, data=data))


@router.delete(
    "/lead-scoring/rules/{int:rule_id}",
    response={204: None, **problem_responses(401, 403, 404)},
    summary="Delete a scoring rule",
    description="Open leads are scored again without it. " + _ADMIN,
    operation_id="scoring_rule_delete",
)
def rules_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    user = request_admin(request, SCORING_ADMIN_ONLY)
    scoring_rule_delete(user=user, rule=scoring_rule_get(pk=rule_id))
    return HttpResponse(status=204)


class BehaviourOut(Schema):
    event_type: str
    label: str


@router.get(
    "/lead-scoring/behaviours",
    response={200: list[BehaviourOut], **problem_responses(401, 403)},
    summary="List the behaviours rules can score",
    description="Event types registered by Patron's apps (activities now; email and web "
    "events when those apps are installed). " + _ADMIN,
    operation_id="scoring_behaviour_list",
)
def behaviours_list(request: HttpRequest) -> list[dict[str, str]]:
    request_admin(request, SCORING_ADMIN_ONLY)
    return [{"event_type": s.event_type, "label": s.label} for s in behaviour_sources()]


class ModelWeight(Schema):
    feature: str
    label: str
    coefficient: float


class ModelOut(Schema):
    has_model: bool
    message: str = Field(description="Whether there is enough history, in words.")
    trained_at: datetime.datetime | None
    sample_count: int | None
    converted_count: int | None
    disqualified_count: int | None
    metrics: dict[str, Any]
    intercept: float | None
    weights: list[ModelWeight] = Field(description="Features by the size of their weight.")
    history_converted: int
    history_disqualified: int
    min_per_class: int


@router.get(
    "/lead-scoring/model",
    response={200: ModelOut, **problem_responses(401, 403)},
    summary="The learned score model's status",
    description="The current model (if any), what it learned from, its cross-validated ROC "
    "AUC and weights, and how much history there is now. " + _ADMIN,
    operation_id="score_model_get",
)
def model_get(request: HttpRequest) -> dict[str, Any]:
    request_admin(request, SCORING_ADMIN_ONLY)
    model, known = current_model(), history()
    weights = []
    if model is not None:
        weights = sorted(
            (
                {"feature": name, "label": spec["label"], "coefficient": spec["coefficient"]}
                for name, spec in model.features.items()
            ),
            key=lambda w: abs(float(w["coefficient"])),
            reverse=True,
        )
    return {
        "has_model": model is not None,
        "message": known.message,
        "trained_at": model.trained_at if model else None,
        "sample_count": model.sample_count if model else None,
        "converted_count": model.converted_count if model else None,
        "disqualified_count": model.disqualified_count if model else None,
        "metrics": model.metrics if model else {},
        "intercept": model.intercept if model else None,
        "weights": weights,
        "history_converted": known.converted,
        "history_disqualified": known.disqualified,
        "min_per_class": MIN_PER_CLASS,
    }


class RefitOut(Schema):
    job: int = Field(
        description="The id of the background job (its page in Patron shows the outcome)."
    )
    message: str


@router.post(
    "/lead-scoring/model/refit",
    response={202: RefitOut, **problem_responses(401, 403)},
    summary="Learn the score model again now",
    description="Starts a background job that learns the model from the leads' history and "
    "scores open leads again; with too little history the job says so and keeps the current "
    "model. " + _ADMIN,
    operation_id="score_model_refit",
)
def model_refit(request: HttpRequest) -> Status[dict[str, Any]]:
    user = request_admin(request, SCORING_ADMIN_ONLY)
    job = job_start(kind=REFIT_JOB_KIND, user=user, params={}, task_name=REFIT_JOB_TASK)
    return Status(202, {"job": job.pk, "message": history().message})
