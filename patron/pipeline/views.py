"""Opportunity pages: the shared record pages (core.record_pages) plus the stage path,
the "Move to stage" form and the stage history on the detail page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from patron.core.choices import Action
from patron.core.context_processors import NavItem, register_nav_item
from patron.core.exceptions import ValidationFailed, VersionConflict
from patron.core.record_pages import Column, ObjectUI, RecordPages
from patron.core.views import Recyclable, handles_domain_errors, register_recyclable
from patron.pipeline import selectors, services
from patron.pipeline.choices import ForecastCategory
from patron.pipeline.filters import OPPORTUNITY_SORTS, OpportunityFilter
from patron.pipeline.forms import MoveStageForm, OpportunityBulkEditForm, OpportunityForm
from patron.pipeline.models import Opportunity, Stage
from patron.users.models import User


def duration_text(seconds: int) -> str:
    """A stay in a stage in words a rep reads at a glance ("3 d 4 h", "2 h 5 min")."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def _stage_path(opportunity: Opportunity, history_first: dict[int, Any]) -> list[dict[str, Any]]:
    """The pipeline's stages in order, each marked done, current or ahead."""
    stages = [
        s
        for s in Stage.objects.filter(pipeline_id=opportunity.pipeline_id).order_by(
            "position", "pk"
        )
        if s.active or s.pk == opportunity.stage_id
    ]
    current_index = next(
        (i for i, s in enumerate(stages) if s.pk == opportunity.stage_id), len(stages)
    )
    return [
        {
            "stage": stage,
            "state": (
                "current"
                if index == current_index
                else "done"
                if index < current_index and not stage.is_closed
                else "ahead"
            ),
            "first_entered": history_first.get(stage.pk),
            "is_lost": stage.forecast_category == ForecastCategory.CLOSED_LOST,
        }
        for index, stage in enumerate(stages)
    ]


def _detail_related(user: User, record: Any, *, can_edit: bool) -> dict[str, Any]:
    if not isinstance(record, Opportunity):
        return {}
    history = selectors.stage_history_list(opportunity=record)
    visits = selectors.stage_visits(history, now=timezone.now())
    milestones = selectors.stage_milestones(history)
    path = _stage_path(record, milestones)
    rows = [
        {
            "row": row,
            "visit": visit,
            "duration": duration_text(visit.seconds),
        }
        for row, visit in zip(history, visits, strict=True)
    ]
    return {
        "stage_path": path,
        "stage_history": list(reversed(rows)),
        "milestones": [
            {"stage": step["stage"], "at": step["first_entered"]}
            for step in path
            if step["first_entered"] is not None
        ],
        "move_form": MoveStageForm(opportunity=record, initial={"stage": record.stage_id})
        if can_edit
        else None,
        "lost_stage_names": [step["stage"].name for step in path if step["is_lost"]],
    }


OPPORTUNITIES = ObjectUI(
    key="opportunity",
    model=Opportunity,
    label="Opportunity",
    label_plural="Opportunities",
    filterset=OpportunityFilter,
    sorts=OPPORTUNITY_SORTS,
    default_sort="close_date",
    selector=selectors.opportunity_list,
    getter=selectors.opportunity_get,
    create=services.opportunity_create,
    update=services.opportunity_update,
    delete=services.opportunity_delete,
    form_class=OpportunityForm,
    columns=(
        Column("name", "Name", sort="name", cell="pipeline/cells/opportunity_name.html"),
        Column("account", "Account", css="hide-sm", cell="pipeline/cells/opportunity_account.html"),
        Column("stage", "Stage", cell="pipeline/cells/opportunity_stage.html"),
        Column("amount", "Amount", sort="amount", css="num", cell="pipeline/cells/amount.html"),
        Column("close_date", "Close date", sort="close_date", css="nowrap"),
        Column("probability", "Probability", css="num hide-sm"),
        Column("owner", "Owner", css="hide-sm"),
        Column("created_at", "Created", sort="created", css="hide-sm"),
    ),
    list_fields=(
        "id",
        "name",
        "amount",
        "currency",
        "amount_org",
        "close_date",
        "probability",
        "is_closed",
        "is_won",
        "created_at",
        "owner",
        "owner__full_name",
        "owner__email",
        "account",
        "account__name",
        "stage",
        "stage__name",
        "stage__forecast_category",
        "pipeline",
        "pipeline__name",
    ),
    detail_sections=(
        (
            "Overview",
            (
                "account",
                "pipeline",
                "stage",
                "amount",
                "currency",
                "close_date",
                "probability",
                "forecast_category",
                "owner",
                "team",
            ),
        ),
        ("Progress", ("next_step", "source", "engaged_on", "closed_on")),
        ("Loss", ("loss_reason", "loss_note")),
    ),
    bulk_form_class=OpportunityBulkEditForm,
    record_arg="opportunity",
    namespace="pipeline",
    related=_detail_related,
    primary_filters=("q", "status", "stage", "owner"),
)

opportunity_pages = RecordPages(OPPORTUNITIES)


@login_required
@require_POST
@handles_domain_errors
def opportunity_move(request: HttpRequest, pk: int) -> HttpResponse:
    """The detail page's "Move to stage" form: guards and loss reasons answer as messages."""
    user = request.user
    assert isinstance(user, User)  # guarded by login_required
    opportunity = selectors.opportunity_get(user=user, pk=pk, action=Action.UPDATE)
    back = OPPORTUNITIES.url("detail", opportunity.pk)
    form = MoveStageForm(request.POST, opportunity=opportunity)
    if not form.is_valid():
        problems = [str(m) for errors in form.errors.values() for m in errors]
        messages.error(request, "The stage was not changed: " + " ".join(problems))
        return redirect(f"{back}#move-stage")
    stage = form.cleaned_data["stage"]
    try:
        services.opportunity_move_stage(
            user=user,
            opportunity=opportunity,
            stage=stage,
            expected_version=form.cleaned_data.get("version") or opportunity.version,
            loss_reason=form.cleaned_data.get("loss_reason"),
            loss_note=form.cleaned_data.get("loss_note") or "",
        )
    except VersionConflict:
        messages.error(
            request,
            "Someone changed this opportunity while you were looking at it; nothing was "
            "moved. Check its current stage below and try again.",
        )
        return redirect(f"{back}#move-stage")
    except ValidationFailed as exc:
        details = [m for errors in exc.errors.values() for m in errors]
        messages.error(request, f"{exc.detail} " + " ".join(d for d in details if d != exc.detail))
        return redirect(f"{back}#move-stage")
    messages.success(request, f"“{opportunity}” moved to “{stage.name}”.")
    return redirect(back)


def register_ui() -> None:
    """Navigation and recycle bin entries for opportunities (from AppConfig.ready)."""
    register_nav_item(
        NavItem(
            area="Sales",
            label="Opportunities",
            url_name="pipeline:opportunity_list",
            object_type=Opportunity.object_type(),
            create_url_name="pipeline:opportunity_create",
            order=30,
        )
    )
    register_recyclable(
        Recyclable(
            model=Opportunity,
            label="Opportunity",
            detail_url_name="pipeline:opportunity_detail",
            restore=lambda user, record: services.opportunity_restore(
                user=user, opportunity=record
            ),
        )
    )
