"""Keyset pagination, sorting and filtering for API lists.

A page is ``{"items": [...], "next_cursor": "..." | null}``. The cursor is opaque to the
client: the sort key and the last row's sort values, signed with the secret key so a
tampered or foreign cursor is refused (400 naming ``cursor``) instead of paging from an
arbitrary point. Each page is one query of ``limit + 1`` rows; nothing counts the table.

NULLs sort first ascending and last descending on every database, so a nullable sort
column (annual revenue) pages the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime
import decimal
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import django_filters
from django.core import signing
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import F, Model, Q, QuerySet
from django.http import HttpRequest
from ninja import Schema
from pydantic import Field

from patron.core.api.auth import request_user
from patron.core.exceptions import ValidationFailed
from patron.core.filters import FilterContext, refuse_huge_numbers

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_CURSOR_SALT = "patron.api.cursor"
# Query parameters every list understands besides its FilterSet's.
LIST_PARAMETERS = frozenset({"limit", "cursor", "sort"})

M = TypeVar("M", bound=Model)
T = TypeVar("T")


class ListParams(Schema):
    limit: int = Field(
        DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Rows per page (1 to {MAX_LIMIT})."
    )
    cursor: str | None = Field(
        None, description="The next_cursor of the previous page; leave out for the first page."
    )
    sort: str | None = Field(None, description="Sort key; see the operation's description.")


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last page."
    )


class InvalidCursor(ValidationFailed):
    status = 400
    title = "Invalid cursor"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The cursor is not valid: {reason}. Start again without a cursor.",
            errors={"cursor": [reason[0].upper() + reason[1:] + "."]},
        )


def _encode(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def encode_cursor(sort: str, values: Sequence[Any]) -> str:
    return signing.dumps({"s": sort, "v": [_encode(v) for v in values]}, salt=_CURSOR_SALT)


def decode_cursor(
    token: str, *, sort: str, model: type[Model], columns: Sequence[str]
) -> list[Any]:
    """The sort values a cursor carries, converted back to Python; InvalidCursor if bad."""
    try:
        payload = signing.loads(token, salt=_CURSOR_SALT)
    except signing.BadSignature:
        raise InvalidCursor("it was altered or was not issued by this server") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("v"), list):
        raise InvalidCursor("it has an unexpected shape")
    if payload.get("s") != sort:
        raise InvalidCursor(f"it belongs to sort={payload.get('s')!r}, not sort={sort!r}")
    raw_values = payload["v"]
    if len(raw_values) != len(columns):
        raise InvalidCursor("it has the wrong number of values")
    values: list[Any] = []
    for column, raw in zip(columns, raw_values, strict=True):
        if raw is None:
            values.append(None)
            continue
        field = model._meta.get_field(column.lstrip("-"))
        if not isinstance(field, models.Field):
            raise InvalidCursor("it names a column that cannot be sorted on")
        try:
            values.append(field.to_python(raw))
        except (ValidationError, TypeError, ValueError):
            raise InvalidCursor("it holds a value of the wrong type") from None
    return values


def _nullable(model: type[models.Model], name: str) -> bool:
    """Whether column ``name`` may hold NULL (a related or unknown path counts as nullable)."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return True
    return not isinstance(field, models.Field) or field.null


def api_ordering(model: type[models.Model], columns: Sequence[str]) -> list[Any]:
    """The ORDER BY of ``columns``: NULLs sort as the smallest value.

    NOT NULL columns get a plain ASC/DESC, which an index on them serves (an explicit NULLS
    FIRST on ascending columns does not match a btree index, so PostgreSQL read and sorted
    every matching row: 30,000 of one owner's contacts for a page of 50, issue 8).
    """
    order = []
    for column in columns:
        name = column.lstrip("-")
        descending = column.startswith("-")
        if not _nullable(model, name):
            order.append(F(name).desc() if descending else F(name).asc())
        elif descending:
            order.append(F(name).desc(nulls_last=True))
        else:
            order.append(F(name).asc(nulls_first=True))
    return order


def _after(model: type[models.Model], columns: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows strictly after ``values`` in the order of ``columns`` (the keyset predicate)."""
    condition = Q(pk__in=[])
    equal_so_far = Q()
    for column, value in zip(columns, values, strict=True):
        name = column.lstrip("-")
        if value is not None and not _nullable(model, name):
            beyond = Q(**{f"{name}__lt" if column.startswith("-") else f"{name}__gt": value})
        elif column.startswith("-"):
            beyond = (
                Q(pk__in=[])
                if value is None
                else Q(**{f"{name}__lt": value}) | Q(**{f"{name}__isnull": True})
            )
        else:
            beyond = (
                Q(**{f"{name}__isnull": False}) if value is None else Q(**{f"{name}__gt": value})
            )
        condition |= equal_so_far & beyond
        same = Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})
        equal_so_far &= same
    return condition


def keyset_page(
    queryset: QuerySet[M],
    *,
    sort: str,
    columns: Sequence[str],
    limit: int,
    cursor: str | None,
) -> tuple[list[M], str | None]:
    """One page of ``queryset`` ordered by ``columns`` and the cursor for the next one."""
    if cursor:
        values = decode_cursor(cursor, sort=sort, model=queryset.model, columns=columns)
        queryset = queryset.filter(_after(queryset.model, columns, values))
    rows = list(queryset.order_by(*api_ordering(queryset.model, columns))[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    next_cursor = encode_cursor(sort, [_value(last, c.lstrip("-")) for c in columns])
    return rows, next_cursor


def _value(row: Any, name: str) -> Any:
    """A column of a model instance, or of a row read with ``values()``."""
    return row[name] if isinstance(row, dict) else getattr(row, name)


def sort_columns(
    sort: str | None,
    sorts: Mapping[str, tuple[str, ...]],
    default: str,
    *,
    hidden: frozenset[str] = frozenset(),
) -> tuple[str, tuple[str, ...]]:
    """The sort key and its columns; a sort on a field hidden from the user is refused,
    since the order (and the cursor) would reveal the values."""
    key = sort or default
    allowed = [
        name for name, columns in sorts.items() if not {c.lstrip("-") for c in columns} & hidden
    ]
    if key not in allowed:
        raise ValidationFailed(
            f"Unknown sort {key!r}.",
            errors={"sort": [f"Choose one of: {', '.join(allowed)}."]},
        )
    return key, sorts[key]


def filtered(
    request: HttpRequest,
    queryset: QuerySet[M],
    filterset_class: type[django_filters.FilterSet],
) -> QuerySet[M]:
    """``queryset`` narrowed by the request's filter parameters, validated by the FilterSet.

    Unknown parameters are refused so a misspelt filter cannot silently return everything.
    """
    params = {k: v for k, v in request.GET.items() if k not in LIST_PARAMETERS}
    return filter_rows(params, queryset, filterset_class, user=request_user(request))


def filter_rows(
    params: Mapping[str, Any],
    queryset: QuerySet[M],
    filterset_class: type[django_filters.FilterSet],
    *,
    user: Any,
) -> QuerySet[M]:
    """``queryset`` narrowed by the filters ``params`` name, validated as ``filtered`` does
    (for filters that arrive other than as query parameters, e.g. an export's body)."""
    known = set(filterset_class.base_filters)
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValidationFailed(
            "Unknown query parameter(s): " + ", ".join(unknown) + ".",
            errors={
                name: [f"Not a filter of this list; filters are: {', '.join(sorted(known))}."]
                for name in unknown
            },
        )
    # django-filter is untyped, so mypy cannot see that a class is hashable.
    narrowed = _with_filters(filterset_class, frozenset(params))  # type: ignore[arg-type]
    filterset = narrowed(data=params, queryset=queryset, request=FilterContext(user=user))
    refuse_huge_numbers(filterset)
    if not filterset.is_valid():
        errors = {
            name: [str(message) for message in messages]
            for name, messages in filterset.errors.items()
        }
        raise ValidationFailed(
            "Some filters are not valid: " + ", ".join(sorted(errors)) + ".", errors=errors
        )
    result: QuerySet[M] = filterset.qs
    return result


@functools.lru_cache(maxsize=512)
def _with_filters(
    filterset_class: type[django_filters.FilterSet], names: frozenset[str]
) -> type[django_filters.FilterSet]:
    """``filterset_class`` holding only the filters ``names``: a filter given no value leaves
    the rows as they are, yet django-filter copies every filter and builds its form field on
    each request (a sixth of an API list's time, issue 8). Overrides of ``filter_queryset``
    still run, and read absent filters as None from ``form.cleaned_data``. A FilterSet with
    an ``__init__`` of its own may reach for any of its filters there, so it keeps them all."""
    if filterset_class.__init__ is not django_filters.FilterSet.__init__:
        return filterset_class
    narrowed: type[django_filters.FilterSet] = type(
        filterset_class.__name__, (filterset_class,), {"__module__": filterset_class.__module__}
    )
    narrowed.base_filters = {
        name: filter_
        for name, filter_ in filterset_class.base_filters.items()
        if name in names
    }
    return narrowed


def page_body(items: Iterable[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": list(items), "next_cursor": next_cursor}
