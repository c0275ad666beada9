"""Opportunities on the 360° timeline of their account, their contacts and themselves.

The entries come from the stage history: the first row is the creation, a move to a won or
lost stage is the close, every other row a stage change. One query per page: the history
rows of opportunities the user may see that belong to one of the timeline's accounts, have
one of its contacts in a role, or are one of its opportunities.
"""

from __future__ import annotations

from django.db.models import Q

from patron.contacts.models import Account, Contact
from patron.core.models import BusinessRecord
from patron.core.record_pages import record_detail_url
from patron.core.timeline import (
    Before,
    Target,
    TimelineEntry,
    TimelineKind,
    TimelineSource,
    register_timeline_scope,
    register_timeline_source,
)
from patron.core.visibility import Principal
from patron.pipeline.choices import ForecastCategory
from patron.pipeline.models import Opportunity, OpportunityContact, StageHistory

SOURCE_KEY = "opportunities"
DEPARTMENT = "sales"
CREATED = TimelineKind("opportunity_created", "Opportunity created", DEPARTMENT, "◆")
STAGE = TimelineKind("opportunity_stage", "Stage change", DEPARTMENT, "→")
WON = TimelineKind("opportunity_won", "Opportunity won", DEPARTMENT, "★")
LOST = TimelineKind("opportunity_lost", "Opportunity lost", DEPARTMENT, "✕")
KINDS = (CREATED, STAGE, WON, LOST)

_CLOSED = (ForecastCategory.CLOSED_WON, ForecastCategory.CLOSED_LOST)
_KIND_Q = {
    CREATED.key: Q(from_stage__isnull=True),
    STAGE.key: Q(from_stage__isnull=False) & ~Q(to_stage__forecast_category__in=_CLOSED),
    WON.key: Q(from_stage__isnull=False, to_stage__forecast_category=ForecastCategory.CLOSED_WON),
    LOST.key: Q(from_stage__isnull=False, to_stage__forecast_category=ForecastCategory.CLOSED_LOST),
}


def _targets_q(targets: list[Target]) -> Q:
    """History rows of opportunities concerning the targets, by the opportunity's id."""
    condition = Q(pk__in=[])
    for target in targets:
        if target.object_type == Account.object_type():
            condition |= Q(opportunity__account_id__in=target.ids)
        elif target.object_type == Contact.object_type():
            roles = OpportunityContact.objects.filter(contact_id__in=target.ids)
            condition |= Q(opportunity_id__in=roles.values("opportunity_id"))
        elif target.object_type == Opportunity.object_type():
            condition |= Q(opportunity_id__in=target.ids)
    return condition


def _kind(row: StageHistory) -> TimelineKind:
    if row.from_stage_id is None:
        return CREATED
    # The stage decides: an open stage's forecast category may be set by hand.
    if row.to_stage.forecast_category == ForecastCategory.CLOSED_WON:
        return WON
    if row.to_stage.forecast_category == ForecastCategory.CLOSED_LOST:
        return LOST
    return STAGE


def _amount(row: StageHistory) -> str:
    if row.amount is None:
        return ""
    return f"{row.amount:,.2f} {row.currency}".strip()


def _title(kind: TimelineKind, row: StageHistory) -> str:
    name = f"“{row.opportunity}”"
    if kind == CREATED:
        return f"Opportunity {name} created in {row.to_stage}"
    if kind == WON:
        return f"Opportunity {name} won"
    if kind == LOST:
        return f"Opportunity {name} lost"
    return f"Opportunity {name} moved {row.from_stage or 'a removed stage'} → {row.to_stage}"


def _summary(kind: TimelineKind, row: StageHistory) -> str:
    parts = [_amount(row)]
    if kind != CREATED:
        parts.insert(0, f"{row.from_stage or 'A removed stage'} → {row.to_stage}")
    if kind == STAGE:
        parts.append(f"{row.probability} %")
    return " · ".join(part for part in parts if part)


def opportunities_fetch(
    user: Principal,
    targets: list[Target],
    before: Before | None,
    limit: int,
    kinds: frozenset[str],
) -> list[TimelineEntry]:
    """Creations, stage changes and closes of opportunities ``user`` may see, newest first."""
    kind_q = Q(pk__in=[])
    for key in kinds:
        kind_q |= _KIND_Q.get(key, Q(pk__in=[]))
    candidates = StageHistory.objects.filter(
        _targets_q(targets),
        kind_q,
        opportunity_id__in=Opportunity.objects.visible_to(user).values("pk"),
    )
    if before is not None:
        candidates = candidates.filter(before.q("changed_at", "id"))
    page_ids = candidates.order_by("-changed_at", "-id").values("pk")[:limit]
    rows = StageHistory.objects.filter(pk__in=page_ids).select_related(
        "opportunity", "from_stage", "to_stage", "changed_by"
    )
    entries = []
    for row in rows.order_by("-changed_at", "-id"):
        kind = _kind(row)
        actor = str(row.changed_by) if row.changed_by is not None else "System"
        entries.append(
            TimelineEntry(
                at=row.changed_at,
                kind=kind.key,
                department=DEPARTMENT,
                title=_title(kind, row),
                summary=_summary(kind, row),
                url=record_detail_url(Opportunity.object_type(), row.opportunity_id),
                actor=actor,
                source=SOURCE_KEY,
                id=row.pk,
                icon=kind.icon,
                badge=kind.label,
            )
        )
    return entries


def opportunity_scope(user: Principal, record: BusinessRecord) -> list[Target]:
    """An opportunity's timeline covers itself: its activities, changes and stage moves."""
    return [Target(Opportunity.object_type(), [record.pk])]


def register_opportunity_timeline() -> None:
    register_timeline_source(TimelineSource(SOURCE_KEY, KINDS, opportunities_fetch))
    register_timeline_scope(Opportunity.object_type(), opportunity_scope)
