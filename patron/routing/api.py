"""Pools, members, queues, assignment rules, availability and the assignment log in
/api/v1/routing/ (thin handlers over routing.services and routing.selectors).

Configuration is for administrators; any user reads and sets their own availability; an
item's log is readable by whoever may see the item, and reassigning needs edit access.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Model
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.core.api.auth import request_admin, request_user
from patron.core.api.openapi import filter_parameters
from patron.core.api.pagination import (
    ListParams,
    Page,
    filtered,
    keyset_page,
    page_body,
    sort_columns,
)
from patron.core.api.problems import problem_responses
from patron.core.choices import Action
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.routing import selectors, services
from patron.routing.choices import Strategy
from patron.routing.filters import (
    DECISION_SORTS,
    POOL_SORTS,
    QUEUE_SORTS,
    RULE_SORTS,
    DecisionFilter,
    PoolFilter,
    QueueFilter,
    RuleFilter,
)
from patron.routing.models import (
    AgentAvailability,
    AssignmentDecision,
    AssignmentRule,
    MemberSkill,
    Pool,
    PoolMember,
    RoutingQueue,
)
from patron.routing.registry import routable
from patron.users.models import User

ROUTING_ADMIN_ONLY = "The routing configuration is for administrators."

router = Router(tags=["Routing"])

LIST_ERRORS = problem_responses(400, 401, 403, 422)
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 422)
ADMIN_ONLY = "Administrators only. "


def _sent(payload: Schema) -> dict[str, Any]:
    return payload.model_dump(include=payload.model_fields_set)


# --- schemas ---------------------------------------------------------------------------------


class SkillOut(Schema):
    id: int
    kind: str
    value: str
    level: int


class MemberOut(Schema):
    id: int
    pool: int
    user: int | None
    queue: int | None
    name: str
    position: int
    weight: int
    max_open_items: int | None
    max_items_per_day: int | None
    is_paused: bool
    open_items: int = Field(description="Items assigned to the member and still open (live).")
    assigned_today: int = Field(description="Items assigned on the member's local date.")
    last_assigned_at: datetime.datetime | None
    skills: list[SkillOut]


class PoolOut(Schema):
    id: int
    name: str
    description: str
    object_type: str
    strategy: str
    queue: int | None = Field(description="The queue where items wait when nobody fits.")
    relax_skills_after_minutes: int | None
    is_active: bool
    member_count: int
    waiting_count: int
    created_at: datetime.datetime


class PoolIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    object_type: str = Field(description="A routable object type, e.g. leads.lead.")
    strategy: str = "round_robin"
    description: str = ""
    queue: int | None = None
    relax_skills_after_minutes: int | None = None
    is_active: bool = True


class PoolPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    object_type: str | None = None
    strategy: str | None = None
    description: str | None = None
    queue: int | None = None
    relax_skills_after_minutes: int | None = None
    is_active: bool | None = None


class MemberIn(Schema):
    model_config = ConfigDict(extra="forbid")

    user: int | None = Field(None, description="A user id (or give queue).")
    queue: int | None = Field(None, description="A queue id (or give user).")
    weight: int = 1
    max_open_items: int | None = None
    max_items_per_day: int | None = None
    position: int | None = None


class MemberPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    weight: int | None = None
    max_open_items: int | None = None
    max_items_per_day: int | None = None
    position: int | None = None
    is_paused: bool | None = Field(None, description="Pausing stops new items in this pool.")


class SkillIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="language, region, product, deal_size or custom.")
    value: str
    level: int = Field(1, description="1 (basic) to 5 (expert).")


class QueueOut(Schema):
    id: int
    name: str
    description: str
    is_active: bool
    members: list[int]
    open_count: int = Field(description="Open items the queue holds.")
    created_at: datetime.datetime


class QueueIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    is_active: bool = True
    members: list[int] = Field(default_factory=list, description="User ids.")


class QueuePatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    is_active: bool | None = None
    members: list[int] | None = None


CONDITIONS_DOC = (
    '{"match": "all"|"any", "conditions": [{"field", "op", "value"}]}; ops: eq, ne, in, '
    "not_in, contains, starts_with, gt, gte, lt, lte, between ([low, high]), is_empty, "
    "is_not_empty. Fields are the object type's condition fields (GET /routing/object-types)."
)


class RuleOut(Schema):
    id: int
    object_type: str
    name: str
    position: int
    is_active: bool
    conditions: dict[str, Any]
    pool: int
    strategy: str = Field(description="Blank: the pool's strategy.")
    required_skills: list[dict[str, Any]]


class RuleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    object_type: str
    name: str
    pool: int
    conditions: dict[str, Any] = Field(default_factory=dict, description=CONDITIONS_DOC)
    strategy: str = ""
    required_skills: list[dict[str, Any]] = Field(
        default_factory=list, description='[{"kind": "language", "value": "de", "min_level": 3}]'
    )
    is_active: bool = True
    position: int | None = None


class RulePatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    pool: int | None = None
    conditions: dict[str, Any] | None = Field(None, description=CONDITIONS_DOC)
    strategy: str | None = None
    required_skills: list[dict[str, Any]] | None = None
    is_active: bool | None = None
    position: int | None = None


class ReorderIn(Schema):
    model_config = ConfigDict(extra="forbid")

    object_type: str
    rule_ids: list[int] = Field(description="Every rule of the object type, in the new order.")


class ObjectTypeOut(Schema):
    object_type: str
    label: str
    condition_fields: list[list[str]] = Field(description="[key, label] pairs.")


class AvailabilityOut(Schema):
    user: int
    time_zone: str = Field(description="Working hours are read in this zone.")
    is_away: bool
    away_until: datetime.datetime | None
    working_hours: dict[str, list[list[str]]] = Field(
        description='{"mon": [["09:00", "17:30"]], ...}; empty means always available.'
    )


class AvailabilityIn(Schema):
    model_config = ConfigDict(extra="forbid")

    is_away: bool | None = None
    away_until: datetime.datetime | None = None
    working_hours: dict[str, Any] | None = None


class ConsideredOut(Schema):
    member_id: int | None
    user_id: int | None
    queue_id: int | None
    name: str
    outcome: str = Field(description="chosen, eligible or skipped.")
    reason: str = Field(description="Why skipped: paused, away, off_hours, full_open, ...")
    detail: str


class DecisionOut(Schema):
    id: int
    object_type: str
    object_id: int
    kind: str
    pool: int | None
    rule: int | None
    strategy: str
    assigned_user: int | None
    assigned_queue: int | None
    previous_user: int | None
    previous_queue: int | None
    actor: int | None
    reason: str
    considered: list[ConsideredOut]
    created_at: datetime.datetime


class ReassignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    user_id: int | None = None
    queue_id: int | None = None
    reason: str = Field(description="Required: why the item moves (it is logged).")


class RouteOut(Schema):
    target_user: int | None
    target_queue: int | None
    queued: bool
    decision: DecisionOut


# --- serialising -----------------------------------------------------------------------------


def _member(member: PoolMember) -> dict[str, Any]:
    return {
        "id": member.pk,
        "pool": member.pool_id,
        "user": member.user_id,
        "queue": member.queue_id,
        "name": str(member.user or member.queue),
        "position": member.position,
        "weight": member.weight,
        "max_open_items": member.max_open_items,
        "max_items_per_day": member.max_items_per_day,
        "is_paused": member.is_paused,
        "open_items": member.open_items,
        "assigned_today": services.assigned_today(member),
        "last_assigned_at": member.last_assigned_at,
        "skills": [
            {"id": s.pk, "kind": s.kind, "value": s.value, "level": s.level}
            for s in member.skills.all()
        ],
    }


def _pool(pool: Pool) -> dict[str, Any]:
    return {
        "id": pool.pk,
        "name": pool.name,
        "description": pool.description,
        "object_type": pool.object_type,
        "strategy": pool.strategy,
        "queue": pool.queue_id,
        "relax_skills_after_minutes": pool.relax_skills_after_minutes,
        "is_active": pool.is_active,
        "member_count": getattr(pool, "member_count", 0),
        "waiting_count": getattr(pool, "waiting_count", 0),
        "created_at": pool.created_at,
    }


def _queue(queue: RoutingQueue) -> dict[str, Any]:
    return {
        "id": queue.pk,
        "name": queue.name,
        "description": queue.description,
        "is_active": queue.is_active,
        "members": [user.pk for user in queue.members.all()],
        "open_count": getattr(queue, "open_count", 0),
        "created_at": queue.created_at,
    }


def _rule(rule: AssignmentRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "object_type": rule.object_type,
        "name": rule.name,
        "position": rule.position,
        "is_active": rule.is_active,
        "conditions": rule.conditions or {"match": "all", "conditions": []},
        "pool": rule.pool_id,
        "strategy": rule.strategy,
        "required_skills": rule.required_skills or [],
    }


def _decision(decision: AssignmentDecision) -> dict[str, Any]:
    return {
        "id": decision.pk,
        "object_type": decision.content_type.app_label + "." + decision.content_type.model,
        "object_id": decision.object_id,
        "kind": decision.kind,
        "pool": decision.pool_id,
        "rule": decision.rule_id,
        "strategy": decision.strategy,
        "assigned_user": decision.assigned_user_id,
        "assigned_queue": decision.assigned_queue_id,
        "previous_user": decision.previous_user_id,
        "previous_queue": decision.previous_queue_id,
        "actor": decision.actor_id,
        "reason": decision.reason,
        "considered": [
            {
                "member_id": entry.get("member_id"),
                "user_id": entry.get("user_id"),
                "queue_id": entry.get("queue_id"),
                "name": entry.get("name", ""),
                "outcome": entry.get("outcome", ""),
                "reason": entry.get("reason", ""),
                "detail": entry.get("detail", ""),
            }
            for entry in decision.considered or []
        ],
        "created_at": decision.created_at,
    }


def _availability(user: User, availability: AgentAvailability | None) -> dict[str, Any]:
    return {
        "user": user.pk,
        "time_zone": user.time_zone,
        "is_away": bool(availability and availability.is_away),
        "away_until": availability.away_until if availability else None,
        "working_hours": (availability.working_hours if availability else {}) or {},
    }


def _list_description(what: str, sorts: dict[str, tuple[str, ...]], default: str) -> str:
    return (
        f"{ADMIN_ONLY}{what}, one page at a time (keyset pagination: pass next_cursor as "
        f"?cursor=). Sort keys: {', '.join(sorts)} (default {default}). An unknown filter is "
        "refused with 422."
    )


def _page(
    request: HttpRequest,
    rows: Any,
    filterset: Any,
    sorts: dict[str, tuple[str, ...]],
    default: str,
    params: ListParams,
) -> tuple[list[Any], str | None]:
    sort, columns = sort_columns(params.sort, sorts, default)
    return keyset_page(
        filtered(request, rows, filterset),
        sort=sort,
        columns=columns,
        limit=params.limit,
        cursor=params.cursor,
    )


# --- object types ----------------------------------------------------------------------------


@router.get(
    "/routing/object-types",
    response={200: list[ObjectTypeOut], **problem_responses(401, 403)},
    summary="Object types the engine routes, with their rule condition fields",
    operation_id="routing_object_types",
)
def object_types(request: HttpRequest) -> list[dict[str, Any]]:
    request_admin(request, ROUTING_ADMIN_ONLY)
    from patron.routing.registry import routables

    return [
        {
            "object_type": spec.object_type,
            "label": spec.label,
            "condition_fields": [list(pair) for pair in spec.condition_fields],
        }
        for spec in routables()
    ]


# --- pools -----------------------------------------------------------------------------------


@router.get(
    "/routing/pools",
    response={200: Page[PoolOut], **LIST_ERRORS},
    summary="List pools",
    description=_list_description("Pools with member and waiting counts", POOL_SORTS, "name"),
    operation_id="routing_pool_list",
    openapi_extra={"parameters": filter_parameters(PoolFilter)},
)
def pool_index(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    request_admin(request, ROUTING_ADMIN_ONLY)
    rows, next_cursor = _page(
        request, selectors.pool_list(), PoolFilter, POOL_SORTS, "name", params
    )
    return page_body([_pool(p) for p in rows], next_cursor)


@router.post(
    "/routing/pools",
    response={201: PoolOut, **WRITE_ERRORS},
    summary="Create a pool",
    description=ADMIN_ONLY + "Strategies: " + ", ".join(Strategy.values) + ".",
    operation_id="routing_pool_create",
)
def pool_create(request: HttpRequest, payload: PoolIn) -> Status[Any]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    data = payload.model_dump()
    data["queue_id"] = data.pop("queue")
    pool = services.pool_save(user=user, **data)
    return Status(201, _pool(selectors.pool_get(pk=pool.pk)))


@router.get(
    "/routing/pools/{int:pool_id}",
    response={200: PoolOut, **problem_responses(401, 403, 404)},
    summary="Get a pool",
    operation_id="routing_pool_get",
)
def pool_detail(request: HttpRequest, pool_id: int) -> dict[str, Any]:
    request_admin(request, ROUTING_ADMIN_ONLY)
    return _pool(selectors.pool_get(pk=pool_id))


@router.patch(
    "/routing/pools/{int:pool_id}",
    response={200: PoolOut, **WRITE_ERRORS},
    summary="Change a pool",
    description=ADMIN_ONLY + "Send only the fields to change.",
    operation_id="routing_pool_update",
)
def pool_update(request: HttpRequest, pool_id: int, payload: PoolPatch) -> dict[str, Any]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    pool = selectors.pool_get(pk=pool_id)
    data: dict[str, Any] = {
        "name": pool.name,
        "object_type": pool.object_type,
        "strategy": pool.strategy,
        "description": pool.description,
        "queue_id": pool.queue_id,
        "relax_skills_after_minutes": pool.relax_skills_after_minutes,
        "is_active": pool.is_active,
    }
    sent = _sent(payload)
    if "queue" in sent:
        sent["queue_id"] = sent.pop("queue")
    data.update(sent)
    services.pool_save(user=user, pool=pool, **data)
    return _pool(selectors.pool_get(pk=pool_id))


@router.delete(
    "/routing/pools/{int:pool_id}",
    response={204: None, **WRITE_ERRORS},
    summary="Delete a pool",
    description=ADMIN_ONLY + "Refused (422) while rules send items to it.",
    operation_id="routing_pool_delete",
)
def pool_remove(request: HttpRequest, pool_id: int) -> Status[None]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    services.pool_delete(user=user, pool=selectors.pool_get(pk=pool_id))
    return Status(204, None)


# --- members ---------------------------------------------------------------------------------


@router.get(
    "/routing/pools/{int:pool_id}/members",
    response={200: list[MemberOut], **problem_responses(401, 403, 404)},
    summary="List a pool's members with live counters and skills",
    operation_id="routing_member_list",
)
def member_index(request: HttpRequest, pool_id: int) -> list[dict[str, Any]]:
    request_admin(request, ROUTING_ADMIN_ONLY)
    pool = selectors.pool_get(pk=pool_id)
    return [_member(m) for m in selectors.pool_members(pool=pool)]


@router.post(
    "/routing/pools/{int:pool_id}/members",
    response={201: MemberOut, **WRITE_ERRORS},
    summary="Add a user or a queue to a pool",
    operation_id="routing_member_create",
)
def member_create(request: HttpRequest, pool_id: int, payload: MemberIn) -> Status[Any]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    pool = selectors.pool_get(pk=pool_id)
    data = payload.model_dump()
    member = services.member_add(
        user=user,
        pool=pool,
        member_user_id=data.pop("user"),
        member_queue_id=data.pop("queue"),
        **data,
    )
    return Status(201, _member(selectors.member_get(pk=member.pk)))


@router.patch(
    "/routing/members/{int:member_id}",
    response={200: MemberOut, **WRITE_ERRORS},
    summary="Change a member's weight, capacity, order or pause it",
    description=ADMIN_ONLY + "Resuming (is_paused false) assigns waiting items that now fit.",
    operation_id="routing_member_update",
)
def member_update(request: HttpRequest, member_id: int, payload: MemberPatch) -> dict[str, Any]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    member = selectors.member_get(pk=member_id)
    sent = _sent(payload)
    paused = sent.pop("is_paused", None)
    if sent:
        values = {
            "weight": member.weight,
            "max_open_items": member.max_open_items,
            "max_items_per_day": member.max_items_per_day,
            "position": member.position,
        }
        values.update(sent)
        services.member_update(user=user, member=member, **values)
    if paused is not None:
        services.member_set_paused(user=user, member=member, paused=paused)
    return _member(selectors.member_get(pk=member_id))


@router.delete(
    "/routing/members/{int:member_id}",
    response={204: None, **WRITE_ERRORS},
    summary="Remove a member from its pool",
    operation_id="routing_member_delete",
)
def member_remove(request: HttpRequest, member_id: int) -> Status[None]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    services.member_remove(user=user, member=selectors.member_get(pk=member_id))
    return Status(204, None)


@router.post(
    "/routing/members/{int:member_id}/skills",
    response={201: SkillOut, **WRITE_ERRORS},
    summary="Add a skill to a member (or change its level)",
    operation_id="routing_skill_set",
)
def skill_add(request: HttpRequest, member_id: int, payload: SkillIn) -> Status[Any]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    member = selectors.member_get(pk=member_id)
    skill = services.skill_set(user=user, member=member, **payload.model_dump())
    return Status(
        201, {"id": skill.pk, "kind": skill.kind, "value": skill.value, "level": skill.level}
    )


@router.delete(
    "/routing/members/{int:member_id}/skills/{int:skill_id}",
    response={204: None, **WRITE_ERRORS},
    summary="Remove a skill from a member",
    operation_id="routing_skill_delete",
)
def skill_delete(request: HttpRequest, member_id: int, skill_id: int) -> Status[None]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    skill = MemberSkill.objects.filter(pk=skill_id, member_id=member_id).first()
    if skill is None:
        raise RecordNotFound("No such skill on this member.")
    services.skill_remove(user=user, skill=skill)
    return Status(204, None)


# --- queues ----------------------------------------------------------------------------------


@router.get(
    "/routing/queues",
    response={200: Page[QueueOut], **LIST_ERRORS},
    summary="List queues",
    description=_list_description("Queues with their users", QUEUE_SORTS, "name"),
    operation_id="routing_queue_list",
    openapi_extra={"parameters": filter_parameters(QueueFilter)},
)
def queue_index(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    request_admin(request, ROUTING_ADMIN_ONLY)
    rows, next_cursor = _page(
        request, selectors.queue_list(), QueueFilter, QUEUE_SORTS, "name", params
    )
    return page_body([_queue(q) for q in rows], next_cursor)


@router.post(
    "/routing/queues",
    response={201: QueueOut, **WRITE_ERRORS},
    summary="Create a queue",
    operation_id="routing_queue_create",
)
def queue_create(request: HttpRequest, payload: QueueIn) -> Status[Any]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    data = payload.model_dump()
    queue = services.queue_save(user=user, member_ids=data.pop("members"), **data)
    return Status(201, _queue(selectors.queue_get(pk=queue.pk)))


@router.get(
    "/routing/queues/{int:queue_id}",
    response={200: QueueOut, **problem_responses(401, 403, 404)},
    summary="Get a queue",
    operation_id="routing_queue_get",
)
def queue_detail(request: HttpRequest, queue_id: int) -> dict[str, Any]:
    request_admin(request, ROUTING_ADMIN_ONLY)
    return _queue(selectors.queue_get(pk=queue_id))


@router.patch(
    "/routing/queues/{int:queue_id}",
    response={200: QueueOut, **WRITE_ERRORS},
    summary="Change a queue (members replaces its users)",
    operation_id="routing_queue_update",
)
def queue_update(request: HttpRequest, queue_id: int, payload: QueuePatch) -> dict[str, Any]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    queue = selectors.queue_get(pk=queue_id)
    sent = _sent(payload)
    services.queue_save(
        user=user,
        queue=queue,
        name=sent.get("name", queue.name),
        description=sent.get("description", queue.description),
        is_active=sent.get("is_active", queue.is_active),
        member_ids=sent.get("members"),
    )
    return _queue(selectors.queue_get(pk=queue_id))


@router.delete(
    "/routing/queues/{int:queue_id}",
    response={204: None, **WRITE_ERRORS},
    summary="Delete a queue",
    description=ADMIN_ONLY + "Refused (422) while it is a pool's waiting queue.",
    operation_id="routing_queue_delete",
)
def queue_remove(request: HttpRequest, queue_id: int) -> Status[None]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    services.queue_delete(user=user, queue=selectors.queue_get(pk=queue_id))
    return Status(204, None)


# --- rules -----------------------------------------------------------------------------------


@router.get(
    "/routing/rules",
    response={200: Page[RuleOut], **LIST_ERRORS},
    summary="List assignment rules",
    description=_list_description("Rules in evaluation order", RULE_SORTS, "position"),
    operation_id="routing_rule_list",
    openapi_extra={"parameters": filter_parameters(RuleFilter)},
)
def rule_index(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    request_admin(request, ROUTING_ADMIN_ONLY)
    rows, next_cursor = _page(
        request, selectors.rule_list(), RuleFilter, RULE_SORTS, "position", params
    )
    return page_body([_rule(r) for r in rows], next_cursor)


@router.post(
    "/routing/rules",
    response={201: RuleOut, **WRITE_ERRORS},
    summary="Create an assignment rule",
    description=ADMIN_ONLY + "Conditions: " + CONDITIONS_DOC + " Problems are a 422 naming "
    "the row, e.g. conditions[1].op.",
    operation_id="routing_rule_create",
)
def rule_create(request: HttpRequest, payload: RuleIn) -> Status[Any]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    data = payload.model_dump()
    data["pool_id"] = data.pop("pool")
    rule = services.rule_save(user=user, **data)
    return Status(201, _rule(rule))


@router.post(
    "/routing/rules/reorder",
    response={200: list[RuleOut], **WRITE_ERRORS},
    summary="Put an object type's rules in a new order",
    operation_id="routing_rule_reorder",
)
def rule_reorder(request: HttpRequest, payload: ReorderIn) -> list[dict[str, Any]]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    rules = services.rule_reorder(
        user=user, object_type=payload.object_type, rule_ids=payload.rule_ids
    )
    return [_rule(r) for r in rules]


@router.get(
    "/routing/rules/{int:rule_id}",
    response={200: RuleOut, **problem_responses(401, 403, 404)},
    summary="Get an assignment rule",
    operation_id="routing_rule_get",
)
def rule_detail(request: HttpRequest, rule_id: int) -> dict[str, Any]:
    request_admin(request, ROUTING_ADMIN_ONLY)
    return _rule(selectors.rule_get(pk=rule_id))


@router.patch(
    "/routing/rules/{int:rule_id}",
    response={200: RuleOut, **WRITE_ERRORS},
    summary="Change an assignment rule",
    operation_id="routing_rule_update",
)
def rule_update(request: HttpRequest, rule_id: int, payload: RulePatch) -> dict[str, Any]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    rule = selectors.rule_get(pk=rule_id)
    data = {
        "object_type": rule.object_type,
        "name": rule.name,
        "pool_id": rule.pool_id,
        "conditions": rule.conditions,
        "strategy": rule.strategy,
        "required_skills": rule.required_skills,
        "is_active": rule.is_active,
        "position": rule.position,
    }
    sent = _sent(payload)
    if "pool" in sent:
        sent["pool_id"] = sent.pop("pool")
    data.update(sent)
    return _rule(services.rule_save(user=user, rule=rule, **data))


@router.delete(
    "/routing/rules/{int:rule_id}",
    response={204: None, **WRITE_ERRORS},
    summary="Delete an assignment rule",
    operation_id="routing_rule_delete",
)
def rule_remove(request: HttpRequest, rule_id: int) -> Status[None]:
    user = request_admin(request, ROUTING_ADMIN_ONLY)
    services.rule_delete(user=user, rule=selectors.rule_get(pk=rule_id))
    return Status(204, None)


# --- availability ----------------------------------------------------------------------------


@router.get(
    "/routing/availability/me",
    response={200: AvailabilityOut, **problem_responses(401, 403)},
    summary="My availability for routing (away, working hours)",
    operation_id="routing_availability_get",
)
def availability_me(request: HttpRequest) -> dict[str, Any]:
    user: User = request_user(request)
    return _availability(user, selectors.availability_of(user))


@router.patch(
    "/routing/availability/me",
    response={200: AvailabilityOut, **problem_responses(400, 401, 403, 422)},
    summary="Set myself away or back, or change my working hours",
    description="is_away true with an optional away_until (then back by itself); false is "
    "back, and waiting items may come to you at once. working_hours replaces the week "
    '({"mon": [["09:00", "17:30"]], ...}, in your own time zone; {} = always).',
    operation_id="routing_availability_update",
)
def availability_update(request: HttpRequest, payload: AvailabilityIn) -> dict[str, Any]:
    user: User = request_user(request)
    sent = _sent(payload)
    if not sent:
        raise ValidationFailed(
            "Nothing to change.", errors={"body": ["Send is_away, away_until or working_hours."]}
        )
    if "working_hours" in sent:
        services.availability_set_working_hours(
            actor=user, user=user, working_hours=sent["working_hours"]
        )
    if "is_away" in sent or "away_until" in sent:
        away = sent.get("is_away", sent.get("away_until") is not None)
        services.availability_set_away(
            actor=user, user=user, away=bool(away), away_until=sent.get("away_until")
        )
    return _availability(user, selectors.availability_of(user))


# --- items and the log -----------------------------------------------------------------------


def _item(request: HttpRequest, object_type: str, item_id: int, action: str) -> tuple[User, Model]:
    user: User = request_user(request)
    try:
        spec = routable(object_type)
    except LookupError:
        raise RecordNotFound(f"{object_type!r} is not a routable object type.") from None
    item = selectors.visible_item(user=user, model=spec.model, pk=item_id, action=action)
    if item is None:
        raise RecordNotFound("No such item, or you may not see it.")
    return user, item


@router.get(
    "/routing/items/{object_type}/{int:item_id}/decisions",
    response={200: list[DecisionOut], **problem_responses(401, 403, 404)},
    summary="An item's assignment log",
    description="Newest first: who got it, who was considered and why others were skipped. "
    "Readable by whoever may see the item.",
    operation_id="routing_item_decisions",
)
def item_decisions(request: HttpRequest, object_type: str, item_id: int) -> list[dict[str, Any]]:
    _user, item = _item(request, object_type, item_id, Action.READ)
    return [_decision(d) for d in selectors.decisions_for(item=item)[:200]]


@router.post(
    "/routing/items/{object_type}/{int:item_id}/reassign",
    response={201: DecisionOut, **WRITE_ERRORS},
    summary="Reassign an item by hand (reason required)",
    description="Give user_id or queue_id, and a reason (422 naming reason when blank). Needs "
    "edit access to the item.",
    operation_id="routing_item_reassign",
)
def item_reassign(
    request: HttpRequest, object_type: str, item_id: int, payload: ReassignIn
) -> Status[Any]:
    user, item = _item(request, object_type, item_id, Action.UPDATE)
    target_user = target_queue = None
    if payload.user_id is not None:
        target_user = User.objects.filter(pk=payload.user_id).first()
        if target_user is None:
            raise ValidationFailed(
                "No such user.", errors={"user_id": [f"There is no user {payload.user_id}."]}
            )
    if payload.queue_id is not None:
        target_queue = RoutingQueue.objects.filter(pk=payload.queue_id).first()
        if target_queue is None:
            raise ValidationFailed(
                "No such queue.", errors={"queue_id": [f"There is no queue {payload.queue_id}."]}
            )
    decision = services.reassign_item(
        item=item, actor=user, reason=payload.reason, user=target_user, queue=target_queue
    )
    return Status(201, _decision(selectors.decision_log().get(pk=decision.pk)))


@router.post(
    "/routing/items/{object_type}/{int:item_id}/route",
    response={200: RouteOut, **WRITE_ERRORS},
    summary="Route an item by the rules now",
    description="Idempotent: an item with an open assignment keeps it and its latest decision "
    "is returned. Needs edit access to the item.",
    operation_id="routing_item_route",
)
def item_route(request: HttpRequest, object_type: str, item_id: int) -> dict[str, Any]:
    user, item = _item(request, object_type, item_id, Action.UPDATE)
    outcome = services.route_item(item=item, actor=user)
    return {
        "target_user": outcome.target.user_id if outcome.target else None,
        "target_queue": outcome.target.queue_id if outcome.target else None,
        "queued": outcome.queued,
        "decision": _decision(selectors.decision_log().get(pk=outcome.decision.pk)),
    }


@router.get(
    "/routing/decisions",
    response={200: Page[DecisionOut], **LIST_ERRORS},
    summary="The assignment log",
    description=_list_description("Every routing decision", DECISION_SORTS, "-created"),
    operation_id="routing_decision_list",
    openapi_extra={"parameters": filter_parameters(DecisionFilter)},
)
def decision_index(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    request_admin(request, ROUTING_ADMIN_ONLY)
    rows, next_cursor = _page(
        request, selectors.decision_log(), DecisionFilter, DECISION_SORTS, "-created", params
    )
    return page_body([_decision(d) for d in rows], next_cursor)
