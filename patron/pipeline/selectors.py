"""The read path for opportunities and the sales configuration."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Prefetch

from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, RecordNotFound
from patron.core.models import ExchangeRate
from patron.core.querysets import RecordQuerySet
from patron.core.visibility import Principal, can_access
from patron.pipeline.models import LossReason, Opportunity, Pipeline, Stage, StageHistory


def opportunity_list(*, user: Principal) -> RecordQuerySet[Opportunity]:
    return Opportunity.objects.visible_to(user).select_related(
        "owner", "account", "stage", "pipeline"
    )


def opportunity_get(*, user: Principal, pk: Any, action: str = Action.READ) -> Opportunity:
    queryset = Opportunity.objects.select_related(
        "owner", "owner__role", "account", "team", "pipeline", "stage", "loss_reason"
    )
    try:
        record = queryset.get(pk=pk)
    except (Opportunity.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"No opportunity with id {pk}.") from None
    if not can_access(user, record, Action.READ):
        # Records a user may not read are reported as missing, so ids reveal nothing.
        raise RecordNotFound(f"No opportunity with id {pk}.")
    if action != Action.READ and not can_access(user, record, action):
        raise PermissionDenied(
            f"You may not {action} this opportunity; ask its owner or an administrator to "
            "share it with edit access."
        )
    return record


@dataclass(frozen=True)
class StageVisit:
    """One stay of an opportunity in a stage, from the stage history."""

    stage_name: str
    entered_at: datetime.datetime
    left_at: datetime.datetime | None
    seconds: int
    changed_by: str


def stage_history_list(*, opportunity: Opportunity) -> list[StageHistory]:
    return list(
        StageHistory.objects.filter(opportunity=opportunity)
        .select_related("from_stage", "to_stage", "changed_by")
        .order_by("changed_at", "pk")
    )


def stage_visits(history: list[StageHistory], *, now: datetime.datetime) -> list[StageVisit]:
    """Each stay in a stage, oldest first; the last one lasts until ``now``."""
    visits = []
    for index, row in enumerate(history):
        left = history[index + 1].changed_at if index + 1 < len(history) else None
        visits.append(
            StageVisit(
                stage_name=row.to_stage.name,
                entered_at=row.changed_at,
                left_at=left,
                seconds=max(0, int(((left or now) - row.changed_at).total_seconds())),
                changed_by=str(row.changed_by) if row.changed_by else "",
            )
        )
    return visits


def stage_milestones(history: list[StageHistory]) -> dict[int, datetime.datetime]:
    """When the opportunity first entered each stage, by stage id."""
    first: dict[int, datetime.datetime] = {}
    for row in history:
        first.setdefault(row.to_stage_id, row.changed_at)
    return first


# --- sales configuration -----------------------------------------------------------------


def pipelines_with_stages() -> list[Pipeline]:
    stages = Stage.objects.annotate(open_count=Count("opportunities")).order_by("position", "pk")
    return list(
        Pipeline.objects.prefetch_related(Prefetch("stages", queryset=stages)).order_by(
            "position", "name"
        )
    )


def loss_reasons() -> list[LossReason]:
    return list(LossReason.objects.order_by("position", "name"))


def exchange_rates() -> list[ExchangeRate]:
    return list(ExchangeRate.objects.order_by("currency", "-valid_from"))
