"""The sales resources of /api/v1/: opportunities (standard record routes, shares, the move
and the stage history) and the sales configuration (pipelines with stages, loss reasons,
exchange rates; writes for administrators). Thin: selectors in, services out."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.core.api.auth import request_user
from patron.core.api.openapi import custom_field_schema
from patron.core.api.problems import problem_responses
from patron.core.api.records import expected_version
from patron.core.api.resources import (
    IF_MATCH,
    READ_ERRORS,
    WRITE_ERRORS,
    RecordResource,
    add_record_routes,
    record_response,
)
from patron.core.api.shares import add_share_routes
from patron.core.choices import Action, Via
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.models import ExchangeRate
from patron.pipeline import config_services as config
from patron.pipeline import selectors
from patron.pipeline.choices import ForecastCategory
from patron.pipeline.filters import OPPORTUNITY_SORTS, OpportunityFilter
from patron.pipeline.models import LossReason, Opportunity, Pipeline, Stage
from patron.pipeline.services import (
    opportunity_create,
    opportunity_delete,
    opportunity_move_stage,
    opportunity_update,
)
from patron.users.api import api_auth

router = Router(tags=["sales"], auth=api_auth("sales"))

ADMIN_WRITE_ERRORS = problem_responses(400, 401, 403, 404, 422)


# --- opportunities -------------------------------------------------------------------------


class OpportunityOut(Schema):
    id: int
    version: int
    name: str
    account: int | None = Field(description="The id of the account.")
    pipeline: int
    stage: int
    amount: Decimal | None
    currency: str
    amount_org: Decimal | None = Field(
        description="The amount in the organisation's currency at the rate on the close date."
    )
    close_date: datetime.date
    probability: int
    probability_is_manual: bool
    forecast_category: ForecastCategory
    next_step: str
    source: str
    description: str
    loss_reason: int | None
    loss_note: str
    engaged_on: datetime.date | None
    is_closed: bool
    is_won: bool
    closed_on: datetime.date | None
    stage_entered_at: datetime.datetime
    owner: int
    team: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    custom: dict[str, Any] = Field(json_schema_extra=custom_field_schema("pipeline.opportunity"))


class OpportunityInput(Schema):
    """Fields to set; on PATCH only the fields sent change. Unknown fields are refused.

    A new ``stage`` is a move: exit criteria are checked and the stage history records it.
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    account: int | None = Field(None, description="The id of the account.")
    pipeline: int | None = Field(None, description="Default: the default pipeline.")
    stage: int | None = Field(None, description="Default: the pipeline's first stage.")
    amount: Decimal | None = Field(None, description="Zero or more.")
    currency: str | None = Field(
        None, description="Three-letter code; default: the organisation's currency."
    )
    close_date: str | None = Field(
        None, description="YYYY-MM-DD.", json_schema_extra={"format": "date"}
    )
    probability: int | None = Field(None, description="0 to 100; null: the stage's.")
    forecast_category: ForecastCategory | None = None
    next_step: str | None = None
    source: str | None = None
    description: str | None = None
    loss_reason: int | None = None
    loss_note: str | None = None
    engaged_on: str | None = Field(
        None, description="YYYY-MM-DD.", json_schema_extra={"format": "date"}
    )
    owner: int | None = Field(None, description="The id of the owning user (default: you).")
    team: int | None = None
    custom: dict[str, Any] | None = Field(
        None, json_schema_extra=custom_field_schema("pipeline.opportunity")
    )


_OPPORTUNITY_FIELDS = tuple(
    name for name in OpportunityOut.model_fields if name not in {"id", "version", "custom"}
)

add_record_routes(
    router,
    RecordResource(
        prefix="/opportunities",
        noun="opportunity",
        plural="opportunities",
        model=Opportunity,
        out_schema=OpportunityOut,
        in_schema=OpportunityInput,
        fields=_OPPORTUNITY_FIELDS,
        list_selector=selectors.opportunity_list,
        get=selectors.opportunity_get,
        create=opportunity_create,
        update=opportunity_update,
        delete=opportunity_delete,
        filterset=OpportunityFilter,
        sorts=OPPORTUNITY_SORTS,
        default_sort="close_date",
    ),
)
add_share_routes(
    router, prefix="/opportunities", noun="opportunity", get_record=selectors.opportunity_get
)


class MoveInput(Schema):
    model_config = ConfigDict(extra="forbid")

    stage: int = Field(description="The id of a stage of the opportunity's pipeline.")
    loss_reason: int | None = Field(None, description="Required when the stage is lost.")
    loss_note: str = ""


@router.post(
    "/opportunities/{int:record_id}/move",
    response={200: OpportunityOut, **WRITE_ERRORS},
    summary="Move an opportunity to another stage",
    description=(
        "Checks the stage's exit criteria (a 422 lists what is missing), requires a loss "
        "reason for a lost stage and records the move in the stage history. Send If-Match "
        "to be sure nobody changed the opportunity since you read it (412 otherwise)."
    ),
    exclude_unset=True,
    operation_id="opportunity_move",
    openapi_extra={"parameters": [IF_MATCH]},
)
def opportunity_move(
    request: HttpRequest, record_id: int, payload: MoveInput, response: HttpResponse
) -> dict[str, Any]:
    user = request_user(request)
    opportunity = selectors.opportunity_get(user=user, pk=record_id, action=Action.UPDATE)
    version = expected_version(request, opportunity)
    stage = Stage.objects.select_related("pipeline").filter(pk=payload.stage).first()
    if stage is None:
        raise ValidationFailed(
            "The stage does not exist.", errors={"stage": [f"No stage with id {payload.stage}."]}
        )
    loss_reason = None
    if payload.loss_reason is not None:
        loss_reason = LossReason.objects.filter(pk=payload.loss_reason, active=True).first()
        if loss_reason is None:
            raise ValidationFailed(
                "The loss reason does not exist.",
                errors={"loss_reason": [f"No active loss reason with id {payload.loss_reason}."]},
            )
    moved = opportunity_move_stage(
        user=user,
        opportunity=opportunity,
        stage=stage,
        expected_version=version,
        loss_reason=loss_reason,
        loss_note=payload.loss_note,
        via=Via.API,
    )
    return record_response(response, moved, _OPPORTUNITY_FIELDS, user)


class StageHistoryOut(Schema):
    id: int
    from_stage: int | None
    from_stage_name: str | None
    to_stage: int
    to_stage_name: str
    changed_by: int | None
    changed_at: datetime.datetime
    seconds_in_from_stage: int | None
    amount: Decimal | None
    currency: str
    probability: int
    forecast_category: ForecastCategory
    close_date: datetime.date


@router.get(
    "/opportunities/{int:record_id}/stage-history",
    response={200: list[StageHistoryOut], **READ_ERRORS},
    summary="List an opportunity's stage moves, oldest first",
    operation_id="opportunity_stage_history",
)
def opportunity_stage_history(request: HttpRequest, record_id: int) -> list[dict[str, Any]]:
    opportunity = selectors.opportunity_get(user=request_user(request), pk=record_id)
    return [
        {
            "id": row.pk,
            "from_stage": row.from_stage_id,
            "from_stage_name": row.from_stage.name if row.from_stage else None,
            "to_stage": row.to_stage_id,
            "to_stage_name": row.to_stage.name,
            "changed_by": row.changed_by_id,
            "changed_at": row.changed_at,
            "seconds_in_from_stage": row.seconds_in_from_stage,
            "amount": row.amount,
            "currency": row.currency,
            "probability": row.probability,
            "forecast_category": row.forecast_category,
            "close_date": row.close_date,
        }
        for row in selectors.stage_history_list(opportunity=opportunity)
    ]


# --- pipelines and stages ----------------------------------------------------------------


class StageOut(Schema):
    id: int
    name: str
    position: int
    probability: int
    forecast_category: ForecastCategory
    expected_days: int | None
    active: bool
    is_closed: bool
    is_won: bool


class PipelineOut(Schema):
    id: int
    name: str
    description: str
    is_default: bool
    active: bool
    position: int
    stages: list[StageOut]


class PipelineInput(Schema):
    """On PATCH only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    is_default: bool | None = None
    active: bool | None = None
    position: int | None = Field(None, ge=0)


class StageInput(Schema):
    """On PATCH only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    probability: int | None = Field(None, description="0 to 100.")
    forecast_category: ForecastCategory | None = None
    expected_days: int | None = None
    active: bool | None = None
    position: int | None = Field(None, ge=0)


class StageOrderInput(Schema):
    model_config = ConfigDict(extra="forbid")

    stage_ids: list[int] = Field(description="Every stage of the pipeline once, in order.")


class StageDeleteParams(Schema):
    move_to: int | None = Field(
        None, description="The stage (same pipeline) that receives the stage's opportunities."
    )


def _stage_data(stage: Stage) -> dict[str, Any]:
    return {
        "id": stage.pk,
        "name": stage.name,
        "position": stage.position,
        "probability": stage.probability,
        "forecast_category": stage.forecast_category,
        "expected_days": stage.expected_days,
        "active": stage.active,
        "is_closed": stage.is_closed,
        "is_won": stage.is_won,
    }


def _pipeline_data(pipeline: Pipeline) -> dict[str, Any]:
    return {
        "id": pipeline.pk,
        "name": pipeline.name,
        "description": pipeline.description,
        "is_default": pipeline.is_default,
        "active": pipeline.active,
        "position": pipeline.position,
        "stages": [_stage_data(s) for s in pipeline.stages.all()],
    }


def _pipeline(pk: int) -> Pipeline:
    found = next((p for p in selectors.pipelines_with_stages() if p.pk == pk), None)
    if found is None:
        raise RecordNotFound(f"No pipeline with id {pk}.")
    return found


def _stage(pipeline_id: int, pk: int) -> Stage:
    stage = Stage.objects.select_related("pipeline").filter(pk=pk, pipeline_id=pipeline_id).first()
    if stage is None:
        raise RecordNotFound(f"Pipeline {pipeline_id} has no stage with id {pk}.")
    return stage


@router.get(
    "/pipelines",
    response={200: list[PipelineOut], **problem_responses(401, 403)},
    summary="List pipelines with their stages in order",
    operation_id="pipeline_list",
)
def pipeline_index(request: HttpRequest) -> list[dict[str, Any]]:
    return [_pipeline_data(p) for p in selectors.pipelines_with_stages()]


@router.get(
    "/pipelines/{int:pipeline_id}",
    response={200: PipelineOut, **READ_ERRORS},
    summary="Get a pipeline with its stages",
    operation_id="pipeline_get",
)
def pipeline_detail(request: HttpRequest, pipeline_id: int) -> dict[str, Any]:
    return _pipeline_data(_pipeline(pipeline_id))


@router.post(
    "/pipelines",
    response={201: PipelineOut, **ADMIN_WRITE_ERRORS},
    summary="Create a pipeline (administrators)",
    operation_id="pipeline_create",
)
def pipeline_add(request: HttpRequest, payload: PipelineInput) -> Status[dict[str, Any]]:
    sent = payload.model_dump(exclude_unset=True)
    pipeline = config.pipeline_save(
        user=request_user(request),
        name=sent.get("name"),
        description=sent.get("description") or "",
        is_default=bool(sent.get("is_default")),
        active=sent.get("active", True) is not False,
        position=sent.get("position"),
    )
    return Status(201, _pipeline_data(_pipeline(pipeline.pk)))


@router.patch(
    "/pipelines/{int:pipeline_id}",
    response={200: PipelineOut, **ADMIN_WRITE_ERRORS},
    summary="Change a pipeline (administrators)",
    operation_id="pipeline_update",
)
def pipeline_change(
    request: HttpRequest, pipeline_id: int, payload: PipelineInput
) -> dict[str, Any]:
    pipeline = _pipeline(pipeline_id)
    sent = payload.model_dump(exclude_unset=True)
    config.pipeline_save(
        user=request_user(request),
        pipeline=pipeline,
        name=sent.get("name", pipeline.name),
        description=sent.get("description", pipeline.description) or "",
        is_default=bool(sent.get("is_default", pipeline.is_default)),
        active=bool(sent.get("active", pipeline.active)),
        position=sent.get("position", pipeline.position),
    )
    return _pipeline_data(_pipeline(pipeline_id))


@router.delete(
    "/pipelines/{int:pipeline_id}",
    response={204: None, **ADMIN_WRITE_ERRORS},
    summary="Delete a pipeline without opportunities (administrators)",
    operation_id="pipeline_delete",
)
def pipeline_remove(request: HttpRequest, pipeline_id: int) -> HttpResponse:
    config.pipeline_delete(user=request_user(request), pipeline=_pipeline(pipeline_id))
    return HttpResponse(status=204)


@router.post(
    "/pipelines/{int:pipeline_id}/stages",
    response={201: StageOut, **ADMIN_WRITE_ERRORS},
    summary="Add a stage at the end of a pipeline (administrators)",
    operation_id="pipeline_stage_create",
)
def stage_add(
    request: HttpRequest, pipeline_id: int, payload: StageInput
) -> Status[dict[str, Any]]:
    sent = payload.model_dump(exclude_unset=True)
    stage = config.stage_save(
        user=request_user(request),
        pipeline=_pipeline(pipeline_id),
        name=sent.get("name"),
        probability=sent.get("probability"),
        forecast_category=sent.get("forecast_category"),
        expected_days=sent.get("expected_days"),
        active=sent.get("active", True) is not False,
        position=sent.get("position"),
    )
    return Status(201, _stage_data(stage))


@router.patch(
    "/pipelines/{int:pipeline_id}/stages/{int:stage_id}",
    response={200: StageOut, **ADMIN_WRITE_ERRORS},
    summary="Change a stage (administrators)",
    operation_id="pipeline_stage_update",
)
def stage_change(
    request: HttpRequest, pipeline_id: int, stage_id: int, payload: StageInput
) -> dict[str, Any]:
    stage = _stage(pipeline_id, stage_id)
    sent = payload.model_dump(exclude_unset=True)
    saved = config.stage_save(
        user=request_user(request),
        pipeline=stage.pipeline,
        stage=stage,
        name=sent.get("name", stage.name),
        probability=sent.get("probability", stage.probability),
        forecast_category=sent.get("forecast_category", stage.forecast_category),
        expected_days=sent.get("expected_days", stage.expected_days),
        active=bool(sent.get("active", stage.active)),
        position=sent.get("position", stage.position),
    )
    return _stage_data(saved)


@router.put(
    "/pipelines/{int:pipeline_id}/stage-order",
    response={200: PipelineOut, **ADMIN_WRITE_ERRORS},
    summary="Reorder a pipeline's stages (administrators)",
    operation_id="pipeline_stage_order",
)
def stage_order(request: HttpRequest, pipeline_id: int, payload: StageOrderInput) -> dict[str, Any]:
    config.stage_reorder(
        user=request_user(request), pipeline=_pipeline(pipeline_id), stage_ids=payload.stage_ids
    )
    return _pipeline_data(_pipeline(pipeline_id))


@router.delete(
    "/pipelines/{int:pipeline_id}/stages/{int:stage_id}",
    response={204: None, **ADMIN_WRITE_ERRORS},
    summary="Delete a stage, moving its opportunities first (administrators)",
    description=(
        "A stage with opportunities needs ?move_to=<stage id> (same pipeline); each move is "
        "recorded in the stage history. A stage that past moves refer to is kept inactive."
    ),
    operation_id="pipeline_stage_delete",
)
def stage_remove(
    request: HttpRequest, pipeline_id: int, stage_id: int, params: Query[StageDeleteParams]
) -> HttpResponse:
    stage = _stage(pipeline_id, stage_id)
    move_to = None
    if params.move_to is not None:
        move_to = Stage.objects.filter(pk=params.move_to).first()
        if move_to is None:
            raise ValidationFailed(
                "The target stage does not exist.",
                errors={"move_to": [f"No stage with id {params.move_to}."]},
            )
    config.stage_delete(user=request_user(request), stage=stage, move_to=move_to)
    return HttpResponse(status=204)


# --- loss reasons --------------------------------------------------------------------------


class LossReasonOut(Schema):
    id: int
    name: str
    active: bool
    position: int


class LossReasonInput(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    active: bool | None = None
    position: int | None = Field(None, ge=0)


def _reason(pk: int) -> LossReason:
    reason = LossReason.objects.filter(pk=pk).first()
    if reason is None:
        raise RecordNotFound(f"No loss reason with id {pk}.")
    return reason


def _reason_data(reason: LossReason) -> dict[str, Any]:
    return {
        "id": reason.pk,
        "name": reason.name,
        "active": reason.active,
        "position": reason.position,
    }


@router.get(
    "/loss-reasons",
    response={200: list[LossReasonOut], **problem_responses(401, 403)},
    summary="List loss reasons",
    operation_id="loss_reason_list",
)
def loss_reason_index(request: HttpRequest) -> list[dict[str, Any]]:
    return [_reason_data(r) for r in selectors.loss_reasons()]


@router.post(
    "/loss-reasons",
    response={201: LossReasonOut, **ADMIN_WRITE_ERRORS},
    summary="Add a loss reason (administrators)",
    operation_id="loss_reason_create",
)
def loss_reason_add(request: HttpRequest, payload: LossReasonInput) -> Status[dict[str, Any]]:
    sent = payload.model_dump(exclude_unset=True)
    reason = config.loss_reason_save(
        user=request_user(request),
        name=sent.get("name"),
        active=sent.get("active", True) is not False,
        position=sent.get("position"),
    )
    return Status(201, _reason_data(reason))


@router.patch(
    "/loss-reasons/{int:reason_id}",
    response={200: LossReasonOut, **ADMIN_WRITE_ERRORS},
    summary="Change a loss reason (administrators)",
    operation_id="loss_reason_update",
)
def loss_reason_change(
    request: HttpRequest, reason_id: int, payload: LossReasonInput
) -> dict[str, Any]:
    reason = _reason(reason_id)
    sent = payload.model_dump(exclude_unset=True)
    saved = config.loss_reason_save(
        user=request_user(request),
        reason=reason,
        name=sent.get("name", reason.name),
        active=bool(sent.get("active", reason.active)),
        position=sent.get("position", reason.position),
    )
    return _reason_data(saved)


@router.delete(
    "/loss-reasons/{int:reason_id}",
    response={204: None, **ADMIN_WRITE_ERRORS},
    summary="Delete an unused loss reason (administrators)",
    operation_id="loss_reason_delete",
)
def loss_reason_remove(request: HttpRequest, reason_id: int) -> HttpResponse:
    config.loss_reason_delete(user=request_user(request), reason=_reason(reason_id))
    return HttpResponse(status=204)


# --- exchange rates ------------------------------------------------------------------------


class ExchangeRateOut(Schema):
    id: int
    currency: str
    rate: Decimal = Field(description="Units of the organisation's currency per unit.")
    valid_from: datetime.date


class ExchangeRateInput(Schema):
    model_config = ConfigDict(extra="forbid")

    currency: str | None = None
    rate: Decimal | None = None
    valid_from: str | None = Field(
        None, description="YYYY-MM-DD.", json_schema_extra={"format": "date"}
    )


def _rate(pk: int) -> ExchangeRate:
    rate = ExchangeRate.objects.filter(pk=pk).first()
    if rate is None:
        raise RecordNotFound(f"No exchange rate with id {pk}.")
    return rate


def _rate_data(rate: ExchangeRate) -> dict[str, Any]:
    return {
        "id": rate.pk,
        "currency": rate.currency,
        "rate": rate.rate,
        "valid_from": rate.valid_from,
    }


@router.get(
    "/exchange-rates",
    response={200: list[ExchangeRateOut], **problem_responses(401, 403)},
    summary="List exchange rates, newest first per currency",
    operation_id="exchange_rate_list",
)
def exchange_rate_index(request: HttpRequest) -> list[dict[str, Any]]:
    return [_rate_data(r) for r in selectors.exchange_rates()]


@router.post(
    "/exchange-rates",
    response={201: ExchangeRateOut, **ADMIN_WRITE_ERRORS},
    summary="Add an exchange rate (administrators)",
    operation_id="exchange_rate_create",
)
def exchange_rate_add(request: HttpRequest, payload: ExchangeRateInput) -> Status[dict[str, Any]]:
    rate = config.exchange_rate_save(
        user=request_user(request),
        currency=payload.currency,
        value=payload.rate,
        valid_from=payload.valid_from,
    )
    return Status(201, _rate_data(rate))


@router.patch(
    "/exchange-rates/{int:rate_id}",
    response={200: ExchangeRateOut, **ADMIN_WRITE_ERRORS},
    summary="Change an exchange rate (administrators)",
    operation_id="exchange_rate_update",
)
def exchange_rate_change(
    request: HttpRequest, rate_id: int, payload: ExchangeRateInput
) -> dict[str, Any]:
    rate = _rate(rate_id)
    sent = payload.model_dump(exclude_unset=True)
    saved = config.exchange_rate_save(
        user=request_user(request),
        rate=rate,
        currency=sent.get("currency", rate.currency),
        value=sent.get("rate", rate.rate),
        valid_from=sent.get("valid_from", rate.valid_from),
    )
    return _rate_data(saved)


@router.delete(
    "/exchange-rates/{int:rate_id}",
    response={204: None, **ADMIN_WRITE_ERRORS},
    summary="Delete an exchange rate (administrators)",
    operation_id="exchange_rate_delete",
)
def exchange_rate_remove(request: HttpRequest, rate_id: int) -> HttpResponse:
    config.exchange_rate_delete(user=request_user(request), rate=_rate(rate_id))
    return HttpResponse(status=204)
