"""Pools, members, queues, assignment rules and the assignment log."""

from ninja import Router

router = Router(tags=["Routing"])
