"""Routing tasks. Thin: ids in, one service call, safe to run twice (each waiting item is
locked with SKIP LOCKED and assigned at most once)."""

from __future__ import annotations

from celery import shared_task

from patron.routing.models import Pool
from patron.routing.services import assign_waiting_items


@shared_task(name="routing.assign_waiting")
def assign_waiting(pool_id: int | None = None) -> int:
    """Assign waiting items (of one pool, or all): the scheduler runs it every minute, and
    the services enqueue it when someone becomes available or capacity is freed."""
    pool = Pool.objects.filter(pk=pool_id).first() if pool_id is not None else None
    if pool_id is not None and pool is None:
        return 0
    return assign_waiting_items(pool=pool)
