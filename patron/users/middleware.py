"""Session lifetime and required two-factor, enforced on every request."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from patron.core.choices import SecurityEventKind
from patron.users import services
from patron.users.selectors import two_factor_required
from patron.users.throttle import client_ip

SESSION_LAST_ACTIVITY = "patron_last_activity"
SESSION_AUTHENTICATED_AT = "patron_authenticated_at"
# Read by the login page to say why the user was signed out.
SESSION_LOGOUT_REASON = "patron_logout_reason"

API_PREFIX = "/api/"
TWO_FACTOR_PREFIX = "/settings/two-factor/"


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    # HtmxMiddleware runs after this one, so the header is read directly.
    if request.headers.get("HX-Request") == "true":
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


class SessionTimeoutMiddleware:
    """Sign a user out after SESSION_IDLE_TIMEOUT seconds without a request, and after
    SESSION_COOKIE_AGE seconds since they logged in whatever their activity.

    Django's own expiry slides with every session save, so the absolute limit is kept here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        now = time.time()
        session = request.session
        last = session.get(SESSION_LAST_ACTIVITY)
        started = session.get(SESSION_AUTHENTICATED_AT)
        reason = None
        if last is not None and now - float(last) > settings.SESSION_IDLE_TIMEOUT:
            reason = "idle"
        elif started is not None and now - float(started) > settings.SESSION_COOKIE_AGE:
            reason = "expired"
        if reason is not None:
            services.security_event_record(
                kind=SecurityEventKind.LOGOUT,
                user=user,
                ip_address=client_ip(request),
                detail={"reason": reason},
            )
            logout(request)
            request.session[SESSION_LOGOUT_REASON] = reason
            if request.path_info.startswith(API_PREFIX):
                return self.get_response(request)
            return _redirect(request, redirect_to_login(request.get_full_path()).url)
        if started is None:
            session[SESSION_AUTHENTICATED_AT] = now
        # Refresh the stamp only now and then, so most requests do not write the session.
        if last is None or now - float(last) >= min(60, settings.SESSION_IDLE_TIMEOUT / 4):
            session[SESSION_LAST_ACTIVITY] = now
        return self.get_response(request)


class TwoFactorRequiredMiddleware:
    """Send a user whose role (or admin status) requires two-factor, and who has not set it
    up, to the setup page before anything else."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def _exempt(self, path: str) -> bool:
        prefixes = (
            reverse("users:login"),
            reverse("users:logout"),
            TWO_FACTOR_PREFIX,
            settings.STATIC_URL or "/static/",
            "/healthz",
            "/readyz",
            API_PREFIX,
        )
        return path.startswith(prefixes)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not user.totp_enabled
            and not self._exempt(request.path_info)
            and two_factor_required(user)
        ):
            return _redirect(request, reverse("users:two_factor"))
        return self.get_response(request)
