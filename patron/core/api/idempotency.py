"""``Idempotency-Key`` for POST: a retried request returns the first response, once written.

The first request with a key inserts an IdempotencyRecord (unique per user and key) in the
same transaction as its write, then stores its status, body and headers there. A repeat
with the same method, path and body gets that stored response back with
``Idempotent-Replayed: true`` and nothing is written again; a repeat with anything else is
refused (422). Two concurrent first requests race on the unique constraint: the database
makes the second wait for the first to commit, and it then replays the first's response.
Server errors are not stored, so a retry after a 5xx runs again. Keys expire after
``KEY_LIFETIME``; an expired key starts afresh.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

from patron.core.api.auth import resolve_user
from patron.core.api.problems import problem_response, too_large_response
from patron.core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEY_LIFETIME = datetime.timedelta(hours=24)
# Response headers worth replaying; cookies and per-request headers are not.
_REPLAYED_HEADERS = ("Content-Type", "ETag", "Location")

PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "A unique key (up to 255 characters, e.g. a UUID) that makes retrying this POST safe: "
        "a repeat with the same key and body returns the first response without writing "
        "again; the same key with a different request is refused with 422."
    ),
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
}

Run = Callable[..., HttpResponseBase]


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update((request.method or "").encode())
    digest.update(b"\0")
    digest.update(request.path.encode())
    digest.update(b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.response_body), status=record.status_code or 200)
    for name, value in record.response_headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def _mismatch(request: HttpRequest) -> HttpResponse:
    return problem_response(
        request,
        422,
        "This Idempotency-Key was already used with a different request (method, path or "
        "body). Use a new key for a new request.",
        title="Idempotency key reused",
        kind="idempotency-key-reused",
        errors={HEADER: ["Already used with a different request."]},
    )


def idempotent(run: Run) -> Run:
    """Wrap an operation's ``run`` (use with ``ninja.decorate_view``) to honour the header."""

    @functools.wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        key = request.headers.get(HEADER)
        if key is None:
            return run(request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            return problem_response(
                request,
                400,
                f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} characters.",
                errors={HEADER: [f"Use 1 to {MAX_KEY_LENGTH} characters, e.g. a UUID."]},
            )
        operation = getattr(run, "__self__", None)
        user = resolve_user(request, getattr(operation, "auth_callbacks", ()))
        if user is None:
            # Not authenticated: let the operation answer with its own 401/403.
            return run(request, *args, **kwargs)
        try:
            fingerprint = _fingerprint(request)
        except RequestDataTooBig:
            return too_large_response(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        key=key,
                        user=user,
                        method=request.method or "",
                        path=request.path[:500],
                        body_hash=fingerprint,
                    )
            except IntegrityError:
                return _repeat(
                    request,
                    user=user,
                    key=key,
                    fingerprint=fingerprint,
                    run=run,
                    args=args,
                    kwargs=kwargs,
                )
            response = run(request, *args, **kwargs)
            _store(record, response)
        return response

    return wrapper


def _repeat(
    request: HttpRequest,
    *,
    user: Any,
    key: str,
    fingerprint: str,
    run: Run,
    args: Any,
    kwargs: Any,
) -> HttpResponseBase:
    existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if existing is not None and existing.created_at < timezone.now() - KEY_LIFETIME:
        existing.delete()
        return idempotent(run)(request, *args, **kwargs)
    if existing is None:
        # Its first request failed with a server error and was rolled back: run afresh.
        return idempotent(run)(request, *args, **kwargs)
    if existing.body_hash != fingerprint:
        return _mismatch(request)
    if existing.status_code is None:
        return problem_response(
            request,
            409,
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            kind="idempotency-key-in-use",
        )
    return _replay(existing)


def _store(record: IdempotencyRecord, response: HttpResponseBase) -> None:
    if response.status_code >= 500 or not isinstance(response, HttpResponse):
        # Roll the key back with whatever the failed request did, so a retry runs again.
        transaction.set_rollback(True)
        return
    record.status_code = response.status_code
    record.response_body = response.content
    record.response_headers = {
        name: response[name] for name in _REPLAYED_HEADERS if response.has_header(name)
    }
    record.save(update_fields=["status_code", "response_body", "response_headers"])


def purge_expired_keys() -> int:
    """Delete remembered responses older than KEY_LIFETIME; returns how many (for a
    periodic task)."""
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - KEY_LIFETIME
    ).delete()
    return deleted
