"""Reads of territory management, including the lazy subqueries visibility rules use."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import BooleanField, F, Func, Model, Q, QuerySet

from patron.core.exceptions import RecordNotFound
from patron.territories.choices import MemberRole, ModelState
from patron.territories.models import (
    Territory,
    TerritoryAssignment,
    TerritoryMember,
    TerritoryModel,
)


def _active_assignments(model: type[Model]) -> QuerySet[TerritoryAssignment]:
    return TerritoryAssignment.objects.filter(
        model__state=ModelState.ACTIVE, content_type=ContentType.objects.get_for_model(model)
    )


def territories_of(*, obj: Model) -> list[Territory]:
    """The territory of ``obj`` in the active model, with its ancestors (top first)."""
    assignment = (
        _active_assignments(type(obj)).filter(object_id=obj.pk).select_related("territory").first()
    )
    if assignment is None:
        return []
    ids = [int(part) for part in assignment.territory.path.split(".") if part]
    return list(Territory.objects.filter(pk__in=ids).order_by("depth"))


def territories_of_cached(obj: Model) -> list[Territory]:
    """``territories_of`` remembered on the instance, for the cards and explanations of one
    page that all ask about the same record."""
    cached: list[Territory] | None = getattr(obj, "_territory_path", None)
    if cached is None:
        cached = territories_of(obj=obj)
        obj._territory_path = cached  # type: ignore[attr-defined]
    return cached


def territory_user_ids_for(*, obj: Model) -> list[int]:
    """Users of ``obj``'s territory in the active model (any role), in a stable order."""
    territory_ids = _active_assignments(type(obj)).filter(object_id=obj.pk).values("territory_id")
    return list(
        TerritoryMember.objects.filter(territory_id__in=territory_ids, user__is_active=True)
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .distinct()
    )


class PathStartsWith(Func):
    """``path LIKE prefix || '%'``: territory paths are digits and dots ("12.40."), so unlike
    ``startswith`` against a column this needs no escaping (and no nested REPLACE calls)."""

    # "%%%%" is one literal "%" once Django and the driver have both formatted the SQL.
    template = "(%(expressions)s || '%%%%')"
    arg_joiner = " LIKE "
    output_field = BooleanField()


def records_in_user_territories(
    *, user_id: int, model: type[Model], edit: bool = False
) -> QuerySet[TerritoryAssignment, Any]:
    """A lazy subquery of the ids of ``model``'s records in the user's territories (active
    model): every member reads the records of their territory; a manager also reads those of
    every territory below theirs. With ``edit``, only the manager's territories (and below)
    count: reps, overlay and support members read but do not edit through a territory."""
    # Worked out per territory (a small table), not per assignment: a territory is covered
    # when its path starts with the path of one the user manages in the same model. A join
    # rather than a correlated EXISTS keeps the statement shallow: activities embed this rule
    # inside their linked-record rule, and SQLite's parser refuses deeply nested statements.
    managed_below = Territory.objects.filter(
        PathStartsWith(F("path"), F("model__territories__path")),
        model__state=ModelState.ACTIVE,
        model__territories__members__user_id=user_id,
        model__territories__members__role=MemberRole.MANAGER,
    ).values("pk")
    condition = Q(territory_id__in=managed_below)
    if not edit:
        condition |= Q(
            territory_id__in=TerritoryMember.objects.filter(
                user_id=user_id, territory__model__state=ModelState.ACTIVE
            ).values("territory_id")
        )
    return _active_assignments(model).filter(condition).values("object_id")


def models_list() -> QuerySet[TerritoryModel]:
    return TerritoryModel.objects.select_related("created_by", "activated_by").order_by(
        "state", "-created_at", "-pk"
    )


def model_get(pk: Any) -> TerritoryModel:
    model = TerritoryModel.objects.filter(pk=pk).first() if str(pk).isdigit() else None
    if model is None:
        raise RecordNotFound(f"There is no territory model with id {pk}.")
    return model


def territory_get(pk: Any, *, model: TerritoryModel | None = None) -> Territory:
    rows = Territory.objects.select_related("model", "parent")
    if model is not None:
        rows = rows.filter(model=model)
    territory = rows.filter(pk=pk).first() if str(pk).isdigit() else None
    if territory is None:
        raise RecordNotFound(f"There is no territory with id {pk}.")
    return territory


def territory_tree(model: TerritoryModel) -> list[Territory]:
    """The model's territories in tree order (a parent before its children), each with its
    rule, member and assignment counts: three queries however big the tree."""
    from django.db.models import Count

    territories: list[Territory] = list(
        Territory.objects.filter(model=model)
        .annotate(
            rule_count=Count("rules", distinct=True),
            member_count=Count("members", distinct=True),
        )
        .order_by("path")
    )
    assigned = dict(
        TerritoryAssignment.objects.filter(model=model)
        .values("territory_id")
        .annotate(n=Count("pk"))
        .values_list("territory_id", "n")
        .order_by()
    )
    for territory in territories:
        territory.assignment_count = assigned.get(territory.pk, 0)  # type: ignore[attr-defined]
    return _tree_order(territories)


def _tree_order(territories: list[Territory]) -> list[Territory]:
    """Depth-first order with siblings by name (paths of ids do not sort by name)."""
    children: dict[int | None, list[Territory]] = {}
    for territory in territories:
        children.setdefault(territory.parent_id, []).append(territory)
    for siblings in children.values():
        siblings.sort(key=lambda t: (t.name.lower(), t.pk))
    ordered: list[Territory] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        node = stack.pop()
        ordered.append(node)
        stack.extend(reversed(children.get(node.pk, [])))
    return ordered
