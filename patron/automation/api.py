"""Workflows: definitions, versions, test mode, runs and the trigger and step catalogue."""

from ninja import Router

router = Router(tags=["Automation"])
