"""Fixtures of the leads tests: the sales roles may do everything with leads (org-wide
default private), so visibility comes from ownership, the role hierarchy and queues."""

from __future__ import annotations

from typing import Any

import pytest

from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default

LEAD_TYPES = (
    "leads.lead",
    "contacts.account",
    "contacts.contact",
    "pipeline.opportunity",
    "activities.activity",
)
ALL_ACTIONS = ("create", "read", "update", "delete", "export", "import")


@pytest.fixture
def lead_roles(sales_roles: dict[str, Any]) -> dict[str, Any]:
    for role in sales_roles.values():
        for object_type in LEAD_TYPES:
            grant(role, object_type, *ALL_ACTIONS)
    for object_type in LEAD_TYPES:
        set_org_default(object_type, OrgWideAccess.PRIVATE)
    return sales_roles
