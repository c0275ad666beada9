"""The pipeline board: a column per stage, cards moved by drag and drop or by each card's
"Move to…" form (which works without JavaScript), and more cards per column on demand.

Moves go through ``opportunity_move_stage``, so stage guards, history and derived columns
apply exactly as on the form and the API.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from patron.core.exceptions import PatronError, ValidationFailed, VersionConflict
from patron.core.org import org_settings
from patron.core.record_pages import object_ui
from patron.core.views import handles_domain_errors, is_htmx, principal, render_error
from patron.pipeline import board
from patron.pipeline.models import Opportunity
from patron.pipeline.services import opportunity_move_stage


def _filter_query(params: QueryDict) -> str:
    """The board's filters as a query string (for column pages, moves and pipeline links)."""
    return board.board_filter_params(params).urlencode()


def _filter_form(request: HttpRequest) -> forms.Form:
    form: forms.Form = board.board_filter_for(principal(request), request.GET).form
    for name in list(form.fields):
        if name not in board.BOARD_FILTERS:
            del form.fields[name]
    for name in ("close_after", "close_before"):
        cast("forms.DateField", form.fields[name]).widget.input_type = "date"
    mine = form.fields["mine"]
    if isinstance(mine, forms.ChoiceField):
        mine.choices = [("", "Everyone's"), ("true", "Only mine"), ("false", "Others'")]
        mine.label = "Whose deals"
    cast("forms.ModelChoiceField[Any]", form.fields["owner"]).empty_label = "Anyone"
    form.fields["q"].label = "Search"
    return form


def _list_url(pipeline_id: int, filter_query: str) -> str:
    """The opportunity list with the same filters (once opportunities have record pages)."""
    ui = object_ui(board.OBJECT_TYPE)
    if ui is None:
        return ""
    query = f"pipeline={pipeline_id}&{filter_query}" if filter_query else f"pipeline={pipeline_id}"
    return f"{ui.url('list')}?{query}"


@login_required
@require_GET
@handles_domain_errors
def board_page(request: HttpRequest, pipeline_id: int | None = None) -> HttpResponse:
    user = principal(request)
    pipeline = board.board_pipeline_get(pk=pipeline_id)
    columns = board.board_columns(user=user, pipeline=pipeline, params=request.GET)
    filter_form = _filter_form(request)
    context = {
        "pipeline": pipeline,
        "pipelines": board.board_pipelines(),
        "columns": columns,
        "stages": [column.stage for column in columns],
        "filter_form": filter_form,
        "filter_query": _filter_query(request.GET),
        "loss_reasons": board.loss_reasons(),
        "currency": org_settings().default_currency,
        "list_url": _list_url(pipeline.pk, _filter_query(request.GET)),
        "next": request.get_full_path(),
    }
    return render(request, "pipeline/board.html", context)


@login_required
@require_GET
@handles_domain_errors
def board_column(request: HttpRequest, pipeline_id: int, stage_id: int) -> HttpResponse:
    """More cards of one column: appended in place for HTMX, a page of its own otherwise."""
    user = principal(request)
    pipeline = board.board_pipeline_get(pk=pipeline_id)
    stages = board.board_stages(pipeline)
    stage = next((s for s in stages if s.pk == stage_id), None)
    if stage is None:
        return render_error(request, 404, "This stage is not on the board.")
    opportunities = board.board_opportunities(user=user, pipeline=pipeline, params=request.GET)
    page = board.column_page(opportunities, stage, cursor=request.GET.get("cursor", ""))
    board_url = reverse("pipeline:board", args=[pipeline.pk])
    filter_query = _filter_query(request.GET)
    context = {
        "pipeline": pipeline,
        "stage": stage,
        "stages": stages,
        "page": page,
        "filter_query": filter_query,
        "currency": org_settings().default_currency,
        "next": f"{board_url}?{filter_query}" if filter_query else board_url,
    }
    template = (
        "pipeline/board_column_more.html" if is_htmx(request) else "pipeline/board_column.html"
    )
    return render(request, template, context)


def _safe_next(request: HttpRequest, pipeline_id: int) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("pipeline:board", args=[pipeline_id])


@login_required
@require_POST
@handles_domain_errors
def board_move(request: HttpRequest) -> HttpResponse:
    """Move a card to another stage (POST opportunity, stage, version[, loss_reason]).

    HTMX (the drag and drop) gets the re-rendered card and every column's figures, or the
    refusal as text with 422 (guard, validation) or 409 (someone changed the deal); a plain
    form post is redirected back to the board, or shown the refusal with a way to fix it.
    """
    user = principal(request)
    opportunity = board.board_opportunity_get(user=user, pk=request.POST.get("opportunity", ""))
    try:
        values = board.board_move_values(
            stage_pk=request.POST.get("stage", ""),
            version=request.POST.get("version", ""),
            loss_reason_pk=request.POST.get("loss_reason", ""),
        )
        moved = opportunity_move_stage(
            user=user,
            opportunity=opportunity,
            loss_note=request.POST.get("loss_note", "").strip(),
            **values,
        )
    except ValidationFailed as exc:
        return _refused(request, opportunity, exc, status=422)
    except VersionConflict as exc:
        return _refused(request, opportunity, exc, status=409)
    message = f"Moved “{moved.name}” to {moved.stage.name}."
    if not is_htmx(request):
        messages.success(request, message)
        return redirect(_safe_next(request, moved.pipeline_id))
    return _moved(request, moved, message)


def _moved(request: HttpRequest, moved: Opportunity, message: str) -> HttpResponse:
    user = principal(request)
    pipeline = moved.pipeline
    params = QueryDict(request.POST.get("filters", ""))
    stages = board.board_stages(pipeline)
    stage = next((s for s in stages if s.pk == moved.stage_id), moved.stage)
    opportunities = board.board_opportunities(user=user, pipeline=pipeline, params=params)
    figures = board.column_figures(opportunities)
    context = {
        "card": board.card_for(moved, stage, timezone.now()),
        "stages": stages,
        "summaries": [(s, figures.get(s.pk, board.ColumnFigures())) for s in stages],
        "currency": org_settings().default_currency,
        "message": message,
        "next": _safe_next(request, pipeline.pk),
    }
    return render(request, "pipeline/board_moved.html", context)


def _refused(
    request: HttpRequest, opportunity: Opportunity, exc: PatronError, *, status: int
) -> HttpResponse:
    detail = exc.detail
    for found in exc.errors.values():
        for text in found:
            if text not in detail:
                detail = f"{detail} {text}"
    if status == 409:
        detail = f"{detail} Reload the board to see the card where it is now."
    context: dict[str, Any] = {
        "opportunity": opportunity,
        "detail": detail,
        "status": status,
        "needs_loss_reason": "loss_reason" in exc.errors,
        "stage_id": request.POST.get("stage", ""),
        "loss_reasons": board.loss_reasons(),
        "next": _safe_next(request, opportunity.pipeline_id),
    }
    template = "pipeline/board_refused.html" if is_htmx(request) else "pipeline/board_move.html"
    return render(request, template, context, status=status)
