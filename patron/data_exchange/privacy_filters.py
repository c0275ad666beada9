"""Filters and sorts of the privacy request list (the page, its CSV and the API share them)."""

from __future__ import annotations

import django_filters

from patron.data_exchange.choices import PrivacyRequestKind, PrivacyRequestStatus
from patron.data_exchange.models import PrivacyRequest

PRIVACY_SORTS: dict[str, tuple[str, ...]] = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "kind": ("kind", "id"),
    "-kind": ("-kind", "-id"),
    "status": ("status", "id"),
    "-status": ("-status", "-id"),
}
DEFAULT_SORT = "-created"


class PrivacyRequestFilter(django_filters.FilterSet):  # type: ignore[misc]
    email = django_filters.CharFilter(
        field_name="subject_email", lookup_expr="icontains", label="Email contains"
    )
    kind = django_filters.ChoiceFilter(choices=PrivacyRequestKind.choices)
    status = django_filters.ChoiceFilter(choices=PrivacyRequestStatus.choices)
    contact = django_filters.NumberFilter(field_name="contact_id", label="Contact id")
    lead = django_filters.NumberFilter(field_name="lead_id", label="Lead id")
    created_after = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="On or after"
    )
    created_before = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="On or before"
    )

    class Meta:
        model = PrivacyRequest
        fields: list[str] = []
