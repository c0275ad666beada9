from __future__ import annotations

import logging
import sys
import zoneinfo
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views import defaults

logger = logging.getLogger(__name__)


class UserTimezoneMiddleware:
    """Show times in the signed-in user's time zone; they are stored in UTC."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tz_name = getattr(request.user, "time_zone", "") if hasattr(request, "user") else ""
        try:
            timezone.activate(zoneinfo.ZoneInfo(tz_name or "UTC"))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.activate(zoneinfo.ZoneInfo("UTC"))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


# --- a dependency down: 503 with Retry-After, never a 500 (issue 8, "Faults") -------------

RETRY_AFTER_SECONDS = 10
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Patron is unavailable</title></head>
<body><main><h1>Patron is briefly unavailable</h1>
<p>{what} is not answering. Nothing you saved before is lost. Try again in a few seconds.</p>
</main></body></html>
"""


def unavailable_cause(exc: BaseException | None) -> str | None:
    """What is down when ``exc`` says a backing service is (the database or the broker)."""
    from patron.core.exceptions import BrokerUnavailable

    seen = 0
    # An error raised while handling the outage (its __context__) is the outage too.
    while exc is not None and seen < 5:
        if isinstance(exc, OperationalError | InterfaceError):
            return "The database"
        if isinstance(exc, BrokerUnavailable):
            return "The task broker"
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 with Retry-After: problem+json under /api/, else a page that needs no database
    (a template's context processors would query it again)."""
    what = unavailable_cause(exc) or "A service Patron needs"
    detail = getattr(exc, "detail", "") or f"{what} is unavailable. Try again shortly."
    if request.path_info.startswith("/api/"):
        from patron.core.api.problems import problem_response

        response = problem_response(
            request,
            503,
            detail,
            errors=getattr(exc, "errors", None),
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    else:
        response = HttpResponse(_PAGE.format(what=what), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    # Never cached by a proxy: the next request may well succeed.
    response["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: a database or broker outage is a 503, not a server error.

    Django calls it for any uncaught exception, including one raised by a middleware (the
    session and user are loaded there, before any view), which no middleware can catch."""
    exc = sys.exc_info()[1]
    if unavailable_cause(exc) is not None:
        assert exc is not None
        logger.warning("%s %s: 503, %s: %s", request.method, request.path, type(exc).__name__, exc)
        return unavailable_response(request, exc)
    return defaults.server_error(request)
