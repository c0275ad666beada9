"""Lead records, conversion and capture-form administration."""

from ninja import Router

router = Router(tags=["Leads"])
