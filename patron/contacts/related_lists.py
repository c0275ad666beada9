"""The lists of rows hanging off a contact (SPEC 2.2), described once each.

Competitor products owned, literature requests, subscriptions, training attended and consent
per purpose are five small tables with the same life: rows are added, changed and removed
by whoever may edit the contact, listed on the contact's page, on a page of their own across
all visible contacts, in CSV and in the API. A ``RelatedListSpec`` says what differs (model,
slug, labels, fields, filters, sorts, rules); services, selectors, views and the API are
written once against it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import django_filters
from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone

from patron.contacts.choices import (
    ConsentPurpose,
    ConsentSource,
    ConsentStatus,
    LiteratureChannel,
    SubscriptionKind,
    SubscriptionStatus,
    TrainingResult,
)
from patron.contacts.models import (
    CompetitorProductOwned,
    ContactConsent,
    ContactRelatedRow,
    LiteratureRequest,
    Subscription,
    TrainingAttendance,
)
from patron.contacts.related_list_forms import RelatedRowForm

Errors = dict[str, list[str]]
# Ids are 64-bit; a larger number would overflow the database driver rather than match nothing.
LARGEST_ID = 2**63 - 1
# A recorded consent may be dated a little ahead of the server's clock (the form's clock).
CONSENT_CLOCK_SKEW = datetime.timedelta(minutes=5)


def _sorts(**columns: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Each sort key ascending and, prefixed with "-", descending; ``id`` breaks ties so
    keyset paging is stable."""
    sorts: dict[str, tuple[str, ...]] = {}
    for key, names in columns.items():
        sorts[key] = (*names, "id")
        sorts[f"-{key}"] = (*(f"-{name}" for name in names), "-id")
    return sorts


def _not_before(later: str, earlier: str, message: str) -> Callable[[Any], Errors]:
    """A rule: ``later`` (a date or time) may not be before ``earlier`` when both are set."""

    def rule(row: Any) -> Errors:
        start, end = getattr(row, earlier), getattr(row, later)
        if start is not None and end is not None and end < start:
            return {later: [message.format(start=_text(start), end=_text(end))]}
        return {}

    return rule


def _text(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _consent_rules(row: Any) -> Errors:
    errors: Errors = {}
    if not row.source:
        errors["source"] = [
            "Say where the answer came from (web form, email, phone, ...): consent without a "
            "source cannot be proven."
        ]
    if row.recorded_at is not None and row.recorded_at > timezone.now() + CONSENT_CLOCK_SKEW:
        errors["recorded_at"] = ["A consent cannot be recorded in the future; use the time given."]
    return errors


class _ContactRowFilter(django_filters.FilterSet):  # type: ignore[misc]
    """Filters every related list has: the contact, and when the row was added."""

    contact = django_filters.NumberFilter(
        field_name="contact_id", label="Contact id", min_value=1, max_value=LARGEST_ID
    )
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")


class CompetitorProductFilter(_ContactRowFilter):
    q = django_filters.CharFilter(field_name="product", lookup_expr="icontains", label="Product")
    competitor = django_filters.NumberFilter(
        field_name="competitor_id", label="Competitor id", min_value=1, max_value=LARGEST_ID
    )
    contract_ends_after = django_filters.DateFilter(field_name="contract_end", lookup_expr="gte")
    contract_ends_before = django_filters.DateFilter(field_name="contract_end", lookup_expr="lte")

    class Meta:
        model = CompetitorProductOwned
        fields: list[str] = []


class LiteratureRequestFilter(_ContactRowFilter):
    q = django_filters.CharFilter(field_name="item", lookup_expr="icontains", label="Item")
    channel = django_filters.ChoiceFilter(choices=LiteratureChannel.choices)
    fulfilled = django_filters.BooleanFilter(
        field_name="fulfilled_on", lookup_expr="isnull", exclude=True, label="Fulfilled"
    )
    requested_after = django_filters.DateFilter(field_name="requested_on", lookup_expr="gte")
    requested_before = django_filters.DateFilter(field_name="requested_on", lookup_expr="lte")

    class Meta:
        model = LiteratureRequest
        fields: list[str] = []


class SubscriptionFilter(_ContactRowFilter):
    q = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", label="List or product"
    )
    kind = django_filters.ChoiceFilter(choices=SubscriptionKind.choices)
    status = django_filters.ChoiceFilter(choices=SubscriptionStatus.choices)
    opt_in_source = django_filters.ChoiceFilter(choices=ConsentSource.choices)

    class Meta:
        model = Subscription
        fields: list[str] = []


class TrainingAttendanceFilter(_ContactRowFilter):
    q = django_filters.CharFilter(method="filter_text", label="Course or certificate")
    result = django_filters.ChoiceFilter(choices=TrainingResult.choices)
    attended_after = django_filters.DateFilter(field_name="attended_on", lookup_expr="gte")
    attended_before = django_filters.DateFilter(field_name="attended_on", lookup_expr="lte")

    class Meta:
        model = TrainingAttendance
        fields: list[str] = []

    def filter_text(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(Q(course__icontains=value) | Q(certificate__icontains=value))


class ConsentFilter(_ContactRowFilter):
    purpose = django_filters.ChoiceFilter(choices=ConsentPurpose.choices)
    status = django_filters.ChoiceFilter(choices=ConsentStatus.choices)
    source = django_filters.ChoiceFilter(choices=ConsentSource.choices)
    recorded_after = django_filters.DateFilter(field_name="recorded_at", lookup_expr="date__gte")
    recorded_before = django_filters.DateFilter(field_name="recorded_at", lookup_expr="date__lte")

    class Meta:
        model = ContactConsent
        fields: list[str] = []


@dataclass(frozen=True)
class RelatedListSpec:
    """One related list of a contact.

    ``fields`` are the editable fields in form order; ``columns`` those shown in tables (the
    first names the row). ``rules`` return field errors for values that are each valid but
    do not fit together. ``unique`` are the fields that, with the contact, name one row; a
    second such row is refused with ``unique_message`` on the last of them.
    """

    key: str
    slug: str
    model: type[ContactRelatedRow]
    label: str
    label_plural: str
    fields: tuple[str, ...]
    columns: tuple[str, ...]
    filterset: type[django_filters.FilterSet]
    sorts: dict[str, tuple[str, ...]]
    default_sort: str
    primary_filters: tuple[str, ...] = ("q",)
    rules: tuple[Callable[[Any], Errors], ...] = ()
    unique: tuple[str, ...] = ()
    unique_message: str = ""
    related: tuple[str, ...] = ()
    add_label: str = ""
    empty_text: str = ""
    # Where the contact page shows the card ("main" or "side") and in which order.
    column: str = "main"
    order: int = 50
    form_class: type[RelatedRowForm] = RelatedRowForm

    @property
    def noun(self) -> str:
        """The singular used in API operation ids (``literature_request_list``)."""
        return self.key.removesuffix("s")

    @property
    def title_field(self) -> str:
        return self.columns[0]

    @property
    def anchor(self) -> str:
        return f"related-{self.slug}"

    def model_field(self, name: str) -> models.Field[Any, Any]:
        found = self.model._meta.get_field(name)
        assert isinstance(found, models.Field)
        return found

    def column_labels(self) -> list[tuple[str, str]]:
        return [
            (name, str(self.model_field(name).verbose_name).capitalize()) for name in self.columns
        ]

    def describe(self, row: Any) -> str:
        """The row in one line, for the contact's change log (``Brochure (Email, 2025-01-02)``)."""
        parts = [_display(row, name) for name in self.columns]
        title, details = parts[0], [p for p in parts[1:] if p]
        return f"{title} ({', '.join(details)})" if details else title


def _display(row: Any, name: str) -> str:
    value = getattr(row, name)
    if value is None or value == "":
        return ""
    display = getattr(row, f"get_{name}_display", None)
    if callable(display):
        return str(display())
    return _text(value)


COMPETITOR_PRODUCTS = RelatedListSpec(
    key="competitor_products",
    slug="competitor-products",
    model=CompetitorProductOwned,
    label="Competitor product owned",
    label_plural="Competitor products owned",
    fields=("product", "competitor", "since", "contract_end", "notes"),
    columns=("product", "competitor", "since", "contract_end"),
    filterset=CompetitorProductFilter,
    sorts=_sorts(product=("product",), since=("since",), contract_end=("contract_end",)),
    default_sort="product",
    rules=(
        _not_before(
            "contract_end",
            "since",
            "The contract cannot end ({end}) before the contact had the product ({start}).",
        ),
    ),
    related=("competitor",),
    add_label="Add a product",
    empty_text="No competitor products recorded.",
    order=40,
)

LITERATURE_REQUESTS = RelatedListSpec(
    key="literature_requests",
    slug="literature-requests",
    model=LiteratureRequest,
    label="Literature request",
    label_plural="Literature requests",
    fields=("item", "channel", "requested_on", "fulfilled_on", "notes"),
    columns=("item", "channel", "requested_on", "fulfilled_on"),
    filterset=LiteratureRequestFilter,
    sorts=_sorts(requested=("requested_on",), item=("item",), fulfilled=("fulfilled_on",)),
    default_sort="-requested",
    primary_filters=("q", "fulfilled"),
    rules=(
        _not_before(
            "fulfilled_on",
            "requested_on",
            "A request cannot be fulfilled ({end}) before it was made ({start}).",
        ),
    ),
    add_label="Add a request",
    empty_text="No literature requested.",
    order=41,
)

SUBSCRIPTIONS = RelatedListSpec(
    key="subscriptions",
    slug="subscriptions",
    model=Subscription,
    label="Subscription",
    label_plural="Subscriptions",
    fields=("name", "kind", "status", "opt_in_source", "opt_in_at", "ended_at"),
    columns=("name", "kind", "status", "opt_in_source", "opt_in_at"),
    filterset=SubscriptionFilter,
    sorts=_sorts(name=("name",), status=("status",), opt_in=("opt_in_at",)),
    default_sort="name",
    primary_filters=("q", "status"),
    rules=(
        _not_before(
            "ended_at",
            "opt_in_at",
            "A subscription cannot end ({end}) before the contact opted in ({start}).",
        ),
    ),
    unique=("kind", "name"),
    unique_message=(
        "This contact already has a subscription of this kind with this name; change that one "
        "instead."
    ),
    add_label="Add a subscription",
    empty_text="No subscriptions.",
    order=42,
)

TRAINING_ATTENDANCES = RelatedListSpec(
    key="training_attendances",
    slug="training-attendances",
    model=TrainingAttendance,
    label="Training course attended",
    label_plural="Training courses attended",
    fields=("course", "attended_on", "result", "certificate", "notes"),
    columns=("course", "attended_on", "result", "certificate"),
    filterset=TrainingAttendanceFilter,
    sorts=_sorts(attended=("attended_on",), course=("course",)),
    default_sort="-attended",
    primary_filters=("q", "result"),
    add_label="Add a course",
    empty_text="No training recorded.",
    order=43,
)

CONSENTS = RelatedListSpec(
    key="consents",
    slug="consents",
    model=ContactConsent,
    label="Consent",
    label_plural="Consent",
    fields=("purpose", "status", "source", "recorded_at", "evidence"),
    columns=("purpose", "status", "source", "recorded_at"),
    filterset=ConsentFilter,
    sorts=_sorts(recorded=("recorded_at",), purpose=("purpose",)),
    default_sort="-recorded",
    primary_filters=("purpose", "status"),
    rules=(_consent_rules,),
    unique=("purpose",),
    unique_message=(
        "This contact already has an answer for this purpose; record the new answer for it, "
        "which replaces the old one."
    ),
    add_label="Record consent",
    empty_text="No consent recorded.",
    column="side",
    order=30,
)

RELATED_LISTS: tuple[RelatedListSpec, ...] = (
    COMPETITOR_PRODUCTS,
    LITERATURE_REQUESTS,
    SUBSCRIPTIONS,
    TRAINING_ATTENDANCES,
    CONSENTS,
)
SPECS_BY_SLUG: dict[str, RelatedListSpec] = {spec.slug: spec for spec in RELATED_LISTS}
