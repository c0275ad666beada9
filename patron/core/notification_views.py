"""The notifications page and the bell's unread badge (loaded by HTMX so that no other
page pays a query for it)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from patron.core.api.pagination import InvalidCursor, keyset_page
from patron.core.notifications import (
    notification_get,
    notification_list,
    notification_mark_all_read,
    notification_mark_read,
    notification_unread_count,
)
from patron.core.views import handles_domain_errors

PAGE_SIZE = 50
SORT = "-created"
COLUMNS = ("-created_at", "-id")


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    queryset = notification_list(user=request.user)
    try:
        rows, next_cursor = keyset_page(
            queryset, sort=SORT, columns=COLUMNS, limit=PAGE_SIZE, cursor=request.GET.get("cursor")
        )
    except InvalidCursor:
        # A stale or edited link starts again from the newest.
        rows, next_cursor = keyset_page(
            queryset, sort=SORT, columns=COLUMNS, limit=PAGE_SIZE, cursor=None
        )
    context = {
        "notifications": rows,
        "next_cursor": next_cursor,
        "unread": notification_unread_count(user=request.user),
    }
    return render(request, "core/notifications.html", context)


@login_required
def notification_badge(request: HttpRequest) -> HttpResponse:
    unread = notification_unread_count(user=request.user)
    return render(request, "core/partials/notification_badge.html", {"unread": unread})


@login_required
@require_POST
@handles_domain_errors
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    row = notification_get(user=request.user, pk=pk)
    notification_mark_read(user=request.user, notification=row)
    target = row.url if request.POST.get("open") else ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("core:notifications")


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    notification_mark_all_read(user=request.user)
    return redirect("core:notifications")
