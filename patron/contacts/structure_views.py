"""Account structure forms posted from the account page: the account team.

Each view is a POST that calls one service and returns to the account page, with the
outcome (or the error naming the field) as a message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from patron.contacts import selectors, services
from patron.core.exceptions import ValidationFailed
from patron.core.views import handles_domain_errors
from patron.users.models import User


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _post_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    return login_required(require_POST(handles_domain_errors(view)))


def _back_to_account(pk: int, anchor: str) -> HttpResponse:
    return redirect(f"/accounts/{pk}/#{anchor}")


def _report(request: HttpRequest, error: ValidationFailed) -> None:
    details = "; ".join(
        f"{field.replace('_', ' ')}: {' '.join(msgs)}" for field, msgs in error.errors.items()
    )
    messages.error(request, details or error.detail)


def _team_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    account = selectors.account_get(user=user, pk=pk)
    raw_user = request.POST.get("user", "")
    member_user = (
        User.objects.filter(pk=int(raw_user), is_active=True).first()
        if raw_user.isdigit()
        else None
    )
    try:
        member = services.account_team_add(
            user=user,
            account=account,
            member_user=member_user,
            team_role=request.POST.get("team_role", ""),
            access=request.POST.get("access", ""),
        )
    except ValidationFailed as error:
        _report(request, error)
    else:
        messages.success(request, f"{member.user} joined the account team.")
    return _back_to_account(pk, "team-title")


def _team_update(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    user = _user(request)
    account = selectors.account_get(user=user, pk=pk)
    member = selectors.account_team_member_get(account=account, pk=member_pk)
    try:
        services.account_team_update(
            user=user,
            member=member,
            team_role=request.POST.get("team_role") or None,
            access=request.POST.get("access") or None,
        )
    except ValidationFailed as error:
        _report(request, error)
    else:
        messages.success(request, f"{member.user}'s place on the account team was changed.")
    return _back_to_account(pk, "team-title")


def _team_remove(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    user = _user(request)
    account = selectors.account_get(user=user, pk=pk)
    member = selectors.account_team_member_get(account=account, pk=member_pk)
    services.account_team_remove(user=user, member=member)
    messages.success(request, f"{member.user} left the account team.")
    return _back_to_account(pk, "team-title")


account_team_add = _post_view(_team_add)
account_team_update = _post_view(_team_update)
account_team_remove = _post_view(_team_remove)
