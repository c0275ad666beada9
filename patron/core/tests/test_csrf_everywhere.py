"""CSRF on every state-changing entry point (issue 8).

Every UI URL refuses a signed-in POST without the CSRF token, and every unsafe API
operation refuses a session without it, while a Bearer token needs none. The URLs come from
the resolver and the OpenAPI document, so a page or operation added later is covered.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from ninja.operation import PathView

from patron.contacts.models import Account
from patron.core.testing import grant
from patron.users.services import token_create
from patron.users.tests.factories import UserFactory, make_role

pytestmark = pytest.mark.django_db

UNSAFE_METHODS = ("post", "put", "patch", "delete")
# Converter -> a value that resolves; the CSRF check runs before the view looks it up.
SAMPLE_VALUES = {"int": "1", "str": "sample", "slug": "sample", "uuid": "0" * 32, "path": "x"}
_PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?\w+>")
# Views other sites post to on purpose, authorised by the secret key in their URL rather
# than by a session: the public lead capture form and its HTML snippets.
CSRF_EXEMPT_UI = {"leads:capture_public"}
# The same for the API: operations without authentication, keyed by a secret in the path.
PUBLIC_API = {("post", "/api/v1/capture/<key>"), ("post", "/api/v1/automation/hooks/<token>")}


def _ui_routes(
    patterns: list[URLPattern | URLResolver] | None = None, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, URLPattern]]:
    """(path, name, pattern) of every UI URL: the resolver's tree, API excluded."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith("api/"):
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _ui_routes(entry.url_patterns, prefix + route, inner)
        else:
            path = _PARAMETER.sub(
                lambda match: SAMPLE_VALUES[match["converter"] or "str"], prefix + route
            )
            yield "/" + path, f"{namespace}{entry.name or entry.lookup_str}", entry


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


@pytest.fixture
def signed_in() -> Client:
    """An administrator, so that no permission check could be what refuses the request."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    # The first request creates the organisation settings row the middleware reads; the
    # sweeps count rows after it.
    assert client.get("/").status_code == 200
    return client


@pytest.mark.sweep
def test_every_ui_url_refuses_a_post_without_the_csrf_token(signed_in):
    routes = list(_ui_routes())
    assert len(routes) > 100, "the resolver walk found too few URLs"
    exempt = {name for _path, name, entry in routes if getattr(entry.callback, "csrf_exempt", 0)}
    assert exempt == CSRF_EXEMPT_UI, "a view was made csrf_exempt: list it here with a reason"

    before = _row_counts()
    answered = {
        name: signed_in.post(path, {"name": "csrf-probe"}).status_code
        for path, name, _entry in routes
        if name not in CSRF_EXEMPT_UI
    }
    assert {name: status for name, status in answered.items() if status != 403} == {}
    assert _row_counts() == before


def _unsafe_api_operations() -> Iterator[tuple[str, str, bool]]:
    """(method, path, authenticated) of every unsafe API operation, read from the URL
    patterns Ninja built (the OpenAPI document would cost seconds to generate)."""
    api_root = next(
        entry
        for entry in get_resolver().url_patterns
        if isinstance(entry, URLResolver) and str(entry.pattern) == "api/v1/"
    )
    for entry in api_root.url_patterns:
        if not isinstance(entry, URLPattern):
            continue
        view = inspect.unwrap(entry.callback)
        # Ninja's view function closes over the PathView holding the path's operations.
        cells = getattr(view, "__closure__", None) or ()
        for path_view in (c.cell_contents for c in cells if isinstance(c.cell_contents, PathView)):
            for operation in path_view.operations:
                for method in operation.methods:
                    if method.lower() in UNSAFE_METHODS:
                        path = "/api/v1/" + str(entry.pattern)
                        yield method.lower(), path, bool(operation.auth_callbacks)


@pytest.mark.sweep
def test_every_unsafe_api_operation_refuses_a_session_without_the_csrf_token(signed_in):
    operations = list(_unsafe_api_operations())
    assert len(operations) > 100, "the URL patterns list too few API operations"
    public = {(method, path) for method, path, authenticated in operations if not authenticated}
    assert public == PUBLIC_API, "an API operation has no authentication: list it with a reason"

    before = _row_counts()
    refused: dict[str, Any] = {}
    for method, path, authenticated in operations:
        if not authenticated:
            continue
        response = getattr(signed_in, method)(
            _PARAMETER.sub("1", path), {"name": "csrf-probe"}, content_type="application/json"
        )
        detail = response.json().get("detail", "") if response.status_code == 403 else ""
        refused[f"{method.upper()} {path}"] = (response.status_code, "CSRF" in detail)
    assert {op: answer for op, answer in refused.items() if answer != (403, True)} == {}
    assert _row_counts() == before


def test_a_bearer_token_changes_and_deletes_without_a_csrf_token():
    role = make_role("Token writer")
    grant(role, "contacts.account", "create", "read", "update", "delete")
    user = UserFactory(role=role)
    _, secret = token_create(user=user, name="script", scopes=["contacts:write"])
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {secret}"})

    created = client.post("/api/v1/accounts", {"name": "Acme"}, content_type="application/json")
    assert created.status_code == 201
    record = created.json()
    changed = client.patch(
        f"/api/v1/accounts/{record['id']}",
        {"name": "Acme Ltd"},
        content_type="application/json",
        headers={"If-Match": created["ETag"]},
    )
    assert changed.status_code == 200, changed.content
    assert client.delete(f"/api/v1/accounts/{record['id']}").status_code == 204
    assert not Account.objects.filter(pk=record["id"]).exists()
