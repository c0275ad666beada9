"""Filter building blocks shared by every app's FilterSets.

Pages, the API and export jobs create FilterSets with ``request=FilterContext(user)``, so a
filter that depends on who is asking ("mine") means the same in all three, and a saved or
shared view with ``mine=true`` shows each user their own rows.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
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
