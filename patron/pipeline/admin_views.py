"""Sales configuration in the admin area (/admin-area/sales/): pipelines and their stages,
loss reasons and exchange rates. Administrators only; the services validate."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from patron.core.exceptions import ValidationFailed
from patron.core.forms import add_service_errors
from patron.core.models import ExchangeRate
from patron.core.org import org_settings
from patron.pipeline import config_services as config
from patron.pipeline import selectors
from patron.pipeline.forms import (
    ExchangeRateForm,
    LossReasonForm,
    PipelineForm,
    StageDeleteForm,
    StageForm,
)
from patron.pipeline.models import LossReason, Pipeline, Stage
from patron.users.admin_views import admin_required

SECTION = "sales"


def _form_page(
    request: HttpRequest, form: Any, *, heading: str, submit: str, back: str, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "pipeline/admin_form.html",
        {"section": SECTION, "form": form, "heading": heading, "submit": submit, "back": back},
        status=status,
    )


def _flash_errors(request: HttpRequest, error: ValidationFailed) -> None:
    details = [m for messages_ in error.errors.values() for m in messages_]
    messages.error(request, " ".join([error.detail, *details]))


# --- pipelines and stages ---------------------------------------------------------------


@admin_required
def pipeline_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "pipeline/admin_pipelines.html",
        {"section": SECTION, "pipelines": selectors.pipelines_with_stages()},
    )


@admin_required
@require_http_methods(["GET", "POST"])
def pipeline_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk) if pk else None
    initial = (
        {
            "name": pipeline.name,
            "description": pipeline.description,
            "is_default": pipeline.is_default,
            "active": pipeline.active,
            "position": pipeline.position,
        }
        if pipeline
        else {"active": True}
    )
    form = PipelineForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = config.pipeline_save(user=request.user, pipeline=pipeline, **form.cleaned_data)
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Saved the pipeline “{saved.name}”.")
            return redirect("pipeline:admin_pipelines")
    return _form_page(
        request,
        form,
        heading=f"Pipeline “{pipeline.name}”" if pipeline else "New pipeline",
        submit="Save pipeline",
        back="pipeline:admin_pipelines",
        status=422 if form.is_bound else 200,
    )


@admin_required
@require_POST
def pipeline_delete(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    try:
        config.pipeline_delete(user=request.user, pipeline=pipeline)
    except ValidationFailed as error:
        _flash_errors(request, error)
    else:
        messages.success(request, f"Deleted the pipeline “{pipeline.name}”.")
    return redirect("pipeline:admin_pipelines")


@admin_required
@require_http_methods(["GET", "POST"])
def stage_edit(
    request: HttpRequest, pipeline_pk: int | None = None, pk: int | None = None
) -> HttpResponse:
    stage = get_object_or_404(Stage.objects.select_related("pipeline"), pk=pk) if pk else None
    pipeline = stage.pipeline if stage else get_object_or_404(Pipeline, pk=pipeline_pk)
    initial = (
        {
            "name": stage.name,
            "probability": stage.probability,
            "forecast_category": stage.forecast_category,
            "expected_days": stage.expected_days,
            "active": stage.active,
        }
        if stage
        else {"active": True}
    )
    form = StageForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = config.stage_save(
                user=request.user, pipeline=pipeline, stage=stage, **form.cleaned_data
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Saved the stage “{saved.name}” of “{pipeline.name}”.")
            return redirect("pipeline:admin_pipelines")
    heading = f"Stage “{stage.name}”" if stage else "New stage"
    return _form_page(
        request,
        form,
        heading=f"{heading} of {pipeline.name}",
        submit="Save stage",
        back="pipeline:admin_pipelines",
        status=422 if form.is_bound else 200,
    )


@admin_required
@require_POST
def stage_shift(request: HttpRequest, pk: int) -> HttpResponse:
    stage = get_object_or_404(Stage.objects.select_related("pipeline"), pk=pk)
    offset = -1 if request.POST.get("direction") == "up" else 1
    try:
        config.stage_shift(user=request.user, stage=stage, offset=offset)
    except ValidationFailed as error:
        _flash_errors(request, error)
    return redirect(f"{reverse('pipeline:admin_pipelines')}#pipeline-{stage.pipeline_id}")


@admin_required
@require_http_methods(["GET", "POST"])
def stage_delete(request: HttpRequest, pk: int) -> HttpResponse:
    stage = get_object_or_404(Stage.objects.select_related("pipeline"), pk=pk)
    form = StageDeleteForm(request.POST or None, stage=stage)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            moved = config.stage_delete(
                user=request.user, stage=stage, move_to=form.cleaned_data.get("move_to")
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
            status = 422
        else:
            target = form.cleaned_data.get("move_to")
            note = f" Its {moved} opportunities are now in “{target}”." if moved else ""
            messages.success(request, f"Removed the stage “{stage.name}”.{note}")
            return redirect("pipeline:admin_pipelines")
    elif form.is_bound:
        status = 422
    return render(
        request,
        "pipeline/admin_stage_delete.html",
        {"section": SECTION, "stage": stage, "form": form, "in_use": config.stage_usage(stage)},
        status=status,
    )


# --- loss reasons -------------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def loss_reason_list(request: HttpRequest) -> HttpResponse:
    form = LossReasonForm(request.POST or None, initial={"active": True})
    if request.method == "POST" and form.is_valid():
        try:
            reason = config.loss_reason_save(user=request.user, **form.cleaned_data)
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Added the loss reason “{reason.name}”.")
            return redirect("pipeline:admin_loss_reasons")
    return render(
        request,
        "pipeline/admin_loss_reasons.html",
        {"section": SECTION, "reasons": selectors.loss_reasons(), "form": form},
        status=422 if form.is_bound else 200,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def loss_reason_edit(request: HttpRequest, pk: int) -> HttpResponse:
    reason = get_object_or_404(LossReason, pk=pk)
    form = LossReasonForm(
        request.POST or None,
        initial={"name": reason.name, "active": reason.active, "position": reason.position},
    )
    if request.method == "POST" and form.is_valid():
        try:
            config.loss_reason_save(user=request.user, reason=reason, **form.cleaned_data)
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Saved the loss reason “{reason.name}”.")
            return redirect("pipeline:admin_loss_reasons")
    return _form_page(
        request,
        form,
        heading=f"Loss reason “{reason.name}”",
        submit="Save loss reason",
        back="pipeline:admin_loss_reasons",
        status=422 if form.is_bound else 200,
    )


@admin_required
@require_POST
def loss_reason_delete(request: HttpRequest, pk: int) -> HttpResponse:
    reason = get_object_or_404(LossReason, pk=pk)
    try:
        config.loss_reason_delete(user=request.user, reason=reason)
    except ValidationFailed as error:
        _flash_errors(request, error)
    else:
        messages.success(request, f"Deleted the loss reason “{reason.name}”.")
    return redirect("pipeline:admin_loss_reasons")


# --- exchange rates -----------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def exchange_rate_list(request: HttpRequest) -> HttpResponse:
    form = ExchangeRateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rate = config.exchange_rate_save(
                user=request.user,
                currency=data["currency"],
                value=data["rate"],
                valid_from=data["valid_from"],
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Added the rate: {rate}.")
            return redirect("pipeline:admin_exchange_rates")
    return render(
        request,
        "pipeline/admin_exchange_rates.html",
        {
            "section": SECTION,
            "rates": selectors.exchange_rates(),
            "form": form,
            "org_currency": org_settings().default_currency,
        },
        status=422 if form.is_bound else 200,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def exchange_rate_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rate = get_object_or_404(ExchangeRate, pk=pk)
    form = ExchangeRateForm(
        request.POST or None,
        initial={"currency": rate.currency, "rate": rate.rate, "valid_from": rate.valid_from},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            config.exchange_rate_save(
                user=request.user,
                rate=rate,
                currency=data["currency"],
                value=data["rate"],
                valid_from=data["valid_from"],
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Saved the rate: {rate}.")
            return redirect("pipeline:admin_exchange_rates")
    return _form_page(
        request,
        form,
        heading=f"Exchange rate for {rate.currency}",
        submit="Save rate",
        back="pipeline:admin_exchange_rates",
        status=422 if form.is_bound else 200,
    )


@admin_required
@require_POST
def exchange_rate_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rate = get_object_or_404(ExchangeRate, pk=pk)
    try:
        config.exchange_rate_delete(user=request.user, rate=rate)
    except ValidationFailed as error:
        _flash_errors(request, error)
    else:
        messages.success(request, f"Deleted the rate: {rate}.")
    return redirect("pipeline:admin_exchange_rates")


urlpatterns: list[URLPattern] = [
    path("admin-area/sales/pipelines/", pipeline_list, name="admin_pipelines"),
    path("admin-area/sales/pipelines/new/", pipeline_edit, name="admin_pipeline_create"),
    path("admin-area/sales/pipelines/<int:pk>/", pipeline_edit, name="admin_pipeline_edit"),
    path(
        "admin-area/sales/pipelines/<int:pk>/delete/",
        pipeline_delete,
        name="admin_pipeline_delete",
    ),
    path(
        "admin-area/sales/pipelines/<int:pipeline_pk>/stages/new/",
        stage_edit,
        name="admin_stage_create",
    ),
    path("admin-area/sales/stages/<int:pk>/", stage_edit, name="admin_stage_edit"),
    path("admin-area/sales/stages/<int:pk>/move/", stage_shift, name="admin_stage_shift"),
    path("admin-area/sales/stages/<int:pk>/delete/", stage_delete, name="admin_stage_delete"),
    path("admin-area/sales/loss-reasons/", loss_reason_list, name="admin_loss_reasons"),
    path(
        "admin-area/sales/loss-reasons/<int:pk>/",
        loss_reason_edit,
        name="admin_loss_reason_edit",
    ),
    path(
        "admin-area/sales/loss-reasons/<int:pk>/delete/",
        loss_reason_delete,
        name="admin_loss_reason_delete",
    ),
    path("admin-area/sales/exchange-rates/", exchange_rate_list, name="admin_exchange_rates"),
    path(
        "admin-area/sales/exchange-rates/<int:pk>/",
        exchange_rate_edit,
        name="admin_exchange_rate_edit",
    ),
    path(
        "admin-area/sales/exchange-rates/<int:pk>/delete/",
        exchange_rate_delete,
        name="admin_exchange_rate_delete",
    ),
]
