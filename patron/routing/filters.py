"""One FilterSet per routing list (pools, queues, rules, the decision log), each with its
sort table; the pages, the API and the CSV download share them."""

from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet

from patron.core.filters import StrictBooleanFilter, UserRefFilter
from patron.routing.choices import DecisionKind, Strategy
from patron.routing.models import AssignmentDecision, AssignmentRule, Pool, RoutingQueue
from patron.routing.registry import routable

# Sort keys mapped to their columns; the last one is the keyset tiebreaker.
POOL_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}
QUEUE_SORTS: dict[str, tuple[str, ...]] = POOL_SORTS
RULE_SORTS: dict[str, tuple[str, ...]] = {
    "position": ("object_type", "position", "id"),
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
}
DECISION_SORTS: dict[str, tuple[str, ...]] = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
}


class ObjectTypeFilter(django_filters.CharFilter):
    """A routable object type such as ``leads.lead`` (types register at start-up, so this is
    free text rather than a fixed choice)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Object type (e.g. leads.lead)")
        super().__init__(**kwargs)


class PoolFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Name or description")
    object_type = ObjectTypeFilter()
    strategy = django_filters.ChoiceFilter(choices=Strategy.choices)
    is_active = StrictBooleanFilter(label="Active")

    class Meta:
        model = Pool
        fields: list[str] = []

    def filter_text(self, queryset: QuerySet[Pool], name: str, value: str) -> QuerySet[Pool]:
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))


class QueueFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name")
    is_active = StrictBooleanFilter(label="Active")
    member = UserRefFilter(field_name="members", label="Member")

    class Meta:
        model = RoutingQueue
        fields: list[str] = []


class RuleFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name")
    object_type = ObjectTypeFilter()
    pool = django_filters.ModelChoiceFilter(queryset=Pool.objects.all())
    is_active = StrictBooleanFilter(label="Active")

    class Meta:
        model = AssignmentRule
        fields: list[str] = []


class DecisionFilter(django_filters.FilterSet):
    object_type = ObjectTypeFilter(method="filter_object_type")
    object_id = django_filters.NumberFilter(label="Item id")
    kind = django_filters.ChoiceFilter(choices=DecisionKind.choices, label="Decision")
    pool = django_filters.ModelChoiceFilter(queryset=Pool.objects.all())
    assigned_user = UserRefFilter(label="Assigned to")
    actor = UserRefFilter(label="Reassigned by")
    created_after = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="On or after"
    )
    created_before = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="On or before"
    )

    class Meta:
        model = AssignmentDecision
        fields: list[str] = []

    def filter_object_type(
        self, queryset: QuerySet[AssignmentDecision], name: str, value: str
    ) -> QuerySet[AssignmentDecision]:
        try:
            model = routable(value).model
        except LookupError:
            return queryset.none()
        content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
        return queryset.filter(content_type=content_type)
