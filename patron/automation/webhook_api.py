"""Outbound webhook subscriptions, deliveries and tests."""

from ninja import Router

router = Router(tags=["Webhooks"])
