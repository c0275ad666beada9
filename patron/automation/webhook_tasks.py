"""Webhook tasks. Thin: an id in, one service call; a delivered webhook is never sent twice."""

from __future__ import annotations

from celery import shared_task

from patron.automation import webhook_services


@shared_task(name="automation.webhook_deliver")
def deliver(delivery_id: int) -> None:
    """Send one delivery (skipped when it already succeeded or is not due)."""
    webhook_services.deliver(delivery_id)


@shared_task(name="automation.webhook_send_due")
def send_due() -> None:
    """Every minute: send the deliveries whose retry time has come."""
    webhook_services.send_due()
