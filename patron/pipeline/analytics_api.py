"""Sales analytics in /api/v1/: GET /analytics/sales/<report> for each report of
pipeline.analytics (thin handler; the figures are those of the page, for the same viewer)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import Field

from patron.core.api.auth import request_user
from patron.core.api.problems import problem_responses
from patron.core.exceptions import RecordNotFound
from patron.pipeline import analytics
from patron.pipeline.analytics_views import drill_url

router = Router(tags=["sales analytics"])


class AnalyticsQuery(Schema):
    start: str = Field("", description="Closed on or after (YYYY-MM-DD).")
    end: str = Field("", description="Closed on or before (YYYY-MM-DD).")
    pipeline: str = Field("", description="A pipeline id.")
    owner: str = Field("", description="An owner's user id.")
    team: str = Field("", description="A team id: deals whose owner is in the team.")
    dimension: str = Field(
        "",
        description="win-rate only: owner (default), team, product, industry, source, "
        "competitor or period.",
    )
    period: str = Field("", description="quarter or month (win-rate and deal-size).")


class ColumnOut(Schema):
    key: str
    label: str


class RowOut(Schema):
    label: str
    values: dict[str, Any]
    drill_url: str = Field(description="The page listing the opportunities behind the row.")


class ReportOut(Schema):
    report: str
    title: str
    description: str
    columns: list[ColumnOut]
    rows: list[RowOut]


@router.get(
    "/analytics/sales/{report}",
    response={200: ReportOut, **problem_responses(401, 403, 404, 422)},
    summary="A sales analytics report",
    description=(
        "One of: " + ", ".join(analytics.REPORTS) + ". Figures count only the opportunities "
        "the caller can see; amounts are in the organisation's currency; percentages have one "
        "decimal. Bad filters are a 422 naming the field."
    ),
    operation_id="sales_analytics_report",
)
def sales_report(request: HttpRequest, report: str, query: Query[AnalyticsQuery]) -> dict[str, Any]:
    viewer = request_user(request)
    if report not in analytics.REPORTS:
        raise RecordNotFound(
            f"No report {report!r}; choose one of: {', '.join(analytics.REPORTS)}."
        )
    params = query.dict()
    filters = analytics.filters_from(params)
    data = analytics.sales_report(
        viewer=viewer,
        name=report,
        filters=filters,
        options={"dimension": params["dimension"], "period": params["period"]},
        today=timezone.localdate(),
    )
    return {
        "report": data.key,
        "title": data.title,
        "description": data.description,
        "columns": [{"key": c.key, "label": c.label} for c in data.columns],
        "rows": [
            {"label": row.label, "values": row.values, "drill_url": drill_url(filters, row.drill)}
            for row in data.rows
        ],
    }
