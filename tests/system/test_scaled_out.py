"""The scaled-out installation: two app servers behind nginx, two workers, one scheduler,
PostgreSQL and Redis, each a real process on loopback (issue 8, "Running on more than one
machine")."""

from __future__ import annotations

import re
import time
from collections import Counter

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
from tests.system.settings import TICK_SECONDS

pytestmark = pytest.mark.system


def test_a_browser_session_works_whichever_app_server_answers(
    cluster: Cluster, browser: Browser
) -> None:
    upstreams: Counter[str] = Counter()
    for path in ["/", "/contacts/", "/accounts/", "/api/v1/contacts?limit=5"] * 5:
        response = browser.get(path, allow_redirects=False)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        upstreams[response.headers["X-Upstream"]] += 1
    expected = {f"127.0.0.1:{port}" for port in cluster.app_ports}
    assert set(upstreams) == expected, upstreams


def test_a_job_enqueued_through_one_app_server_runs_on_a_worker_exactly_once(
    cluster: Cluster,
) -> None:
    server_a = Browser(cluster.app_url(0))
    server_a.login()
    succeeded = r"Task data_exchange\.import_run\[.*\] succeeded"
    before = len(cluster.worker_log_lines(succeeded))
    run = import_prepare(server_a, "Enqueued", rows=50)
    started = import_start(server_a, run["id"])
    assert started.status_code == 202, started.text[:500]
    import_wait_done(cluster, run["id"])
    assert_imported_once(cluster, run["id"], "Enqueued", 50)
    # One message, run by one of the two workers.
    assert len(cluster.worker_log_lines(succeeded)) == before + 1


def test_a_change_saved_through_one_server_is_seen_at_once_through_the_other(
    cluster: Cluster,
) -> None:
    server_a, server_b = Browser(cluster.app_url(0)), Browser(cluster.app_url(1))
    server_a.login()
    server_b.login()
    # A record: saved on A, read on B (no per-process record cache, the new ETag at once).
    contact = create_contact(server_a, "Seen", first_name="Old")
    read = server_b.get(f"/api/v1/contacts/{contact['id']}")
    patched = server_a.send(
        "PATCH",
        f"/api/v1/contacts/{contact['id']}",
        json={"first_name": "New"},
        headers={"If-Match": read.headers["ETag"]},
    )
    assert patched.status_code == 200, patched.text[:500]
    again = server_b.get(f"/api/v1/contacts/{contact['id']}")
    assert again.json()["first_name"] == "New"
    assert again.headers["ETag"] == patched.headers["ETag"] != read.headers["ETag"]
    # The workflow index each process keeps in memory: activated on A, used by B's next save.
    workflow = create_workflow(
        server_a,
        name="Greets new contacts",
        object_type="contacts.contact",
        trigger={"type": "record_created"},
        conditions={"field": "last_name", "op": "eq", "value": "Greeted"},
        steps=[{"id": "tell", "type": "notify", "config": {"recipient": "owner", "title": "Hi"}}],
    )
    runs_of = "SELECT count(*) FROM automation_workflowrun WHERE workflow_id = %s"
    for server in (server_b, server_a, server_b):
        create_contact(server, "Greeted")
    assert cluster.scalar(runs_of, [workflow["id"]]) == 3
    # Deactivated on B: A's next save no longer starts it.
    off = server_b.send("POST", f"/api/v1/automation/workflows/{workflow['id']}/deactivate")
    assert off.status_code == 200, off.text[:500]
    create_contact(server_a, "Greeted")
    assert cluster.scalar(runs_of, [workflow["id"]]) == 3


def test_scheduled_work_runs_once_per_period_not_once_per_worker(cluster: Cluster) -> None:
    scheduler = cluster.procs["scheduler"]
    sent = "Sending due task automation-tick"
    received = r"Task automation\.tick\[(.*?)\] received"

    def received_ids() -> list[str]:
        lines = cluster.worker_log_lines(received)
        return [re.search(received, line).group(1) for line in lines]  # type: ignore[union-attr]

    sends_before = scheduler.output().count(sent)
    seen_before = set(received_ids())
    wait_for(
        lambda: scheduler.output().count(sent) >= sends_before + 4,
        timeout=60,
        what="the scheduler to send automation.tick four more times",
    )
    # Let the last one reach whichever worker takes it.
    time.sleep(TICK_SECONDS)
    sends = scheduler.output().count(sent) - sends_before
    # A tick a worker had reserved when an earlier test killed it is delivered again once the
    # broker's visibility timeout passes (at-least-once, and the tick is idempotent): such
    # redeliveries carry an id seen before, so only the messages first seen now are counted.
    new_ids = Counter(task_id for task_id in received_ids() if task_id not in seen_before)
    # Each period's message ran once, on one of the two workers: never once per worker.
    assert all(count == 1 for count in new_ids.values()), new_ids
    assert sends - 1 <= len(new_ids) <= sends, (sends, new_ids)


def test_a_due_wait_is_resumed_once_although_both_workers_run_the_tick(cluster: Cluster) -> None:
    session = Browser(cluster.lb_url)
    session.login()
    contact = create_contact(session, "Waiting")
    workflow = create_workflow(
        session,
        name="Waits, then tells",
        object_type="contacts.contact",
        trigger={"type": "manual"},
        steps=[
            {"id": "pause", "type": "wait", "config": {"duration": {"days": 1}}},
            {"id": "tell", "type": "notify", "config": {"recipient": "owner", "title": "Later"}},
        ],
    )
    started = session.send(
        "POST",
        f"/api/v1/automation/workflows/{workflow['id']}/run",
        json={"object_type": "contacts.contact", "object_id": contact["id"]},
    )
    assert started.status_code == 202, started.text[:500]
    run_of = "SELECT id, status FROM automation_workflowrun WHERE workflow_id = %s"
    run_id, _status = wait_for(
        lambda: next(
            (row for row in cluster.query(run_of, [workflow["id"]]) if row[1] == "waiting"), None
        ),
        timeout=60,
        what="the run to wait",
    )
    # A day passes: the next tick (every 2 s, on either worker) resumes it, once.
    cluster.query(
        "UPDATE automation_workflowrun SET resume_at = now() - interval '1 second' WHERE id = %s",
        [run_id],
    )
    wait_for(
        lambda: (
            cluster.scalar("SELECT status FROM automation_workflowrun WHERE id = %s", [run_id])
            == "succeeded"
        ),
        timeout=60,
        what="the tick to resume the run",
    )
    time.sleep(2 * TICK_SECONDS)
    steps = cluster.query(
        "SELECT step_id, status FROM automation_steprun WHERE run_id = %s ORDER BY id", [run_id]
    )
    assert steps == [("pause", "waiting"), ("tell", "succeeded")], steps
