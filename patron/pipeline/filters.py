"""The opportunity list's FilterSet, shared by the page, the API and the CSV export."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from patron.core import search
from patron.core.filters import MineFilter, UserRefFilter
from patron.pipeline.choices import ForecastCategory
from patron.pipeline.forms import StageChoiceField
from patron.pipeline.models import Opportunity, Pipeline, Stage

# Sort keys mapped to their columns; the last one is the keyset tiebreaker.
OPPORTUNITY_SORTS: dict[str, tuple[str, ...]] = {
    "close_date": ("close_date", "id"),
    "-close_date": ("-close_date", "-id"),
    "amount": ("amount_org", "id"),
    "-amount": ("-amount_org", "-id"),
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}

STATUS_CHOICES = (("open", "Open"), ("closed", "Closed"), ("won", "Won"), ("lost", "Lost"))


class StageFilter(django_filters.ModelChoiceFilter):
    """Stages named with their pipeline, since pipelines often share stage names."""

    field_class = StageChoiceField


class OpportunityFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Name, account or next step")
    pipeline = django_filters.ModelChoiceFilter(queryset=Pipeline.objects.all())
    stage = StageFilter(
        queryset=Stage.objects.select_related("pipeline").order_by(
            "pipeline__position", "pipeline__name", "position", "pk"
        )
    )
    owner = UserRefFilter()
    mine = MineFilter()
    account = django_filters.NumberFilter(field_name="account_id")
    forecast_category = django_filters.ChoiceFilter(
        choices=ForecastCategory.choices, label="Forecast category"
    )
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="filter_status", label="Open, closed, won or lost"
    )
    close_after = django_filters.DateFilter(
        field_name="close_date", lookup_expr="gte", label="Closes on or after"
    )
    close_before = django_filters.DateFilter(
        field_name="close_date", lookup_expr="lte", label="Closes on or before"
    )
    min_amount = django_filters.NumberFilter(
        field_name="amount_org", lookup_expr="gte", label="Amount at least (org currency)"
    )
    max_amount = django_filters.NumberFilter(
        field_name="amount_org", lookup_expr="lte", label="Amount at most (org currency)"
    )

    class Meta:
        model = Opportunity
        fields: list[str] = []

    def filter_text(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(pk__in=search.matching_ids(Opportunity, value))

    def filter_status(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        conditions = {
            "open": Q(is_closed=False),
            "closed": Q(is_closed=True),
            "won": Q(is_won=True),
            "lost": Q(is_closed=True, is_won=False),
        }
        return queryset.filter(conditions[value])
