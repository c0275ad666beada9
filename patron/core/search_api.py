"""GET /api/v1/search/: global search over every registered object type."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from patron.core import search
from patron.core.api.auth import request_user
from patron.core.api.problems import problem_responses

# Authentication (a token with the search:read scope, or a session) is set where config.api_v1
# mounts this router.
router = Router(tags=["search"])


class SearchItem(Schema):
    type: str = Field(description="The kind of record: account, contact, ...")
    id: int
    title: str
    subtitle: str
    url: str = Field(description="The path of the record's page in the web app.")


class SearchResults(Schema):
    items: list[SearchItem] = Field(description="Best matches first.")


class SearchParams(Schema):
    q: str = Field(
        "", max_length=search.MAX_QUERY_LENGTH,
        description="Name, email, phone number in any format, or domain.",
    )
    limit: int = Field(20, ge=1, le=search.MAX_LIMIT)


@router.get(
    "/",
    response={200: SearchResults, **problem_responses(401, 403, 422)},
    summary="Search records",
)
def search_records(request: HttpRequest, params: Query[SearchParams]) -> SearchResults:
    """Records the caller may read that match ``q``, best matches first (scope search:read)."""
    hits = search.search(request_user(request), params.q, limit=params.limit)
    return SearchResults(
        items=[
            SearchItem(type=h.type_name, id=h.pk, title=h.title, subtitle=h.subtitle, url=h.url)
            for h in hits
        ]
    )
