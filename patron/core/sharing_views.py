"""Share and unshare any business record from its detail page (POST forms, then back)."""

from __future__ import annotations

from typing import Any, cast

from django.apps import apps
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.models import BusinessRecord, RecordShare
from patron.core.sharing import share_grant, share_revoke
from patron.core.views import handles_domain_errors
from patron.core.visibility import Principal


def _principal(request: HttpRequest) -> Principal:
    """The signed-in user (every view here is behind login_required)."""
    return cast(Principal, request.user)


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)


def _visible_record(user: Any, object_type: str, pk: int) -> BusinessRecord:
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        raise RecordNotFound(f"Unknown kind of record {object_type!r}.") from None
    if not issubclass(model, BusinessRecord):
        raise RecordNotFound(f"Records of kind {object_type!r} cannot be shared.")
    record = model.objects.visible_to(user).filter(pk=pk).select_related("owner__role").first()
    if record is None:
        raise RecordNotFound("That record does not exist or you may not see it.")
    return record


def _grantee(kind: str, raw_id: str) -> dict[str, Any]:
    if not raw_id.isdigit():
        return {}
    models_by_kind = {
        "user": get_user_model(),
        "team": apps.get_model("users", "Team"),
        "role": apps.get_model("users", "Role"),
    }
    model = models_by_kind.get(kind)
    target = model._default_manager.filter(pk=int(raw_id)).first() if model else None
    return {f"grantee_{kind}": target} if target is not None else {}


@login_required
@require_POST
@handles_domain_errors
def share_add(request: HttpRequest, object_type: str, pk: int) -> HttpResponse:
    record = _visible_record(_principal(request), object_type, pk)
    kind, _, raw_id = request.POST.get("grantee", "").partition(":")
    try:
        share = share_grant(
            user=_principal(request),
            record=record,
            access=request.POST.get("access", "read"),
            **_grantee(kind, raw_id),
        )
    except ValidationFailed as error:
        messages.error(request, " ".join(m for ms in error.errors.values() for m in ms))
    else:
        grantee = share.user or share.team or share.role
        messages.success(request, f"Shared with {grantee} ({share.get_access_display()}).")
    return _back(request)


@login_required
@require_POST
@handles_domain_errors
def share_remove(request: HttpRequest, share_pk: int) -> HttpResponse:
    share = RecordShare.objects.select_related("content_type").filter(pk=share_pk).first()
    if share is None:
        raise RecordNotFound("That share no longer exists.")
    model = share.content_type.model_class()
    if model is None:
        raise RecordNotFound("That kind of record no longer exists.")
    _visible_record(_principal(request), model._meta.label_lower, share.object_id)
    share_revoke(user=_principal(request), share=share)
    messages.success(request, "The share was removed.")
    return _back(request)
