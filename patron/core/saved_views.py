"""The write path for saved list views (named filters, sort and columns per object type)."""

from __future__ import annotations

from typing import Any

from patron.core.exceptions import ValidationFailed
from patron.core.models import SavedView

MAX_QUERY_LENGTH = 2000
MAX_COLUMNS = 20


def saved_view_save(
    *,
    user: Any,
    object_type: str,
    name: str,
    query: str,
    columns: list[str],
    shared: bool = False,
) -> SavedView:
    """Create the user's view ``name`` for ``object_type``, or overwrite it if it exists."""
    name = name.strip()
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 100:
        errors["name"] = ["Give the view a name of at most 100 characters."]
    if len(query) > MAX_QUERY_LENGTH:
        errors["query"] = ["These filters are too long to save as a view."]
    if errors:
        raise ValidationFailed("The view was not saved.", errors=errors)
    view, _created = SavedView.objects.update_or_create(
        user=user,
        object_type=object_type,
        name=name,
        defaults={"query": query, "columns": columns[:MAX_COLUMNS], "shared": shared},
    )
    return view


def saved_view_delete(*, user: Any, object_type: str, pk: int) -> bool:
    """Delete one of the user's own views; False when there is none to delete."""
    deleted, _ = SavedView.objects.filter(pk=pk, user=user, object_type=object_type).delete()
    return bool(deleted)
