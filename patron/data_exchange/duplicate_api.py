"""Duplicates API: rules (admins), candidate groups, dismiss, merge and scans under
/api/v1/data/duplicates."""

from __future__ import annotations

from typing import Any, Literal

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from pydantic import Field

from patron.core.api.auth import request_user
from patron.core.api.pagination import ListParams, Page, keyset_page, page_body, sort_columns
from patron.core.api.problems import problem_responses
from patron.core.exceptions import ValidationFailed
from patron.core.record_pages import record_detail_url
from patron.data_exchange import duplicate_scan, duplicate_services, merge_services
from patron.data_exchange.duplicate_matching import duplicate_object
from patron.data_exchange.duplicate_selectors import (
    DEFAULT_GROUP_SORT,
    GROUP_SORTS,
    group_queryset,
    with_members,
)
from patron.data_exchange.models import DuplicateGroup, DuplicateRule, MergeRecord

router = Router(tags=["data management"])

READ_ERRORS = problem_responses(400, 401, 403, 404, 422)
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 422)


class RuleOut(Schema):
    id: int
    object_type: str
    name: str
    is_active: bool
    exact_keys: list[str]
    fuzzy_fields: list[str]
    threshold: int
    action: str


class RuleIn(Schema):
    model_config = {"extra": "forbid"}

    object_type: str = Field(
        description="contacts.contact, contacts.account, leads.lead or orders.product."
    )
    name: str
    is_active: bool = True
    exact_keys: list[str] = Field(
        default_factory=list,
        description="Fields equal after normalising: email, phone (E.164), domain or any field.",
    )
    fuzzy_fields: list[str] = Field(
        default_factory=list, description='Text fields compared with rapidfuzz, e.g. ["name"].'
    )
    threshold: int = Field(90, description="Fuzzy similarity needed, 0 to 100.")
    action: Literal["block", "warn", "report"] = "warn"


class RulePatch(Schema):
    model_config = {"extra": "forbid"}

    name: str | None = None
    is_active: bool | None = None
    exact_keys: list[str] | None = None
    fuzzy_fields: list[str] | None = None
    threshold: int | None = None
    action: Literal["block", "warn", "report"] | None = None


class MemberOut(Schema):
    id: int
    label: str
    url: str | None


class GroupOut(Schema):
    id: int
    object_type: str
    rule: str | None
    match_key: str
    similarity: int
    status: str
    found_at: Any
    members: list[MemberOut]


class GroupParams(ListParams):
    object_type: str = Field("", description="Only groups of this object, e.g. contacts.contact.")
    status: Literal["open", "merged", "dismissed"] = "open"
    q: str = Field("", description="Text in what matched.")


class MergeIn(Schema):
    model_config = {"extra": "forbid"}

    object_type: str
    survivor_id: int
    merged_ids: list[int] = Field(min_length=1)
    field_choices: dict[str, int] = Field(
        default_factory=dict,
        description="Per field, the id of the record whose value the survivor keeps; name a "
        'custom field as "custom.<key>", e.g. {"title": 12, "custom.vip_level": 15}. Fields '
        "left out keep the survivor's value unless it is empty. Sensitive fields hidden from "
        "you keep the survivor's value and cannot be chosen; an unknown field or custom key "
        "is refused with 422.",
    )
    group_id: int | None = None


class MergeOut(Schema):
    id: int
    object_type: str
    survivor_id: int
    merged_ids: list[int]
    field_choices: dict[str, int]
    relinked: dict[str, int]


class ScanIn(Schema):
    model_config = {"extra": "forbid"}

    object_type: str = Field("", description="Leave empty to scan every object.")


class JobOut(Schema):
    job_id: int
    status: str


def _rule(rule: DuplicateRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "object_type": rule.object_type,
        "name": rule.name,
        "is_active": rule.is_active,
        "exact_keys": rule.exact_keys,
        "fuzzy_fields": rule.fuzzy_fields,
        "threshold": rule.threshold,
        "action": rule.action,
    }


@router.get(
    "/data/duplicates/rules",
    response={200: list[RuleOut], **READ_ERRORS},
    summary="List duplicate rules",
    operation_id="duplicate_rule_list",
)
def rule_list(request: HttpRequest) -> list[dict[str, Any]]:
    duplicate_services.require_admin(request_user(request))
    return [_rule(rule) for rule in DuplicateRule.objects.all()]


@router.post(
    "/data/duplicates/rules",
    response={201: RuleOut, **WRITE_ERRORS},
    summary="Create a duplicate rule",
    operation_id="duplicate_rule_create",
)
def rule_create(request: HttpRequest, payload: RuleIn) -> Status[dict[str, Any]]:
    rule = duplicate_services.rule_save(user=request_user(request), **payload.dict())
    return Status(201, _rule(rule))


@router.patch(
    "/data/duplicates/rules/{int:rule_id}",
    response={200: RuleOut, **WRITE_ERRORS},
    summary="Change a duplicate rule",
    operation_id="duplicate_rule_update",
)
def rule_update(request: HttpRequest, rule_id: int, payload: RulePatch) -> dict[str, Any]:
    user = request_user(request)
    duplicate_services.require_admin(user)
    rule = get_object_or_404(DuplicateRule, pk=rule_id)
    changes = payload.dict(exclude_unset=True)
    return _rule(duplicate_services.rule_save(user=user, rule=rule, **changes))


@router.delete(
    "/data/duplicates/rules/{int:rule_id}",
    response={204: None, **WRITE_ERRORS},
    summary="Delete a duplicate rule",
    operation_id="duplicate_rule_delete",
)
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    user = request_user(request)
    duplicate_services.require_admin(user)
    duplicate_services.rule_delete(user=user, rule=get_object_or_404(DuplicateRule, pk=rule_id))
    return HttpResponse(status=204)


def group_data(row: dict[str, Any]) -> dict[str, Any]:
    group = row["group"]
    return {
        "id": group.pk,
        "object_type": group.object_type,
        "rule": group.rule.name if group.rule else None,
        "match_key": group.match_key,
        "similarity": group.similarity,
        "status": group.status,
        "found_at": group.found_at,
        "members": [
            {"id": r.pk, "label": str(r), "url": record_detail_url(group.object_type, r.pk)}
            for r in row["records"]
        ],
    }


@router.get(
    "/data/duplicates/groups",
    response={200: Page[GroupOut], **READ_ERRORS},
    summary="List candidate duplicate groups",
    description="Groups whose records you may all see, in keyset pages like the Duplicates "
    "page. Sort keys: similarity (most similar first, the default), found (newest first), "
    "object (by object type, then most similar); an unknown sort is refused with 422.",
    operation_id="duplicate_group_list",
)
def group_list(request: HttpRequest, params: Query[GroupParams]) -> dict[str, Any]:
    user = request_user(request)
    sort, columns = sort_columns(params.sort, GROUP_SORTS, DEFAULT_GROUP_SORT)
    rows, next_cursor = keyset_page(
        group_queryset(object_type=params.object_type, status=params.status, q=params.q),
        sort=sort,
        columns=columns,
        limit=params.limit,
        cursor=params.cursor,
    )
    return page_body([group_data(row) for row in with_members(user, rows)], next_cursor)


def _visible_group(request: HttpRequest, group_id: int) -> DuplicateGroup:
    group = get_object_or_404(DuplicateGroup, pk=group_id)
    if not with_members(request_user(request), [group]):
        raise Http404
    return group


@router.post(
    "/data/duplicates/groups/{int:group_id}/dismiss",
    response={200: GroupOut, **WRITE_ERRORS},
    summary="Mark a group as not duplicates",
    operation_id="duplicate_group_dismiss",
)
def group_dismiss(request: HttpRequest, group_id: int) -> dict[str, Any]:
    user = request_user(request)
    group = _visible_group(request, group_id)
    rows = with_members(user, [group])
    duplicate_services.group_dismiss(user=user, group=group)
    return group_data(rows[0])


@router.post(
    "/data/duplicates/merge",
    response={201: MergeOut, **WRITE_ERRORS},
    summary="Merge records into a survivor",
    description="Re-links every child of the merged records to the survivor, keeps the chosen "
    "values (model and custom fields), soft-deletes the merged records and records the merge, "
    "with the custom values chosen, in the change log.",
    operation_id="duplicate_merge",
)
def merge(request: HttpRequest, payload: MergeIn) -> Status[dict[str, Any]]:
    user = request_user(request)
    group = None
    if payload.group_id is not None:
        group = _visible_group(request, payload.group_id)
    record: MergeRecord = merge_services.merge_records(
        user=user,
        object_type=payload.object_type,
        survivor_id=payload.survivor_id,
        merged_ids=payload.merged_ids,
        field_choices=payload.field_choices,
        group=group,
        via="api",
    )
    return Status(
        201,
        {
            "id": record.pk,
            "object_type": record.object_type,
            "survivor_id": record.survivor_id,
            "merged_ids": record.merged_ids,
            "field_choices": record.field_choices,
            "relinked": record.relinked,
        },
    )


@router.post(
    "/data/duplicates/scan",
    response={202: JobOut, **WRITE_ERRORS},
    summary="Scan a whole table for duplicates in the background",
    operation_id="duplicate_scan",
)
def scan(request: HttpRequest, payload: ScanIn) -> Status[dict[str, Any]]:
    user = request_user(request)
    duplicate_services.require_admin(user)
    if payload.object_type and duplicate_object(payload.object_type) is None:
        raise ValidationFailed(
            f"{payload.object_type!r} has no duplicate rules.",
            errors={
                "object_type": [
                    "Choose contacts.contact, contacts.account, leads.lead or orders.product."
                ]
            },
        )
    job = duplicate_scan.scan_start(user=user, object_type=payload.object_type)
    return Status(202, {"job_id": job.pk, "status": job.status})
