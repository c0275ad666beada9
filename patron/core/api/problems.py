"""RFC 9457 problem documents: every error under /api/v1/ is ``application/problem+json``.

A problem has ``type``, ``title``, ``status``, ``detail``, ``instance`` and, for bad input,
``errors: {field: [messages]}`` where a field is named by its path (``custom.tier``,
``limit``, ``If-Match``). ``install_problem_handlers`` maps every exception an operation can
raise onto one of these, so no bad input reaches the client as a 500 or an HTML page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import Field

from patron.core.exceptions import BrokerUnavailable, PatronError, VersionConflict

if TYPE_CHECKING:
    from ninja import NinjaAPI

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:patron:problem:"

# The problem type names documented in docs/api.md, by HTTP status.
_TYPES_BY_STATUS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "version-conflict",
    413: "request-too-large",
    422: "validation-failed",
    429: "too-many-requests",
    500: "server-error",
    503: "service-unavailable",
}
_TITLES_BY_STATUS = {
    400: "Bad request",
    401: "Authentication required",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Version conflict",
    413: "Request too large",
    422: "Validation failed",
    429: "Too many requests",
    500: "Server error",
    503: "Service unavailable",
}


class Problem(Schema):
    """An RFC 9457 problem document."""

    type: str = Field(
        description="A URI naming the kind of problem, e.g. urn:patron:problem:validation-failed."
    )
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, for a person to read.")
    instance: str = Field(description="The path of the request that failed.")
    errors: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Messages per field; a field is named by its path (custom.tier, limit).",
    )


def problem_response(
    request: HttpRequest,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    kind: str | None = None,
    errors: dict[str, list[str]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    """A problem+json response; ``extra`` adds extension members (RFC 9457 section 3.2)."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + (kind or _TYPES_BY_STATUS.get(status, "error")),
        "title": title or _TITLES_BY_STATUS.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.path,
        "errors": errors or {},
    }
    body.update(extra or {})
    response = HttpResponse(
        json.dumps(body), status=status, content_type=f"{PROBLEM_CONTENT_TYPE}; charset=utf-8"
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """The client-facing name of the input a Ninja/pydantic error location points at.

    Ninja prefixes locations with the source (body, query, path, header) and, for a body, the
    handler's parameter name; neither means anything to the client, so both are dropped.
    """
    parts = [str(part) for part in loc]
    if parts and parts[0] == "body":
        parts = parts[2:] if len(parts) > 2 else ["body"]
    elif parts and parts[0] in {"query", "path", "header", "cookie", "form"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "Unknown field; remove it or check its spelling."
    if kind == "missing":
        return "This field is required."
    return str(error.get("msg", "Invalid value."))


def validation_errors(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    named: dict[str, list[str]] = {}
    for error in errors:
        loc = tuple(error.get("loc", ()))
        name = field_path(loc)
        if loc[:1] == ("body",) and len(loc) == 2 and error.get("type") in {"missing"}:
            named.setdefault("body", []).append("Send a JSON object as the request body.")
            continue
        named.setdefault(name, []).append(_message(error))
    return named


def install_problem_handlers(api: NinjaAPI) -> None:
    """Route every exception an operation raises to a problem document."""

    def on_validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        errors = validation_errors(list(exc.errors))
        fields = ", ".join(sorted(errors))
        return problem_response(request, 422, f"Some input is not valid: {fields}.", errors=errors)

    def on_patron_error(request: HttpRequest, exc: PatronError) -> HttpResponse:
        extra: dict[str, Any] = {}
        if isinstance(exc, VersionConflict):
            extra["current_version"] = exc.current_version
        return problem_response(
            request, exc.status, exc.detail, title=exc.title, errors=exc.errors, extra=extra
        )

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        status = exc.status_code
        detail = str(exc)
        errors: dict[str, list[str]] = {}
        cause = exc.__cause__
        if isinstance(cause, PatronError):
            # Raised by the body parser, which Ninja wraps as a 400.
            return on_patron_error(request, cause)
        if status == 400 and isinstance(cause, ValueError):
            # Ninja wraps body parse failures; say where the JSON broke, nothing internal.
            where = ""
            if isinstance(cause, json.JSONDecodeError):
                where = f" (line {cause.lineno}, column {cause.colno}: {cause.msg})"
            detail = f"The request body is not valid JSON{where}."
            errors = {"body": ["Send a JSON object encoded as UTF-8."]}
            return problem_response(
                request, 400, detail, title="Malformed request body", errors=errors
            )
        headers: dict[str, str] = {}
        if isinstance(exc, AuthenticationError):
            headers["WWW-Authenticate"] = 'Bearer realm="patron"'
            if detail == "Unauthorized":
                detail = "Sign in, or send an API token as 'Authorization: Bearer <token>'."
        if isinstance(exc, Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait) + 1)
        return problem_response(request, status, detail, headers=headers)

    def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return problem_response(request, 404, "No such resource.")

    def on_django_permission(request: HttpRequest, exc: DjangoPermissionDenied) -> HttpResponse:
        return problem_response(request, 403, str(exc) or "You may not do this.")

    def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return too_large_response(request)

    def on_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
        # The database or the broker is down: 503 with Retry-After (patron.core.middleware).
        from patron.core.middleware import unavailable_response

        logger.warning("%s %s: 503, %s: %s", request.method, request.path, type(exc).__name__, exc)
        return unavailable_response(request, exc)

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("Unhandled error in API operation %s %s", request.method, request.path)
        return problem_response(
            request,
            500,
            "Something went wrong on our side; the error was logged. Try again later.",
        )

    handlers: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
        (NinjaValidationError, on_validation),
        (PatronError, on_patron_error),
        (HttpError, on_http_error),
        (Http404, on_not_found),
        (DjangoPermissionDenied, on_django_permission),
        (RequestDataTooBig, on_too_big),
        (BrokerUnavailable, on_unavailable),
        (OperationalError, on_unavailable),
        (InterfaceError, on_unavailable),
        (Exception, on_unexpected),
    ]
    for exception_class, handler in handlers:
        api.add_exception_handler(exception_class, handler)


def too_large_response(request: HttpRequest) -> HttpResponse:
    from django.conf import settings

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return problem_response(
        request,
        413,
        f"The request body is larger than the limit of {limit} bytes.",
        errors={"body": [f"Send at most {limit} bytes."]},
    )


def problem_responses(*statuses: int) -> dict[int, type[Problem]]:
    """The ``response=`` entries documenting error statuses an operation can return."""
    return dict.fromkeys(statuses, Problem)
