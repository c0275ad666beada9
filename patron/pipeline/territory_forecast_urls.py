"""The territory forecast page: per territory of the active model, quota against closed won,
commit, best case and pipeline for a fiscal period, children rolled up into parents."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path

from patron.core.exceptions import ValidationFailed
from patron.core.views import handles_domain_errors
from patron.pipeline import forecasts
from patron.pipeline.forecasts import FIGURE_LABELS, FIGURES, Period
from patron.pipeline.territory_forecasts import territory_forecast
from patron.users.models import User

app_name = "territory_forecasts"


def chosen_period(raw: str) -> Period:
    if not raw:
        return forecasts.current_period()
    try:
        return forecasts.period_parse(raw)
    except ValidationFailed:
        return forecasts.current_period()


@login_required
@handles_domain_errors
def forecast_page(request: HttpRequest) -> HttpResponse:
    viewer = cast(User, request.user)
    period = chosen_period(request.GET.get("period", ""))
    result = territory_forecast(viewer=viewer, period=period)
    years = (period.fiscal_year - 1, period.fiscal_year, period.fiscal_year + 1)
    return render(
        request,
        "pipeline/territory_forecast.html",
        {
            "period": period,
            "periods": [p for year in years for p in forecasts.fiscal_periods(year)],
            "forecast": result,
            "lines": [
                {"row": row, "cells": [row.rolled[name] for name in FIGURES]} for row in result.rows
            ],
            "unassigned": [result.unassigned[name] for name in FIGURES],
            "totals": [result.total[name] for name in FIGURES],
            "figure_labels": [FIGURE_LABELS[name] for name in FIGURES],
        },
    )


urlpatterns: list[URLPattern | URLResolver] = [
    path("forecast/territories/", forecast_page, name="forecast"),
]
