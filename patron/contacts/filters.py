"""One FilterSet per list, shared by the HTML list and the API list."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet

from patron.contacts.choices import AccountKind, AccountTier
from patron.contacts.models import Account, Contact
from patron.core import search
from patron.core.filters import MineFilter, StrictBooleanFilter, UserRefFilter
from patron.users.models import Team

# Sort keys a list accepts, mapped to the columns they order by (the last is the tiebreaker
# that makes keyset paging stable).
ACCOUNT_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "revenue": ("annual_revenue", "id"),
    "-revenue": ("-annual_revenue", "-id"),
}
CONTACT_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("last_name", "first_name", "id"),
    "-name": ("-last_name", "-first_name", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}


class AccountFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Name, domain, email or phone")
    kind = django_filters.ChoiceFilter(choices=AccountKind.choices, empty_label="Any")
    tier = django_filters.ChoiceFilter(choices=AccountTier.choices, empty_label="Any")
    industry = django_filters.CharFilter(lookup_expr="iexact")
    owner = UserRefFilter()
    mine = MineFilter()
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all())
    country = django_filters.CharFilter(field_name="billing_country", lookup_expr="iexact")
    parent = django_filters.NumberFilter(field_name="parent_id")
    min_employees = django_filters.NumberFilter(field_name="employee_count", lookup_expr="gte")
    max_employees = django_filters.NumberFilter(field_name="employee_count", lookup_expr="lte")
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = Account
        fields: list[str] = []

    def filter_text(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(pk__in=search.matching_ids(Account, value))


class ContactFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Name, email, phone or account")
    account = django_filters.NumberFilter(field_name="account_id")
    owner = UserRefFilter()
    mine = MineFilter()
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all())
    title = django_filters.CharFilter(lookup_expr="icontains")
    language = django_filters.CharFilter(lookup_expr="iexact")
    email_opt_out = StrictBooleanFilter()
    do_not_call = StrictBooleanFilter()
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = Contact
        fields: list[str] = []

    def filter_text(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(pk__in=search.matching_ids(Contact, value))
