"""Lead capture pages: the admin's form list and editor (with the embed snippet), and the
public side: the hosted form, the embed script, the form-encoded endpoint and the opt-in
confirmation page. The public pages need no sign-in and take no CSRF token (they are posted
from other sites); spam checks and rate limits guard them instead."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from patron.core.choices import Via
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.forms import add_service_errors
from patron.leads import selectors
from patron.leads.capture import (
    FILL_TOKEN_FIELD,
    HONEYPOT_FIELD,
    capture_confirm_opt_in,
    capture_form_create,
    capture_form_new_key,
    capture_form_update,
    capture_submit,
    fill_token,
)
from patron.leads.choices import CaptureOutcome
from patron.leads.forms import CaptureFormConfigForm
from patron.leads.models import CaptureForm
from patron.users.admin_views import admin_required
from patron.users.models import User
from patron.users.throttle import client_ip

PUBLIC_INPUT_TYPES = {
    "email": "email",
    "phone": "tel",
    "mobile": "tel",
    "website": "url",
    "employee_count": "number",
}
AUTOCOMPLETE = {
    "first_name": "given-name",
    "last_name": "family-name",
    "email": "email",
    "phone": "tel",
    "mobile": "tel",
    "company": "organization",
    "title": "organization-title",
    "website": "url",
    "city": "address-level2",
    "region": "address-level1",
    "postal_code": "postal-code",
    "country": "country",
}


def _admin(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # guarded by admin_required
    return user


# ---------- admin ----------


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def public_fields(form: CaptureForm) -> list[dict[str, Any]]:
    """The form's fields as the public pages and the embed script render them."""
    return [
        {
            "name": item["field"],
            "label": item["label"],
            "required": bool(item["required"]),
            "type": "textarea"
            if item["field"] == "description"
            else PUBLIC_INPUT_TYPES.get(item["field"], "text"),
            "autocomplete": AUTOCOMPLETE.get(item["field"], "off"),
        }
        for item in form.fields
    ]


def snippets(request: HttpRequest, form: CaptureForm) -> dict[str, str]:
    """The embed snippet (script + div) and the plain-HTML fallback form."""
    base = base_url(request)
    embed = (
        f'<div data-patron-capture="{form.key}"></div>\n'
        f'<script src="{base}/capture/{form.key}/embed.js" async></script>'
    )
    lines = [f'<form method="post" action="{base}/capture/{form.key}/">']
    for field in public_fields(form):
        required = " required" if field["required"] else ""
        lines.append(f'  <label for="patron-{field["name"]}">{escape(field["label"])}</label>')
        if field["type"] == "textarea":
            lines.append(
                f'  <textarea id="patron-{field["name"]}" name="{field["name"]}"{required}>'
                "</textarea>"
            )
        else:
            lines.append(
                f'  <input id="patron-{field["name"]}" name="{field["name"]}" '
                f'type="{field["type"]}" autocomplete="{field["autocomplete"]}"{required}>'
            )
    lines += [
        f'  <div style="position:absolute;left:-10000px" aria-hidden="true">'
        f'<input name="{HONEYPOT_FIELD}" tabindex="-1" autocomplete="off"></div>',
        f'  <input type="hidden" name="{FILL_TOKEN_FIELD}" value="{fill_token(form)}">',
        '  <button type="submit">Send</button>',
        "</form>",
    ]
    return {"embed": embed, "html": "\n".join(lines), "hosted": f"{base}/capture/{form.key}/"}


@admin_required
def capture_form_list(request: HttpRequest) -> HttpResponse:
    return render(request, "leads/capture_form_list.html", {"forms": selectors.capture_form_list()})


@admin_required
@require_http_methods(["GET", "POST"])
def capture_form_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = _admin(request)
    instance = selectors.capture_form_get(pk=pk) if pk is not None else None
    if request.method == "POST":
        form = CaptureFormConfigForm(request.POST)
    elif instance is not None:
        form = CaptureFormConfigForm(initial=CaptureFormConfigForm.initial_from(instance))
    else:
        form = CaptureFormConfigForm(
            initial={
                "default_owner": user.pk,
                "is_active": True,
                "use_first_name": True,
                "use_last_name": True,
                "required_last_name": True,
                "use_email": True,
                "required_email": True,
                "use_company": True,
                "use_description": True,
            }
        )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                if instance is None:
                    instance = capture_form_create(user=user, data=form.config())
                else:
                    instance = capture_form_update(user=user, form=instance, data=form.config())
            except ValidationFailed as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Saved the capture form “{instance.name}”.")
                return redirect("leads:capture_form_edit", pk=instance.pk)
        status = 422
    context: dict[str, Any] = {"form": form, "instance": instance}
    if instance is not None:
        context["snippets"] = snippets(request, instance)
        context["submissions"] = selectors.recent_submissions(form=instance, limit=20)
    return render(request, "leads/capture_form_edit.html", context, status=status)


@admin_required
@require_POST
def capture_form_rekey(request: HttpRequest, pk: int) -> HttpResponse:
    form = capture_form_new_key(user=_admin(request), form=selectors.capture_form_get(pk=pk))
    messages.warning(
        request, "The form has a new key: replace the snippet on your site; the old one stops."
    )
    return redirect("leads:capture_form_edit", pk=form.pk)


# ---------- public ----------


def confirm_url_for(request: HttpRequest) -> Any:
    def build(token: str) -> str:
        return request.build_absolute_uri(reverse("leads:capture_confirm", args=[token]))

    return build


def _missing(request: HttpRequest, error: RecordNotFound) -> HttpResponse:
    return render(
        request,
        "leads/capture_message.html",
        {"title": "Form not found", "message": error.detail},
        status=404,
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def capture_public(request: HttpRequest, key: str) -> HttpResponse:
    """The hosted form (GET) and the form-encoded endpoint every HTML snippet posts to."""
    try:
        form = selectors.capture_form_by_key(key)
    except RecordNotFound as error:
        return _missing(request, error)
    values: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        result = capture_submit(
            form=form,
            data=request.POST.dict(),
            sender_address=client_ip(request) or "unknown",
            confirm_url=confirm_url_for(request),
            require_fill_token=True,
            via=Via.UI,
        )
        if result.outcome == CaptureOutcome.RATE_LIMITED:
            limited = render(
                request,
                "leads/capture_message.html",
                {
                    "title": "Too many submissions",
                    "message": "We received several submissions from your address in the last "
                    "hour. Please try again in an hour; what you sent is kept.",
                },
                status=429,
            )
            limited["Retry-After"] = "3600"
            return limited
        if result.accepted:
            if form.redirect_url:
                return redirect(form.redirect_url)
            return render(
                request,
                "leads/capture_message.html",
                {"title": "Thank you", "message": form.thank_you_message},
            )
        values, errors, status = request.POST.dict(), result.errors, 422
    context = {
        "capture": form,
        "fields": [
            {**field, "value": values.get(field["name"], ""), "errors": errors.get(field["name"])}
            for field in public_fields(form)
        ],
        "errors": errors,
        "honeypot": HONEYPOT_FIELD,
        "token_field": FILL_TOKEN_FIELD,
        "token": fill_token(form),
    }
    return render(request, "leads/capture_public.html", context, status=status)


def capture_embed_js(request: HttpRequest, key: str) -> HttpResponse:
    """The script the embed snippet loads: it renders the form and posts it as JSON."""
    try:
        form = selectors.capture_form_by_key(key)
    except RecordNotFound as error:
        body = f"console.error({json.dumps(error.detail)});"
        return HttpResponse(body, content_type="text/javascript", status=404)
    config = {
        "key": form.key,
        "endpoint": base_url(request) + f"/api/v1/capture/{form.key}",
        "fields": public_fields(form),
        "honeypot": HONEYPOT_FIELD,
        "tokenField": FILL_TOKEN_FIELD,
        "token": fill_token(form),
        "thankYou": form.thank_you_message,
        "redirect": form.redirect_url,
    }
    response = render(
        request,
        "leads/capture_embed.js",
        {"config": json.dumps(config).replace("</", "<\\/")},
        content_type="text/javascript",
    )
    # The fill token inside must be fresh for each page view.
    response["Cache-Control"] = "no-store"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def capture_confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        capture_confirm_opt_in(token=token)
    except RecordNotFound as error:
        return render(
            request,
            "leads/capture_message.html",
            {"title": "Link not valid", "message": error.detail},
            status=404,
        )
    return render(
        request,
        "leads/capture_message.html",
        {"title": "Confirmed", "message": "Thank you: your address is confirmed."},
    )
