"""Filter and sorts of the saved import mappings page."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms

from patron.data_exchange.models import ImportMapping

MAPPING_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "object": ("object_type", "name", "id"),
    "-object": ("-object_type", "-name", "-id"),
}
DEFAULT_MAPPING_SORT = "name"


class ImportMappingFilter(django_filters.FilterSet):  # type: ignore[misc]
    # Text, not a choice: the page offers only the object types the user may import, and a
    # type outside them simply matches nothing (the list is limited to those types).
    object_type = django_filters.CharFilter(label="Object")

    class Meta:
        model = ImportMapping
        fields: list[str] = []

    def __init__(self, *args: Any, object_types: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["object_type"].extra["widget"] = forms.Select(
            choices=[("", "All"), *object_types]
        )
