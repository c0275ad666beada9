"""Filter building blocks shared by every app's FilterSets.

Pages, the API and export jobs create FilterSets with ``request=FilterContext(user)``, so a
filter that depends on who is asking ("mine") means the same in all three, and a saved or
shared view with ``mine=true`` shows each user their own rows.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils.choices import BaseChoiceIterator
from django_filters.constants import EMPTY_VALUES

# No database stores an integer beyond 64 bits; SQLite and psycopg raise on one even in a
# WHERE clause, so such a filter value is an error on its field, not a query.
LARGEST_INTEGER = 2**63 - 1


def beyond_64_bits(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | decimal.Decimal):
        return False
    return not -LARGEST_INTEGER <= value <= LARGEST_INTEGER


def refuse_huge_numbers(filterset: django_filters.FilterSet) -> dict[str, list[str]]:
    """Mark each filter whose value is a number beyond 64 bits as invalid (which drops it
    from the query) and return those errors; call before ``filterset.qs``."""
    form = filterset.form
    form.is_valid()
    message = f"Use a number between {-LARGEST_INTEGER} and {LARGEST_INTEGER}."
    huge = [name for name, value in form.cleaned_data.items() if beyond_64_bits(value)]
    for name in huge:
        form.add_error(name, message)
    return {name: [message] for name in huge}


@dataclass(frozen=True)
class FilterContext:
    """What a FilterSet may know about the request: only who is asking."""

    user: Any


def asking_user(filterset: Any) -> Any:
    """The user a FilterSet filters for, or None when it was built without a context."""
    return getattr(getattr(filterset, "request", None), "user", None)


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """A yes/no filter that rejects values other than true/false instead of ignoring them."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("choices", [("true", "Yes"), ("false", "No")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(**kwargs)


class MineFilter(StrictBooleanFilter):
    """``mine=true``: rows where the asking user is in one of ``user_fields`` (``false``: the
    others). Without an asking user nothing matches rather than everything."""

    def __init__(self, *, user_fields: Sequence[str] = ("owner",), **kwargs: Any) -> None:
        kwargs.setdefault("label", "Mine only")
        super().__init__(**kwargs)
        self.user_fields = tuple(user_fields)

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value in EMPTY_VALUES:
            return qs
        user = asking_user(self.parent)
        if user is None:
            return qs.none()
        mine = Q()
        for field in self.user_fields:
            mine |= Q(**{field: user})
        return qs.filter(mine) if value else qs.exclude(mine)


class UserChoices(BaseChoiceIterator):
    """A user filter's options, read when the dropdown is rendered (one query however many
    users there are): active users first, then departed ones marked "(inactive)", whose
    records still need listing to be handed over."""

    def __init__(self, field: UserRefField) -> None:
        self.field = field

    def __iter__(self) -> Iterator[tuple[int | str, str]]:
        yield ("", self.field.empty_label)
        users = (
            get_user_model()
            ._default_manager.order_by("-is_active", "full_name", "email")
            .only("pk", "full_name", "email", "is_active")
        )
        for user in users:
            yield (user.pk, str(user) if user.is_active else f"{user} (inactive)")


class UserRefField(forms.IntegerField):
    """A user id: any positive whole number within 64 bits, checked without a query (an id
    that names nobody simply matches no rows), shown as a dropdown of users."""

    widget = forms.Select
    default_error_messages = {"invalid": "Enter a user id (a whole number)."}

    def __init__(self, *, empty_label: str = "Any", **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", LARGEST_INTEGER)
        super().__init__(**kwargs)
        self.empty_label = empty_label
        self.widget.choices = UserChoices(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> UserRefField:
        # Each form gets a copy of the field; its options must read the copy's empty_label.
        result: UserRefField = super().__deepcopy__(memo)  # type: ignore[misc]  # not in the stubs
        result.widget.choices = UserChoices(result)
        return result


class UserRefFilter(django_filters.Filter):
    """Rows whose ``field_name`` (a user reference: owner, assignee, member, ...) is the
    given user, active or departed. Use instead of a ModelChoiceFilter over users, which
    loads the user row to validate the id and refuses departed users."""

    field_class = UserRefField
