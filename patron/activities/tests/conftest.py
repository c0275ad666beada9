from __future__ import annotations

import pytest

from conftest import ALL_ACTIONS
from patron.contacts.services import account_create
from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default


@pytest.fixture
def activity_roles(sales_roles):
    """The sales hierarchy, also allowed everything on activities (private by default)."""
    for role in sales_roles.values():
        grant(role, "activities.activity", *ALL_ACTIONS)
    set_org_default("activities.activity", OrgWideAccess.PRIVATE)
    return sales_roles


@pytest.fixture
def acme(rep, activity_roles):
    return account_create(user=rep, name="Acme Corporation")
