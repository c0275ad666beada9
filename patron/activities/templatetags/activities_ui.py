"""Template helpers of the activity pages."""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from django import template
from django.http import HttpRequest
from django.template.context import Context

register = template.Library()

# The linked records of a whole list page, worked out once per request for all its rows.
_page_links: WeakKeyDictionary[HttpRequest, dict[int, list[dict[str, Any]]]] = (
    WeakKeyDictionary()
)


@register.simple_tag(takes_context=True)
def activity_links(context: Context, activity: Any, page: Any) -> list[dict[str, Any]]:
    """The records ``activity`` is linked to, named when the user may see them; the names of
    every row of ``page`` are fetched together on the first call (no query per row)."""
    from patron.activities.views import link_entries

    request = context["request"]
    entries = _page_links.setdefault(request, {})
    if activity.pk not in entries:
        entries.update(link_entries(request.user, [*page.rows, activity]))
    return entries.get(activity.pk, [])
