"""Reads of the routing engine: the configuration (administrators) and the assignment log."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, IntegerField, Model, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from patron.routing.models import (
    AgentAvailability,
    AssignmentDecision,
    AssignmentRule,
    MemberSkill,
    Pool,
    PoolMember,
    RoutedItem,
    RoutingQueue,
)
from patron.routing.registry import routable_for
from patron.users.models import User


def _content_type_of(item: Model) -> ContentType:
    return ContentType.objects.get_for_model(routable_for(item).model, for_concrete_model=False)


def decisions_for(*, item: Model) -> QuerySet[AssignmentDecision]:
    """The item's assignment log, newest first."""
    return (
        AssignmentDecision.objects.filter(content_type=_content_type_of(item), object_id=item.pk)
        .select_related(
            "pool",
            "rule",
            "assigned_user",
            "assigned_queue",
            "previous_user",
            "previous_queue",
            "actor",
        )
        .order_by("-created_at", "-id")
    )


def routed_item_for(*, item: Model) -> RoutedItem | None:
    """The item's current assignment row, or None if it was never routed."""
    return (
        RoutedItem.objects.filter(content_type=_content_type_of(item), object_id=item.pk)
        .select_related("pool", "user", "queue", "rule")
        .first()
    )


def decision_log() -> QuerySet[AssignmentDecision]:
    """Every decision (administrators), with what a list row shows."""
    return AssignmentDecision.objects.select_related(
        "content_type",
        "pool",
        "rule",
        "assigned_user",
        "assigned_queue",
        "previous_user",
        "previous_queue",
        "actor",
    )


def _count(queryset: QuerySet[Any]) -> Subquery:
    return Subquery(
        queryset.order_by().values("pool_id").annotate(n=Count("pk")).values("n")[:1],
        output_field=IntegerField(),
    )


def pool_list() -> QuerySet[Pool]:
    """Pools with how many members they have and how many items wait in them."""
    return Pool.objects.select_related("queue").annotate(
        member_count=Coalesce(_count(PoolMember.objects.filter(pool=OuterRef("pk"))), 0),
        waiting_count=Coalesce(
            _count(
                RoutedItem.objects.filter(
                    pool=OuterRef("pk"), waiting_since__isnull=False, is_open=True
                )
            ),
            0,
        ),
    )


def pool_get(*, pk: int) -> Pool:
    pool = pool_list().filter(pk=pk).first()
    if pool is None:
        raise Http404("No such pool.")
    return pool


def pool_members(*, pool: Pool) -> list[PoolMember]:
    """Members with their skills and availability, for the pool page and API."""
    return list(
        PoolMember.objects.filter(pool=pool)
        .select_related("user", "user__routing_availability", "queue")
        .prefetch_related(
            Prefetch("skills", queryset=MemberSkill.objects.order_by("kind", "value"))
        )
        .order_by("position", "id")
    )


def member_get(*, pk: int, pool_id: int | None = None) -> PoolMember:
    queryset = PoolMember.objects.select_related("pool", "user", "queue")
    if pool_id is not None:
        queryset = queryset.filter(pool_id=pool_id)
    member = queryset.filter(pk=pk).first()
    if member is None:
        raise Http404("No such pool member.")
    return member


def queue_list() -> QuerySet[RoutingQueue]:
    """Queues with their users and how many open items they hold."""
    held = (
        RoutedItem.objects.filter(queue=OuterRef("pk"), is_open=True)
        .order_by()
        .values("queue_id")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return RoutingQueue.objects.prefetch_related(
        Prefetch("members", queryset=User.objects.order_by("full_name", "email"))
    ).annotate(open_count=Coalesce(Subquery(held, output_field=IntegerField()), 0))


def queue_get(*, pk: int) -> RoutingQueue:
    queue = queue_list().filter(pk=pk).first()
    if queue is None:
        raise Http404("No such queue.")
    return queue


def rule_list() -> QuerySet[AssignmentRule]:
    return AssignmentRule.objects.select_related("pool").order_by("object_type", "position", "id")


def rule_get(*, pk: int) -> AssignmentRule:
    rule = rule_list().filter(pk=pk).first()
    if rule is None:
        raise Http404("No such rule.")
    return rule


def availability_of(user: Any) -> AgentAvailability | None:
    return AgentAvailability.objects.filter(user=user).first()


def visible_item(*, user: Any, model: type[Model], pk: int, action: str) -> Model | None:
    """The routed item if ``user`` may ``action`` it (its app's visibility rules), else None.

    Types that are not business records (no ``visible_to``) are open to administrators only.
    """
    manager: Any = model._default_manager
    if hasattr(manager, "visible_to"):
        found: Model | None = manager.visible_to(user, action).filter(pk=pk).first()
        return found
    if getattr(user, "is_admin", False):
        found = manager.filter(pk=pk).first()
        return found
    return None
