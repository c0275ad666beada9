"""The quote list's FilterSet and sorts, shared by the page and the API."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from patron.core.filters import MineFilter, UserRefFilter
from patron.orders.choices import QuoteStatus
from patron.orders.models import Quote
from patron.users.models import Team

QUOTE_SORTS: dict[str, tuple[str, ...]] = {
    "number": ("number", "id"),
    "-number": ("-number", "-id"),
    "valid_until": ("valid_until", "id"),
    "-valid_until": ("-valid_until", "-id"),
    "total": ("total", "id"),
    "-total": ("-total", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}


# django-filter has no type hints; pyproject relaxes this only for modules named filters.
class QuoteFilter(django_filters.FilterSet):  # type: ignore[misc]
    q = django_filters.CharFilter(method="filter_text", label="Number or name contains")
    status = django_filters.ChoiceFilter(choices=QuoteStatus.choices, label="Status")
    owner = UserRefFilter()
    mine = MineFilter()
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all())
    opportunity = django_filters.NumberFilter(field_name="opportunity_id", label="Opportunity id")
    valid_from = django_filters.DateFilter(
        field_name="valid_until", lookup_expr="gte", label="Valid until, from"
    )
    valid_to = django_filters.DateFilter(
        field_name="valid_until", lookup_expr="lte", label="Valid until, to"
    )

    class Meta:
        model = Quote
        fields: list[str] = []

    def filter_text(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(Q(number__icontains=value) | Q(name__icontains=value))
