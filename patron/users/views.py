"""Log in (with throttling and two-factor), log out, and the user's own settings page."""

from __future__ import annotations

import datetime
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import (
    REDIRECT_FIELD_NAME,
    authenticate,
    login,
    logout,
    update_session_auth_hash,
)
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from patron.core.choices import SecurityEventKind
from patron.core.exceptions import ValidationFailed
from patron.core.forms import add_service_errors
from patron.users import services, throttle, twofactor
from patron.users.forms import (
    CodeForm,
    LoginForm,
    PasswordForm,
    ProfileForm,
    TokenCreateForm,
)
from patron.users.middleware import (
    SESSION_AUTHENTICATED_AT,
    SESSION_LAST_ACTIVITY,
    SESSION_LOGOUT_REASON,
)
from patron.users.models import User
from patron.users.selectors import two_factor_required

# Between the password and the code the session holds only these, never a logged-in user.
PENDING_USER = "patron_2fa_user"
PENDING_SINCE = "patron_2fa_since"
PENDING_NEXT = "patron_2fa_next"
PENDING_LIFETIME = 300
SETUP_SECRET = "patron_2fa_setup_secret"

LOGOUT_NOTICES = {
    "idle": "You were signed out after {minutes} minutes without activity. Please log in again.",
    "expired": "Your session reached its maximum length. Please log in again.",
}


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # guarded by login_required
    return user


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _throttled_response(
    request: HttpRequest, template: str, context: dict[str, Any], email: str, wait: int
) -> HttpResponse:
    services.security_event_record(
        kind=SecurityEventKind.LOGIN_THROTTLED,
        email=email,
        ip_address=throttle.client_ip(request),
    )
    minutes = throttle.retry_minutes(wait)
    unit = "minute" if minutes == 1 else "minutes"
    context["form"].add_error(None, f"Too many attempts, try again in {minutes} {unit}.")
    return render(request, template, context, status=429)


def _complete_login(request: HttpRequest, user: User, *, two_factor: bool) -> HttpResponse:
    next_url = request.session.get(PENDING_NEXT) or request.POST.get(REDIRECT_FIELD_NAME)
    login(request, user, backend="patron.users.backends.EmailBackend")
    for key in (PENDING_USER, PENDING_SINCE, PENDING_NEXT):
        request.session.pop(key, None)
    now = time.time()
    request.session[SESSION_AUTHENTICATED_AT] = now
    request.session[SESSION_LAST_ACTIVITY] = now
    throttle.success_reset(email=user.email)
    services.security_event_record(
        kind=SecurityEventKind.LOGIN,
        user=user,
        ip_address=throttle.client_ip(request),
        detail={"two_factor": two_factor},
    )
    return HttpResponseRedirect(_safe_next(request, next_url))


@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request, request.GET.get(REDIRECT_FIELD_NAME)))
    notice = None
    reason = request.session.pop(SESSION_LOGOUT_REASON, None)
    if reason in LOGOUT_NOTICES:
        notice = LOGOUT_NOTICES[reason].format(minutes=settings.SESSION_IDLE_TIMEOUT // 60)
    next_url = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    context: dict[str, Any] = {"notice": notice, "next": next_url}
    if request.method != "POST":
        return render(request, "users/login.html", {**context, "form": LoginForm()})
    form = LoginForm(request.POST)
    context["form"] = form
    if not form.is_valid():
        return render(request, "users/login.html", context, status=400)
    email = form.cleaned_data["email"].strip().lower()
    ip = throttle.client_ip(request)
    wait = throttle.retry_after(email=email, ip=ip)
    if wait is not None:
        return _throttled_response(request, "users/login.html", context, email, wait)
    user = authenticate(request, email=email, password=form.cleaned_data["password"])
    if not isinstance(user, User):
        throttle.failure_record(email=email, ip=ip)
        services.security_event_record(
            kind=SecurityEventKind.LOGIN_FAILED, email=email, ip_address=ip
        )
        form.add_error(None, "The email address or password is not right.")
        return render(request, "users/login.html", context, status=400)
    if user.totp_enabled:
        request.session.cycle_key()
        request.session[PENDING_USER] = user.pk
        request.session[PENDING_SINCE] = time.time()
        request.session[PENDING_NEXT] = next_url
        return redirect("users:login_verify")
    return _complete_login(request, user, two_factor=False)


@never_cache
@require_http_methods(["GET", "POST"])
def login_verify(request: HttpRequest) -> HttpResponse:
    """Second step for users with two-factor: the code from their app."""
    user_id = request.session.get(PENDING_USER)
    since = float(request.session.get(PENDING_SINCE) or 0)
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None or time.time() - since > PENDING_LIFETIME:
        for key in (PENDING_USER, PENDING_SINCE, PENDING_NEXT):
            request.session.pop(key, None)
        return redirect("users:login")
    form = CodeForm(request.POST or None)
    if request.method != "POST" or not form.is_valid():
        return render(request, "users/login_verify.html", {"form": form})
    ip = throttle.client_ip(request)
    wait = throttle.retry_after(email=user.email, ip=ip)
    if wait is not None:
        return _throttled_response(
            request, "users/login_verify.html", {"form": form}, user.email, wait
        )
    if not services.two_factor_verify(user=user, code=form.cleaned_data["code"], ip_address=ip):
        throttle.failure_record(email=user.email, ip=ip)
        form.add_error("code", "That code is not right; codes change every 30 seconds.")
        return render(request, "users/login_verify.html", {"form": form}, status=400)
    return _complete_login(request, user, two_factor=True)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if isinstance(request.user, User):
        services.security_event_record(
            kind=SecurityEventKind.LOGOUT,
            user=request.user,
            ip_address=throttle.client_ip(request),
        )
    logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


# --- settings ----------------------------------------------------------------------------


def _settings_page(request: HttpRequest, status: int = 200, **overrides: Any) -> HttpResponse:
    user = _user(request)
    context: dict[str, Any] = {
        "profile_form": ProfileForm(
            initial={"full_name": user.full_name, "time_zone": user.time_zone}
        ),
        "password_form": PasswordForm(user),
        "token_form": TokenCreateForm(),
        "tokens": user.api_tokens.all(),
        "two_factor_required": two_factor_required(user),
        "new_token_secret": None,
    }
    context.update(overrides)
    return render(request, "users/settings.html", context, status=status)


@login_required
@require_http_methods(["GET"])
def settings_view(request: HttpRequest) -> HttpResponse:
    return _settings_page(request)


@login_required
@require_POST
def profile_update(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            services.user_profile_update(
                user=_user(request),
                full_name=form.cleaned_data["full_name"],
                time_zone=form.cleaned_data["time_zone"],
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Your profile was saved.")
            return redirect("users:settings")
    return _settings_page(request, status=400, profile_form=form)


@login_required
@require_POST
def password_change(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = PasswordForm(user, request.POST)
    if form.is_valid():
        try:
            services.user_password_set(
                user=user,
                password=form.cleaned_data["new_password1"],
                ip_address=throttle.client_ip(request),
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            update_session_auth_hash(request, user)
            messages.success(request, "Your password was changed.")
            return redirect("users:settings")
    return _settings_page(request, status=400, password_form=form)


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST)
    if form.is_valid():
        expires_on: datetime.date | None = form.cleaned_data["expires_on"]
        expires_at = (
            timezone.make_aware(datetime.datetime.combine(expires_on, datetime.time.max))
            if expires_on
            else None
        )
        try:
            token, secret = services.token_create(
                user=_user(request),
                name=form.cleaned_data["name"],
                scopes=list(form.cleaned_data["scopes"]),
                expires_at=expires_at,
                ip_address=throttle.client_ip(request),
            )
        except ValidationFailed as error:
            if "expires_at" in error.errors:
                error.errors["expires_on"] = error.errors.pop("expires_at")
            add_service_errors(form, error)
        else:
            # Rendered, not redirected: the secret must never be stored, even in the session.
            return _settings_page(request, new_token_secret=secret, new_token=token)
    return _settings_page(request, status=400, token_form=form)


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    token = get_object_or_404(user.api_tokens.all(), pk=pk)
    services.token_revoke(token=token, actor=user, ip_address=throttle.client_ip(request))
    messages.success(request, f"The token {token.name} was revoked.")
    return redirect("users:settings")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """Set up two-factor (GET shows a new secret and its QR code; POST confirms a code),
    or, when it is on, show how to turn it off."""
    user = _user(request)
    context: dict[str, Any] = {"required": two_factor_required(user), "enabled": user.totp_enabled}
    if user.totp_enabled:
        context["form"] = CodeForm()
        return render(request, "users/two_factor.html", context)
    secret = request.session.get(SETUP_SECRET)
    if not secret:
        secret = twofactor.secret_new()
        request.session[SETUP_SECRET] = secret
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.two_factor_enable(
                user=user,
                secret=secret,
                code=form.cleaned_data["code"],
                ip_address=throttle.client_ip(request),
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
            status = 400
        else:
            request.session.pop(SETUP_SECRET, None)
            messages.success(request, "Two-factor authentication is on.")
            return redirect("users:settings")
    uri = twofactor.provisioning_uri(secret=secret, email=user.email)
    context.update({"form": form, "secret": secret, "qr_svg": twofactor.qr_svg(uri)})
    return render(request, "users/two_factor.html", context, status=status)


@login_required
@require_POST
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            services.two_factor_disable(
                user=user, code=form.cleaned_data["code"], ip_address=throttle.client_ip(request)
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Two-factor authentication is off.")
            return redirect("users:settings")
    context = {"required": two_factor_required(user), "enabled": True, "form": form}
    return render(request, "users/two_factor.html", context, status=400)
