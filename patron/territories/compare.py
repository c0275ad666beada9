"""Comparing a planning model with the active one: which records would move from which
territory to which, and which users would gain or lose them.

Computed in SQL from the two models' assignments (the planning model's come from its batch
run, its "preview"), so memory stays flat however many records there are: the page and the
API read one keyset page of moves at a time, the CSV streams page after page, and the
summaries are grouped queries. A planning territory copied from an active one is the same
territory (``Territory.source``); a record "moves" when its planning territory is not the
copy of its active one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)

from patron.core.exceptions import ValidationFailed
from patron.territories.choices import ModelState
from patron.territories.models import (
    Territory,
    TerritoryAssignment,
    TerritoryMember,
    TerritoryModel,
)
from patron.territories.registry import territory_subject, territory_subjects

PAGE_SIZE = 50
COLUMNS = ("content_type_id", "object_id", "from_id", "to_id")


@dataclass(frozen=True)
class CompareFilters:
    object_type: str = ""
    from_territory: int | None = None  # a territory of the active model
    to_territory: int | None = None  # a territory of the planning model
    user: int | None = None  # moves this user gains or loses


@dataclass(frozen=True)
class Move:
    object_type: str
    object_id: int
    name: str
    from_territory: Territory | None
    to_territory: Territory | None
    gained_by: list[int]
    lost_by: list[int]


@dataclass
class Comparison:
    planning: TerritoryModel
    active: TerritoryModel | None
    planning_territories: dict[int, Territory]
    active_territories: dict[int, Territory]
    members: dict[int, set[int]]  # territory id (either model) -> user ids
    pairs: list[tuple[Territory | None, Territory | None, int]] = field(default_factory=list)
    users: list[tuple[int, int, int]] = field(default_factory=list)  # (user, gains, losses)
    total: int = 0

    def gained_lost(self, from_id: int | None, to_id: int | None) -> tuple[list[int], list[int]]:
        before = self.members.get(from_id, set()) if from_id else set()
        after = self.members.get(to_id, set()) if to_id else set()
        return sorted(after - before), sorted(before - after)


def _check(planning: TerritoryModel) -> TerritoryModel | None:
    if planning.state != ModelState.PLANNING:
        raise ValidationFailed(
            "Only a planning model is compared with the active one.",
            errors={"model": [f"“{planning.name}” is {planning.get_state_display().lower()}."]},
        )
    return TerritoryModel.objects.filter(state=ModelState.ACTIVE).first()


def _moves(
    planning: TerritoryModel, active: TerritoryModel | None, filters: CompareFilters
) -> tuple[QuerySet[Any], QuerySet[Any]]:
    """(records whose planning territory differs, records the planning model leaves out)."""
    active_id = active.pk if active else 0
    from_sub = TerritoryAssignment.objects.filter(
        model_id=active_id,
        content_type_id=OuterRef("content_type_id"),
        object_id=OuterRef("object_id"),
    ).values("territory_id")[:1]
    into = (
        TerritoryAssignment.objects.filter(model=planning)
        .annotate(
            from_id=Subquery(from_sub, output_field=BigIntegerField()),
            to_id=F("territory_id"),
            to_source=F("territory__source_id"),
        )
        .filter(Q(from_id__isnull=True) | Q(to_source__isnull=True) | ~Q(from_id=F("to_source")))
    )
    in_planning = TerritoryAssignment.objects.filter(
        model=planning,
        content_type_id=OuterRef("content_type_id"),
        object_id=OuterRef("object_id"),
    )
    out = (
        TerritoryAssignment.objects.filter(model_id=active_id)
        .exclude(Exists(in_planning))
        .annotate(
            from_id=F("territory_id"),
            to_id=Value(None, output_field=IntegerField()),
        )
    )
    if filters.object_type:
        subject = territory_subject(filters.object_type)
        if subject is None:
            names = ", ".join(s.object_type for s in territory_subjects())
            raise ValidationFailed(
                "Unknown record type.",
                errors={"object_type": [f"“{filters.object_type}” is not one of {names}."]},
            )
        content_type = ContentType.objects.get_for_model(subject.model)
        into, out = into.filter(content_type=content_type), out.filter(content_type=content_type)
    if filters.from_territory:
        into = into.filter(from_id=filters.from_territory)
        out = out.filter(from_id=filters.from_territory)
    if filters.to_territory:
        into = into.filter(to_id=filters.to_territory)
        out = out.none()
    if filters.user:
        theirs = TerritoryMember.objects.filter(user_id=filters.user).values("territory_id")
        gains = Q(to_id__in=theirs) & (Q(from_id__isnull=True) | ~Q(from_id__in=theirs))
        losses = Q(from_id__in=theirs) & ~Q(to_id__in=theirs)
        into = into.filter(gains | losses)
        out = out.filter(from_id__in=theirs)
    return into, out


def compare(*, planning: TerritoryModel, filters: CompareFilters | None = None) -> Comparison:
    """The summaries of moving from the active model to ``planning`` (a fixed number of
    queries): moves per (from, to) territory pair and gains and losses per user."""
    filters = filters or CompareFilters()
    active = _check(planning)
    models = [planning.pk] + ([active.pk] if active else [])
    territories = list(Territory.objects.filter(model_id__in=models).order_by("path"))
    members: dict[int, set[int]] = defaultdict(set)
    for territory_id, user_id in TerritoryMember.objects.filter(
        territory__model_id__in=models
    ).values_list("territory_id", "user_id"):
        members[territory_id].add(user_id)
    result = Comparison(
        planning=planning,
        active=active,
        planning_territories={t.pk: t for t in territories if t.model_id == planning.pk},
        active_territories={t.pk: t for t in territories if t.model_id != planning.pk},
        members=dict(members),
    )
    into, out = _moves(planning, active, filters)
    counts = [
        (row["from_id"], row["to_id"], row["n"])
        for row in into.values("from_id", "to_id").annotate(n=Count("pk")).order_by()
    ] + [
        (row["from_id"], None, row["n"])
        for row in out.values("from_id").annotate(n=Count("pk")).order_by()
    ]
    gains: dict[int, int] = defaultdict(int)
    losses: dict[int, int] = defaultdict(int)
    for from_id, to_id, n in counts:
        gained, lost = result.gained_lost(from_id, to_id)
        for user_id in gained:
            gains[user_id] += n
        for user_id in lost:
            losses[user_id] += n
        result.pairs.append(
            (result.active_territories.get(from_id), result.planning_territories.get(to_id), n)
        )
        result.total += n
    result.pairs.sort(key=lambda pair: -pair[2])
    result.users = sorted(
        ((user_id, gains[user_id], losses[user_id]) for user_id in {*gains, *losses}),
        key=lambda row: (-(row[1] + row[2]), row[0]),
    )
    return result


def parse_cursor(raw: str) -> tuple[int, int] | None:
    parts = (raw or "").split(":")
    if len(parts) == 2 and all(part.isdigit() for part in parts):
        return int(parts[0]), int(parts[1])
    if raw:
        raise ValidationFailed(
            "Bad cursor.", errors={"cursor": ["Use the next_cursor of the previous page."]}
        )
    return None


def moves_page(
    comparison: Comparison,
    *,
    filters: CompareFilters | None = None,
    after: tuple[int, int] | None = None,
    size: int = PAGE_SIZE,
) -> tuple[list[Move], tuple[int, int] | None]:
    """One keyset page of moves ordered by (record type, id) and the cursor of the next."""
    into, out = _moves(comparison.planning, comparison.active, filters or CompareFilters())
    if after is not None:
        later = Q(content_type_id__gt=after[0]) | Q(
            content_type_id=after[0], object_id__gt=after[1]
        )
        into, out = into.filter(later), out.filter(later)
    rows = list(
        into.order_by()
        .values_list(*COLUMNS)
        .union(out.order_by().values_list(*COLUMNS))
        .order_by("content_type_id", "object_id")[: size + 1]
    )
    more = len(rows) > size
    rows = rows[:size]
    names = _names(rows)
    moves = []
    for content_type_id, object_id, from_id, to_id in rows:
        gained, lost = comparison.gained_lost(from_id, to_id)
        object_type, name = names.get((content_type_id, object_id), ("", f"#{object_id}"))
        moves.append(
            Move(
                object_type=object_type,
                object_id=object_id,
                name=name,
                from_territory=comparison.active_territories.get(from_id),
                to_territory=comparison.planning_territories.get(to_id),
                gained_by=gained,
                lost_by=lost,
            )
        )
    cursor = (rows[-1][0], rows[-1][1]) if more and rows else None
    return moves, cursor


def _names(rows: list[tuple[int, int, Any, Any]]) -> dict[tuple[int, int], tuple[str, str]]:
    return record_names([(row[0], row[1]) for row in rows])


def record_names(keys: list[tuple[int, int]]) -> dict[tuple[int, int], tuple[str, str]]:
    """Each record's type and name: one query per record type on the page."""
    by_type: dict[int, list[int]] = defaultdict(list)
    for content_type_id, object_id in keys:
        by_type[content_type_id].append(object_id)
    names: dict[tuple[int, int], tuple[str, str]] = {}
    for content_type_id, ids in by_type.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is None:
            continue
        label = model._meta.label_lower
        for obj in model._base_manager.filter(pk__in=ids):
            names[(content_type_id, obj.pk)] = (label, str(obj))
    return names


def iter_moves(comparison: Comparison, *, filters: CompareFilters | None = None) -> Iterator[Move]:
    """Every move, page by page (for the CSV)."""
    after: tuple[int, int] | None = None
    while True:
        moves, after = moves_page(comparison, filters=filters, after=after, size=1000)
        yield from moves
        if after is None:
            return
