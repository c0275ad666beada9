"""Workflow reads: the admin lists of workflows, versions and runs, and the manual
workflows offered on a record's page."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from patron.automation import engine
from patron.automation.access import WORKFLOWS, require_admin
from patron.automation.models import StepRun, Workflow, WorkflowRun, WorkflowVersion
from patron.core.exceptions import RecordNotFound


def workflow_list(*, user: Any) -> QuerySet[Workflow]:
    require_admin(user, WORKFLOWS)
    return Workflow.objects.select_related("active_version")


def workflow_get(*, user: Any, pk: int) -> Workflow:
    require_admin(user, WORKFLOWS)
    workflow = Workflow.objects.select_related("active_version").filter(pk=pk).first()
    if workflow is None:
        raise RecordNotFound(f"No workflow with id {pk}.")
    return workflow


def version_list(*, user: Any, workflow: Workflow) -> QuerySet[WorkflowVersion]:
    require_admin(user, WORKFLOWS)
    return workflow.versions.order_by("-number")


def version_get(*, user: Any, workflow: Workflow, pk: int) -> WorkflowVersion:
    require_admin(user, WORKFLOWS)
    version = workflow.versions.filter(pk=pk).first()
    if version is None:
        raise RecordNotFound(f"No version {pk} of this workflow.")
    return version


def run_list(*, user: Any) -> QuerySet[WorkflowRun]:
    require_admin(user, WORKFLOWS)
    return WorkflowRun.objects.select_related("workflow", "version")


def run_get(*, user: Any, pk: int) -> WorkflowRun:
    require_admin(user, WORKFLOWS)
    run = WorkflowRun.objects.select_related("workflow", "version").filter(pk=pk).first()
    if run is None:
        raise RecordNotFound(f"No run with id {pk}.")
    return run


def step_runs(run: WorkflowRun) -> QuerySet[StepRun]:
    return run.step_runs.order_by("started_at", "id")


def step_run_get(*, user: Any, run: WorkflowRun, pk: int) -> StepRun:
    require_admin(user, WORKFLOWS)
    step_run = run.step_runs.filter(pk=pk).first()
    if step_run is None:
        raise RecordNotFound(f"No step run {pk} in this run.")
    return step_run


def manual_workflows(*, object_type: str) -> QuerySet[Workflow]:
    """Active manual-trigger workflows for records of ``object_type`` (the record page's
    "Run workflow" menu). Answered from the engine's index when there are none, so every
    record page of a type without manual workflows costs no query for it."""
    if not engine.active_index().get(engine.manual_key(object_type)):
        return Workflow.objects.none()
    return Workflow.objects.filter(
        object_type=object_type,
        is_enabled=True,
        active_version__isnull=False,
        active_version__trigger__type="manual",
    )


def drafts_by_workflow(workflow_ids: list[int]) -> dict[int, WorkflowVersion]:
    """The draft version of each workflow in ``workflow_ids`` (one query for a list page)."""
    return {
        version.workflow_id: version
        for version in WorkflowVersion.objects.filter(workflow_id__in=workflow_ids, state="draft")
    }
