"""Forecasts and quotas rolled up by territory in /api/v1/ (a thin handler)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from patron.core.api.auth import request_user
from patron.core.api.problems import problem_responses
from patron.pipeline import forecasts
from patron.pipeline.forecast_api import FIGURES_DOC, PERIOD_DOC, Figures, PeriodOut, _period
from patron.pipeline.territory_forecasts import territory_forecast

router = Router(tags=["Forecasts"])


class TerritoryForecastRow(Schema):
    territory: int
    name: str
    parent: int | None
    depth: int
    own: Figures = Field(description="Deals of accounts assigned to this territory itself.")
    rolled: Figures = Field(description="This territory plus every territory inside it.")
    quota: Decimal | None = Field(description="Its own quota for the period (pro rata).")
    rolled_quota: Decimal | None = Field(
        description="Its own quota, or without one the sum of the quotas inside it."
    )
    attainment: Decimal | None = Field(description="rolled closed / rolled_quota in %.")


class TerritoryForecastOut(Schema):
    period: PeriodOut
    model: int | None = Field(description="The active territory model (null: none active).")
    currency: str
    rows: list[TerritoryForecastRow] = Field(description="In tree order.")
    unassigned: Figures = Field(description="Deals whose account has no territory.")
    total: Figures
    total_quota: Decimal | None
    total_attainment: Decimal | None


@router.get(
    "/forecasts/territories",
    response={200: TerritoryForecastOut, **problem_responses(401, 403, 422)},
    summary="The forecast by territory",
    description=f"period: {PERIOD_DOC} (default the current one). Per territory of the active "
    f"model, by the territory of each deal's account; children roll up into parents. "
    f"{FIGURES_DOC} Only deals you may see count.",
    operation_id="forecast_territories",
)
def territory_forecast_get(request: HttpRequest, period: str = "") -> Any:
    viewer = request_user(request)
    chosen = forecasts.period_parse(period) if period else forecasts.current_period()
    result = territory_forecast(viewer=viewer, period=chosen)
    return {
        "period": _period(chosen),
        "model": result.model.pk if result.model else None,
        "currency": result.currency,
        "rows": [
            {
                "territory": row.territory.pk,
                "name": row.territory.name,
                "parent": row.territory.parent_id,
                "depth": row.depth,
                "own": row.own,
                "rolled": row.rolled,
                "quota": row.quota,
                "rolled_quota": row.rolled_quota,
                "attainment": row.attainment,
            }
            for row in result.rows
        ],
        "unassigned": result.unassigned,
        "total": result.total,
        "total_quota": result.total_quota,
        "total_attainment": result.total_attainment,
    }
