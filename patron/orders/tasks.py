"""Celery tasks of the orders app: thin and idempotent."""

from __future__ import annotations

from celery import shared_task

from patron.orders.quote_services import quotes_expire


@shared_task(name="orders.expire_quotes")
def expire_quotes() -> int:
    """Mark sent quotes past their validity date as expired (daily, from the scheduler)."""
    return quotes_expire()
