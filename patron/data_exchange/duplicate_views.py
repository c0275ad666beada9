"""Duplicates pages (Data → Duplicates): candidate groups with filters, sort and CSV, "not
duplicates", a scan with a progress bar, and the field-by-field merge page."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from patron.core.api import pagination
from patron.core.exceptions import PatronError, RecordNotFound
from patron.core.exports import safe_cell
from patron.core.record_pages import record_detail_url
from patron.core.views import keyset_page, principal
from patron.data_exchange import duplicate_scan, duplicate_services, merge_services
from patron.data_exchange.choices import DuplicateGroupStatus
from patron.data_exchange.duplicate_matching import duplicate_object, duplicate_objects
from patron.data_exchange.duplicate_selectors import (
    DEFAULT_GROUP_SORT,
    GROUP_SORTS,
    group_queryset,
    with_members,
)
from patron.data_exchange.models import DuplicateGroup, DuplicateRule, MergeRecord

PAGE_SIZE = 50
# The CSV walks the groups in keyset batches of this size, up to CSV_MAX_GROUPS.
CSV_BATCH = 500
CSV_MAX_GROUPS = 100_000


def _params(request: HttpRequest) -> dict[str, str]:
    status = request.GET.get("status", DuplicateGroupStatus.OPEN)
    if status not in DuplicateGroupStatus.values:
        status = DuplicateGroupStatus.OPEN
    object_type = request.GET.get("object", "")
    if object_type and duplicate_object(object_type) is None:
        object_type = ""
    sort = request.GET.get("sort", DEFAULT_GROUP_SORT)
    return {
        "object": object_type,
        "status": status,
        "q": request.GET.get("q", "").strip()[:100],
        "sort": sort if sort in GROUP_SORTS else DEFAULT_GROUP_SORT,
    }


@login_required
def duplicate_list(request: HttpRequest) -> HttpResponse:
    """Candidate groups, filtered and sorted, paged by keyset (next / previous)."""
    user = principal(request)
    params = _params(request)
    queryset = group_queryset(object_type=params["object"], status=params["status"], q=params["q"])
    if request.GET.get("format") == "csv":
        return _csv(user, queryset, params["sort"])
    page = keyset_page(
        queryset, GROUP_SORTS[params["sort"]], request.GET.get("cursor", ""), PAGE_SIZE
    )
    rows = with_members(user, page.rows)
    is_admin = bool(getattr(user, "is_admin", False))
    for row in rows:
        row["links"] = [
            (record, record_detail_url(row["group"].object_type, record.pk))
            for record in row["records"]
        ]
        row["merge_query"] = (
            f"object={row['group'].object_type}&group={row['group'].pk}&ids="
            + ",".join(str(pk) for pk in row["ids"])
        )
    query = urlencode({key: value for key, value in params.items() if value})
    return render(
        request,
        "data_exchange/duplicate_list.html",
        {
            "rows": rows,
            "page": page,
            "params": params,
            "csv_query": (query + "&" if query else "") + "format=csv",
            "objects": duplicate_objects(),
            "statuses": DuplicateGroupStatus.choices,
            "sorts": list(GROUP_SORTS),
            "is_admin": is_admin,
            "rules": DuplicateRule.objects.all() if is_admin else [],
            "merges": MergeRecord.objects.select_related("merged_by")[:10],
        },
    )


def _csv(user: Any, queryset: QuerySet[DuplicateGroup], sort: str) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["group", "object", "rule", "similarity", "matched", "status", "records"])
    cursor: str | None = None
    for _batch in range(CSV_MAX_GROUPS // CSV_BATCH):
        groups, cursor = pagination.keyset_page(
            queryset, sort=sort, columns=GROUP_SORTS[sort], limit=CSV_BATCH, cursor=cursor
        )
        for row in with_members(user, groups):
            group = row["group"]
            writer.writerow(
                [
                    group.pk,
                    group.object_type,
                    safe_cell(group.rule.name if group.rule else ""),
                    group.similarity,
                    safe_cell(group.match_key),
                    group.status,
                    safe_cell("; ".join(f"#{r.pk} {r}" for r in row["records"])),
                ]
            )
        if cursor is None:
            break
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="duplicates.csv"'
    return response


@login_required
@require_POST
def duplicate_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    user = principal(request)
    group = get_object_or_404(DuplicateGroup, pk=pk)
    if not with_members(user, [group]):
        raise Http404
    try:
        duplicate_services.group_dismiss(user=user, group=group)
        messages.success(request, "Marked as not duplicates; the scan will not suggest them again.")
    except PatronError as exc:
        messages.error(request, exc.detail)
    return redirect("data_exchange:duplicate_list")


@login_required
@require_POST
def duplicate_scan_start(request: HttpRequest) -> HttpResponse:
    user = principal(request)
    try:
        duplicate_services.require_admin(user)
    except PatronError as exc:
        messages.error(request, exc.detail)
        return redirect("data_exchange:duplicate_list")
    object_type = request.POST.get("object", "")
    if object_type and duplicate_object(object_type) is None:
        object_type = ""
    job = duplicate_scan.scan_start(user=user, object_type=object_type)
    messages.info(request, "The duplicate scan has started.")
    return redirect("ui:job_detail", pk=job.pk)


def _ids(text: str) -> list[int]:
    ids = []
    for part in text.split(","):
        part = part.strip()
        if part.isdigit():
            ids.append(int(part))
    return ids


@login_required
def duplicate_merge(request: HttpRequest) -> HttpResponse:
    """Records side by side; a radio per field chooses the value the survivor keeps."""
    user = principal(request)
    source = request.POST if request.method == "POST" else request.GET
    object_type = source.get("object", "")
    ids = _ids(source.get("ids", ""))
    survivor_id = int(source["survivor"]) if source.get("survivor", "").isdigit() else None
    if survivor_id in ids:
        ids.remove(survivor_id)
        ids.insert(0, survivor_id)
    group = None
    if source.get("group", "").isdigit():
        group = DuplicateGroup.objects.filter(pk=int(source["group"])).first()
    try:
        spec, ordered = merge_services.load_for_merge(user=user, object_type=object_type, ids=ids)
    except RecordNotFound:
        raise Http404 from None
    except PatronError as exc:
        messages.error(request, exc.detail)
        return redirect("data_exchange:duplicate_list")
    errors: dict[str, list[str]] = {}
    choices: dict[str, str] = {
        name.removeprefix("field_"): str(value)
        for name, value in request.POST.items()
        if name.startswith("field_")
    }
    if request.method == "POST" and request.POST.get("confirm"):
        try:
            merge = merge_services.merge_records(
                user=user,
                object_type=spec.object_type,
                survivor_id=ordered[0].pk,
                merged_ids=[r.pk for r in ordered[1:]],
                field_choices=choices,  # type: ignore[arg-type]
                group=group,
            )
        except PatronError as exc:
            messages.error(request, exc.detail)
            errors = exc.errors
        else:
            messages.success(
                request,
                f"Merged {len(merge.merged_ids)} record(s) into “{ordered[0]}”; "
                f"{sum(merge.relinked.values())} related rows now point at it.",
            )
            return redirect(
                record_detail_url(spec.object_type, merge.survivor_id)
                or "data_exchange:duplicate_list"
            )
    merge_fields = merge_services.merge_fields(spec, user)
    # After a refused merge the page keeps what the user picked; a change of survivor starts
    # again from the defaults, which follow the survivor.
    picked = merge_services.default_choices(merge_fields, ordered)
    ids_shown = {r.pk for r in ordered}
    for field in merge_fields:
        value = choices.get(field.name, "") if errors else ""
        if field.choosable and value.isdigit() and int(value) in ids_shown:
            picked[field.name] = int(value)
    fields = []
    for field in merge_fields:
        stored = [field.value(record) for record in ordered]
        fields.append(
            {
                "name": field.name,
                "label": field.label,
                "choosable": field.choosable,
                "values": [
                    {"record": record, "checked": picked[field.name] == record.pk}
                    for record in ordered
                ],
                "differs": any(value != stored[0] for value in stored),
                "errors": errors.get(field.name, []),
            }
        )
    return render(
        request,
        "data_exchange/merge_page.html",
        {
            "spec": spec,
            "records": [(r, record_detail_url(spec.object_type, r.pk)) for r in ordered],
            "fields": fields,
            "ids": ",".join(str(r.pk) for r in ordered),
            "group": group,
        },
    )
