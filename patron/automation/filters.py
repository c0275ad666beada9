"""One FilterSet per automation list, shared by the pages and the API."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from patron.automation.choices import RunStatus
from patron.automation.models import Workflow, WorkflowRun
from patron.core.filters import StrictBooleanFilter

WORKFLOW_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "-updated": ("-updated_at", "-id"),
}
RUN_SORTS: dict[str, tuple[str, ...]] = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
}


class WorkflowFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Name or description")
    object_type = django_filters.CharFilter(label="Record type (e.g. pipeline.opportunity)")
    is_enabled = StrictBooleanFilter(label="Enabled")
    active = StrictBooleanFilter(method="filter_active", label="Has an active version")

    class Meta:
        model = Workflow
        fields: list[str] = []

    def filter_text(
        self, queryset: QuerySet[Workflow], name: str, value: str
    ) -> QuerySet[Workflow]:
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))

    def filter_active(
        self, queryset: QuerySet[Workflow], name: str, value: bool
    ) -> QuerySet[Workflow]:
        return queryset.filter(active_version__isnull=not value)


class RunFilter(django_filters.FilterSet):
    workflow = django_filters.NumberFilter(field_name="workflow_id", label="Workflow id")
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    object_type = django_filters.CharFilter(label="Record type")
    object_id = django_filters.NumberFilter(label="Record id")
    is_test = StrictBooleanFilter(label="Test-mode runs")

    class Meta:
        model = WorkflowRun
        fields: list[str] = []
