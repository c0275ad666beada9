"""The global search page (/search/?q=) and its HTMX dropdown partial."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from patron.core import search
from patron.core.visibility import Principal

PAGE_LIMIT = 50
DROPDOWN_LIMIT = 8


@dataclass
class HitGroup:
    label: str
    hits: list[search.Hit] = field(default_factory=list)


def group_hits(hits: list[search.Hit]) -> list[HitGroup]:
    """Hits grouped by type; the group holding the best hit comes first."""
    groups: dict[str, HitGroup] = {}
    for hit in hits:
        groups.setdefault(hit.object_type, HitGroup(label=hit.type_label)).hits.append(hit)
    return list(groups.values())


@login_required
def global_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[: search.MAX_QUERY_LENGTH]
    dropdown = bool(getattr(request, "htmx", False))
    limit = DROPDOWN_LIMIT if dropdown else PAGE_LIMIT
    parsed = search.parse_query(query)
    hits = search.search(cast(Principal, request.user), query, limit=limit) if query else []
    context = {
        "query": query,
        "hits": hits,
        "groups": group_hits(hits),
        "short_query": bool(query) and not parsed.long_terms,
        "more_may_exist": len(hits) >= limit,
    }
    template = "core/search_results.html" if dropdown else "core/search.html"
    return render(request, template, context)
