"""Selectors of the pipeline board: a column per stage with its first cards and its figures.

Each column's cards are a keyset page in (close date, id) order, read through the
``opp_board`` index (pipeline, stage, close_date, id), so the first page of a column costs
the same with a thousand opportunities or a million. The figures of every column (how many,
total and weighted total in the organisation's currency) are one grouped SQL aggregate over
the opportunities the user can see, never a sum in Python.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.http import QueryDict
from django.utils import timezone

from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.filters import FilterContext
from patron.core.record_pages import record_detail_url
from patron.core.visibility import Principal, can_access
from patron.pipeline.choices import ForecastCategory
from patron.pipeline.filters import OpportunityFilter
from patron.pipeline.models import LossReason, Opportunity, Pipeline, Stage

OBJECT_TYPE = "pipeline.opportunity"
# Cards per column page: enough to fill a screen, few enough to render fast.
BOARD_PAGE = 20
_CURSOR = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d+)$")
# The opportunity list's filters the board offers (the pipeline and stage are the board's).
BOARD_FILTERS = ("q", "owner", "mine", "close_after", "close_before")


@dataclass(frozen=True)
class Card:
    opportunity: Opportunity
    days_in_stage: int
    expected_days: int | None
    stale: bool
    # None until opportunities have record pages.
    detail_url: str | None


@dataclass(frozen=True)
class ColumnFigures:
    count: int = 0
    total: Decimal = Decimal("0")
    weighted: Decimal = Decimal("0")


@dataclass(frozen=True)
class CardPage:
    cards: list[Card]
    next_cursor: str | None


@dataclass(frozen=True)
class Column:
    stage: Stage
    page: CardPage
    figures: ColumnFigures

    @property
    def is_lost(self) -> bool:
        return self.stage.forecast_category == ForecastCategory.CLOSED_LOST


def board_pipelines() -> list[Pipeline]:
    return list(Pipeline.objects.filter(active=True).order_by("-is_default", "position", "pk"))


def board_pipeline_get(*, pk: int | None) -> Pipeline:
    """The pipeline ``pk`` (active), or the default one when ``pk`` is None."""
    pipelines = Pipeline.objects.filter(active=True)
    pipeline = (
        pipelines.filter(pk=pk).first()
        if pk is not None
        else pipelines.order_by("-is_default", "position", "pk").first()
    )
    if pipeline is None:
        raise RecordNotFound(
            "There is no such pipeline."
            if pk is not None
            else "There is no pipeline yet: an administrator creates one with its stages."
        )
    return pipeline


def board_stages(pipeline: Pipeline) -> list[Stage]:
    return list(pipeline.stages.filter(active=True).order_by("position", "pk"))


def board_opportunities(
    *, user: Principal, pipeline: Pipeline, params: QueryDict | None = None
) -> QuerySet[Opportunity]:
    """The opportunities of ``pipeline`` that ``user`` sees, narrowed by the board filters.

    Raises PermissionDenied when the user's role may not read opportunities at all; an
    invalid filter value is left out (the page shows its error).
    """
    if not user.access_profile().may(OBJECT_TYPE, Action.READ):
        raise PermissionDenied("Your role may not see opportunities.")
    queryset = Opportunity.objects.visible_to(user).filter(pipeline=pipeline)
    board_filter = board_filter_for(user, params)
    if not board_filter.is_bound:
        return queryset
    # Invalid values drop out of cleaned_data, so the valid filters still apply.
    board_filter.form.is_valid()
    return cast(QuerySet[Opportunity], board_filter.filter_queryset(queryset))


def board_filter_params(params: QueryDict | None) -> QueryDict:
    """Only the filters the board offers, without empty values."""
    kept = QueryDict(mutable=True)
    for name in BOARD_FILTERS:
        for value in params.getlist(name) if params is not None else []:
            if value:
                kept.appendlist(name, value)
    return kept


def board_filter_for(user: Principal, params: QueryDict | None) -> OpportunityFilter:
    return OpportunityFilter(
        board_filter_params(params) or None,
        queryset=Opportunity.objects.none(),
        request=FilterContext(user),
    )


def column_figures(opportunities: QuerySet[Opportunity]) -> dict[int, ColumnFigures]:
    """Count, total and weighted total of ``opportunities`` per stage: one GROUP BY query.

    The weighted total is SUM(amount_org * probability) / 100: dividing the sum rather than
    each row keeps it exact (SQLite would divide integer-valued amounts as integers).
    """
    rows = (
        opportunities.order_by()
        .values("stage_id")
        .annotate(
            count=Count("pk"),
            total=Sum("amount_org"),
            weighted_percent=Sum(
                ExpressionWrapper(
                    F("amount_org") * F("probability"),
                    output_field=DecimalField(max_digits=24, decimal_places=2),
                )
            ),
        )
    )
    cent = Decimal("0.01")
    return {
        row["stage_id"]: ColumnFigures(
            count=row["count"],
            total=Decimal(row["total"] or 0).quantize(cent),
            weighted=(Decimal(row["weighted_percent"] or 0) / 100).quantize(cent),
        )
        for row in rows
    }


def _cursor_for(opportunity: Opportunity) -> str:
    return f"{opportunity.close_date.isoformat()}_{opportunity.pk}"


def _after(cursor: str) -> Q | None:
    """Rows after ``cursor`` in (close_date, id) order; None for a malformed cursor."""
    match = _CURSOR.match(cursor)
    if match is None:
        return None
    try:
        close_date = datetime.date.fromisoformat(match.group(1))
    except ValueError:
        return None
    pk = int(match.group(2))
    return Q(close_date__gt=close_date) | Q(close_date=close_date, pk__gt=pk)


def card_for(opportunity: Opportunity, stage: Stage, now: datetime.datetime) -> Card:
    days = max(0, (now - opportunity.stage_entered_at).days)
    stale = stage.expected_days is not None and days > stage.expected_days
    return Card(
        opportunity=opportunity,
        days_in_stage=days,
        expected_days=stage.expected_days,
        stale=stale,
        detail_url=record_detail_url(OBJECT_TYPE, opportunity.pk),
    )


def column_page(
    opportunities: QuerySet[Opportunity], stage: Stage, *, cursor: str = "", size: int = BOARD_PAGE
) -> CardPage:
    """One page of ``stage``'s cards in close-date order (a malformed cursor restarts)."""
    queryset = opportunities.filter(stage=stage)
    after = _after(cursor) if cursor else None
    if after is not None:
        queryset = queryset.filter(after)
    rows = list(
        queryset.select_related("account", "owner").order_by("close_date", "pk")[: size + 1]
    )
    now = timezone.now()
    cards = [card_for(row, stage, now) for row in rows[:size]]
    next_cursor = _cursor_for(rows[size - 1]) if len(rows) > size else None
    return CardPage(cards=cards, next_cursor=next_cursor)


def board_columns(
    *, user: Principal, pipeline: Pipeline, params: Any = None, size: int = BOARD_PAGE
) -> list[Column]:
    """Every active stage of ``pipeline`` with its first page of cards and its figures."""
    opportunities = board_opportunities(user=user, pipeline=pipeline, params=params)
    figures = column_figures(opportunities)
    return [
        Column(
            stage=stage,
            page=column_page(opportunities, stage, size=size),
            figures=figures.get(stage.pk, ColumnFigures()),
        )
        for stage in board_stages(pipeline)
    ]


def board_opportunity_get(*, user: Principal, pk: str) -> Opportunity:
    """The opportunity ``pk`` for a move: not found when ``user`` cannot see it, refused when
    they may see it but not change it."""
    opportunity = (
        Opportunity.objects.visible_to(user)
        .select_related("stage", "pipeline", "account", "owner")
        .filter(pk=int(pk) if pk.isdigit() else 0)
        .first()
    )
    if opportunity is None:
        raise RecordNotFound("This opportunity does not exist or you cannot see it.")
    if not can_access(user, opportunity, Action.UPDATE):
        raise PermissionDenied(
            f"You may look at “{opportunity.name}” but not change it; ask its owner to move it."
        )
    return opportunity


def board_move_values(*, stage_pk: str, version: str, loss_reason_pk: str) -> dict[str, Any]:
    """The target stage, expected version and loss reason of a move, or field errors."""
    errors: dict[str, list[str]] = {}
    stage = (
        Stage.objects.select_related("pipeline").filter(pk=int(stage_pk), active=True).first()
        if stage_pk.isdigit()
        else None
    )
    if stage is None:
        errors["stage"] = ["Choose one of the board's stages."]
    if not version.isdigit():
        errors["version"] = ["The board is out of date: reload it and move the card again."]
    loss_reason = None
    if loss_reason_pk:
        loss_reason = (
            LossReason.objects.filter(pk=int(loss_reason_pk), active=True).first()
            if loss_reason_pk.isdigit()
            else None
        )
        if loss_reason is None:
            errors["loss_reason"] = ["Choose one of the listed loss reasons."]
    if errors:
        raise ValidationFailed("The card was not moved.", errors=errors)
    return {"stage": stage, "expected_version": int(version), "loss_reason": loss_reason}


def loss_reasons() -> list[LossReason]:
    return list(LossReason.objects.filter(active=True))
