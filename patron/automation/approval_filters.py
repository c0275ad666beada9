"""The "My approvals" inbox filters: one FilterSet for the page, the API and the CSV."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone

from patron.automation.choices import ApprovalTaskStatus
from patron.automation.models import ApprovalProcess, ApprovalTask
from patron.core.filters import StrictBooleanFilter

# Sort keys mapped to their columns; the last one is the keyset tiebreaker.
TASK_SORTS: dict[str, tuple[str, ...]] = {
    # Task creation order: when the request (or its step) reached the approver.
    "created": ("id",),
    "-created": ("-id",),
    "due": ("due_at", "id"),
    "-due": ("-due_at", "-id"),
}
DEFAULT_TASK_SORT = "-created"


class ApprovalTaskFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=ApprovalTaskStatus.choices, empty_label="Any status"
    )
    process = django_filters.ModelChoiceFilter(
        field_name="request__process",
        queryset=ApprovalProcess.objects.all(),
        empty_label="Any process",
    )
    object_type = django_filters.CharFilter(field_name="request__object_type", label="Record type")
    overdue = StrictBooleanFilter(method="filter_overdue", label="Overdue")

    class Meta:
        model = ApprovalTask
        fields = ["status", "process", "object_type", "overdue"]

    def filter_overdue(
        self, queryset: QuerySet[ApprovalTask], name: str, value: Any
    ) -> QuerySet[ApprovalTask]:
        now = timezone.now()
        if value:
            return queryset.filter(status=ApprovalTaskStatus.PENDING, due_at__lt=now)
        return queryset.exclude(status=ApprovalTaskStatus.PENDING, due_at__lt=now)


def my_tasks(user: Any) -> QuerySet[ApprovalTask]:
    """``user``'s approval tasks with what the inbox shows (one query per page)."""
    return ApprovalTask.objects.filter(approver_id=getattr(user, "pk", None)).select_related(
        "request__process", "request__submitted_by", "step"
    )
