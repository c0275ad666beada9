"""One FilterSet for the activity list, shared by the (coming) HTML list and the API."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet

from patron.activities.choices import ActivityKind, TaskPriority, TaskStatus
from patron.activities.models import Activity, ActivityAttendee, ActivityLink
from patron.core.filters import StrictBooleanFilter, UserRefFilter, asking_user
from patron.users.models import User

# Sort keys mapped to columns; the last is the tiebreaker that keeps keyset paging stable.
ACTIVITY_SORTS: dict[str, tuple[str, ...]] = {
    "occurred": ("occurred_at", "id"),
    "-occurred": ("-occurred_at", "-id"),
    "due": ("due_at", "id"),
    "-due": ("-due_at", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}
# The list page's date-time picker; it sends ISO 8601 ("2026-12-01T09:00"), as the API does.
_MOMENT = forms.DateTimeInput(attrs={"type": "datetime-local"})


class ActivityFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ActivityKind.choices, empty_label="Any")
    status = django_filters.ChoiceFilter(choices=TaskStatus.choices, empty_label="Any")
    priority = django_filters.ChoiceFilter(choices=TaskPriority.choices, empty_label="Any")
    owner = UserRefFilter()
    assignee = UserRefFilter()
    due_after = django_filters.IsoDateTimeFilter(
        field_name="due_at", lookup_expr="gte", label="Due from", widget=_MOMENT
    )
    due_before = django_filters.IsoDateTimeFilter(
        field_name="due_at", lookup_expr="lt", label="Due before", widget=_MOMENT
    )
    occurred_after = django_filters.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", label="Happens from", widget=_MOMENT
    )
    occurred_before = django_filters.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="lt", label="Happens before", widget=_MOMENT
    )
    linked = django_filters.CharFilter(
        method="filter_linked",
        label="Linked to (object_type:id, e.g. contacts.account:12)",
        validators=[
            RegexValidator(
                r"^[a-z_]+\.[a-z_]+:[0-9]{1,18}$",
                "Write object_type:id, e.g. contacts.account:12.",
            )
        ],
    )

    mine = StrictBooleanFilter(
        method="filter_mine", label="Mine (I own, am assigned or attend)"
    )
    involves = UserRefFilter(
        method="filter_involves", label="Involving (owner, assignee, attendee)"
    )

    class Meta:
        model = Activity
        fields: list[str] = []

    def filter_involves(
        self, queryset: QuerySet[Any], name: str, value: User | int
    ) -> QuerySet[Any]:
        """Activities a person owns, is assigned or attends: "mine" when it is oneself."""
        attending = ActivityAttendee.objects.filter(user=value).values("activity_id")
        return queryset.filter(Q(owner=value) | Q(assignee=value) | Q(pk__in=attending))

    def filter_mine(self, queryset: QuerySet[Any], name: str, value: bool) -> QuerySet[Any]:
        user = asking_user(self)
        if user is None:
            return queryset.none()
        mine = self.filter_involves(queryset, name, user)
        return mine if value else queryset.exclude(pk__in=mine.values("pk"))

    def filter_linked(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        object_type, _, pk = value.rpartition(":")
        try:
            model = apps.get_model(object_type)
        except LookupError:
            return queryset.none()
        linked = ActivityLink.objects.filter(
            content_type=ContentType.objects.get_for_model(model), object_id=int(pk)
        ).values("activity_id")
        return queryset.filter(pk__in=linked)
