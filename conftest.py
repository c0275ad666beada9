"""Fixtures shared by every app's tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_django import DjangoDbBlocker
from pytest_django.fixtures import _disable_migrations, _get_databases_for_setup
from pytest_django.plugin import blocking_manager_key

from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default
from patron.users.tests.factories import UserFactory, make_role

ALL_ACTIONS = ("create", "read", "update", "delete", "export", "import")


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: DjangoDbBlocker,
    django_db_use_migrations: bool,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """pytest-django's fixture, except that each test database is a clone of the run's
    migrated template (tests/db_templates.py) instead of migrated by every xdist worker.
    --reuse-db and --no-migrations build the database as pytest-django does."""
    from django.test.utils import setup_databases, teardown_databases

    from tests.db_templates import setup_cloned_databases

    verbosity = request.config.option.verbose
    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    keepdb = django_db_keepdb and not django_db_createdb
    with django_db_blocker.unblock():
        if keepdb or not django_db_use_migrations:
            if not django_db_use_migrations:
                _disable_migrations()
            created = setup_databases(
                verbosity=verbosity,
                interactive=False,
                aliases=aliases,
                serialized_aliases=serialized_aliases,
                keepdb=keepdb,
            )
        else:
            created = setup_cloned_databases(aliases, serialized_aliases, verbosity)
    yield
    if not keepdb:
        with django_db_blocker.unblock():
            teardown_databases(created, verbosity=verbosity)


@pytest.fixture(autouse=True)
def _forget_compiled_visibility() -> Iterator[None]:
    """Visibility and search keep compiled SQL per process under the access profile's
    content; a test that replaces a visibility rule must not hand its SQL to the next test."""
    from patron.core.search import forget_compiled_visibility
    from patron.core.visibility import forget_compiled_conditions

    yield
    forget_compiled_visibility()
    forget_compiled_conditions()


@pytest.fixture
def rule_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The object types whose visibility predicates were built from the rules, in order."""
    from patron.core import visibility

    calls: list[str] = []
    build = visibility._compile

    def counting(model: Any, profile: Any, action: str) -> Any:
        calls.append(model._meta.label_lower)
        return build(model, profile, action)

    monkeypatch.setattr(visibility, "_compile", counting)
    return calls


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The run's PostgreSQL template goes when the run ends: in the xdist controller, or in
    the only process without xdist (after the session fixtures' teardown)."""
    if hasattr(session.config, "workerinput") or blocking_manager_key not in session.config.stash:
        return
    if not _get_databases_for_setup(session.items)[0]:
        return
    from django.conf import settings
    from django.db import connections

    from tests.db_templates import drop_template

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        with session.config.stash[blocking_manager_key].unblock():
            drop_template(connections["default"])


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
