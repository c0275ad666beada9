"""Filters and sorts of the import history (the page, its CSV and the API share them)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms

from patron.core.importing import import_specs
from patron.data_exchange.choices import ImportStatus
from patron.data_exchange.models import ImportRun

IMPORT_SORTS: dict[str, tuple[str, ...]] = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "file": ("file_name", "id"),
    "-file": ("-file_name", "-id"),
    "status": ("status", "-created_at", "-id"),
    "-status": ("-status", "-created_at", "-id"),
}
DEFAULT_SORT = "-created"


def object_type_choices() -> list[tuple[str, str]]:
    return [(s.object_type, str(s.label_plural).capitalize()) for s in import_specs()]


class ImportRunFilter(django_filters.FilterSet):  # type: ignore[misc]
    # Text, not a choice: object types register when the apps are ready, after this class
    # (and the API's documentation of it) is built. The page shows them as a select.
    object_type = django_filters.CharFilter(label="Object type, e.g. contacts.contact")
    status = django_filters.ChoiceFilter(choices=ImportStatus.choices)
    created_after = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="Uploaded on or after"
    )
    created_before = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="Uploaded on or before"
    )

    class Meta:
        model = ImportRun
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["object_type"].label = "Object"
        self.filters["object_type"].extra["widget"] = forms.Select(
            choices=[("", "All"), *object_type_choices()]
        )
