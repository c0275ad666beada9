"""Inbound webhook triggers: a workflow's secret URL starts it."""

from ninja import Router

router = Router(tags=["Automation"])
