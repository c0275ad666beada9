"""Every error under /api/v1/ is an RFC 9457 problem document, and bad input is never a 500."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from patron.contacts.models import Account
from patron.core.api.problems import field_path
from patron.core.api.testing import assert_problem
from patron.users.services import token_create

pytestmark = pytest.mark.django_db

JSON = "application/json"


@pytest.fixture
def api(rep):
    _, secret = token_create(user=rep, name="t", scopes=["contacts:write", "users:write"])
    return Client(headers={"Authorization": f"Bearer {secret}"})


def test_malformed_json_is_400_saying_where(api):
    body = assert_problem(
        api.post("/api/v1/accounts", '{"name": "Acme",', content_type=JSON), 400, "body"
    )
    assert "line 1" in body["detail"]
    assert not Account.objects.exists()


def test_body_that_is_not_an_object_is_refused(api):
    assert_problem(api.post("/api/v1/accounts", "[1, 2]", content_type=JSON), 422)
    assert_problem(api.post("/api/v1/accounts", "", content_type=JSON), 422, "body")


def test_wrong_types_are_422_naming_each_field(api):
    response = api.post(
        "/api/v1/accounts",
        {"name": ["not", "text"], "employee_count": "many", "custom": "flat"},
        content_type=JSON,
    )
    body = assert_problem(response, 422, "name", "employee_count", "custom")
    assert body["type"] == "urn:patron:problem:validation-failed"


def test_unknown_fields_are_422_naming_the_field(api):
    response = api.post("/api/v1/accounts", {"name": "A", "colour": "red"}, content_type=JSON)
    body = assert_problem(response, 422, "colour")
    assert "Unknown field" in body["errors"]["colour"][0]
    assert not Account.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_oversized_body_is_413(api):
    response = api.post(
        "/api/v1/accounts", {"name": "A", "description": "x" * 5000}, content_type=JSON
    )
    assert_problem(response, 413, "body")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_oversized_body_with_idempotency_key_is_413(api):
    response = api.post(
        "/api/v1/accounts",
        {"name": "A", "description": "x" * 5000},
        content_type=JSON,
        headers={"Idempotency-Key": "big"},
    )
    assert_problem(response, 413, "body")


def test_nul_characters_are_refused_naming_the_field(api):
    response = api.post("/api/v1/accounts", '{"name": "A\\u0000"}', content_type=JSON)
    assert_problem(response, 422, "name")
    response = api.post(
        "/api/v1/accounts", '{"name": "A", "custom": {"k": ["ok", "\\u0000"]}}', content_type=JSON
    )
    assert_problem(response, 422, "custom.k.1")
    assert not Account.objects.exists()


def test_numbers_beyond_64_bits_in_filters_name_the_parameter(api):
    assert_problem(api.get("/api/v1/accounts?parent=99999999999999999999999"), 422, "parent")


def test_unknown_path_and_method_are_problems(api):
    body = assert_problem(api.get("/api/v1/no-such-thing"), 404)
    assert body["instance"] == "/api/v1/no-such-thing"
    response = api.put("/api/v1/accounts", {}, content_type=JSON)
    assert_problem(response, 405)
    assert "GET" in response["Allow"]


def test_path_with_non_integer_id_is_a_404_problem(api):
    assert_problem(api.get("/api/v1/accounts/abc"), 404)


def test_trailing_slash_is_optional(api):
    assert api.get("/api/v1/accounts/").status_code == 200
    assert api.get("/api/v1/users/me/").status_code == 200


def test_unexpected_error_is_a_500_problem_without_internals(api, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("patron.core.api.resources.keyset_page", explode)
    response = api.get("/api/v1/accounts")
    body = assert_problem(response, 500)
    assert "secret" not in response.content.decode()
    assert "Traceback" not in body["detail"]


@pytest.mark.parametrize(
    ("loc", "name"),
    [
        (("body", "payload", "custom", "tier"), "custom.tier"),
        (("body", "payload"), "body"),
        (("query", "limit"), "limit"),
        (("header", "If-Match"), "If-Match"),
        (("body", "payload", "tags", 0), "tags.0"),
    ],
)
def test_error_locations_become_field_paths(loc, name):
    assert field_path(loc) == name


BAD_INPUTS = [
    ("post", "/api/v1/accounts", "{", JSON),
    ("post", "/api/v1/accounts", '{"name": 5}', JSON),
    ("post", "/api/v1/accounts", '{"name": "A", "extra": 1}', JSON),
    ("post", "/api/v1/accounts", '{"name": "A", "annual_revenue": "lots"}', JSON),
    ("post", "/api/v1/accounts", '{"name": "A", "parent": 999999}', JSON),
    ("post", "/api/v1/accounts", '{"name": "A", "owner": -1}', JSON),
    ("post", "/api/v1/accounts", '{"name": "A", "custom": {"nope": 1}}', JSON),
    ("post", "/api/v1/accounts", "name=A", "application/x-www-form-urlencoded"),
    ("post", "/api/v1/contacts", '{"last_name": "L", "birthdate": "31/02/2020"}', JSON),
    ("post", "/api/v1/contacts", '{"last_name": "L", "social": ["x"]}', JSON),
    ("post", "/api/v1/contacts", '{"last_name": "L", "do_not_call": null}', JSON),
    ("post", "/api/v1/contacts", '{"last_name": "L", "phone": "call me"}', JSON),
    ("post", "/api/v1/users/me/tokens", '{"name": "x", "scopes": ["everything"]}', JSON),
    ("post", "/api/v1/users/me/tokens", '{"name": "x", "scopes": "contacts:read"}', JSON),
    ("post", "/api/v1/contacts", '{"last_name": "L", "custom": {"a\\u0000": 1}}', JSON),
    ("get", "/api/v1/accounts/99999999999999999999999", None, None),
    ("get", "/api/v1/accounts?parent=99999999999999999999999", None, None),
    ("get", "/api/v1/contacts?account=-99999999999999999999999", None, None),
    ("get", "/api/v1/accounts?cursor=%%%", None, None),
    ("get", "/api/v1/accounts?limit=-1", None, None),
    ("get", "/api/v1/accounts?owner=abc", None, None),
    ("get", "/api/v1/contacts?created_before=2020-13-01", None, None),
]


@pytest.mark.parametrize(("method", "url", "data", "content_type"), BAD_INPUTS)
def test_bad_input_is_a_4xx_problem_never_a_500(api, method, url, data, content_type):
    if method == "get":
        response = api.get(url)
    else:
        response = getattr(api, method)(url, data, content_type=content_type)
    assert 400 <= response.status_code < 500, (response.status_code, response.content)
    assert_problem(response, response.status_code)
