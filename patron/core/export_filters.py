"""Filters and sorts of a user's list of export jobs (``GET /api/v1/exports``)."""

from __future__ import annotations

import django_filters

from patron.core.choices import JobStatus
from patron.core.models import Job

EXPORT_JOB_SORTS: dict[str, tuple[str, ...]] = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
}
DEFAULT_EXPORT_JOB_SORT = "-created"


class ExportJobFilter(django_filters.FilterSet):  # type: ignore[misc]
    # The object type is in the job's params (the same shape the UI's export writes).
    object = django_filters.CharFilter(
        field_name="params__object", label="Object type, e.g. contacts.contact"
    )
    status = django_filters.ChoiceFilter(choices=JobStatus.choices)

    class Meta:
        model = Job
        fields: list[str] = []
