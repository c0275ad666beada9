"""Pipeline tasks. Tasks are thin: one service call, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from patron.pipeline.forecasts import snapshot_take


@shared_task(name="pipeline.snapshot_opportunities")
def snapshot_opportunities() -> int:
    """The weekly forecast snapshot (week-over-week); a second run in a week adds nothing."""
    return snapshot_take()
