"""The timeline card on every detail page and its HTMX endpoint /ui/timeline/<type>/<pk>/.

The card renders its first page with the detail page (so it works without JavaScript);
filters, "Show older" and the ``timeline-changed`` event reload parts of it from the view,
which answers a whole page when it is opened directly.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from patron.core.exceptions import ValidationFailed
from patron.core.models import BusinessRecord
from patron.core.record_pages import DetailPanel, record_detail_url, register_detail_panel
from patron.core.timeline import (
    DEFAULT_LIMIT,
    DEPARTMENTS,
    TimelineFilters,
    TimelinePage,
    timeline_filters,
    timeline_kinds,
    timeline_page,
    timeline_record,
)
from patron.core.views import handles_domain_errors, is_htmx, principal

PANEL_ORDER = 900
PAGE_SIZE = DEFAULT_LIMIT


def _filter_params(filters: TimelineFilters) -> list[tuple[str, str]]:
    params = [("kind", kind) for kind in sorted(filters.kinds)]
    if filters.department:
        params.append(("department", filters.department))
    return params


def timeline_context(
    record: BusinessRecord, filters: TimelineFilters, page: TimelinePage | None
) -> dict[str, Any]:
    """What the timeline templates show (``tl`` in them)."""
    url = reverse("ui:timeline", args=[record.object_type(), record.pk])
    params = _filter_params(filters)
    more_url = None
    if page is not None and page.next_cursor:
        more_url = f"{url}?{urlencode([*params, ('cursor', page.next_cursor)])}"
    return {
        "record": record,
        "url": url,
        "filtered_url": f"{url}?{urlencode(params)}" if params else url,
        "record_url": record_detail_url(record.object_type(), record.pk),
        "entries": page.entries if page is not None else [],
        "more_url": more_url,
        "kind_choices": [
            {"key": kind.key, "label": kind.label, "checked": kind.key in filters.kinds}
            for kind in timeline_kinds().values()
        ],
        "department_choices": [
            {"key": key, "label": label, "selected": key == filters.department}
            for key, label in DEPARTMENTS.items()
        ],
        "filtered": bool(params),
    }


def timeline_panel_context(request: HttpRequest, record: Any) -> dict[str, Any]:
    page = timeline_page(user=principal(request), record=record, limit=PAGE_SIZE)
    return timeline_context(record, TimelineFilters(), page)


def register_timeline_panel() -> None:
    register_detail_panel(
        DetailPanel(
            key="timeline",
            template="core/partials/timeline_card.html",
            context=timeline_panel_context,
            order=PANEL_ORDER,
        )
    )


@login_required
@handles_domain_errors
def timeline(request: HttpRequest, object_type: str, pk: int) -> HttpResponse:
    """A page of a record's timeline: the list body, older entries, or the whole page."""
    user = principal(request)
    record = timeline_record(user=user, object_type=object_type, pk=pk)
    filters = TimelineFilters()
    page: TimelinePage | None = None
    error: ValidationFailed | None = None
    try:
        filters = timeline_filters(
            kinds=request.GET.getlist("kind"), department=request.GET.get("department", "")
        )
        page = timeline_page(
            user=user,
            record=record,
            filters=filters,
            cursor=request.GET.get("cursor", ""),
            limit=PAGE_SIZE,
        )
    except ValidationFailed as exc:
        error = exc
    context = {"tl": timeline_context(record, filters, page), "error": error}
    status = error.status if error is not None else 200
    target = request.headers.get("HX-Target", "") if is_htmx(request) else ""
    if target == "timeline-more":
        template = "core/partials/timeline_entries.html"
    elif target == "timeline-body":
        template = "core/partials/timeline_body.html"
    else:
        template = "core/timeline.html"
    return render(request, template, context, status=status)
