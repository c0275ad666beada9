"""Workflow pages for administrators: the list, the form-based builder (trigger, condition
tree, ordered steps), versions with activation, the JSON definition, test mode and the run
log with retries; and the "Run workflow" card on record pages for users who may edit the
record.

The views are thin: the builder's form lives in forms.py, every write goes through the
services (which check the user is an administrator) and every read through the selectors.
"""

from __future__ import annotations

import csv
import datetime
import json
from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from patron.automation import conditions, selectors, services
from patron.automation.access import WORKFLOWS, require_admin
from patron.automation.choices import RunStatus, StepStatus
from patron.automation.filters import RUN_SORTS, WORKFLOW_SORTS, WorkflowFilter
from patron.automation.forms import (
    BuilderState,
    ImportForm,
    RunFilterForm,
    apply_action,
    builder_context,
    record_picker_form,
    state_from_definition,
    state_from_post,
)
from patron.automation.models import Workflow, WorkflowRun, WorkflowVersion
from patron.automation.registry import trigger_type
from patron.core.choices import Action
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.record_pages import record_detail_url
from patron.core.views import handles_domain_errors, keyset_page
from patron.core.visibility import can_access_cached
from patron.users.models import User

PAGE_SIZE = 50
CSV_LIMIT = 10_000
WORKFLOW_SORT_LABELS = [
    ("name", "Name A to Z"),
    ("-name", "Name Z to A"),
    ("-updated", "Recently changed"),
]


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _flat(error: ValidationFailed) -> dict[str, str]:
    return {key: " ".join(messages_) for key, messages_ in error.errors.items()}


def trigger_label(version: WorkflowVersion | None) -> str:
    if version is None:
        return "—"
    kind = trigger_type(str((version.trigger or {}).get("type")))
    if kind is None:
        return str((version.trigger or {}).get("type") or "—")
    event = (version.trigger or {}).get("event") or (version.trigger or {}).get("field")
    return f"{kind.label} ({event})" if event else kind.label


def _csv_response(filename: str, header: list[str], rows: Iterable[list[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


# --------------------------------------------------------------------------- workflow list


def _workflow_rows(queryset: Iterable[Workflow], drafts: dict[int, WorkflowVersion]) -> list[Any]:
    rows = []
    for workflow in queryset:
        active = workflow.active_version
        draft = drafts.get(workflow.pk)
        if not workflow.is_enabled:
            state = "Disabled"
        elif active is not None:
            state = "Active" + (" (draft pending)" if draft else "")
        else:
            state = "Draft" if draft else "Inactive"
        rows.append(
            {
                "workflow": workflow,
                "trigger": trigger_label(active or draft),
                "state": state,
                "active_number": active.number if active else None,
                "last_run": getattr(workflow, "last_run_at", None),
            }
        )
    return rows


@login_required
@handles_domain_errors
def workflow_list(request: HttpRequest) -> HttpResponse:
    user = require_admin(_user(request), WORKFLOWS)
    last_run = (
        WorkflowRun.objects.filter(workflow=OuterRef("pk"), is_test=False)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    queryset = selectors.workflow_list(user=user).annotate(last_run_at=Subquery(last_run))
    filters = WorkflowFilter(request.GET, queryset=queryset)
    if not filters.is_valid():
        return render(
            request,
            "automation/workflow_list.html",
            {"filters": filters, "rows": [], "page": None, "sorts": WORKFLOW_SORT_LABELS},
            status=400,
        )
    sort = request.GET.get("sort", "name")
    order = WORKFLOW_SORTS.get(sort, WORKFLOW_SORTS["name"])
    if request.GET.get("format") == "csv":
        workflows = filters.qs.order_by(*order)[:CSV_LIMIT]
        drafts = selectors.drafts_by_workflow([w.pk for w in workflows])
        return _csv_response(
            "workflows.csv",
            ["id", "name", "object_type", "trigger", "state", "active_version", "last_run"],
            (
                [
                    row["workflow"].pk,
                    row["workflow"].name,
                    row["workflow"].object_type,
                    row["trigger"],
                    row["state"],
                    row["active_number"] or "",
                    row["last_run"].isoformat() if row["last_run"] else "",
                ]
                for row in _workflow_rows(workflows, drafts)
            ),
        )
    page = keyset_page(filters.qs, order, request.GET.get("cursor", ""), PAGE_SIZE)
    drafts = selectors.drafts_by_workflow([w.pk for w in page.rows])
    params = request.GET.copy()
    params.pop("cursor", None)
    return render(
        request,
        "automation/workflow_list.html",
        {
            "filters": filters,
            "rows": _workflow_rows(page.rows, drafts),
            "page": page,
            "sort": sort,
            "sorts": WORKFLOW_SORT_LABELS,
            "query": params.urlencode(),
        },
    )


# --------------------------------------------------------------------------- builder


def _render_builder(
    request: HttpRequest,
    state: BuilderState,
    workflow: Workflow | None,
    errors: dict[str, str],
    status: int = 200,
) -> HttpResponse:
    context = builder_context(state, errors)
    context["workflow"] = workflow
    context["form_url"] = (
        reverse("automation:workflow_edit", args=[workflow.pk])
        if workflow
        else reverse("automation:workflow_create")
    )
    template = (
        "automation/workflow_builder_form.html"
        if getattr(request, "htmx", False)
        else "automation/workflow_builder.html"
    )
    return render(request, template, context, status=status)


def _save(
    request: HttpRequest, user: User, state: BuilderState, workflow: Workflow | None
) -> Workflow | dict[str, str]:
    if state.parse_errors:
        return {
            **services.validate_definition(
                object_type=state.object_type,
                trigger=state.definition["trigger"],
                conditions_tree=state.definition["conditions"],
                steps=state.definition["steps"],
            ),
            **state.parse_errors,
        }
    try:
        if workflow is None:
            return services.workflow_create(user=user, data=state.data())
        return services.workflow_update(user=user, workflow=workflow, data=state.data())
    except ValidationFailed as error:
        errors = _flat(error)
        return errors or {"__all__": error.detail}


def _builder(request: HttpRequest, workflow: Workflow | None) -> HttpResponse:
    user = require_admin(_user(request), WORKFLOWS)
    if request.method != "POST":
        if workflow is None:
            state = BuilderState()
        else:
            state = state_from_definition(
                {**services.workflow_export(workflow), "is_enabled": workflow.is_enabled}
            )
        return _render_builder(request, state, workflow, {})
    state = state_from_post(request.POST)
    # A change of a select that reshapes the form posts it without an action (HTMX).
    action = request.POST.get("action") or (
        "refresh" if getattr(request, "htmx", False) else "save"
    )
    if action != "save":
        apply_action(state, action, request.POST)
        return _render_builder(request, state, workflow, {})
    saved = _save(request, user, state, workflow)
    if isinstance(saved, dict):
        # HTMX swaps only successful answers; a full page says 422.
        status = 200 if getattr(request, "htmx", False) else 422
        return _render_builder(request, state, workflow, saved, status=status)
    draft = services.draft_of(saved)
    messages.success(
        request,
        f"Saved “{saved.name}”"
        + (f" as draft version {draft.number}; activate it to make it run." if draft else "."),
    )
    response: HttpResponse = redirect("automation:workflow_detail", pk=saved.pk)
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("automation:workflow_detail", args=[saved.pk])
    return response


@login_required
@handles_domain_errors
@require_http_methods(["GET", "POST"])
def workflow_create(request: HttpRequest) -> HttpResponse:
    return _builder(request, None)


@login_required
@handles_domain_errors
@require_http_methods(["GET", "POST"])
def workflow_edit(request: HttpRequest, pk: int) -> HttpResponse:
    workflow = selectors.workflow_get(user=require_admin(_user(request), WORKFLOWS), pk=pk)
    return _builder(request, workflow)


# --------------------------------------------------------------------------- one workflow


def _steps_outline(steps: list[Any], depth: int = 0) -> list[dict[str, Any]]:
    from patron.automation.registry import step_type

    outline: list[dict[str, Any]] = []
    for step in steps:
        if not isinstance(step, dict):
            continue
        kind = step_type(str(step.get("type")))
        outline.append(
            {
                "id": step.get("id"),
                "label": kind.label if kind else step.get("type"),
                "depth": depth,
            }
        )
        config = step.get("config") or {}
        for branch in ("then", "else"):
            nested = config.get(branch) if isinstance(config, dict) else None
            if isinstance(nested, list) and nested:
                outline.append({"id": "", "label": f"{branch.capitalize()}:", "depth": depth + 1})
                outline.extend(_steps_outline(nested, depth + 2))
    return outline


def value_words(object_type: str, field: str, value: Any) -> str:
    """A trigger's from/to value as the user knows it (a stage's name, a choice's label)."""
    spec = conditions.field_spec(object_type, field)
    if spec is not None and spec.choices:
        return dict(spec.choices).get(str(value), str(value))
    if spec is not None and spec.type == "fk" and spec.related_model:
        related = apps.get_model(spec.related_model)._default_manager.filter(pk=value).first()
        return str(related) if related is not None else str(value)
    return str(value)


def trigger_words(workflow: Workflow, version: WorkflowVersion | None) -> str:
    """The trigger for a workflow's page, with a field change's from and to spelled out."""
    words = trigger_label(version)
    trigger = version.trigger if version is not None else {}
    if trigger.get("type") != "field_changed":
        return words
    for key in ("from", "to"):
        if trigger.get(key) is not None:
            value = value_words(workflow.object_type, str(trigger.get("field")), trigger[key])
            words += f" {key} {value}"
    return words


@login_required
@handles_domain_errors
def workflow_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_admin(_user(request), WORKFLOWS)
    workflow = selectors.workflow_get(user=user, pk=pk)
    versions = list(selectors.version_list(user=user, workflow=workflow))
    shown = services.draft_of(workflow) or workflow.active_version or next(iter(versions), None)
    runs = list(
        selectors.run_list(user=user).filter(workflow=workflow).order_by("-created_at", "-id")[:10]
    )
    return render(
        request,
        "automation/workflow_detail.html",
        {
            "workflow": workflow,
            "versions": versions,
            "shown": shown,
            "trigger": trigger_words(workflow, shown),
            "conditions_text": conditions.describe_conditions(shown.conditions) if shown else "",
            "outline": _steps_outline(shown.steps if shown else []),
            "runs": runs,
        },
    )


@login_required
@handles_domain_errors
@require_POST
def workflow_activate(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_admin(_user(request), WORKFLOWS)
    workflow = selectors.workflow_get(user=user, pk=pk)
    version = None
    if request.POST.get("version", "").isdigit():
        version = selectors.version_get(
            user=user, workflow=workflow, pk=int(request.POST["version"])
        )
    try:
        activation = services.workflow_activate(user=user, workflow=workflow, version=version)
    except ValidationFailed as error:
        details = [f"{key}: {message}" for key, message in _flat(error).items()]
        messages.error(request, " ".join([error.detail, *details]))
    else:
        messages.success(request, f"Version {activation.version.number} is now active.")
        if activation.inbound_token:
            messages.warning(
                request,
                "The workflow's secret URL (shown once, copy it now): "
                + request.build_absolute_uri(
                    f"/api/v1/automation/hooks/{activation.inbound_token}/"
                ),
            )
        for warning in activation.warnings:
            messages.warning(request, warning)
    return redirect("automation:workflow_detail", pk=pk)


@login_required
@handles_domain_errors
@require_POST
def workflow_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_admin(_user(request), WORKFLOWS)
    workflow = selectors.workflow_get(user=user, pk=pk)
    services.workflow_deactivate(user=user, workflow=workflow)
    messages.success(request, f"“{workflow.name}” no longer runs.")
    return redirect("automation:workflow_detail", pk=pk)


@login_required
@handles_domain_errors
def workflow_json(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_admin(_user(request), WORKFLOWS)
    workflow = selectors.workflow_get(user=user, pk=pk)
    version = None
    if request.GET.get("version", "").isdigit():
        version = selectors.version_get(
            user=user, workflow=workflow, pk=int(request.GET["version"])
        )
    text = json.dumps(services.workflow_export(workflow, version), indent=2, ensure_ascii=False)
    if request.GET.get("download"):
        response = HttpResponse(text, content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="workflow-{workflow.pk}.json"'
        return response
    return render(
        request, "automation/workflow_json.html", {"workflow": workflow, "definition": text}
    )


@login_required
@handles_domain_errors
@require_http_methods(["GET", "POST"])
def workflow_import(request: HttpRequest) -> HttpResponse:
    user = require_admin(_user(request), WORKFLOWS)
    form = ImportForm(request.POST or None, request.FILES or None)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                workflow = services.workflow_import(user=user, data=form.cleaned_data["data"])
            except ValidationFailed as error:
                errors = _flat(error)
                form.add_error(None, error.detail)
            else:
                messages.success(request, f"Imported “{workflow.name}” as a draft.")
                return redirect("automation:workflow_detail", pk=workflow.pk)
    return render(
        request,
        "automation/workflow_import.html",
        {"form": form, "errors": sorted(errors.items())},
        status=status,
    )


def simulated_changes(workflow: Workflow) -> dict[str, Any]:
    """The change a "field changes" trigger waits for, so test mode runs as if it fired."""
    version = services.draft_of(workflow) or workflow.active_version
    trigger = version.trigger if version is not None else {}
    if trigger.get("type") != "field_changed" or not trigger.get("field"):
        return {}
    return {str(trigger["field"]): [trigger.get("from"), trigger.get("to")]}


@login_required
@handles_domain_errors
@require_http_methods(["GET", "POST"])
def workflow_test(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_admin(_user(request), WORKFLOWS)
    workflow = selectors.workflow_get(user=user, pk=pk)
    form = (
        record_picker_form(workflow.object_type, user, request.POST or None)
        if workflow.object_type
        else None
    )
    report = None
    status = 200
    if request.method == "POST":
        record = None
        if form is not None and form.is_valid():
            record = form.cleaned_data["record"]
        if form is None or record is not None:
            try:
                report = services.workflow_test(
                    user=user,
                    workflow=workflow,
                    version=None,
                    record=record,
                    changes=simulated_changes(workflow),
                )
            except ValidationFailed as error:
                messages.error(request, error.detail)
                status = 422
        else:
            status = 422
    return render(
        request,
        "automation/workflow_test.html",
        {
            "workflow": workflow,
            "form": form,
            "report": report,
            "simulated": simulated_changes(workflow),
        },
        status=status,
    )


# --------------------------------------------------------------------------- runs


def _record_link(run: WorkflowRun) -> str | None:
    if not run.object_type or run.object_id is None:
        return None
    return record_detail_url(run.object_type, run.object_id)


@login_required
@handles_domain_errors
def run_list(request: HttpRequest) -> HttpResponse:
    user = require_admin(_user(request), WORKFLOWS)
    form = RunFilterForm(request.GET or None)
    status_field = form.fields["status"]
    workflow_field = form.fields["workflow"]
    assert isinstance(status_field, forms.ChoiceField)
    assert isinstance(workflow_field, forms.ChoiceField)
    status_field.choices = [("", "Any"), *RunStatus.choices]
    workflow_field.choices = [
        ("", "Any"),
        *Workflow.objects.order_by("name").values_list("pk", "name"),
    ]
    queryset = selectors.run_list(user=user).filter(is_test=request.GET.get("test") == "1")
    if request.GET and not form.is_valid():
        return render(
            request,
            "automation/run_list.html",
            {"form": form, "page": None, "runs": []},
            status=400,
        )
    cleaned = form.cleaned_data if request.GET else {}
    if cleaned.get("status"):
        queryset = queryset.filter(status=cleaned["status"])
    if cleaned.get("workflow"):
        queryset = queryset.filter(workflow_id=cleaned["workflow"])
    zone = timezone.get_current_timezone()
    if cleaned.get("since"):
        start = datetime.datetime.combine(cleaned["since"], datetime.time.min, tzinfo=zone)
        queryset = queryset.filter(created_at__gte=start)
    if cleaned.get("until"):
        end = datetime.datetime.combine(cleaned["until"], datetime.time.max, tzinfo=zone)
        queryset = queryset.filter(created_at__lte=end)
    sort = request.GET.get("sort", "-created")
    order = RUN_SORTS.get(sort, RUN_SORTS["-created"])
    if request.GET.get("format") == "csv":
        return _csv_response(
            "workflow-runs.csv",
            ["id", "workflow", "version", "trigger", "object_type", "object_id", "status",
             "created_at", "finished_at", "error"],
            (
                [run.pk, run.workflow.name, run.version.number, run.trigger_type,
                 run.object_type, run.object_id or "", run.status, run.created_at.isoformat(),
                 run.finished_at.isoformat() if run.finished_at else "", run.error]
                for run in queryset.order_by(*order)[:CSV_LIMIT]
            ),
        )  # fmt: skip
    page = keyset_page(queryset, order, request.GET.get("cursor", ""), PAGE_SIZE)
    params = request.GET.copy()
    params.pop("cursor", None)
    return render(
        request,
        "automation/run_list.html",
        {
            "form": form,
            "page": page,
            "runs": [(run, _record_link(run)) for run in page.rows],
            "sort": sort,
            "query": params.urlencode(),
        },
    )


@login_required
@handles_domain_errors
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_admin(_user(request), WORKFLOWS)
    run = selectors.run_get(user=user, pk=pk)
    steps = list(selectors.step_runs(run))
    retryable = (
        steps[-1].pk
        if run.status == RunStatus.FAILED and steps and steps[-1].status == StepStatus.FAILED
        else None
    )
    attempts: dict[str, int] = {}
    for step in steps:
        attempts[step.step_id] = max(attempts.get(step.step_id, 0), step.attempt)
    return render(
        request,
        "automation/run_detail.html",
        {
            "run": run,
            "steps": [
                {
                    "step": step,
                    "input": json.dumps(step.input, indent=2, ensure_ascii=False),
                    "output": json.dumps(step.output, indent=2, ensure_ascii=False),
                    "attempts": attempts[step.step_id],
                    "may_retry": step.pk == retryable,
                }
                for step in steps
            ],
            "record_url": _record_link(run),
        },
    )


@login_required
@handles_domain_errors
@require_POST
def run_retry(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    user = require_admin(_user(request), WORKFLOWS)
    run = selectors.run_get(user=user, pk=pk)
    step_run = selectors.step_run_get(user=user, run=run, pk=step_pk)
    try:
        services.run_retry_step(user=user, step_run=step_run)
    except ValidationFailed as error:
        messages.error(request, error.detail)
    else:
        run.refresh_from_db()
        messages.success(
            request,
            f"Retried step {step_run.step_id}: the run is {run.get_status_display().lower()}.",
        )
    return redirect("automation:run_detail", pk=pk)


# --------------------------------------------------------------------------- record pages


def manual_card(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    """The "Run workflow" card: active manual workflows of the record's type, for users who
    may edit the record (run_manual checks again)."""
    workflows = list(selectors.manual_workflows(object_type=record.object_type()).order_by("name"))
    if not workflows:
        return None
    user = _user(request)
    if not (user.is_admin or can_access_cached(user, record, Action.UPDATE)):
        return None
    return {"workflows": workflows, "record": record, "is_admin": user.is_admin}


@login_required
@handles_domain_errors
@require_POST
def run_manual(request: HttpRequest, pk: int, object_id: int) -> HttpResponse:
    user = _user(request)
    workflow = Workflow.objects.filter(pk=pk).select_related("active_version").first()
    if workflow is None:
        raise RecordNotFound(f"No workflow with id {pk}.")
    model = conditions.model_for(workflow.object_type)
    record = (
        model._default_manager.visible_to(user).filter(pk=object_id).first()
        if model is not None
        else None
    )
    if record is None:
        raise RecordNotFound(f"No {workflow.object_type} record with id {object_id}.")
    back = record_detail_url(workflow.object_type, record.pk) or reverse("ui:home")
    try:
        run = services.run_manual(user=user, workflow=workflow, record=record)
    except ValidationFailed as error:
        messages.error(request, error.detail)
        return redirect(back)
    run.refresh_from_db()
    if run.status == RunStatus.SUCCEEDED:
        messages.success(request, f"“{workflow.name}” ran: every step succeeded.")
    elif run.status in (RunStatus.FAILED, RunStatus.LOOP_STOPPED):
        messages.error(
            request, f"“{workflow.name}” failed: {run.error or run.get_status_display()}"
        )
    else:
        messages.success(
            request, f"“{workflow.name}” started ({run.get_status_display().lower()})."
        )
    return redirect(back)


def register_pages() -> None:
    """The "Workflows" admin navigation entry and the "Run workflow" card on record pages."""
    from patron.core.context_processors import NavItem, register_nav_item
    from patron.core.record_pages import DetailPanel, register_detail_panel

    register_nav_item(
        NavItem(
            area="Admin",
            label="Workflows",
            url_name="automation:workflow_list",
            admin_only=True,
            order=60,
        )
    )
    register_detail_panel(
        DetailPanel(
            key="automation.run_workflow",
            template="automation/partials/workflow_run_card.html",
            context=manual_card,
            order=40,
            column="side",
        )
    )
