"""Territory models, territories, rules, members, quotas, assignments, batch runs and the
comparison in /api/v1/ (thin handlers over services and selectors).

Reads are open to every signed-in user (with a token, the "territories" scope); writes,
the comparison and the batch run are for administrators (403 otherwise). Assignment lists
only name the records the caller may see.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.core.api.auth import request_admin, request_user
from patron.core.api.problems import problem_responses
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.jobs import job_url
from patron.core.models import Job
from patron.territories import compare, selectors, services
from patron.territories.choices import ModelState
from patron.territories.models import (
    Territory,
    TerritoryAssignment,
    TerritoryMember,
    TerritoryModel,
    TerritoryQuota,
    TerritoryRule,
)
from patron.territories.registry import territory_subject, territory_subjects
from patron.users.api import api_auth
from patron.users.models import User

router = Router(tags=["Territories"], auth=api_auth("territories"))

ADMIN_ONLY = "Administrators only."
RULE_DOC = (
    "field: country, region, postal_code, industry, employee_count or annual_revenue; "
    "operator: in (values, case-insensitive) or range (low and/or high, inclusive; postal "
    "codes of the bounds' format, numbers as decimals)."
)


# --- schemas ----------------------------------------------------------------------------------


class ModelOut(Schema):
    id: int
    name: str
    description: str
    state: str
    copied_from: int | None
    created_at: datetime.datetime
    activated_at: datetime.datetime | None
    archived_at: datetime.datetime | None
    assigned_at: datetime.datetime | None = Field(
        description="When assignments were last computed (planning models: the preview)."
    )
    stale: bool = Field(description="The rules changed since the assignments were computed.")


class ModelIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""


class CopyIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", description="Defaults to “Copy of <name>”.")


class JobOut(Schema):
    id: int
    kind: str
    status: str
    progress_done: int
    progress_total: int | None
    message: str
    result: dict[str, Any]
    url: str = Field(description="The page showing the job's progress.")


class ActivatedOut(Schema):
    model: ModelOut
    job: JobOut = Field(description="The background run recomputing the assignments.")


class RuleOut(Schema):
    id: int
    field: str
    operator: str
    values: list[str]
    low: str
    high: str


class RuleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(description=RULE_DOC)
    operator: str = Field(description="in or range.")
    values: list[str] = Field(default_factory=list)
    low: str = ""
    high: str = ""


class MemberOut(Schema):
    user: int
    email: str
    name: str
    role: str


class MemberIn(Schema):
    model_config = ConfigDict(extra="forbid")

    user: int
    role: str = Field(description="manager, sales_rep, overlay or support.")


class TerritoryOut(Schema):
    id: int
    model: int
    parent: int | None
    name: str
    description: str
    priority: int
    depth: int
    path: str = Field(description="Ids from the top, dot-separated.")
    source: int | None = Field(description="The territory it was copied from.")


class TerritoryDetailOut(TerritoryOut):
    rules: list[RuleOut]
    members: list[MemberOut]


class TreeNodeOut(TerritoryOut):
    rule_count: int
    member_count: int
    assignment_count: int


class TerritoryIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    parent: int | None = None
    description: str = ""
    priority: int = Field(0, description="Higher wins among equally deep matches.")
    rules: list[RuleIn] = Field(default_factory=list, description="Replaces the rules.")


class TerritoryPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    parent: int | None = Field(None, description="Send 0 to move it to the top.")
    description: str | None = None
    priority: int | None = None


class QuotaOut(Schema):
    id: int
    territory: int
    period_start: datetime.date
    period_end: datetime.date
    amount: Decimal
    currency: str


class QuotaIn(Schema):
    model_config = ConfigDict(extra="forbid")

    period_start: datetime.date
    period_end: datetime.date
    amount: Decimal
    currency: str


class AssignmentOut(Schema):
    id: int
    model: int
    territory: int
    object_type: str
    object_id: int
    name: str
    assigned_at: datetime.datetime
    is_manual: bool


class AssignmentPage(Schema):
    items: list[AssignmentOut]
    next_cursor: str | None


class AssignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    object_type: str = Field(description="contacts.account, leads.lead, ...")
    object_id: int


class PairOut(Schema):
    from_territory: int | None
    from_name: str | None
    to_territory: int | None
    to_name: str | None
    count: int


class UserChangeOut(Schema):
    user: int
    email: str
    gains: int
    losses: int


class MoveOut(Schema):
    object_type: str
    object_id: int
    name: str
    from_territory: int | None
    from_name: str | None
    to_territory: int | None
    to_name: str | None
    gained_by: list[int]
    lost_by: list[int]


class CompareOut(Schema):
    planning: ModelOut
    active: ModelOut | None
    stale: bool = Field(description="Run the planning model's assignments again first.")
    total: int
    pairs: list[PairOut]
    users: list[UserChangeOut]
    items: list[MoveOut]
    next_cursor: str | None


# --- helpers ----------------------------------------------------------------------------------


def _model_out(model: TerritoryModel) -> dict[str, Any]:
    return {
        "id": model.pk,
        "name": model.name,
        "description": model.description,
        "state": model.state,
        "copied_from": model.copied_from_id,
        "created_at": model.created_at,
        "activated_at": model.activated_at,
        "archived_at": model.archived_at,
        "assigned_at": model.assigned_at,
        "stale": model.is_stale,
    }


def _job_out(job: Job) -> dict[str, Any]:
    return {
        "id": job.pk,
        "kind": job.kind,
        "status": job.status,
        "progress_done": job.progress_done,
        "progress_total": job.progress_total,
        "message": job.message,
        "result": job.result,
        "url": job_url(job),
    }


def _territory_out(territory: Territory) -> dict[str, Any]:
    return {
        "id": territory.pk,
        "model": territory.model_id,
        "parent": territory.parent_id,
        "name": territory.name,
        "description": territory.description,
        "priority": territory.priority,
        "depth": territory.depth,
        "path": territory.path,
        "source": territory.source_id,
    }


def _rule_out(rule: TerritoryRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "field": rule.field,
        "operator": rule.operator,
        "values": rule.values,
        "low": rule.low,
        "high": rule.high,
    }


def _member_out(member: TerritoryMember) -> dict[str, Any]:
    return {
        "user": member.user_id,
        "email": member.user.email,
        "name": str(member.user),
        "role": member.role,
    }


def _quota_out(quota: TerritoryQuota) -> dict[str, Any]:
    return {
        "id": quota.pk,
        "territory": quota.territory_id,
        "period_start": quota.period_start,
        "period_end": quota.period_end,
        "amount": quota.amount,
        "currency": quota.currency,
    }


def _detail(territory: Territory) -> dict[str, Any]:
    return {
        **_territory_out(territory),
        "rules": [_rule_out(rule) for rule in territory.rules.all()],
        "members": [_member_out(member) for member in territory.members.select_related("user")],
    }


def _parent(model: TerritoryModel, pk: int | None) -> Territory | None:
    if not pk:
        return None
    parent = Territory.objects.filter(pk=pk).first()
    if parent is None:
        raise ValidationFailed(
            "Unknown parent.", errors={"parent": [f"There is no territory with id {pk}."]}
        )
    return parent


def _user(pk: int) -> User:
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None:
        raise ValidationFailed(
            "Unknown user.", errors={"user": [f"There is no active user with id {pk}."]}
        )
    return user


# --- models -----------------------------------------------------------------------------------


@router.get(
    "/territory-models",
    response={200: list[ModelOut], **problem_responses(401, 403)},
    summary="Territory models",
    description="Every model, the active one first, then planning, then archived.",
    operation_id="territory_model_list",
)
def model_list(request: HttpRequest) -> Any:
    request_user(request)
    return [_model_out(model) for model in selectors.models_list()]


@router.post(
    "/territory-models",
    response={201: ModelOut, **problem_responses(400, 401, 403, 422)},
    summary="Create a planning model",
    description=ADMIN_ONLY,
    operation_id="territory_model_create",
)
def model_create(request: HttpRequest, payload: ModelIn) -> Status[Any]:
    model = services.model_create(
        user=request_admin(request, services.ADMIN_ONLY),
        name=payload.name,
        description=payload.description,
    )
    return Status(201, _model_out(model))


@router.get(
    "/territory-models/{model_id}",
    response={200: ModelOut, **problem_responses(401, 403, 404)},
    summary="A territory model",
    operation_id="territory_model_get",
)
def model_get(request: HttpRequest, model_id: int) -> Any:
    request_user(request)
    return _model_out(selectors.model_get(model_id))


@router.patch(
    "/territory-models/{model_id}",
    response={200: ModelOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Rename a territory model",
    description=ADMIN_ONLY,
    operation_id="territory_model_update",
)
def model_update(request: HttpRequest, model_id: int, payload: ModelIn) -> Any:
    user = request_admin(request, services.ADMIN_ONLY)
    model = services.model_update(
        user=user,
        model=selectors.model_get(model_id),
        name=payload.name,
        description=payload.description,
    )
    return _model_out(model)


@router.delete(
    "/territory-models/{model_id}",
    response={204: None, **problem_responses(401, 403, 404, 422)},
    summary="Delete a planning model",
    description=f"{ADMIN_ONLY} Active and archived models are kept as history.",
    operation_id="territory_model_delete",
)
def model_delete(request: HttpRequest, model_id: int) -> Status[None]:
    services.model_delete(
        user=request_admin(request, services.ADMIN_ONLY), model=selectors.model_get(model_id)
    )
    return Status(204, None)


@router.post(
    "/territory-models/{model_id}/copy",
    response={201: ModelOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Copy a model into a new planning model",
    description=f"{ADMIN_ONLY} Territories, rules, members, quotas and manual assignments are "
    "copied; each copied territory remembers its original for the comparison.",
    operation_id="territory_model_copy",
)
def model_copy(request: HttpRequest, model_id: int, payload: CopyIn) -> Status[Any]:
    copy = services.model_copy(
        user=request_admin(request, services.ADMIN_ONLY),
        source=selectors.model_get(model_id),
        name=payload.name,
    )
    return Status(201, _model_out(copy))


@router.post(
    "/territory-models/{model_id}/activate",
    response={202: ActivatedOut, **problem_responses(401, 403, 404, 422)},
    summary="Activate a planning model",
    description=f"{ADMIN_ONLY} The active model is archived, the change is logged, and every "
    "record's assignment is recomputed in a background job (returned).",
    operation_id="territory_model_activate",
)
def model_activate(request: HttpRequest, model_id: int) -> Status[Any]:
    model = selectors.model_get(model_id)
    job = services.model_activate(user=request_admin(request, services.ADMIN_ONLY), model=model)
    model.refresh_from_db()
    return Status(202, {"model": _model_out(model), "job": _job_out(job)})


@router.post(
    "/territory-models/{model_id}/archive",
    response={200: ModelOut, **problem_responses(401, 403, 404, 422)},
    summary="Archive a model",
    description=ADMIN_ONLY,
    operation_id="territory_model_archive",
)
def model_archive(request: HttpRequest, model_id: int) -> Any:
    model = services.model_archive(
        user=request_admin(request, services.ADMIN_ONLY), model=selectors.model_get(model_id)
    )
    return _model_out(model)


@router.post(
    "/territory-models/{model_id}/runs",
    response={202: JobOut, **problem_responses(401, 403, 404, 422)},
    summary="Assign every record by the model's rules (background job)",
    description=f"{ADMIN_ONLY} For a planning model this computes the preview the comparison "
    "uses. Manual assignments are kept. Poll GET /territory-runs/{id}.",
    operation_id="territory_run_start",
)
def run_start(request: HttpRequest, model_id: int) -> Status[Any]:
    job = services.assignment_run_start(
        user=request_admin(request, services.ADMIN_ONLY), model=selectors.model_get(model_id)
    )
    return Status(202, _job_out(job))


@router.get(
    "/territory-runs/{job_id}",
    response={200: JobOut, **problem_responses(401, 403, 404)},
    summary="A batch run's progress",
    description=ADMIN_ONLY,
    operation_id="territory_run_get",
)
def run_get(request: HttpRequest, job_id: int) -> Any:
    request_admin(request, services.ADMIN_ONLY)
    job = Job.objects.filter(pk=job_id, kind=services.ASSIGN_JOB_KIND).first()
    if job is None:
        raise RecordNotFound(f"There is no territory run with id {job_id}.")
    return _job_out(job)


# --- comparison -------------------------------------------------------------------------------


def _filters(
    object_type: str, from_territory: int | None, to_territory: int | None, user: int | None
) -> compare.CompareFilters:
    return compare.CompareFilters(
        object_type=object_type,
        from_territory=from_territory,
        to_territory=to_territory,
        user=user,
    )


def _move_out(move: compare.Move) -> dict[str, Any]:
    return {
        "object_type": move.object_type,
        "object_id": move.object_id,
        "name": move.name,
        "from_territory": move.from_territory.pk if move.from_territory else None,
        "from_name": move.from_territory.name if move.from_territory else None,
        "to_territory": move.to_territory.pk if move.to_territory else None,
        "to_name": move.to_territory.name if move.to_territory else None,
        "gained_by": move.gained_by,
        "lost_by": move.lost_by,
    }


@router.get(
    "/territory-models/{model_id}/compare",
    response={200: CompareOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Compare a planning model with the active one",
    description=f"{ADMIN_ONLY} Which records would move from which territory to which, and "
    "which users would gain or lose them, from the planning model's last run (see stale). "
    "Filters: object_type, from_territory (active model), to_territory (planning model), "
    "user (moves they gain or lose). Moves are paged by cursor.",
    operation_id="territory_model_compare",
)
def model_compare(
    request: HttpRequest,
    model_id: int,
    object_type: str = "",
    from_territory: int | None = None,
    to_territory: int | None = None,
    user: int | None = None,
    cursor: str = "",
    limit: int = compare.PAGE_SIZE,
) -> Any:
    request_admin(request, services.ADMIN_ONLY)
    if not 1 <= limit <= 200:
        raise ValidationFailed("Bad limit.", errors={"limit": ["Use 1 to 200."]})
    planning = selectors.model_get(model_id)
    filters = _filters(object_type, from_territory, to_territory, user)
    result = compare.compare(planning=planning, filters=filters)
    moves, after = compare.moves_page(
        result, filters=filters, after=compare.parse_cursor(cursor), size=limit
    )
    emails = dict(
        User.objects.filter(pk__in=[row[0] for row in result.users]).values_list("pk", "email")
    )
    return {
        "planning": _model_out(planning),
        "active": _model_out(result.active) if result.active else None,
        "stale": planning.is_stale,
        "total": result.total,
        "pairs": [
            {
                "from_territory": source.pk if source else None,
                "from_name": source.name if source else None,
                "to_territory": target.pk if target else None,
                "to_name": target.name if target else None,
                "count": count,
            }
            for source, target, count in result.pairs
        ],
        "users": [
            {"user": pk, "email": emails.get(pk, ""), "gains": gains, "losses": losses}
            for pk, gains, losses in result.users
        ],
        "items": [_move_out(move) for move in moves],
        "next_cursor": f"{after[0]}:{after[1]}" if after else None,
    }


class _Echo:
    def write(self, value: str) -> str:
        return value


def compare_csv_rows(result: compare.Comparison, filters: compare.CompareFilters) -> Iterator[str]:
    """The moves as CSV lines, streamed page by page."""
    writer = csv.writer(_Echo())
    emails = dict(User.objects.filter(is_active=True).values_list("pk", "email"))
    yield writer.writerow(
        [
            "object_type",
            "object_id",
            "name",
            "from_territory",
            "to_territory",
            "gained_by",
            "lost_by",
        ]
    )
    for move in compare.iter_moves(result, filters=filters):
        yield writer.writerow(
            [
                move.object_type,
                move.object_id,
                move.name,
                move.from_territory.name if move.from_territory else "",
                move.to_territory.name if move.to_territory else "",
                " ".join(emails.get(pk, str(pk)) for pk in move.gained_by),
                " ".join(emails.get(pk, str(pk)) for pk in move.lost_by),
            ]
        )


@router.get(
    "/territory-models/{model_id}/compare.csv",
    response={200: str, **problem_responses(401, 403, 404, 422)},
    summary="The comparison's moves as CSV",
    description=f"{ADMIN_ONLY} The same filters as the comparison; streamed.",
    operation_id="territory_model_compare_csv",
    openapi_extra={"responses": {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}},
)
def model_compare_csv(
    request: HttpRequest,
    model_id: int,
    object_type: str = "",
    from_territory: int | None = None,
    to_territory: int | None = None,
    user: int | None = None,
) -> StreamingHttpResponse:
    request_admin(request, services.ADMIN_ONLY)
    planning = selectors.model_get(model_id)
    filters = _filters(object_type, from_territory, to_territory, user)
    result = compare.compare(planning=planning, filters=filters)
    response = StreamingHttpResponse(compare_csv_rows(result, filters), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="territory-compare-{model_id}.csv"'
    return response


# --- territories ------------------------------------------------------------------------------


@router.get(
    "/territory-models/{model_id}/territories",
    response={200: list[TreeNodeOut], **problem_responses(401, 403, 404)},
    summary="A model's territory tree",
    description="In tree order (each parent before its children, siblings by name).",
    operation_id="territory_tree",
)
def territory_tree(request: HttpRequest, model_id: int) -> Any:
    request_user(request)
    return [
        {
            **_territory_out(territory),
            "rule_count": getattr(territory, "rule_count", 0),
            "member_count": getattr(territory, "member_count", 0),
            "assignment_count": getattr(territory, "assignment_count", 0),
        }
        for territory in selectors.territory_tree(selectors.model_get(model_id))
    ]


@router.post(
    "/territory-models/{model_id}/territories",
    response={201: TerritoryDetailOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Create a territory",
    description=f"{ADMIN_ONLY} With its rules ({RULE_DOC}). Overlapping postal-code ranges of "
    "territories at the same level, cyclical or foreign parents are refused (422).",
    operation_id="territory_create",
)
def territory_create(request: HttpRequest, model_id: int, payload: TerritoryIn) -> Status[Any]:
    from django.db import transaction

    user = request_admin(request, services.ADMIN_ONLY)
    model = selectors.model_get(model_id)
    with transaction.atomic():
        territory = services.territory_save(
            user=user,
            model=model,
            name=payload.name,
            parent=_parent(model, payload.parent),
            description=payload.description,
            priority=payload.priority,
        )
        if payload.rules:
            services.territory_set_rules(
                user=user, territory=territory, rules=[rule.dict() for rule in payload.rules]
            )
    return Status(201, _detail(territory))


@router.get(
    "/territories/{territory_id}",
    response={200: TerritoryDetailOut, **problem_responses(401, 403, 404)},
    summary="A territory with its rules and members",
    operation_id="territory_get",
)
def territory_get(request: HttpRequest, territory_id: int) -> Any:
    request_user(request)
    return _detail(selectors.territory_get(territory_id))


@router.patch(
    "/territories/{territory_id}",
    response={200: TerritoryDetailOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Change a territory",
    description=f"{ADMIN_ONLY} Fields left out keep their value.",
    operation_id="territory_update",
)
def territory_update(request: HttpRequest, territory_id: int, payload: TerritoryPatch) -> Any:
    user = request_admin(request, services.ADMIN_ONLY)
    territory = selectors.territory_get(territory_id)
    sent = payload.dict(exclude_unset=True)
    parent = _parent(territory.model, sent["parent"]) if "parent" in sent else territory.parent
    saved = services.territory_save(
        user=user,
        model=territory.model,
        territory=territory,
        name=str(sent["name"] if sent.get("name") is not None else territory.name),
        parent=parent,
        description=str(sent.get("description", territory.description) or ""),
        priority=sent.get("priority") if sent.get("priority") is not None else territory.priority,
    )
    return _detail(saved)


@router.delete(
    "/territories/{territory_id}",
    response={204: None, **problem_responses(401, 403, 404, 422)},
    summary="Delete a territory without sub-territories",
    description=ADMIN_ONLY,
    operation_id="territory_delete",
)
def territory_delete(request: HttpRequest, territory_id: int) -> Status[None]:
    services.territory_delete(
        user=request_admin(request, services.ADMIN_ONLY),
        territory=selectors.territory_get(territory_id),
    )
    return Status(204, None)


@router.put(
    "/territories/{territory_id}/rules",
    response={200: list[RuleOut], **problem_responses(400, 401, 403, 404, 422)},
    summary="Replace a territory's rules",
    description=f"{ADMIN_ONLY} {RULE_DOC} All or nothing; errors are keyed rules.<index>.<field>.",
    operation_id="territory_rules_set",
)
def rules_set(request: HttpRequest, territory_id: int, payload: list[RuleIn]) -> Any:
    rules = services.territory_set_rules(
        user=request_admin(request, services.ADMIN_ONLY),
        territory=selectors.territory_get(territory_id),
        rules=[rule.dict() for rule in payload],
    )
    return [_rule_out(rule) for rule in rules]


@router.post(
    "/territories/{territory_id}/rules",
    response={201: RuleOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Add a rule",
    description=f"{ADMIN_ONLY} {RULE_DOC}",
    operation_id="territory_rule_add",
)
def rule_add(request: HttpRequest, territory_id: int, payload: RuleIn) -> Status[Any]:
    rule = services.rule_add(
        user=request_admin(request, services.ADMIN_ONLY),
        territory=selectors.territory_get(territory_id),
        data=payload.dict(),
    )
    return Status(201, _rule_out(rule))


@router.delete(
    "/territory-rules/{rule_id}",
    response={204: None, **problem_responses(401, 403, 404, 422)},
    summary="Delete a rule",
    description=ADMIN_ONLY,
    operation_id="territory_rule_delete",
)
def rule_delete(request: HttpRequest, rule_id: int) -> Status[None]:
    user = request_admin(request, services.ADMIN_ONLY)
    rule = TerritoryRule.objects.select_related("territory__model").filter(pk=rule_id).first()
    if rule is None:
        raise RecordNotFound(f"There is no territory rule with id {rule_id}.")
    services.rule_delete(user=user, rule=rule)
    return Status(204, None)


# --- members ----------------------------------------------------------------------------------


@router.get(
    "/territories/{territory_id}/members",
    response={200: list[MemberOut], **problem_responses(401, 403, 404)},
    summary="A territory's members",
    operation_id="territory_member_list",
)
def member_list(request: HttpRequest, territory_id: int) -> Any:
    request_user(request)
    territory = selectors.territory_get(territory_id)
    return [_member_out(m) for m in territory.members.select_related("user")]


@router.put(
    "/territories/{territory_id}/members",
    response={200: MemberOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Add a member or change their role",
    description=ADMIN_ONLY,
    operation_id="territory_member_set",
)
def member_set(request: HttpRequest, territory_id: int, payload: MemberIn) -> Any:
    member = services.member_set(
        user=request_admin(request, services.ADMIN_ONLY),
        territory=selectors.territory_get(territory_id),
        member=_user(payload.user),
        role=payload.role,
    )
    return _member_out(member)


@router.delete(
    "/territories/{territory_id}/members/{user_id}",
    response={204: None, **problem_responses(401, 403, 404, 422)},
    summary="Remove a member",
    description=ADMIN_ONLY,
    operation_id="territory_member_remove",
)
def member_remove(request: HttpRequest, territory_id: int, user_id: int) -> Status[None]:
    user = request_admin(request, services.ADMIN_ONLY)
    member = (
        TerritoryMember.objects.select_related("territory__model")
        .filter(territory_id=territory_id, user_id=user_id)
        .first()
    )
    if member is None:
        raise RecordNotFound(f"User {user_id} is not a member of territory {territory_id}.")
    services.member_remove(user=user, member=member)
    return Status(204, None)


# --- quotas -----------------------------------------------------------------------------------


@router.get(
    "/territories/{territory_id}/quotas",
    response={200: list[QuotaOut], **problem_responses(401, 403, 404)},
    summary="A territory's quotas",
    operation_id="territory_quota_list",
)
def quota_list(request: HttpRequest, territory_id: int) -> Any:
    request_user(request)
    territory = selectors.territory_get(territory_id)
    return [_quota_out(q) for q in territory.quotas.all()]


@router.put(
    "/territories/{territory_id}/quotas",
    response={200: QuotaOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Set a territory's quota for a period",
    description=f"{ADMIN_ONLY} Replaces the quota starting the same day.",
    operation_id="territory_quota_set",
)
def quota_set(request: HttpRequest, territory_id: int, payload: QuotaIn) -> Any:
    quota = services.quota_set(
        user=request_admin(request, services.ADMIN_ONLY),
        territory=selectors.territory_get(territory_id),
        period_start=payload.period_start,
        period_end=payload.period_end,
        amount=payload.amount,
        currency=payload.currency,
    )
    return _quota_out(quota)


@router.delete(
    "/territory-quotas/{quota_id}",
    response={204: None, **problem_responses(401, 403, 404, 422)},
    summary="Delete a quota",
    description=ADMIN_ONLY,
    operation_id="territory_quota_delete",
)
def quota_delete(request: HttpRequest, quota_id: int) -> Status[None]:
    user = request_admin(request, services.ADMIN_ONLY)
    quota = TerritoryQuota.objects.select_related("territory__model").filter(pk=quota_id).first()
    if quota is None:
        raise RecordNotFound(f"There is no territory quota with id {quota_id}.")
    services.quota_delete(user=user, quota=quota)
    return Status(204, None)


# --- assignments ------------------------------------------------------------------------------


def visible_assignments(user: Any, territory: Territory, object_type: str = "") -> Any:
    """The territory's assignments of records ``user`` may see (one predicate per kind)."""
    subjects = territory_subjects()
    if object_type:
        subject = territory_subject(object_type)
        if subject is None:
            names = ", ".join(s.object_type for s in subjects)
            raise ValidationFailed(
                "Unknown record type.",
                errors={"object_type": [f"“{object_type}” is not one of {names}."]},
            )
        subjects = [subject]
    condition = Q(pk__in=[])
    for subject in subjects:
        manager: Any = subject.model._default_manager
        visible = manager.visible_to(user) if hasattr(manager, "visible_to") else manager.all()
        condition |= Q(
            content_type=ContentType.objects.get_for_model(subject.model),
            object_id__in=visible.values("pk"),
        )
    return TerritoryAssignment.objects.filter(condition, territory=territory)


def assignment_rows(rows: list[TerritoryAssignment]) -> list[dict[str, Any]]:
    names = compare.record_names([(row.content_type_id, row.object_id) for row in rows])
    return [
        {
            "id": row.pk,
            "model": row.model_id,
            "territory": row.territory_id,
            "object_type": names.get((row.content_type_id, row.object_id), ("", ""))[0],
            "object_id": row.object_id,
            "name": names.get((row.content_type_id, row.object_id), ("", f"#{row.object_id}"))[1],
            "assigned_at": row.assigned_at,
            "is_manual": row.is_manual,
        }
        for row in rows
    ]


@router.get(
    "/territories/{territory_id}/assignments",
    response={200: AssignmentPage, **problem_responses(400, 401, 403, 404, 422)},
    summary="The records in a territory",
    description="Only records you may see. ?object_type= narrows to one kind; paged by cursor "
    "(the last id of the previous page).",
    operation_id="territory_assignment_list",
)
def assignment_list(
    request: HttpRequest,
    territory_id: int,
    object_type: str = "",
    cursor: int | None = None,
    limit: int = 50,
) -> Any:
    user = request_user(request)
    if not 1 <= limit <= 200:
        raise ValidationFailed("Bad limit.", errors={"limit": ["Use 1 to 200."]})
    rows = visible_assignments(user, selectors.territory_get(territory_id), object_type)
    if cursor:
        rows = rows.filter(pk__gt=cursor)
    page = list(rows.order_by("pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "items": assignment_rows(page),
        "next_cursor": str(page[-1].pk) if more and page else None,
    }


@router.post(
    "/territories/{territory_id}/assignments",
    response={201: AssignmentOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Assign a record to the territory by hand",
    description=f"{ADMIN_ONLY} A manual assignment is kept when the rules run again.",
    operation_id="territory_assignment_create",
)
def assignment_create(request: HttpRequest, territory_id: int, payload: AssignIn) -> Status[Any]:
    user = request_admin(request, services.ADMIN_ONLY)
    territory = selectors.territory_get(territory_id)
    obj = services.record_for(payload.object_type, payload.object_id)
    assignment = services.assignment_set_manual(user=user, territory=territory, obj=obj)
    return Status(201, assignment_rows([assignment])[0])


@router.delete(
    "/territory-models/{model_id}/assignments/{object_type}/{object_id}",
    response={200: AssignmentOut | None, **problem_responses(401, 403, 404, 422)},
    summary="Drop a manual assignment",
    description=f"{ADMIN_ONLY} The record goes back to the territory its rules give (returned; "
    "null when none matches).",
    operation_id="territory_assignment_clear",
)
def assignment_clear(request: HttpRequest, model_id: int, object_type: str, object_id: int) -> Any:
    user = request_admin(request, services.ADMIN_ONLY)
    model = selectors.model_get(model_id)
    if model.state == ModelState.ARCHIVED:
        raise ValidationFailed("Archived.", errors={"model": ["The model is archived."]})
    obj = services.record_for(object_type, object_id)
    assignment = services.assignment_clear_manual(user=user, model=model, obj=obj)
    return assignment_rows([assignment])[0] if assignment else None
