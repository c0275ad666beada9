"""The one FilterSet of the lead list, shared by the page, the API and the CSV export."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet

from patron.core import search
from patron.core.filters import MineFilter, StrictBooleanFilter, UserRefFilter
from patron.leads.choices import LeadSource, LeadStatus
from patron.leads.models import Lead
from patron.routing.models import RoutingQueue
from patron.users.models import Team

LEAD_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("last_name", "first_name", "id"),
    "-name": ("-last_name", "-first_name", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "score": ("score", "id"),
    "-score": ("-score", "-id"),
    "company": ("company", "id"),
    "-company": ("-company", "-id"),
}


class LeadFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Name, email, company or phone")
    status = django_filters.ChoiceFilter(choices=LeadStatus.choices, empty_label="Any")
    source = django_filters.ChoiceFilter(choices=LeadSource.choices, empty_label="Any")
    campaign = django_filters.CharFilter(lookup_expr="iexact")
    owner = UserRefFilter()
    mine = MineFilter()
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all())
    queue = django_filters.ModelChoiceFilter(queryset=RoutingQueue.objects.all())
    min_score = django_filters.NumberFilter(field_name="score", lookup_expr="gte")
    max_score = django_filters.NumberFilter(field_name="score", lookup_expr="lte")
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")
    country = django_filters.CharFilter(lookup_expr="iexact")
    converted = StrictBooleanFilter(field_name="converted_at", method="filter_set")
    archived = StrictBooleanFilter(field_name="archived_at", method="filter_set", label="Archived")

    class Meta:
        model = Lead
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # Archived leads stay out of every list unless the Archived filter asks for them.
        if self.form.cleaned_data.get("archived") in (None, ""):
            queryset = queryset.filter(archived_at__isnull=True)
        filtered: QuerySet[Any] = super().filter_queryset(queryset)
        return filtered

    def filter_set(self, queryset: QuerySet[Any], name: str, value: bool) -> QuerySet[Any]:
        return queryset.filter(**{f"{name}__isnull": not value})

    def filter_text(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(pk__in=search.matching_ids(Lead, value))
