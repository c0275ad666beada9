"""The FilterSet of the leads-at-risk list, shared by its page, its CSV and the API.

The list starts from ``policy_services.leads_at_risk``; ``due_within`` and ``untouched_days``
decide the window of that base list, so the FilterSet builds it itself from the visible
leads it is given (``at_risk_rows``) rather than filtering a list made with other windows.
"""

from __future__ import annotations

import datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from patron.core.filters import MineFilter, UserRefFilter
from patron.leads.models import Lead, LeadSettings
from patron.leads.policy_services import (
    DEFAULT_DUE_WITHIN_MINUTES,
    DEFAULT_UNTOUCHED_DAYS,
    RiskReason,
    RiskWindow,
    lead_settings,
    recent_activity,
    risk_condition,
)
from patron.routing.models import RoutingQueue

AT_RISK_SORTS: dict[str, tuple[str, ...]] = {
    "due": ("first_response_due_at", "id"),
    "-due": ("-first_response_due_at", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "breaches": ("deadline_breaches", "id"),
    "-breaches": ("-deadline_breaches", "-id"),
    "score": ("score", "id"),
    "-score": ("-score", "-id"),
}
AT_RISK_DEFAULT_SORT = "due"
MAX_DUE_WITHIN_MINUTES = 7 * 24 * 60
MAX_UNTOUCHED_DAYS = 365


class AtRiskFilter(django_filters.FilterSet):
    reason = django_filters.ChoiceFilter(
        choices=RiskReason.CHOICES, method="filter_noop", label="Reason", empty_label="Any reason"
    )
    owner = UserRefFilter()
    mine = MineFilter()
    queue = django_filters.ModelChoiceFilter(queryset=RoutingQueue.objects.all())
    overdue_by = django_filters.NumberFilter(
        method="filter_overdue_by",
        label="Overdue by at least (minutes)",
        min_value=0,
        max_value=MAX_DUE_WITHIN_MINUTES,
    )
    due_within = django_filters.NumberFilter(
        method="filter_noop",
        label="Due soon means within (minutes)",
        min_value=1,
        max_value=MAX_DUE_WITHIN_MINUTES,
    )
    untouched_days = django_filters.NumberFilter(
        method="filter_noop",
        label="Untouched means for (days)",
        min_value=1,
        max_value=MAX_UNTOUCHED_DAYS,
    )

    class Meta:
        model = Lead
        fields: list[str] = []

    def __init__(
        self,
        *args: Any,
        now: datetime.datetime | None = None,
        policy: LeadSettings | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()
        self.policy = policy
        self._window: RiskWindow | None = None
        for name in ("overdue_by", "due_within", "untouched_days"):
            self.form.fields[name].widget = forms.NumberInput(attrs={"min": 0, "step": 1})

    def window(self) -> RiskWindow:
        """The moments this list compares with (worked out once)."""
        if self._window is None:
            data = self.form.cleaned_data if self.form.is_valid() else {}
            due_within = data.get("due_within") or DEFAULT_DUE_WITHIN_MINUTES
            untouched = data.get("untouched_days") or DEFAULT_UNTOUCHED_DAYS
            self._window = RiskWindow.build(
                policy=self.policy or lead_settings(),
                due_within_minutes=int(due_within),
                untouched_days=int(untouched),
                now=self.now,
            )
        return self._window

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        window = self.window()
        reason = self.form.cleaned_data.get("reason")
        reasons = [reason] if reason else [key for key, _label in RiskReason.CHOICES]
        condition = risk_condition(reasons[0], window)
        for other in reasons[1:]:
            condition |= risk_condition(other, window)
        rows = queryset.annotate(recently_active=recent_activity(window))
        filtered: QuerySet[Any] = super().filter_queryset(rows.filter(condition))
        return filtered

    def filter_noop(self, queryset: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        # Read by filter_queryset (the window and the reason), not a filter of its own.
        return queryset

    def filter_overdue_by(self, queryset: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        cutoff = self.now - datetime.timedelta(minutes=int(value))
        return queryset.filter(first_responded_at__isnull=True, first_response_due_at__lte=cutoff)
