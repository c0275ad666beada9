"""The sales analytics page, its CSV downloads and the drill-down list (thin views over
pipeline.analytics)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from patron.core.exceptions import ValidationFailed
from patron.core.org import org_settings
from patron.core.views import handles_domain_errors, keyset_page, principal
from patron.pipeline import analytics
from patron.pipeline.models import Pipeline
from patron.users.models import Team, User

DRILL_PAGE_SIZE = 50
CHART_BAR_HEIGHT = 22
CHART_LABEL_WIDTH = 180
CHART_WIDTH = 640


class AnalyticsFilterForm(forms.Form):
    """The filter bar; values are validated by ``analytics.filters_from`` (shared with the API)."""

    start = forms.DateField(
        required=False,
        label="Closed from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    end = forms.DateField(
        required=False, label="Closed to", widget=forms.DateInput(attrs={"type": "date"})
    )
    pipeline = forms.ModelChoiceField(
        queryset=Pipeline.objects.all(), required=False, empty_label="All pipelines"
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True), required=False, empty_label="Anyone"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        required=False,
        empty_label="Any team",
        label="Owner's team",
    )
    dimension = forms.ChoiceField(required=False, label="Win rate by")
    period = forms.ChoiceField(
        required=False,
        label="Per period",
        choices=[("", "No period"), ("quarter", "Quarter"), ("month", "Month")],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(d.key, d.label) for d in analytics.dimensions()]
        self.fields["dimension"].choices = [*choices, ("period", "Period only")]  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Bar:
    label: str
    value: Any
    y: int
    width: float


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    height: int
    title: str
    description: str


@dataclass(frozen=True)
class ShownRow:
    label: str
    # (value, whether it is a figure) per column.
    cells: list[tuple[Any, bool]]
    drill_url: str


@dataclass(frozen=True)
class ShownReport:
    report: analytics.Report
    rows: list[ShownRow]
    chart: Chart | None
    csv_url: str


def drill_url(filters: analytics.AnalyticsFilters, drill: dict[str, str]) -> str:
    return f"{reverse('pipeline:sales_analytics_drill')}?{urlencode({**filters.params(), **drill})}"


def _chart(report: analytics.Report) -> Chart | None:
    if report.chart is None or not report.rows:
        return None
    values = [row.values.get(report.chart) for row in report.rows]
    top = max((Decimal(v) for v in values if v is not None), default=Decimal("0"))
    bars = [
        Bar(
            label=row.label,
            value=value,
            y=index * CHART_BAR_HEIGHT,
            width=float(Decimal(value) / top * (CHART_WIDTH - CHART_LABEL_WIDTH - 60))
            if value is not None and top
            else 0.0,
        )
        for index, (row, value) in enumerate(zip(report.rows, values, strict=True))
    ]
    column = next(c.label for c in report.columns if c.key == report.chart)
    return Chart(
        bars=bars,
        height=len(bars) * CHART_BAR_HEIGHT,
        title=f"{report.title}: {column}",
        description=f"Bar chart of {column.lower()} per row of the table below.",
    )


def _shown(report: analytics.Report, filters: analytics.AnalyticsFilters, query: str) -> Any:
    rows = [
        ShownRow(
            label=row.label,
            cells=[(row.values.get(column.key), column.numeric) for column in report.columns],
            drill_url=drill_url(filters, row.drill),
        )
        for row in report.rows
    ]
    csv_url = reverse("pipeline:sales_analytics_csv", args=[report.key])
    return ShownReport(
        report=report,
        rows=rows,
        chart=_chart(report),
        csv_url=f"{csv_url}?{query}" if query else csv_url,
    )


def _options(params: QueryDict) -> dict[str, str]:
    return {name: params.get(name, "") for name in ("dimension", "period")}


@login_required
@require_GET
@handles_domain_errors
def analytics_page(request: HttpRequest) -> HttpResponse:
    form = AnalyticsFilterForm(request.GET or None)
    viewer = principal(request)
    try:
        filters = analytics.filters_from(request.GET)
        query = urlencode(
            {**filters.params(), **{k: v for k, v in _options(request.GET).items() if v}}
        )
        reports = [
            _shown(
                analytics.sales_report(
                    viewer=viewer,
                    name=name,
                    filters=filters,
                    options=_options(request.GET),
                    today=timezone.localdate(),
                ),
                filters,
                query,
            )
            for name in analytics.REPORTS
        ]
    except ValidationFailed as exc:
        for field_name, messages in exc.errors.items():
            for message in messages:
                form.add_error(field_name if field_name in form.fields else None, message)
        context = {"form": form, "reports": [], "errors": exc.errors}
        return render(request, "pipeline/analytics.html", context, status=422)
    context = {
        "form": form,
        "reports": reports,
        "currency": org_settings().default_currency,
        "chart_label_width": CHART_LABEL_WIDTH,
        "chart_width": CHART_WIDTH,
    }
    return render(request, "pipeline/analytics.html", context)


@login_required
@require_GET
@handles_domain_errors
def analytics_csv(request: HttpRequest, report: str) -> HttpResponse:
    if report not in analytics.REPORTS:
        return HttpResponse(
            f"No report {report!r}; choose one of: {', '.join(analytics.REPORTS)}.",
            status=404,
            content_type="text/plain",
        )
    try:
        filters = analytics.filters_from(request.GET)
        data = analytics.sales_report(
            viewer=principal(request),
            name=report,
            filters=filters,
            options=_options(request.GET),
            today=timezone.localdate(),
        )
    except ValidationFailed as exc:
        lines = [f"{field}: {' '.join(messages)}" for field, messages in exc.errors.items()]
        return HttpResponse("\n".join(lines), status=422, content_type="text/plain")
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="sales-{report}.csv"'
    writer = csv.writer(response)
    first = {"loss-reasons": "Loss reason", "loss-stages": "Stage", "conversion": "Stage"}
    writer.writerow([first.get(report, "Group"), *(column.label for column in data.columns)])
    for row in data.rows:
        writer.writerow(
            [row.label, *("" if (v := row.values.get(c.key)) is None else v for c in data.columns)]
        )
    return response


@login_required
@require_GET
@handles_domain_errors
def analytics_drill(request: HttpRequest) -> HttpResponse:
    viewer = principal(request)
    try:
        filters = analytics.filters_from(request.GET)
        queryset = analytics.drill_queryset(viewer=viewer, filters=filters, params=request.GET)
    except ValidationFailed as exc:
        context: dict[str, Any] = {"errors": exc.errors, "page": None}
        return render(request, "pipeline/analytics_drill.html", context, status=422)
    # Keyset paging with a capped count: a figure can stand for a million opportunities,
    # where an exact COUNT(*) and OFFSET pages would grow with the table.
    page = keyset_page(
        queryset.select_related("owner", "account", "stage"),
        ("-closed_on", "-id"),
        request.GET.get("cursor", ""),
        DRILL_PAGE_SIZE,
    )
    params = request.GET.copy()
    params.pop("cursor", None)
    context = {
        "page": page,
        "query": params.urlencode(),
        "back_url": f"{reverse('pipeline:sales_analytics')}?{urlencode(filters.params())}",
        "currency": org_settings().default_currency,
    }
    return render(request, "pipeline/analytics_drill.html", context)


urlpatterns = [
    path("analytics/sales/", analytics_page, name="sales_analytics"),
    path("analytics/sales/opportunities/", analytics_drill, name="sales_analytics_drill"),
    path("analytics/sales/<slug:report>.csv", analytics_csv, name="sales_analytics_csv"),
]


def register_analytics_nav() -> None:
    from patron.core.context_processors import NavItem, register_nav_item

    register_nav_item(
        NavItem(
            area="Analytics",
            label="Sales analytics",
            url_name="pipeline:sales_analytics",
            object_type="pipeline.opportunity",
            order=10,
        )
    )
