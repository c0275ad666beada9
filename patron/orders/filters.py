"""The product list's FilterSet and sorts, shared by the page, the API and the export."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from patron.core.filters import MineFilter, StrictBooleanFilter, UserRefFilter
from patron.orders.choices import BillingType
from patron.orders.models import Product
from patron.users.models import Team

PRODUCT_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "sku": ("sku", "id"),
    "-sku": ("-sku", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}


# django-filter has no type hints (pyproject relaxes this for FilterSet modules).
class ProductFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Name, SKU or family contains")
    family = django_filters.CharFilter(field_name="family", lookup_expr="iexact", label="Family")
    billing = django_filters.ChoiceFilter(choices=BillingType.choices, label="Billing")
    active = StrictBooleanFilter(label="Active")
    owner = UserRefFilter()
    mine = MineFilter()
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all())
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = Product
        fields: list[str] = []

    def filter_text(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(
            Q(name__icontains=value) | Q(sku__icontains=value) | Q(family__icontains=value)
        )
