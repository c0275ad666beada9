"""Data quality in /api/v1/data/quality (token area "data"): the checks with their counts,
and per check the ids of the failing records the caller may see (keyset pages).

No ``from __future__ import annotations``: Ninja reads the handlers' annotations.
"""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema

from patron.core.api.auth import request_user
from patron.core.api.pagination import ListParams, keyset_page
from patron.core.api.problems import problem_responses
from patron.core.quality import quality_counts, quality_rows
from patron.data_exchange.quality_selectors import check_out, quality_check_get

router = Router(tags=["data management"])


class QualityCheckOut(Schema):
    key: str
    object_type: str
    label: str
    kind: str
    fields: list[str]
    hint: str
    count: int | None
    list_url: str


class QualityOut(Schema):
    checks: list[QualityCheckOut]


class QualityRecordOut(Schema):
    id: int
    label: str


class QualityRecordsOut(Schema):
    check: QualityCheckOut
    items: list[QualityRecordOut]
    next_cursor: str | None


@router.get(
    "/data/quality",
    response={200: QualityOut, **problem_responses(401, 403)},
    summary="Data-quality counts",
    description="Every check on an object the caller may read, with the number of visible "
    "records failing it (missing key fields or breaking a validation rule).",
    operation_id="data_quality_counts",
)
def quality_index(request: HttpRequest) -> dict[str, Any]:
    user = request_user(request)
    return {"checks": [check_out(check, count) for check, count in quality_counts(user)]}


@router.get(
    "/data/quality/{key}",
    response={200: QualityRecordsOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Records failing a data-quality check",
    description="The ids (ascending; keyset pages, pass next_cursor as ?cursor=) of the "
    "visible records failing check ``key``; ``check.list_url`` opens them in the list page "
    "with bulk edit. The sort parameter is ignored.",
    operation_id="data_quality_records",
)
def quality_records(request: HttpRequest, key: str, params: Query[ListParams]) -> dict[str, Any]:
    user = request_user(request)
    check = quality_check_get(user=user, key=key)
    rows, next_cursor = keyset_page(
        quality_rows(user, check),
        sort="id",
        columns=("id",),
        limit=params.limit,
        cursor=params.cursor,
    )
    return {
        "check": check_out(check),
        "items": [{"id": row.pk, "label": str(row)} for row in rows],
        "next_cursor": next_cursor,
    }
