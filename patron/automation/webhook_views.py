"""The webhook pages (administrators): subscriptions, the delivery log, test sends, resends
and the allow-list of private hosts. Thin views over automation.webhook_services."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from patron.automation import registry, webhook_exports, webhook_services
from patron.automation.models import WebhookAllowedHost, WebhookSubscription
from patron.automation.webhook_filters import (
    DELIVERY_SORTS,
    SUBSCRIPTION_SORTS,
    DeliveryFilter,
    SubscriptionFilter,
)
from patron.core.exceptions import ValidationFailed
from patron.core.forms import add_service_errors
from patron.core.record_pages import list_query
from patron.core.views import handles_domain_errors, keyset_page
from patron.users.admin_views import admin_required
from patron.users.models import User

PAGE_SIZE = 50


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _sort(request: HttpRequest, sorts: dict[str, tuple[str, ...]], default: str) -> str:
    sort = request.GET.get("sort", default)
    return sort if sort in sorts else default


def _flash(request: HttpRequest, error: ValidationFailed) -> None:
    details = [m for found in error.errors.values() for m in found]
    messages.error(request, " ".join([error.detail, *details]))


def _event_choices() -> list[tuple[str, str]]:
    return [("*", "Every event (*)")] + [
        (info.name, f"{info.label} ({info.name})") for info in registry.events_catalogue()
    ]


class SubscriptionForm(forms.Form):
    name = forms.CharField(max_length=150)
    target_url = forms.CharField(
        label="Target URL",
        max_length=500,
        help_text="http(s) only; private and loopback hosts need the allow-list.",
    )
    event_types = forms.MultipleChoiceField(
        label="Events", help_text="Choose one or more; * sends every event."
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.MultipleChoiceField, self.fields["event_types"])
        field.choices = _event_choices()
        field.widget.attrs["size"] = 12


class AllowedHostForm(forms.Form):
    host = forms.CharField(max_length=255, help_text="Bare host name or IP, e.g. hooks.internal")
    note = forms.CharField(max_length=300, required=False)


@admin_required
def subscription_list(request: HttpRequest) -> HttpResponse:
    base = WebhookSubscription.objects.all()
    filterset = SubscriptionFilter(request.GET, queryset=base)
    rows = filterset.qs if filterset.is_valid() else base.none()
    sort = _sort(request, SUBSCRIPTION_SORTS, "name")
    page = keyset_page(rows, SUBSCRIPTION_SORTS[sort], request.GET.get("cursor", ""), PAGE_SIZE)
    return render(
        request,
        "automation/webhook_list.html",
        {
            "section": "subscriptions",
            "filterset": filterset,
            "page": page,
            "sort": sort,
            "query": list_query(request.GET),
        },
        status=422 if filterset.errors else 200,
    )


@admin_required
@handles_domain_errors
@require_http_methods(["GET", "POST"])
def subscription_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = _user(request)
    row = webhook_services.webhook_subscription_get(user=user, pk=pk) if pk else None
    initial = (
        {
            "name": row.name,
            "target_url": row.target_url,
            "event_types": row.event_types,
            "is_active": row.is_active,
        }
        if row
        else {"is_active": True}
    )
    form = SubscriptionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if row is None:
                row, secret = webhook_services.webhook_subscription_create(
                    user=user, data=form.cleaned_data
                )
                return _show_secret(request, row, secret)
            webhook_services.webhook_subscription_update(
                user=user, subscription=row, data=form.cleaned_data
            )
            messages.success(request, "Subscription saved.")
            return redirect("webhooks:detail", pk=row.pk)
        except ValidationFailed as error:
            add_service_errors(form, error)
    back = reverse("webhooks:detail", args=[row.pk]) if row else reverse("webhooks:list")
    return render(
        request,
        "automation/webhook_form.html",
        {
            "section": "subscriptions",
            "form": form,
            "heading": f"Edit {row.name}" if row else "New webhook subscription",
            "submit": "Save" if row else "Create",
            "back": back,
        },
        status=422 if form.errors else 200,
    )


def _show_secret(request: HttpRequest, row: WebhookSubscription, secret: str) -> HttpResponse:
    # The secret is rendered in this response only; it is not put in the session or a URL.
    return render(
        request,
        "automation/webhook_secret.html",
        {"section": "subscriptions", "subscription": row, "secret": secret},
    )


@admin_required
@handles_domain_errors
def subscription_detail(request: HttpRequest, pk: int) -> HttpResponse:
    row = webhook_services.webhook_subscription_get(user=_user(request), pk=pk)
    base = row.deliveries.all()
    filterset = DeliveryFilter(request.GET, queryset=base)
    rows = filterset.qs if filterset.is_valid() else base.none()
    if request.GET.get("format") == "csv":
        return webhook_exports.deliveries_csv(row, rows)
    sort = _sort(request, DELIVERY_SORTS, "-created")
    page = keyset_page(rows, DELIVERY_SORTS[sort], request.GET.get("cursor", ""), PAGE_SIZE)
    return render(
        request,
        "automation/webhook_detail.html",
        {
            "section": "subscriptions",
            "subscription": row,
            "filterset": filterset,
            "page": page,
            "sort": sort,
            "query": list_query(request.GET),
            "labels": dict(_event_choices()),
        },
        status=422 if filterset.errors else 200,
    )


@admin_required
@handles_domain_errors
@require_POST
def subscription_test(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    row = webhook_services.webhook_subscription_get(user=user, pk=pk)
    delivery = webhook_services.webhook_send_test(user=user, subscription=row)
    outcome = (
        f"HTTP {delivery.response_code}" if delivery.response_code is not None else delivery.error
    )
    excerpt = f" — {delivery.response_excerpt[:200]}" if delivery.response_excerpt else ""
    text = f"Test event sent: {outcome} in {delivery.duration_ms} ms{excerpt}"
    if delivery.status == "succeeded":
        messages.success(request, text)
    else:
        messages.error(request, text)
    return redirect("webhooks:detail", pk=row.pk)


@admin_required
@handles_domain_errors
@require_POST
def subscription_enable(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    row = webhook_services.webhook_subscription_get(user=user, pk=pk)
    try:
        webhook_services.webhook_subscription_enable(user=user, subscription=row)
        messages.success(request, "Subscription re-enabled.")
    except ValidationFailed as error:
        _flash(request, error)
    return redirect("webhooks:detail", pk=row.pk)


@admin_required
@handles_domain_errors
@require_POST
def subscription_rotate_secret(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    row = webhook_services.webhook_subscription_get(user=user, pk=pk)
    secret = webhook_services.webhook_subscription_rotate_secret(user=user, subscription=row)
    return _show_secret(request, row, secret)


@admin_required
@handles_domain_errors
@require_POST
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    row = webhook_services.webhook_subscription_get(user=user, pk=pk)
    webhook_services.webhook_subscription_delete(user=user, subscription=row)
    messages.success(request, f"Subscription {row.name} deleted.")
    return redirect("webhooks:list")


@admin_required
@handles_domain_errors
@require_POST
def delivery_resend(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    delivery = webhook_services.webhook_delivery_get(user=user, pk=pk)
    try:
        sent = webhook_services.webhook_delivery_resend(user=user, delivery=delivery)
        code = sent.response_code if sent.response_code is not None else sent.error
        messages.info(request, f"Delivery resent: {sent.get_status_display()} ({code}).")
    except ValidationFailed as error:
        _flash(request, error)
    return redirect("webhooks:detail", pk=delivery.subscription_id)


@admin_required
@require_http_methods(["GET", "POST"])
def allowed_hosts(request: HttpRequest) -> HttpResponse:
    form = AllowedHostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            webhook_services.webhook_allowed_host_create(
                user=_user(request), host=form.cleaned_data["host"], note=form.cleaned_data["note"]
            )
            messages.success(request, "Host allowed.")
            return redirect("webhooks:allowed_hosts")
        except ValidationFailed as error:
            add_service_errors(form, error)
    return render(
        request,
        "automation/webhook_allowed_hosts.html",
        {"section": "hosts", "form": form, "hosts": WebhookAllowedHost.objects.order_by("host")},
        status=422 if form.errors else 200,
    )


@admin_required
@handles_domain_errors
@require_POST
def allowed_host_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    host = webhook_services.webhook_allowed_host_get(user=user, pk=pk)
    webhook_services.webhook_allowed_host_delete(user=user, host=host)
    messages.success(request, f"{host.host} is no longer allowed.")
    return redirect("webhooks:allowed_hosts")
