"""The whole /api/v1/ surface fuzzed with schemathesis (issue 8).

Every operation of the live OpenAPI document gets a few generated requests, valid ones
(positive) and ones that break the document (negative), sent in-process through Django's
WSGI handler as an administrator whose token has every scope. No answer may be a server
error, and every answer must be documented: its status, its content type (problem+json for
errors) and its body's schema.

Bounded so it runs in the normal suite: a few examples per operation, derandomized (the same
requests on every run), no shrinking. Path ids are drawn partly from seeded records so that
detail, update and delete operations reach real rows, not only 404s.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from patron.activities.services import activity_create
from patron.contacts.competitor_services import competitor_create
from patron.contacts.services import account_create, contact_create
from patron.core.api.testing import assert_problem
from patron.leads.services import lead_create
from patron.orders.services import product_create
from patron.pipeline.services import opportunity_create
from patron.pipeline.tests.conftest import make_pipeline
from patron.users.models import ApiToken, User
from patron.users.services import token_create, user_create, valid_scopes

pytestmark = pytest.mark.django_db

# Valid requests cost the most (they reach the handlers and write): three per operation
# still reach each one with varied input. The negative ones find the 500s (overflowing ids,
# malformed bodies) and stay at two.
EXAMPLES = {GenerationMode.POSITIVE: 3, GenerationMode.NEGATIVE: 2}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _seed(admin: User) -> list[int]:
    """A few records of each main kind; their ids are what path parameters draw from."""
    close = datetime.date.today() + datetime.timedelta(days=30)
    pipeline = make_pipeline()
    parent = account_create(user=admin, name="Fuzz Holdings", industry="technology")
    account = account_create(user=admin, name="Fuzz Ltd", parent=parent)
    contact = contact_create(
        user=admin, first_name="Ada", last_name="Fuzz", email="ada@fuzz.example", account=account
    )
    contact_create(user=admin, first_name="Bob", last_name="Fuzz", account=account)
    task = activity_create(
        user=admin,
        kind="task",
        subject="Call Ada",
        links=[{"object_type": "contacts.contact", "id": contact.pk}],
    )
    activity_create(
        user=admin,
        kind="note",
        description="Met at the fair",
        links=[{"object_type": "contacts.account", "id": account.pk}],
    )
    lead = lead_create(user=admin, data={"last_name": "Lee", "company": "Northwind"})
    deal = opportunity_create(
        user=admin, name="Rockets", account=account, close_date=close, amount="1000"
    )
    competitor = competitor_create(user=admin, name="Rival Inc")
    product = product_create(user=admin, sku="FZ-1", name="Widget")
    ids = {1, 2, 3}
    for record in (parent, account, contact, task, lead, pipeline, deal, competitor, product):
        ids.add(record.pk)
    return sorted(ids)


@pytest.fixture
def in_process_app() -> Iterator[WSGIHandler]:
    """Django's WSGI handler, kept inside the test's transaction (as the test client does,
    the connection is not closed at the end of each request)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _with_seeded_ids(case: Any, draw: Any, ids: list[int]) -> None:
    for name, value in (case.path_parameters or {}).items():
        if isinstance(value, int) and not isinstance(value, bool):
            case.path_parameters[name] = draw(st.sampled_from([*ids, value]))


def _fuzz(operation: Any, mode: GenerationMode, *, headers: dict[str, str], ids: list[int]):
    @hypothesis.settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case: Any, data: Any) -> None:
        _with_seeded_ids(case, data.draw, ids)
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)

    return run


@pytest.mark.sweep
def test_every_operation_answers_within_its_documented_responses(in_process_app, caplog):
    admin = user_create(email="fuzz-admin@example.com", password=None, is_superuser=True)
    token, secret = token_create(user=admin, name="fuzz", scopes=sorted(valid_scopes()))
    ids = _seed(admin)
    headers = {"Authorization": f"Bearer {secret}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", in_process_app)
    caplog.set_level(logging.CRITICAL, logger="django.request")
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises
        operations += 1
        for mode in EXAMPLES:
            try:
                _fuzz(operation, mode, headers=headers, ids=ids)()
            except Unsatisfiable:
                # Nothing breaks the document here (e.g. only a free-text path segment).
                pass
            except (Exception, BaseExceptionGroup) as error:
                failures[f"{operation.label} ({mode.value})"] = str(error)[:2000]
            # Fuzzed writes may revoke the token or demote its user; later operations need
            # both as they were.
            ApiToken.objects.filter(pk=token.pk).update(revoked_at=None, expires_at=None)
            User.objects.filter(pk=admin.pk).update(is_active=True, is_superuser=True)
    assert operations > 300
    assert not failures, "\n\n".join(f"== {label}\n{text}" for label, text in failures.items())


# --- what the fuzzing found, fixed in the API machinery -------------------------------------


@pytest.fixture
def admin_client():
    admin = user_create(email="api-admin@example.com", password=None, is_superuser=True)
    _, secret = token_create(user=admin, name="t", scopes=sorted(valid_scopes()))
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _document(client: Client) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/api/v1/openapi.json").json()
    return document


def test_schemas_sharing_a_class_name_get_their_app_as_prefix(admin_client):
    # users.api.TokenOut and automation.api.TokenOut were one component, so the token list
    # was documented with the inbound hook's fields.
    document = _document(admin_client)
    schemas = document["components"]["schemas"]
    assert "TokenOut" not in schemas
    assert "prefix" in schemas["UsersTokenOut"]["properties"]
    assert "inbound_url" in schemas["AutomationTokenOut"]["properties"]
    listed = document["paths"]["/api/v1/users/me/tokens"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"]["$ref"].endswith("Page_UsersTokenOut_")
    # A name only one class has stays as it is.
    assert "AccountInput" in schemas


def test_operations_document_the_errors_the_machinery_answers(admin_client):
    paths = _document(admin_client)["paths"]
    detail = paths["/api/v1/automation/workflows/{workflow_id}"]["get"]["responses"]
    assert {"404", "422"} <= set(detail)
    assert "application/problem+json" in detail["422"]["content"]
    create = paths["/api/v1/accounts"]["post"]["responses"]
    assert {"400", "413", "422"} <= set(create)


def test_a_body_integer_beyond_64_bits_is_refused_naming_the_field(admin_client):
    # Was a 500: the id reached the database (OverflowError on SQLite, psycopg on PG).
    response = admin_client.post(
        "/api/v1/routing/queues",
        '{"name": "Overflow", "members": [1, 18446744073709551616]}',
        content_type="application/json",
    )
    assert_problem(response, 422, "members.1")


def test_a_path_id_beyond_64_bits_is_not_found(admin_client):
    response = admin_client.get("/api/v1/accounts/99999999999999999999")
    assert_problem(response, 404)
