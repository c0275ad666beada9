"""Record pickers: search-as-you-type choices for any lookup field.

Apps register a ``Picker`` per object type (in ``AppConfig.ready()``); the picker view
(``/ui/pick/<object_type>/``) and the ``RecordSearchSelect`` widget use it to offer matching
records among the ones the user may read, however many records there are.

``model_picker`` builds the usual picker of a model: terms long enough for substring search
go through ``core.search`` (FTS5 / pg_trgm, restricted to the type and to visible records);
shorter terms match the start of the record's name fields, and no term lists the first
records by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from django.db import models
from django.db.models import Q

from patron.core import search as core_search
from patron.core.visibility import Principal

# What a picker offers per record: (primary key, label, hint shown after the label).
Option = tuple[int, str, str]
SearchFunction = Callable[[Principal, str, int], list[Option]]
LookupFunction = Callable[[Principal, int], Option | None]

# Options offered per search: enough to spot the record, few enough to read.
PICKER_RESULTS = 20


@dataclass(frozen=True)
class Picker:
    """How records of ``object_type`` are found by a picker.

    ``search(user, term, limit)`` gives at most ``limit`` options the user may read;
    ``lookup(user, pk)`` gives one (the picker's current choice) or None when the user may not
    read it. ``label_plural`` names the records in the search box's label ("accounts").
    """

    object_type: str
    search: SearchFunction
    label_plural: str
    lookup: LookupFunction


_registry: dict[str, Picker] = {}


def register_picker(picker: Picker) -> None:
    _registry[picker.object_type] = picker


def get_picker(object_type: str) -> Picker | None:
    return _registry.get(object_type)


def model_picker(
    model: type[models.Model],
    *,
    label_plural: str,
    name_fields: Sequence[str],
    hint: Callable[[Any], str] = lambda record: "",
    select_related: Sequence[str] = (),
) -> Picker:
    """The picker of ``model``: ``core.search`` for substring terms, a prefix match on
    ``name_fields`` (also the order of the options) for shorter ones."""
    object_type = model._meta.label_lower

    def visible(user: Principal) -> Any:
        rows = model._default_manager.visible_to(user)  # type: ignore[attr-defined]
        return rows.select_related(*select_related) if select_related else rows

    def option(record: Any) -> Option:
        return (record.pk, str(record), hint(record))

    def search(user: Principal, term: str, limit: int) -> list[Option]:
        limit = max(1, min(limit, core_search.MAX_LIMIT))
        parsed = core_search.parse_query(term)
        if parsed.long_terms:
            hits = core_search.search(user, term, limit=limit, object_types=[object_type])
            return [(hit.pk, hit.title, hit.subtitle) for hit in hits]
        rows = visible(user)
        if parsed.phrase:
            rows = rows.filter(
                reduce(or_, (Q(**{f"{name}__istartswith": parsed.phrase}) for name in name_fields))
            )
        return [option(record) for record in rows.order_by(*name_fields, "pk")[:limit]]

    def lookup(user: Principal, pk: int) -> Option | None:
        record = visible(user).filter(pk=pk).first()
        return option(record) if record is not None else None

    return Picker(
        object_type=object_type, search=search, label_plural=label_plural, lookup=lookup
    )
