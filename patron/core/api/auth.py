"""API authentication: scoped personal tokens (``Authorization: Bearer``) and browser sessions.

A token is checked against the scope of the router's area: safe methods need
``<area>:read`` (or ``:write``), unsafe ones ``<area>:write``. A session is the signed-in
browser user, with Django's CSRF check on unsafe methods. Core knows nothing about how
tokens are stored: the users app passes its look-up and scope functions in
(``patron.users.api.api_auth``), keeping the layering intact.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, Protocol

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from patron.core.visibility import require_admin

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# How stale ``last_used_at`` may get before a request writes it again; saves one UPDATE per
# request on busy tokens while keeping "last used" accurate to the minute.
LAST_USED_RESOLUTION = datetime.timedelta(seconds=60)
_REQUEST_TOKEN_ATTR = "patron_api_token"


class TokenRecord(Protocol):
    """What the API needs from a stored token (users.ApiToken satisfies it)."""

    pk: Any
    user: Any
    scopes: Any
    revoked_at: datetime.datetime | None
    expires_at: datetime.datetime | None
    last_used_at: datetime.datetime | None


TokenLookup = Callable[[str], TokenRecord | None]
ScopeCheck = Callable[..., bool]


def request_token(request: HttpRequest) -> TokenRecord | None:
    """The API token that authenticated ``request``, or None for a session."""
    token: TokenRecord | None = getattr(request, _REQUEST_TOKEN_ATTR, None)
    return token


def request_user(request: HttpRequest) -> Any:
    """The user an API operation acts for (set by whichever authenticator succeeded)."""
    user = getattr(request, "auth", None)
    if user is None:
        raise AuthenticationError()
    return user


def request_admin(request: HttpRequest, refusal: str) -> Any:
    """The acting user, who must be an administrator (else 403 with ``refusal``)."""
    return require_admin(request_user(request), refusal)


def wants_write(request: HttpRequest) -> bool:
    return (request.method or "GET").upper() not in SAFE_METHODS


class BearerTokenAuth(HttpBearer):
    """``Authorization: Bearer <token>`` for one scope area (contacts, users, search, ...)."""

    def __init__(self, area: str, *, lookup: TokenLookup, allows: ScopeCheck) -> None:
        self.area = area
        self._lookup = lookup
        self._allows = allows
        super().__init__()

    def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get(self.header, "")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer":
            # Another scheme (e.g. Basic from a proxy in front of Patron) is not ours to
            # judge: the session may still authenticate the request.
            return None
        return self.authenticate(request, secret.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        record = request_token(request)
        if record is None:
            record = self._verified(token)
            setattr(request, _REQUEST_TOKEN_ATTR, record)
            self._touch(record)
        write = wants_write(request)
        if not self._allows(record, self.area, write=write):
            needed = f"{self.area}:{'write' if write else 'read'}"
            raise AuthorizationError(
                message=f"This API token lacks the {needed} scope; create a token that has it."
            )
        # Code below the API (services, selectors) reads request.user like a session view.
        request.user = record.user
        return record.user

    def _verified(self, secret: str) -> TokenRecord:
        if not secret:
            raise AuthenticationError(message="The Authorization header has no token.")
        record = self._lookup(secret)
        if record is None:
            raise AuthenticationError(message="This API token is not valid.")
        if record.revoked_at is not None:
            raise AuthenticationError(message="This API token was revoked.")
        if record.expires_at is not None and record.expires_at <= timezone.now():
            expired = record.expires_at.isoformat(timespec="seconds")
            raise AuthenticationError(message=f"This API token expired at {expired}.")
        if not record.user.is_active:
            raise AuthenticationError(message="The user of this API token is deactivated.")
        return record

    @staticmethod
    def _touch(record: TokenRecord) -> None:
        now = timezone.now()
        if record.last_used_at is None or now - record.last_used_at >= LAST_USED_RESOLUTION:
            type(record)._default_manager.filter(pk=record.pk).update(last_used_at=now)  # type: ignore[attr-defined]
            record.last_used_at = now


class SessionAuth(APIKeyCookie):
    """The signed-in browser user; unsafe methods must pass Django's CSRF check."""

    param_name: str = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        exempt = getattr(request, "_ninja_csrf_exempt", False)
        if wants_write(request) and not exempt and check_csrf(request) is not None:
            raise AuthorizationError(
                message=(
                    "CSRF check failed: send the csrftoken cookie's value in the "
                    "X-CSRFToken header, or use an API token instead of a session."
                )
            )
        return user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return self(request)


def resolve_user(request: HttpRequest, callbacks: Any) -> Any:
    """Run an operation's authenticators ahead of it (for idempotency); None if none pass.

    The token authenticator keeps what it verified on the request, so the operation's own
    authentication that follows costs no further query.
    """
    for callback in callbacks:
        try:
            user = callback(request)
        except Exception:
            return None
        if user:
            return user
    return None
