"""The data-quality page: per object, how many records miss key fields or break a rule,
each count linking to the object's list narrowed to those records (bulk edit fixes them)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from patron.core.views import principal
from patron.data_exchange.quality_selectors import quality_overview


@login_required
@require_safe
def quality_page(request: HttpRequest) -> HttpResponse:
    groups = quality_overview(principal(request))
    return render(
        request,
        "data_exchange/quality_overview.html",
        {"groups": groups, "total": sum(group.total for group in groups)},
    )
