"""Faults injected into the running cluster: workers killed with SIGKILL mid-import and
mid-workflow, the database restarted under traffic, the broker down (issue 8, "Faults").
Each test puts back what it broke, so the cluster serves the next one whole."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.system.conftest import (
    Browser,
    assert_imported_once,
    create_contact,
    create_workflow,
    import_prepare,
    import_start,
    import_wait_done,
)
from tests.system.harness import Cluster, wait_for

pytestmark = pytest.mark.system

WORKERS = (1, 2)


def _kill_workers(cluster: Cluster) -> None:
    """SIGKILL both workers (each a process group: the main process and its pool child), so
    whichever was running the task dies mid-way, as on a crashed machine."""
    for index in WORKERS:
        cluster.procs[f"worker{index}"].kill()


def _restart_workers(cluster: Cluster) -> None:
    for index in WORKERS:
        cluster.worker_restart(index)


def test_an_import_cut_off_by_killed_workers_finishes_once_after_a_restart(
    cluster: Cluster, browser: Browser
) -> None:
    rows = 6000  # six batches of 1,000 rows, each one transaction
    run = import_prepare(browser, "Killed", rows=rows)
    assert import_start(browser, run["id"]).status_code == 202
    progress = "SELECT status, rows_done FROM data_exchange_importrun WHERE id = %s"
    try:
        wait_for(
            lambda: cluster.query(progress, [run["id"]])[0][1] >= 1000,
            timeout=120,
            what="the first batch to commit",
            interval=0.05,
        )
    finally:
        _kill_workers(cluster)
    status, rows_done = cluster.query(progress, [run["id"]])[0]
    assert status == "running"
    assert 1000 <= rows_done < rows
    # The unacknowledged message comes back after the broker's visibility timeout.
    _restart_workers(cluster)
    import_wait_done(cluster, run["id"], timeout=180)
    assert_imported_once(cluster, run["id"], "Killed", rows)


def test_a_workflow_run_whose_workers_were_killed_continues_without_redoing_steps(
    cluster: Cluster, browser: Browser
) -> None:
    contact = create_contact(browser, "Interrupted")
    workflow = create_workflow(
        browser,
        name="Task, wait, task",
        object_type="contacts.contact",
        trigger={"type": "manual"},
        steps=[
            {
                "id": "first",
                "type": "create_task",
                "config": {"subject": "First call", "assignee": "owner"},
            },
            {"id": "pause", "type": "wait", "config": {"duration": {"hours": 1}}},
            {
                "id": "second",
                "type": "create_task",
                "config": {"subject": "Second call", "assignee": "owner"},
            },
        ],
    )
    started = browser.send(
        "POST",
        f"/api/v1/automation/workflows/{workflow['id']}/run",
        json={"object_type": "contacts.contact", "object_id": contact["id"]},
    )
    assert started.status_code == 202, started.text[:500]
    run_id = started.json()["id"]
    status_of = "SELECT status FROM automation_workflowrun WHERE id = %s"
    try:
        wait_for(
            lambda: cluster.scalar(status_of, [run_id]) == "waiting",
            timeout=60,
            what="the run to reach its wait",
        )
    finally:
        _kill_workers(cluster)
    # The hour passes while no worker is alive; then workers come back.
    cluster.query(
        "UPDATE automation_workflowrun SET resume_at = now() - interval '1 second' WHERE id = %s",
        [run_id],
    )
    _restart_workers(cluster)
    wait_for(
        lambda: cluster.scalar(status_of, [run_id]) == "succeeded",
        timeout=60,
        what="the run to be resumed and finish",
    )
    steps = cluster.query(
        "SELECT step_id, status FROM automation_steprun WHERE run_id = %s ORDER BY id", [run_id]
    )
    assert steps == [("first", "succeeded"), ("pause", "waiting"), ("second", "succeeded")]
    subjects = cluster.query(
        "SELECT subject, count(*) FROM activities_activity WHERE subject LIKE %s "
        "AND created_at > now() - interval '10 minutes' GROUP BY subject ORDER BY subject",
        ["% call"],
    )
    assert ("First call", 1) in subjects
    assert ("Second call", 1) in subjects


class Traffic:
    """Pages and API requests through the load balancer in a loop, statuses counted."""

    def __init__(self, session: Browser) -> None:
        self.session = session
        self.statuses: Counter[int] = Counter()
        self.bodies: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        paths = ["/contacts/", "/api/v1/contacts?limit=5"]
        while not self.stop.is_set():
            for path in paths:
                response = self.session.get(path, allow_redirects=False, timeout=30)
                self.statuses[response.status_code] += 1
                if response.status_code >= 500:
                    self.bodies.append(response.text[:300])

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


@pytest.fixture
def database_restored(cluster: Cluster) -> Iterator[None]:
    yield
    if not cluster.pg_started:
        cluster.pg_start()


def test_a_database_restart_under_traffic_gives_clean_503s_and_recovers_by_itself(
    cluster: Cluster, browser: Browser, database_restored: None
) -> None:
    with Traffic(browser) as traffic:
        wait_for(lambda: traffic.statuses[200] >= 4, timeout=60, what="traffic to flow")
        cluster.pg_stop("fast")
        page = browser.get("/contacts/", allow_redirects=False)
        api = browser.get("/api/v1/contacts?limit=5")
        ready = browser.get("/readyz")
        live = browser.get("/healthz")
        wait_for(lambda: traffic.statuses[503] >= 4, timeout=60, what="503s under traffic")
        cluster.pg_start()
        # No restart of Patron: the next requests open new connections.
        recovered = traffic.statuses[200]
        wait_for(lambda: traffic.statuses[200] >= recovered + 4, timeout=60, what="recovery")
    # Each app-server process has its own pool, which reconnects on its own back-off: wait
    # until eight requests in a row (spread over every process) find the database again.
    wait_for(
        lambda: all(browser.get("/contacts/").status_code == 200 for _ in range(8)),
        timeout=60,
        what="every app-server process to reconnect",
    )
    assert page.status_code == 503
    assert page.headers["Retry-After"]
    assert "The database is not answering" in page.text
    assert "Traceback" not in page.text
    assert api.status_code == 503
    assert api.headers["Retry-After"]
    assert api.headers["Content-Type"].startswith("application/problem+json")
    assert api.json()["type"] == "urn:patron:problem:service-unavailable"
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["database"]
    assert live.status_code == 200
    # Every answer was a page or a clean 503: no 500, and nginx never lost an app server (502).
    assert set(traffic.statuses) <= {200, 503}, (traffic.statuses, traffic.bodies[:3])
    assert browser.get("/contacts/").status_code == 200


@pytest.fixture
def broker_restored(cluster: Cluster) -> Iterator[None]:
    yield
    if not cluster.procs["broker"].running():
        cluster.redis_start("broker")


def test_with_the_broker_down_pages_work_and_jobs_are_refused_clearly_never_lost(
    cluster: Cluster, browser: Browser, broker_restored: None
) -> None:
    run = import_prepare(browser, "BrokerDown", rows=20)
    workflow = create_workflow(
        browser,
        name="Tells about broker-down contacts",
        object_type="contacts.contact",
        trigger={"type": "record_created"},
        conditions={"field": "last_name", "op": "eq", "value": "WhileDown"},
        steps=[{"id": "tell", "type": "notify", "config": {"recipient": "owner", "title": "Hi"}}],
    )
    cluster.procs["broker"].stop()
    # Pages and the API keep working, writes included.
    assert browser.get("/contacts/").status_code == 200
    assert browser.get("/api/v1/contacts?limit=5").status_code == 200
    contact = create_contact(browser, "WhileDown")
    # The workflow run the save started is recorded, though its task could not be sent.
    assert cluster.query(
        "SELECT status FROM automation_workflowrun WHERE workflow_id = %s", [workflow["id"]]
    ) == [("pending",)]
    # A job is refused with a problem naming the broker, and nothing is half-started.
    refused = import_start(browser, run["id"])
    assert refused.status_code == 503, refused.text[:500]
    assert refused.headers["Retry-After"]
    problem = refused.json()
    assert "broker" in problem["detail"]
    assert "broker" in problem["errors"]
    assert browser.get(f"/api/v1/data/imports/{run['id']}").json()["status"] == "mapped"
    ready = browser.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["broker"]

    cluster.redis_start("broker")
    # Started again, the job runs (the app servers and workers reconnect by themselves).
    assert import_start(browser, run["id"]).status_code == 202
    import_wait_done(cluster, run["id"])
    assert_imported_once(cluster, run["id"], "BrokerDown", 20)
    # The pending run is started by the tick once its grace (two minutes) has passed.
    cluster.query(
        "UPDATE automation_workflowrun SET created_at = now() - interval '3 minutes' "
        "WHERE workflow_id = %s",
        [workflow["id"]],
    )
    wait_for(
        lambda: (
            cluster.query(
                "SELECT status FROM automation_workflowrun WHERE workflow_id = %s", [workflow["id"]]
            )
            == [("succeeded",)]
        ),
        timeout=60,
        what="the pending run to be started",
    )
    assert contact["last_name"] == "WhileDown"
