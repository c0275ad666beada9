"""Automation tasks. Thin: ids in, one engine call, safe to run twice (runs are claimed)."""

from __future__ import annotations

from celery import shared_task

from patron.automation import engine


@shared_task(name="automation.execute_runs")
def execute_runs(run_ids: list[int]) -> None:
    """Execute the runs one event (or one scan) started."""
    for run_id in run_ids:
        engine.execute_run(run_id)


@shared_task(name="automation.tick")
def tick() -> None:
    """Every minute: take back runs a dead worker left running, resume due waits and step
    retries, fire due schedules, and start date-relative runs whose date has come."""
    engine.reclaim_stale()
    engine.resume_due()
    engine.fire_schedules()
    engine.scan_date_triggers()
