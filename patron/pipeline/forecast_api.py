"""Forecasts and quotas in /api/v1/ (thin handlers over pipeline.forecasts)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.core.api.auth import request_user
from patron.core.api.problems import problem_response, problem_responses
from patron.core.exceptions import ValidationFailed
from patron.pipeline import forecasts
from patron.pipeline.forecasts import Period, Row, WeekOverWeek
from patron.pipeline.models import ForecastAdjustment, Quota
from patron.users.api import api_auth
from patron.users.models import User

router = Router(tags=["forecasts"], auth=api_auth("sales"))

CSV_CONTENT_TYPE = "text/csv"
# A fiscal year's periods must be dates Python can hold (years 1 to 9999, plus a margin).
MIN_YEAR, MAX_YEAR = 1900, 9998
MAX_IMPORT_BYTES = 2 * 1024 * 1024
PERIOD_DOC = (
    "A period label such as FY2027 Q1 or FY2027 M01, or its first day (YYYY-MM-DD); fiscal "
    "years are named by the calendar year they end in."
)
FIGURES_DOC = (
    "In the organisation's currency: closed = won in the period; commit; best_case = commit + "
    "best case; pipeline = every open, non-omitted deal closing in the period."
)


class PeriodOut(Schema):
    label: str
    kind: str
    fiscal_year: int
    start: datetime.date
    end: datetime.date


class Figures(Schema):
    closed: Decimal
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal


class AdjustmentOut(Schema):
    category: str
    computed_amount: Decimal
    amount: Decimal
    note: str
    adjusted_by: str
    created_at: datetime.datetime


class ForecastRowOut(Schema):
    user: int
    name: str
    depth: int
    computed: Figures = Field(description="The figures as computed from the deals.")
    figures: Figures = Field(description="The figures that count (adjustments applied).")
    adjustments: list[AdjustmentOut] = Field(description="The latest one per category.")
    quota: Decimal | None
    attainment: Decimal | None = Field(description="closed / quota in %.")
    rolled: Figures = Field(
        description="With scope=hierarchy, this user plus everyone in roles below."
    )
    rolled_quota: Decimal | None
    rolled_attainment: Decimal | None


class CountAmountOut(Schema):
    count: int
    amount: Decimal


class MovementOut(Schema):
    from_category: str
    to_category: str
    count: int
    amount: Decimal


class WeekOut(Schema):
    since: datetime.date | None = Field(description="The last weekly snapshot compared with.")
    moves: list[MovementOut]
    pushed_out: CountAmountOut
    new: CountAmountOut
    won: CountAmountOut
    lost: CountAmountOut


class ForecastOut(Schema):
    period: PeriodOut
    scope: str
    currency: str
    rows: list[ForecastRowOut]
    total: Figures
    total_quota: Decimal | None
    total_attainment: Decimal | None
    week_over_week: WeekOut


class AdjustInput(Schema):
    model_config = ConfigDict(extra="forbid")

    user: int = Field(description="A user below you in the role hierarchy.")
    period: str = Field(description=PERIOD_DOC)
    category: str = Field(description="commit, best_case or pipeline.")
    amount: Decimal = Field(description="Zero or more, in the organisation's currency.")
    note: str = Field(description="Why the figure differs (required).")


class AdjustmentCreated(AdjustmentOut):
    id: int
    user: int
    period_start: datetime.date


class QuotaOut(Schema):
    id: int
    user: int
    user_email: str
    period_start: datetime.date
    period_end: datetime.date
    amount: Decimal
    currency: str


class QuotaInput(Schema):
    model_config = ConfigDict(extra="forbid")

    user: int
    period: str = Field(description=PERIOD_DOC)
    amount: Decimal = Field(description="Zero or more.")
    currency: str = Field("", description="Defaults to the organisation's currency.")


class ImportErrorOut(Schema):
    line: int = Field(description="The line number in the file (the header is line 1).")
    errors: dict[str, list[str]]


class ImportOut(Schema):
    saved: int
    errors: list[ImportErrorOut]


def _period(period: Period) -> dict[str, Any]:
    return {
        "label": period.label,
        "kind": period.kind,
        "fiscal_year": period.fiscal_year,
        "start": period.start,
        "end": period.end,
    }


def _row(row: Row) -> dict[str, Any]:
    return {
        "user": row.user.pk,
        "name": str(row.user),
        "depth": row.depth,
        "computed": row.computed,
        "figures": row.figures,
        "adjustments": [vars(adjustment) for adjustment in row.adjustments.values()],
        "quota": row.quota,
        "attainment": row.attainment,
        "rolled": row.rolled,
        "rolled_quota": row.rolled_quota,
        "rolled_attainment": row.rolled_attainment,
    }


def _week(week: WeekOverWeek) -> dict[str, Any]:
    return {
        "since": week.since,
        "moves": [vars(move) for move in week.moves],
        "pushed_out": vars(week.pushed_out),
        "new": vars(week.new),
        "won": vars(week.won),
        "lost": vars(week.lost),
    }


def _scope_users(viewer: User, scope: str) -> list[User]:
    if scope == "me":
        return [viewer]
    if scope == "hierarchy":
        return forecasts.forecast_users(viewer)
    if scope.startswith("team:") and scope[5:].isdigit():
        return forecasts.team_users(viewer, int(scope[5:]))[1]
    raise ValidationFailed(
        "Unknown scope.", errors={"scope": ["Use me, hierarchy or team:<team id>."]}
    )


def _user(pk: int) -> User:
    user = User.objects.select_related("role").filter(pk=pk, is_active=True).first()
    if user is None:
        raise ValidationFailed(
            "Unknown user.", errors={"user": [f"There is no active user with id {pk}."]}
        )
    return user


@router.get(
    "/forecasts",
    response={200: ForecastOut, **problem_responses(401, 403, 404, 422)},
    summary="A forecast for a period",
    description=f"scope=me (default hierarchy) | hierarchy | team:<id>; period: {PERIOD_DOC} "
    f"(default the current one). {FIGURES_DOC} Only deals you may see count; a team lists "
    "the members whose forecast you may see (you and those below you).",
    operation_id="forecast_get",
)
def forecast_get(request: HttpRequest, period: str = "", scope: str = "hierarchy") -> Any:
    viewer = request_user(request)
    chosen = forecasts.period_parse(period) if period else forecasts.current_period()
    users = _scope_users(viewer, scope)
    result = forecasts.forecast(
        viewer=viewer, period=chosen, users=users, hierarchy=scope == "hierarchy"
    )
    return {
        "period": _period(chosen),
        "scope": scope,
        "currency": result.currency,
        "rows": [_row(row) for row in result.rows],
        "total": result.total,
        "total_quota": result.total_quota,
        "total_attainment": result.total_attainment,
        "week_over_week": _week(
            forecasts.week_over_week(viewer=viewer, period=chosen, users=users)
        ),
    }


@router.post(
    "/forecasts/adjustments",
    response={201: AdjustmentCreated, **problem_responses(400, 401, 403, 422)},
    summary="Adjust a subordinate's forecast",
    description="Managers above the user in the role hierarchy (or administrators) only. The "
    "computed figure is kept beside yours; the latest adjustment per user, period and "
    "category counts.",
    operation_id="forecast_adjust",
)
def adjustment_create(request: HttpRequest, payload: AdjustInput) -> Status[Any]:
    viewer = request_user(request)
    period = forecasts.period_parse(payload.period)
    adjustment: ForecastAdjustment = forecasts.forecast_adjust(
        manager=viewer,
        user=_user(payload.user),
        period_start=period.start,
        category=payload.category,
        amount=payload.amount,
        note=payload.note,
    )
    return Status(
        201,
        {
            "id": adjustment.pk,
            "user": adjustment.user_id,
            "period_start": adjustment.period_start,
            "category": adjustment.category,
            "computed_amount": adjustment.computed_amount,
            "amount": adjustment.amount,
            "note": adjustment.note,
            "adjusted_by": str(viewer),
            "created_at": adjustment.created_at,
        },
    )


def _quota(quota: Quota) -> dict[str, Any]:
    return {
        "id": quota.pk,
        "user": quota.user_id,
        "user_email": quota.user.email,
        "period_start": quota.period_start,
        "period_end": quota.period_end,
        "amount": quota.amount,
        "currency": quota.currency,
    }


@router.get(
    "/quotas",
    response={200: list[QuotaOut], **problem_responses(401, 403)},
    summary="Quotas of a fiscal year",
    description="?year=<fiscal year> (default the current one), optionally ?user=<id>. Yours "
    "and those of the users below you in the role hierarchy (everyone's for administrators).",
    operation_id="quota_list",
)
def quota_index(request: HttpRequest, year: int | None = None, user: int | None = None) -> Any:
    viewer = request_user(request)
    if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationFailed(
            f"There is no fiscal year {year}.",
            errors={"year": [f"Use a year between {MIN_YEAR} and {MAX_YEAR}."]},
        )
    periods = forecasts.fiscal_periods(year or forecasts.current_period().fiscal_year)
    users = [u for u in forecasts.forecast_users(viewer) if user is None or u.pk == user]
    return [
        _quota(quota) for quota in forecasts.quotas_for(viewer=viewer, users=users, periods=periods)
    ]


@router.put(
    "/quotas",
    response={200: QuotaOut, **problem_responses(400, 401, 403, 422)},
    summary="Set a user's quota for a period",
    description="Administrators, or a manager above the user. Replaces the quota starting "
    "that day. The currency needs an exchange rate on the period's first day.",
    operation_id="quota_set",
)
def quota_put(request: HttpRequest, payload: QuotaInput) -> Any:
    viewer = request_user(request)
    quota = forecasts.quota_set(
        actor=viewer,
        user=_user(payload.user),
        period=forecasts.period_parse(payload.period),
        amount=payload.amount,
        currency=payload.currency,
    )
    return _quota(quota)


@router.post(
    "/quotas/import",
    response={200: ImportOut, **problem_responses(400, 401, 403, 413, 422)},
    summary="Import quotas from CSV",
    description="Send the CSV as the body (Content-Type text/csv, UTF-8, at most 2 MB) with "
    "the header email,period,amount[,currency]. Valid rows are saved one by one; the others "
    "are listed with their line number and what to fix.",
    operation_id="quota_import",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {CSV_CONTENT_TYPE: {"schema": {"type": "string"}}},
        }
    },
)
def quota_import(request: HttpRequest) -> HttpResponseBase | dict[str, Any]:
    viewer = request_user(request)
    if len(request.body) > MAX_IMPORT_BYTES:
        return problem_response(request, 413, "The file is larger than 2 MB; split it.")
    result = forecasts.quota_import_csv(actor=viewer, lines=forecasts.csv_text_lines(request.body))
    return {
        "saved": result.saved,
        "errors": [{"line": line, "errors": errors} for line, errors in result.errors],
    }
