"""Filters and sorts of the webhook lists, shared by the pages, the API and CSV exports."""

from __future__ import annotations

import django_filters

from patron.automation.choices import DeliveryStatus
from patron.automation.models import WebhookDelivery, WebhookSubscription

SUBSCRIPTION_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
}

DELIVERY_SORTS: dict[str, tuple[str, ...]] = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "-duration": ("-duration_ms", "-id"),
    "duration": ("duration_ms", "id"),
}


class SubscriptionFilter(django_filters.FilterSet):  # type: ignore[misc]
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name")
    is_active = django_filters.BooleanFilter(label="Active")

    class Meta:
        model = WebhookSubscription
        fields: list[str] = []


class DeliveryFilter(django_filters.FilterSet):  # type: ignore[misc]
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event_type = django_filters.CharFilter(label="Event")
    response_code = django_filters.NumberFilter(label="Response code")
    is_test = django_filters.BooleanFilter(label="Test")
    created_after = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="On or after"
    )
    created_before = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="On or before"
    )

    class Meta:
        model = WebhookDelivery
        fields: list[str] = []
