"""Approval pages: processes (admin), "My approvals", a request, and the record's card."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from patron.automation import approval_services as approvals
from patron.automation import conditions
from patron.automation.approval_filters import (
    DEFAULT_TASK_SORT,
    TASK_SORTS,
    ApprovalTaskFilter,
    my_tasks,
)
from patron.automation.choices import (
    ApprovalStatus,
    ApprovalTaskStatus,
    ApproverKind,
    DecisionMode,
    EscalationAction,
)
from patron.automation.models import ApprovalProcess, ApprovalRequest, ApprovalTask
from patron.core.choices import Action
from patron.core.context_processors import NavItem, register_nav_item
from patron.core.exceptions import PatronError, RecordNotFound, ValidationFailed
from patron.core.models import BusinessRecord
from patron.core.record_pages import (
    DetailPanel,
    list_query,
    record_detail_url,
    register_detail_panel,
)
from patron.core.views import handles_domain_errors, is_htmx, keyset_page, principal
from patron.core.visibility import can_access
from patron.routing.models import RoutingQueue
from patron.users.admin_views import admin_required
from patron.users.models import Role, User
from patron.users.selectors import business_object_types

HISTORY_LABELS = {
    approvals.HistoryAction.SUBMITTED: "Submitted",
    approvals.HistoryAction.TASK_APPROVED: "Approved",
    approvals.HistoryAction.TASK_REJECTED: "Rejected",
    approvals.HistoryAction.APPROVED: "Request approved",
    approvals.HistoryAction.REJECTED: "Request rejected",
    approvals.HistoryAction.ESCALATED: "Escalated",
    approvals.HistoryAction.REMINDED: "Reminded",
    approvals.HistoryAction.RECALLED: "Recalled",
}
PAGE_SIZE = 25
CSV_CHUNK = 500
CONDITION_ROWS = 3
# The editor's step blocks: added, removed and moved with its buttons, at most this many.
MAX_STEP_ROWS = 30
STEP_INPUTS = (
    "name",
    "approver_kind",
    "approver_user",
    "approver_role",
    "approver_queue",
    "decision_mode",
    "timeout_hours",
    "escalation",
    "escalate_to",
)


# --- helpers ---------------------------------------------------------------------------------


def record_labels(requests: list[ApprovalRequest]) -> dict[tuple[str, int], BusinessRecord]:
    """The records of ``requests``, one query per object type."""
    ids: dict[str, set[int]] = {}
    for request in requests:
        ids.setdefault(request.object_type, set()).add(request.object_id)
    found: dict[tuple[str, int], BusinessRecord] = {}
    for object_type, pks in ids.items():
        model = conditions.model_for(object_type)
        if model is None:
            continue
        for record in model._base_manager.filter(pk__in=pks):
            found[(object_type, record.pk)] = record
    return found


def _sort(request: HttpRequest) -> str:
    sort = request.GET.get("sort", DEFAULT_TASK_SORT)
    return sort if sort in TASK_SORTS else DEFAULT_TASK_SORT


def _inbox_filter(request: HttpRequest) -> ApprovalTaskFilter:
    data = request.GET.copy()
    if "status" not in data:
        data["status"] = ApprovalTaskStatus.PENDING
    return ApprovalTaskFilter(data, queryset=my_tasks(principal(request)))


# --- "My approvals" --------------------------------------------------------------------------


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    filterset = _inbox_filter(request)
    rows: QuerySet[ApprovalTask] = (
        filterset.qs if filterset.is_valid() else my_tasks(principal(request)).none()
    )
    sort = _sort(request)
    page = keyset_page(rows, TASK_SORTS[sort], request.GET.get("cursor", ""), PAGE_SIZE)
    tasks = list(page.rows)
    labels = record_labels([task.request for task in tasks])
    now = timezone.now()
    return render(
        request,
        "automation/approval_inbox.html",
        {
            "filterset": filterset,
            "page": page,
            "rows": [
                {
                    "task": task,
                    "record": labels.get((task.request.object_type, task.request.object_id)),
                    "overdue": task.status == ApprovalTaskStatus.PENDING
                    and task.due_at is not None
                    and task.due_at < now,
                }
                for task in tasks
            ],
            "sort": sort,
            "query": list_query(request.GET),
        },
        status=422 if filterset.errors else 200,
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _inbox_csv(rows: QuerySet[ApprovalTask]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(
        [
            "task_id",
            "request_id",
            "process",
            "step",
            "object_type",
            "object_id",
            "submitted_by",
            "submitted_at",
            "status",
            "due_at",
            "decided_at",
            "comment",
        ]
    )
    for task in rows.iterator(chunk_size=CSV_CHUNK):
        yield writer.writerow(
            [
                task.pk,
                task.request_id,
                task.request.process.name,
                task.step.name,
                task.request.object_type,
                task.request.object_id,
                str(task.request.submitted_by),
                task.request.submitted_at.isoformat(),
                task.status,
                task.due_at.isoformat() if task.due_at else "",
                task.decided_at.isoformat() if task.decided_at else "",
                task.comment,
            ]
        )


@login_required
def inbox_csv(request: HttpRequest) -> HttpResponse:
    filterset = _inbox_filter(request)
    if not filterset.is_valid():
        return HttpResponse(
            "Some filters are not valid: " + filterset.errors.as_text(),
            status=422,
            content_type="text/plain; charset=utf-8",
        )
    rows = filterset.qs.order_by(*TASK_SORTS[_sort(request)])
    response = StreamingHttpResponse(_inbox_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="my-approvals.csv"'
    return cast(HttpResponse, response)


# --- a request -------------------------------------------------------------------------------


def request_context(request: HttpRequest, approval: ApprovalRequest) -> dict[str, Any]:
    user = principal(request)
    tasks = list(approval.tasks.select_related("step", "approver").order_by("step__position", "id"))
    record = approvals.record_for(approval.object_type, approval.object_id)
    return {
        "approval": approval,
        "record": record,
        "record_url": record_detail_url(approval.object_type, approval.object_id),
        "steps": list(approval.process.steps.all()),
        "tasks": tasks,
        "history": [
            {"row": row, "label": HISTORY_LABELS.get(row.action, row.action)}
            for row in approval.history.select_related("actor").order_by("at", "id")
        ],
        "my_tasks": [
            task
            for task in tasks
            if task.approver_id == user.pk and task.status == ApprovalTaskStatus.PENDING
        ]
        if approval.status == ApprovalStatus.PENDING
        else [],
        "may_recall": approval.status == ApprovalStatus.PENDING
        and approval.process.allow_recall
        and approval.submitted_by_id == user.pk,
    }


@login_required
@handles_domain_errors
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    approval = approvals.request_get(user=principal(request), pk=pk)
    context = request_context(request, approval)
    return render(request, "automation/approval_request_detail.html", {"a": context, **context})


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else default


def _respond(
    request: HttpRequest, object_type: str, object_id: int, default_url: str
) -> HttpResponse:
    """HTMX: the record's card again; otherwise back where the form was."""
    if is_htmx(request):
        record = approvals.record_for(object_type, object_id)
        context = panel_context(request, record) if record is not None else None
        return render(request, "automation/approval_panel.html", {"panel": context or {}})
    return redirect(_back(request, default_url))


def _error_response(request: HttpRequest, error: PatronError) -> HttpResponse:
    if is_htmx(request):
        return HttpResponse(
            f'<div class="alert alert-error" role="alert">{_escape(error.detail)}</div>',
            status=error.status,
        )
    messages.error(request, error.detail)
    return redirect(_back(request, "/"))


def _escape(text: str) -> str:
    from django.utils.html import escape

    return escape(text)


@login_required
@require_POST
@handles_domain_errors
def record_submit(request: HttpRequest, object_type: str, pk: int) -> HttpResponse:
    record = approvals.record_for(object_type, pk)
    if record is None or not can_access(principal(request), record, Action.READ):
        raise RecordNotFound("No such record.")
    process_id = request.POST.get("process", "")
    process = (
        ApprovalProcess.objects.filter(pk=process_id).first() if process_id.isdigit() else None
    )
    try:
        approvals.approval_start(
            user=principal(request),
            record=record,
            process=process,
            comment=request.POST.get("comment", ""),
        )
    except ValidationFailed as error:
        return _error_response(request, error)
    messages.success(request, "Submitted for approval.")
    return _respond(request, object_type, pk, record_detail_url(object_type, pk) or "/")


@login_required
@require_POST
@handles_domain_errors
def request_recall(request: HttpRequest, pk: int) -> HttpResponse:
    approval = approvals.request_get(user=principal(request), pk=pk)
    try:
        approvals.approval_recall(
            user=principal(request), request=approval, comment=request.POST.get("comment", "")
        )
    except ValidationFailed as error:
        return _error_response(request, error)
    messages.success(request, "The request was recalled; the record can be edited again.")
    return _respond(
        request,
        approval.object_type,
        approval.object_id,
        reverse("approvals:request_detail", args=[approval.pk]),
    )


@login_required
@require_POST
@handles_domain_errors
def task_decide(request: HttpRequest, pk: int) -> HttpResponse:
    task = approvals.task_get(user=principal(request), pk=pk)
    decision = request.POST.get("decision", "")
    if decision not in ("approve", "reject"):
        return _error_response(request, ValidationFailed("Choose Approve or Reject."))
    try:
        approvals.approval_decide(
            user=principal(request),
            task=task,
            approve=decision == "approve",
            comment=request.POST.get("comment", ""),
        )
    except ValidationFailed as error:
        return _error_response(request, error)
    messages.success(request, "Approved." if decision == "approve" else "Rejected.")
    return _respond(
        request,
        task.request.object_type,
        task.request.object_id,
        reverse("approvals:request_detail", args=[task.request_id]),
    )


# --- the record's card -----------------------------------------------------------------------


def panel_context(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    """The Approval card: shown on records of types with an active process."""
    object_type = record.object_type()
    if object_type not in approvals.process_types().active:
        return None
    processes = list(approvals.processes_for_type(object_type))
    latest = (
        ApprovalRequest.objects.filter(object_type=object_type, object_id=record.pk)
        .select_related("process", "current_step", "submitted_by")
        .first()
    )
    if not processes and latest is None:
        return None
    context: dict[str, Any] = {
        "record": record,
        "object_type": object_type,
        "processes": processes,
        "latest": None,
        "may_submit": (latest is None or latest.status != ApprovalStatus.PENDING)
        and bool(processes)
        and can_access(principal(request), record, Action.UPDATE),
    }
    if latest is not None:
        context["latest"] = request_context(request, latest)
    return context


# --- processes (admin) -----------------------------------------------------------------------


@admin_required
def process_list(request: HttpRequest) -> HttpResponse:
    ordered = ApprovalProcess.objects.prefetch_related("steps").order_by(
        "object_type", "position", "id"
    )
    processes = list(ordered)
    # Processes other features rely on (the quote discount one) are listed from the start.
    if approvals.seed_missing_processes(processes):
        processes = list(ordered.all())
    types = dict(business_object_types())
    return render(
        request,
        "automation/approval_process_list.html",
        {"processes": processes, "types": types},
    )


def _condition_rows(tree: Any) -> tuple[list[dict[str, Any]], str]:
    """Simple trees as rows (field, op, value); anything else as JSON for the advanced box."""
    leaves: list[Any]
    if not tree:
        leaves = []
    elif "field" in tree:
        leaves = [tree]
    elif list(tree) == ["all"] and all(
        isinstance(leaf, dict) and "field" in leaf for leaf in tree["all"]
    ):
        leaves = tree["all"]
    else:
        return [{} for _ in range(CONDITION_ROWS)], json.dumps(tree, indent=2)
    rows = [
        {
            "field": leaf.get("field", ""),
            "op": leaf.get("op", ""),
            "value": ", ".join(str(v) for v in leaf["value"])
            if isinstance(leaf.get("value"), list)
            else leaf.get("value", ""),
        }
        for leaf in leaves
    ]
    rows += [{} for _ in range(max(CONDITION_ROWS - len(rows), 1))]
    return rows, ""


def _tree_from(data: QueryDict, prefix: str, errors: dict[str, list[str]]) -> Any:
    advanced = data.get(f"{prefix}json", "").strip()
    if advanced:
        try:
            return json.loads(advanced)
        except json.JSONDecodeError as error:
            errors[f"{prefix}json"] = [f"Not valid JSON: {error.msg} (line {error.lineno})."]
            return {}
    leaves: list[dict[str, Any]] = []
    for index in range(20):
        field = data.get(f"{prefix}{index}-field", "").strip()
        if not field:
            continue
        op = data.get(f"{prefix}{index}-op", "eq")
        leaf: dict[str, Any] = {"field": field, "op": op}
        if op not in conditions.NO_VALUE_OPS:
            value = data.get(f"{prefix}{index}-value", "")
            leaf["value"] = (
                [part.strip() for part in value.split(",") if part.strip()]
                if op in conditions.LIST_VALUE_OPS
                else value
            )
        leaves.append(leaf)
    if not leaves:
        return {}
    return leaves[0] if len(leaves) == 1 else {"all": leaves}


def _steps_from(data: QueryDict, *, keep_unnamed: bool = False) -> list[dict[str, Any]]:
    """The posted steps in the order shown; a step without a name is no step (kept while
    the form is being edited, so a row just added stays)."""
    steps = []
    try:
        count = min(int(data.get("step_count", "0") or 0), MAX_STEP_ROWS)
    except ValueError:
        count = 0
    for index in range(count):
        prefix = f"step-{index}-"
        if not keep_unnamed and not data.get(f"{prefix}name", "").strip():
            continue
        step: dict[str, Any] = {name: data.get(f"{prefix}{name}", "") for name in STEP_INPUTS}
        step["id"] = data.get(f"{prefix}id") or None
        step["timeout_hours"] = step["timeout_hours"] or None
        step["conditions"] = _tree_from(data, f"{prefix}cond-", {})
        steps.append(step)
    return steps


def edit_steps(steps: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    """What a step button asks: "add", "remove:2", "up:1", "down:0" (nothing is saved)."""
    verb, _, where = action.partition(":")
    steps = list(steps)
    if verb == "add" and len(steps) < MAX_STEP_ROWS:
        steps.append({})
        return steps
    if not where.isdigit() or not 0 <= int(where) < len(steps):
        return steps
    index = int(where)
    if verb == "remove":
        steps.pop(index)
    elif verb in ("up", "down"):
        other = index - 1 if verb == "up" else index + 1
        if 0 <= other < len(steps):
            steps[index], steps[other] = steps[other], steps[index]
    return steps


def _form_context(
    object_type: str,
    process: ApprovalProcess | None,
    values: dict[str, Any],
    steps: list[dict[str, Any]],
    errors: dict[str, list[str]],
    detail: str = "",
) -> dict[str, Any]:
    rows, advanced = _condition_rows(values.get("entry_conditions") or {})
    step_rows = []
    for index, step in enumerate(steps or [{}]):
        cond_rows, cond_json = _condition_rows(step.get("conditions") or {})
        step_rows.append(
            {
                "index": index,
                "values": step,
                "conditions": cond_rows,
                "conditions_json": cond_json,
                "cond_prefix": f"step-{index}-cond-",
                "condition_errors": {
                    key: messages_
                    for key, messages_ in errors.items()
                    if key.startswith(f"steps[{index}].conditions")
                },
                "errors": {
                    key.split(".", 1)[1]: messages_
                    for key, messages_ in errors.items()
                    if key.startswith(f"steps[{index}].")
                },
            }
        )
    return {
        "process": process,
        "object_type": object_type,
        "type_label": dict(business_object_types()).get(object_type, object_type),
        "values": values,
        "entry_rows": rows,
        "entry_json": advanced,
        "entry_errors": {
            key: messages_ for key, messages_ in errors.items() if key.startswith("entry")
        },
        "steps": step_rows,
        "step_count": len(step_rows),
        "may_add_step": len(step_rows) < MAX_STEP_ROWS,
        "errors": errors,
        "detail": detail,
        "fields": [spec.as_dict() for spec in conditions.describe_fields(object_type)],
        "operators": list(conditions.OPERATOR_LABELS.items()),
        "approver_kinds": ApproverKind.choices,
        "decision_modes": DecisionMode.choices,
        "escalations": EscalationAction.choices,
        "users": User.objects.filter(is_active=True).order_by("full_name", "email"),
        "roles": Role.objects.order_by("name"),
        "queues": RoutingQueue.objects.filter(is_active=True).order_by("name"),
    }


def _step_values(process: ApprovalProcess) -> list[dict[str, Any]]:
    return [
        {
            "id": step.pk,
            "name": step.name,
            "conditions": step.conditions,
            "approver_kind": step.approver_kind,
            "approver_user": step.approver_user_id,
            "approver_role": step.approver_role_id,
            "approver_queue": step.approver_queue_id,
            "decision_mode": step.decision_mode,
            "timeout_hours": step.timeout_hours,
            "escalation": step.escalation,
            "escalate_to": step.escalate_to_id,
        }
        for step in process.steps.all()
    ]


def _process_values(data: QueryDict, errors: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "name": data.get("name", ""),
        "description": data.get("description", ""),
        "entry_conditions": _tree_from(data, "entry-", errors),
        "lock_record": data.get("lock_record") == "on",
        "allow_recall": data.get("allow_recall") == "on",
        "is_active": data.get("is_active") == "on",
        "position": data.get("position") or 0,
    }


@admin_required
@require_http_methods(["GET", "POST"])
def process_create(request: HttpRequest) -> HttpResponse:
    object_type = request.GET.get("object_type") or request.POST.get("object_type", "")
    types = business_object_types()
    if conditions.model_for(object_type) is None:
        return render(
            request,
            "automation/approval_process_type.html",
            {"types": types, "error": bool(object_type)},
            status=422 if object_type else 200,
        )
    if request.method == "POST":
        errors: dict[str, list[str]] = {}
        values = _process_values(request.POST, errors)
        action = request.POST.get("action", "")
        if action:
            steps = edit_steps(_steps_from(request.POST, keep_unnamed=True), action)
            context = _form_context(object_type, None, values, steps, {})
            return render(request, "automation/approval_process_form.html", context)
        steps = _steps_from(request.POST)
        try:
            if errors:
                raise ValidationFailed("The approval process has errors.", errors=errors)
            process = approvals.approval_process_create(
                user=principal(request), object_type=object_type, steps=steps, **values
            )
        except ValidationFailed as error:
            context = _form_context(object_type, None, values, steps, error.errors, error.detail)
            return render(request, "automation/approval_process_form.html", context, status=422)
        messages.success(request, f"Approval process “{process}” created.")
        return redirect("approvals:process_list")
    initial = {"lock_record": True, "allow_recall": True, "is_active": True, "entry_conditions": {}}
    context = _form_context(object_type, None, initial, [], {})
    return render(request, "automation/approval_process_form.html", context)


@admin_required
@require_http_methods(["GET", "POST"])
def process_edit(request: HttpRequest, pk: int) -> HttpResponse:
    process = ApprovalProcess.objects.filter(pk=pk).first()
    if process is None:
        raise RecordNotFound("No such approval process.")
    if request.method == "POST":
        if request.POST.get("delete"):
            try:
                approvals.approval_process_delete(user=principal(request), process=process)
            except ValidationFailed as error:
                messages.error(request, error.detail)
                return redirect("approvals:process_edit", pk=process.pk)
            messages.success(request, "Approval process deleted.")
            return redirect("approvals:process_list")
        errors: dict[str, list[str]] = {}
        values = _process_values(request.POST, errors)
        action = request.POST.get("action", "")
        if action:
            steps = edit_steps(_steps_from(request.POST, keep_unnamed=True), action)
            context = _form_context(process.object_type, process, values, steps, {})
            return render(request, "automation/approval_process_form.html", context)
        steps = _steps_from(request.POST)
        try:
            if errors:
                raise ValidationFailed("The approval process has errors.", errors=errors)
            approvals.approval_process_update(
                user=principal(request), process=process, steps=steps, **values
            )
        except ValidationFailed as error:
            process.refresh_from_db()
            context = _form_context(
                process.object_type, process, values, steps, error.errors, error.detail
            )
            return render(request, "automation/approval_process_form.html", context, status=422)
        messages.success(request, "Approval process saved.")
        return redirect("approvals:process_list")
    values = {name: getattr(process, name) for name in approvals.PROCESS_FIELDS}
    context = _form_context(process.object_type, process, values, _step_values(process), {})
    return render(request, "automation/approval_process_form.html", context)


def register_approval_ui() -> None:
    register_nav_item(
        NavItem(area="Workspace", label="My approvals", url_name="approvals:inbox", order=20)
    )
    register_nav_item(
        NavItem(
            area="Admin",
            label="Approval processes",
            url_name="approvals:process_list",
            admin_only=True,
            order=46,
        )
    )
    register_detail_panel(
        DetailPanel(
            key="automation.approval",
            template="automation/approval_panel.html",
            context=panel_context,
            column="main",
            order=40,
        )
    )
