"""The competitor list's FilterSet and sorts, shared by the page, the API and the export."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from patron.contacts.models import AccountCompetitor, Competitor
from patron.core.filters import MineFilter, UserRefFilter
from patron.users.models import Team

COMPETITOR_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}


# django-filter has no type hints (pyproject relaxes this for FilterSet modules).
class CompetitorFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Name, website or product contains")
    account = django_filters.NumberFilter(method="filter_account", label="Present at account (id)")
    owner = UserRefFilter()
    mine = MineFilter()
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all())
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = Competitor
        fields: list[str] = []

    def filter_text(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(
            Q(name__icontains=value) | Q(website__icontains=value) | Q(products__icontains=value)
        )

    def filter_account(self, queryset: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        present = AccountCompetitor.objects.filter(account_id=value).values("competitor_id")
        return queryset.filter(pk__in=present)
