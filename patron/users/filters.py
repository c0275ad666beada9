"""FilterSets for the admin area's lists."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet

from patron.core.choices import SecurityEventKind
from patron.core.models import SecurityEvent


class SecurityEventFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=SecurityEventKind.choices, empty_label="Any kind")
    user = django_filters.CharFilter(method="filter_user", label="User email contains")
    since = django_filters.DateFilter(
        field_name="at",
        lookup_expr="date__gte",
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="at",
        lookup_expr="date__lte",
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = SecurityEvent
        fields: list[str] = []

    def filter_user(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        # The email column keeps the address even for failed logins of unknown users.
        return queryset.filter(email__icontains=value.strip())
