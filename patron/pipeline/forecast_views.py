"""Forecast pages: the forecast (period picker, my figures, the team or hierarchy roll-up with
drill-down, managers' adjustments, week over week) and the quota grid with CSV upload."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.views.decorators.http import require_POST

from patron.core.context_processors import NavItem, register_nav_item
from patron.core.exceptions import ValidationFailed
from patron.core.org import org_settings
from patron.core.record_pages import object_ui
from patron.core.views import handles_domain_errors
from patron.pipeline import forecasts
from patron.pipeline.forecasts import FIGURE_LABELS, FIGURES, Forecast, Period, Row
from patron.pipeline.models import Opportunity, Quota
from patron.users.models import Team, User

# An upload of quotas is one row per user and period: a few thousand rows at most.
MAX_QUOTA_CSV_BYTES = 2 * 1024 * 1024


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


class AdjustForm(forms.Form):
    user = forms.TypedChoiceField(label="Sales person", coerce=int)
    category = forms.ChoiceField(
        choices=[(name, FIGURE_LABELS[name]) for name in forecasts.ADJUSTABLE]
    )
    amount = forms.DecimalField(min_value=Decimal(0), max_digits=18, decimal_places=2)
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="Why the figure differs."
    )

    def __init__(self, *args: Any, users: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.TypedChoiceField, self.fields["user"])
        field.choices = [(user.pk, str(user)) for user in users]


class QuotaUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Columns email, period (FY2027 Q1 or its first day), amount, currency.",
    )


def _period(params: Mapping[str, str]) -> Period:
    raw = params.get("period", "")
    if not raw:
        return forecasts.current_period()
    try:
        return forecasts.period_parse(raw)
    except ValidationFailed:
        return forecasts.current_period()


def _period_choices(period: Period) -> list[Period]:
    years = (period.fiscal_year - 1, period.fiscal_year, period.fiscal_year + 1)
    return [choice for year in years for choice in forecasts.fiscal_periods(year)]


def _drill_url(user: User, period: Period, figure: str) -> str:
    """The opportunity list filtered to the deals behind one figure (empty if unavailable)."""
    ui = object_ui(Opportunity.object_type())
    if ui is None:
        return ""
    try:
        base = reverse(f"{ui.namespace}:{ui.key}_list")
    except NoReverseMatch:
        return ""
    query: dict[str, str] = {
        "owner": str(user.pk),
        "close_after": period.start.isoformat(),
        "close_before": period.end.isoformat(),
        "status": "won" if figure == "closed" else "open",
    }
    if figure == "commit":
        query["forecast_category"] = "commit"
    return f"{base}?{urlencode(query)}"


def _cells(row: Row, period: Period, *, rolled: bool) -> list[dict[str, Any]]:
    figures = row.rolled if rolled else row.figures
    # A rolled-up row covers several owners, which the opportunity list cannot filter by.
    drill = not (rolled and row.has_reports)
    cells = []
    for name in FIGURES:
        cells.append(
            {
                "name": name,
                "label": FIGURE_LABELS[name],
                "value": figures[name],
                "computed": row.computed[name],
                "adjustment": row.adjustments.get(name),
                "url": _drill_url(row.user, period, name) if drill else "",
            }
        )
    return cells


def _scope(params: Mapping[str, str], viewer: User) -> tuple[str, str, list[User]]:
    """(scope key, title, users) from ?scope=me|hierarchy|team:<id>."""
    scope = params.get("scope", "") or "hierarchy"
    if scope.startswith("team:") and scope[5:].isdigit():
        team, members = forecasts.team_users(viewer, int(scope[5:]))
        return scope, f"Team {team.name}", members
    if scope == "me":
        return "me", "My forecast", [viewer]
    return "hierarchy", "My hierarchy", forecasts.forecast_users(viewer)


def _table(result: Forecast, scope: str, focus: User | None) -> list[dict[str, Any]]:
    period = result.period
    if scope != "hierarchy":
        return [
            {"row": row, "depth": 0, "cells": _cells(row, period, rolled=False), "own": True}
            for row in result.rows
        ]
    lines = []
    head = next((row for row in result.rows if row.user == focus), None)
    if head is not None:
        lines.append({"row": head, "depth": 0, "cells": _cells(head, period, rolled=True)})
    for row in forecasts.direct_reports(result.rows, focus):
        lines.append(
            {"row": row, "depth": 1 if head else 0, "cells": _cells(row, period, rolled=True)}
        )
    return lines


def _teams(viewer: User) -> list[Team]:
    teams = Team.objects.all() if viewer.is_admin else viewer.teams.all()
    return list(teams.order_by("name"))


def _render_forecast(
    request: HttpRequest,
    params: Mapping[str, str],
    adjust_form: AdjustForm | None = None,
    status: int = 200,
) -> HttpResponse:
    viewer = _user(request)
    period = _period(params)
    scope, title, users = _scope(params, viewer)
    result = forecasts.forecast(
        viewer=viewer, period=period, users=users, hierarchy=scope == "hierarchy"
    )
    focus_id = params.get("focus", "")
    focus: User | None = viewer
    if focus_id.isdigit():
        focus = next((row.user for row in result.rows if row.user.pk == int(focus_id)), viewer)
    elif viewer.is_admin and not any(forecasts.is_above(viewer, r.user) for r in result.rows):
        # An administrator outside the sales hierarchy starts from its top rows.
        focus = None
    mine = next((row for row in result.rows if row.user == viewer), None)
    if mine is None:
        mine = forecasts.forecast(viewer=viewer, period=period, users=[viewer]).rows[0]
    managed = [row.user for row in result.rows if forecasts.may_manage(viewer, row.user)]
    if adjust_form is None and managed:
        adjust_form = AdjustForm(users=managed)
    query = {"period": period.key, "scope": scope}
    return render(
        request,
        "pipeline/forecast.html",
        {
            "period": period,
            "periods": _period_choices(period),
            "scope": scope,
            "title": title,
            "team_choices": [(f"team:{team.pk}", f"Team {team.name}") for team in _teams(viewer)],
            "forecast": result,
            "mine": mine,
            "my_cells": _cells(mine, period, rolled=False),
            "lines": _table(result, scope, focus),
            "focus": focus if focus_id.isdigit() else None,
            "focus_user": focus,
            "figure_labels": [FIGURE_LABELS[name] for name in FIGURES],
            "adjust_form": adjust_form,
            "week": forecasts.week_over_week(viewer=viewer, period=period, users=users),
            "query": urlencode(query),
            "query_dict": query,
        },
        status=status,
    )


@login_required
@handles_domain_errors
def forecast_page(request: HttpRequest) -> HttpResponse:
    return _render_forecast(request, request.GET)


@login_required
@require_POST
@handles_domain_errors
def forecast_adjust(request: HttpRequest) -> HttpResponse:
    viewer = _user(request)
    period = forecasts.period_parse(request.POST.get("period", ""))
    users = [
        user for user in forecasts.forecast_users(viewer) if forecasts.may_manage(viewer, user)
    ]
    form = AdjustForm(request.POST, users=users)
    if form.is_valid():
        subordinate = next(user for user in users if user.pk == form.cleaned_data["user"])
        try:
            forecasts.forecast_adjust(
                manager=viewer,
                user=subordinate,
                period_start=period.start,
                category=form.cleaned_data["category"],
                amount=form.cleaned_data["amount"],
                note=form.cleaned_data["note"],
            )
        except ValidationFailed as error:
            for name, problems in error.errors.items():
                for problem in problems:
                    form.add_error(name if name in form.fields else None, problem)
        else:
            messages.success(request, f"{subordinate}'s forecast for {period.label} is adjusted.")
            back = urlencode({"period": period.key, "scope": request.POST.get("scope", "")})
            return redirect(f"{reverse('pipeline:forecast')}?{back}")
    params = {"period": period.key, "scope": request.POST.get("scope", "")}
    return _render_forecast(request, params, adjust_form=form, status=422)


# --- quotas -----------------------------------------------------------------------------------


def _quota_year(request: HttpRequest) -> int:
    raw = request.GET.get("year", "") or request.POST.get("year", "")
    if raw.isdigit() and 1900 < int(raw) < 3000:
        return int(raw)
    return forecasts.current_period().fiscal_year


def _cell_name(user: User, period: Period) -> str:
    return f"q_{user.pk}_{period.key}"


def _render_quotas(
    request: HttpRequest,
    *,
    year: int,
    submitted: dict[str, str] | None = None,
    cell_errors: dict[str, str] | None = None,
    upload_form: QuotaUploadForm | None = None,
    report: forecasts.ImportResult | None = None,
    status: int = 200,
) -> HttpResponse:
    viewer = _user(request)
    periods = forecasts.fiscal_periods(year)
    users = forecasts.forecast_users(viewer)
    quotas = {
        (quota.user_id, quota.period_start): quota
        for quota in forecasts.quotas_for(viewer=viewer, users=users, periods=periods)
    }
    cell_errors = cell_errors or {}
    grid = []
    for user in users:
        cells = []
        for period in periods:
            name = _cell_name(user, period)
            quota = quotas.get((user.pk, period.start))
            value = (submitted or {}).get(name, _amount_text(quota))
            cells.append(
                {
                    "name": name,
                    "period": period,
                    "quota": quota,
                    "value": value,
                    "error": cell_errors.get(name, ""),
                }
            )
        grid.append({"user": user, "editable": forecasts.may_manage(viewer, user), "cells": cells})
    return render(
        request,
        "pipeline/forecast_quotas.html",
        {
            "year": year,
            "periods": periods,
            "year_end": periods[-1].end,
            "grid": grid,
            "editable": any(line["editable"] for line in grid),
            "currency": org_settings().default_currency,
            "upload_form": upload_form or QuotaUploadForm(),
            "report": report,
            "cell_errors": cell_errors,
        },
        status=status,
    )


def _amount_text(quota: Quota | None) -> str:
    return "" if quota is None else f"{quota.amount:f}"


@login_required
@handles_domain_errors
def quota_page(request: HttpRequest) -> HttpResponse:
    year = _quota_year(request)
    if request.method != "POST":
        return _render_quotas(request, year=year)
    viewer = _user(request)
    periods = forecasts.fiscal_periods(year)
    users = [u for u in forecasts.forecast_users(viewer) if forecasts.may_manage(viewer, u)]
    existing = {
        (quota.user_id, quota.period_start): quota
        for quota in forecasts.quotas_for(viewer=viewer, users=users, periods=periods)
    }
    submitted = {key: str(request.POST.get(key, "")).strip() for key in request.POST}
    errors: dict[str, str] = {}
    changed = 0
    with transaction.atomic():
        for user in users:
            for period in periods:
                name = _cell_name(user, period)
                if name not in submitted:
                    continue
                value, quota = submitted[name], existing.get((user.pk, period.start))
                if value == _amount_text(quota):
                    continue
                try:
                    if value:
                        currency = quota.currency if quota else ""
                        forecasts.quota_set(
                            actor=viewer, user=user, period=period, amount=value, currency=currency
                        )
                    else:
                        forecasts.quota_clear(actor=viewer, user=user, period=period)
                    changed += 1
                except ValidationFailed as error:
                    errors[name] = " ".join(m for ms in error.errors.values() for m in ms)
        if errors:
            transaction.set_rollback(True)
    if errors:
        messages.error(request, "Nothing was saved: correct the quotas marked below.")
        return _render_quotas(
            request, year=year, submitted=submitted, cell_errors=errors, status=422
        )
    messages.success(request, f"{changed} quota{'s' if changed != 1 else ''} saved.")
    return redirect(f"{reverse('pipeline:quotas')}?year={year}")


@login_required
@require_POST
@handles_domain_errors
def quota_import(request: HttpRequest) -> HttpResponse:
    year = _quota_year(request)
    form = QuotaUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_quotas(request, year=year, upload_form=form, status=422)
    upload = form.cleaned_data["file"]
    if upload.size > MAX_QUOTA_CSV_BYTES:
        form.add_error("file", "The file is larger than 2 MB; split it and upload each part.")
        return _render_quotas(request, year=year, upload_form=form, status=422)
    try:
        report = forecasts.quota_import_csv(
            actor=_user(request), lines=forecasts.csv_text_lines(upload.chunks())
        )
    except ValidationFailed as error:
        for problem in error.errors.get("file", [error.detail]):
            form.add_error("file", problem)
        return _render_quotas(request, year=year, upload_form=form, status=422)
    status = 422 if report.errors and not report.saved else 200
    return _render_quotas(request, year=year, report=report, status=status)


def register_forecast_ui() -> None:
    register_nav_item(
        NavItem(
            area="Sales",
            label="Forecast",
            url_name="pipeline:forecast",
            object_type="pipeline.opportunity",
            order=25,
        )
    )


urlpatterns = [
    path("forecast/", forecast_page, name="forecast"),
    path("forecast/adjust/", forecast_adjust, name="forecast_adjust"),
    path("forecast/quotas/", quota_page, name="quotas"),
    path("forecast/quotas/import/", quota_import, name="quota_import"),
]
