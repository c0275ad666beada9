"""Approval processes, requests, decisions and recall."""

from ninja import Router

router = Router(tags=["Approvals"])
