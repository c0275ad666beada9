"""Fixtures for the workflow engine: opportunities in the sales hierarchy, runs executed
inline (instead of by a worker) and a helper that builds and activates a workflow."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from conftest import ALL_ACTIONS
from patron.automation import engine, services, webhook_services
from patron.automation.models import Workflow
from patron.contacts.services import account_create
from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default
from patron.pipeline.services import opportunity_create
from patron.pipeline.tests.conftest import make_pipeline

CLOSE = datetime.date(2027, 3, 31)


@pytest.fixture(autouse=True)
def fresh_index() -> Iterator[None]:
    """Each test starts from the database, not from a previous test's (rolled back) indexes."""
    engine.invalidate_index()
    webhook_services.invalidate_index()
    yield
    engine.invalidate_index()
    webhook_services.invalidate_index()


@pytest.fixture
def inline_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Execute dispatched runs at once (a worker would, after commit); returns their ids."""
    dispatched: list[int] = []

    def run_now(run_ids: list[int]) -> None:
        dispatched.extend(run_ids)
        for run_id in run_ids:
            engine.execute_run(run_id)

    monkeypatch.setattr(engine, "dispatch", run_now)
    return dispatched


@pytest.fixture
def committed(
    django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[Any]],
) -> Callable[[], AbstractContextManager[Any]]:
    """``with committed():`` runs the block's after-commit callbacks (events) at its end."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def pipeline_roles(sales_roles: dict[str, Any]) -> dict[str, Any]:
    """The sales hierarchy, also allowed everything on opportunities (private by default)."""
    for role in sales_roles.values():
        grant(role, "pipeline.opportunity", *ALL_ACTIONS)
        grant(role, "activities.activity", *ALL_ACTIONS)
    set_org_default("pipeline.opportunity", OrgWideAccess.PRIVATE)
    return sales_roles


@pytest.fixture
def stages(db: Any) -> dict[str, Any]:
    return {stage.name: stage for stage in make_pipeline().stages.all()}


@pytest.fixture
def acme(rep: Any, pipeline_roles: Any) -> Any:
    return account_create(user=rep, name="Acme Corporation")


@pytest.fixture
def deal(rep: Any, acme: Any, stages: Any) -> Any:
    return opportunity_create(
        user=rep, name="Rockets", account=acme, close_date=CLOSE, amount="1000"
    )


@pytest.fixture
def make_workflow(admin_user: Any) -> Callable[..., Workflow]:
    counter = iter(range(1, 1000))

    def build(
        *,
        trigger: dict[str, Any],
        steps: list[dict[str, Any]],
        object_type: str = "pipeline.opportunity",
        conditions: dict[str, Any] | None = None,
        activate: bool = True,
        name: str | None = None,
    ) -> Workflow:
        workflow = services.workflow_create(
            user=admin_user,
            data={
                "name": name or f"Workflow {next(counter)}",
                "object_type": object_type,
                "trigger": trigger,
                "conditions": conditions or {},
                "steps": steps,
            },
        )
        if activate:
            services.workflow_activate(user=admin_user, workflow=workflow)
            workflow.refresh_from_db()
        return workflow

    return build
