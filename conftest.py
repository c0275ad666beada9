"""Fixtures shared by every app's tests."""

from __future__ import annotations

import pytest

from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default
from patron.users.tests.factories import UserFactory, make_role

ALL_ACTIONS = ("create", "read", "update", "delete", "export", "import")


@pytest.fixture
def admin_user(db):
    return UserFactory(is_superuser=True, is_staff=True, email="admin@example.com")


@pytest.fixture
def sales_roles(db):
    """A small hierarchy: VP > Manager > Rep, each allowed everything on accounts/contacts."""
    vp = make_role("VP Sales")
    manager = make_role("Sales Manager", parent=vp)
    rep = make_role("Sales Rep", parent=manager)
    for role in (vp, manager, rep):
        for object_type in ("contacts.account", "contacts.contact"):
            grant(role, object_type, *ALL_ACTIONS)
    for object_type in ("contacts.account", "contacts.contact"):
        set_org_default(object_type, OrgWideAccess.PRIVATE)
    return {"vp": vp, "manager": manager, "rep": rep}


@pytest.fixture
def rep(sales_roles):
    return UserFactory(role=sales_roles["rep"], email="rep@example.com", full_name="Rita Rep")


@pytest.fixture
def other_rep(sales_roles):
    return UserFactory(role=sales_roles["rep"], email="other@example.com", full_name="Otto Other")


@pytest.fixture
def manager(sales_roles):
    return UserFactory(
        role=sales_roles["manager"], email="manager@example.com", full_name="Mia Manager"
    )
