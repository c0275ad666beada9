"""The OpenAPI document, its docs page, custom fields in it, and the committed copy."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client

from patron.core.choices import CustomFieldType
from patron.core.models import CustomFieldDefinition

pytestmark = pytest.mark.django_db

COMMITTED = Path(settings.BASE_DIR) / "docs" / "openapi.json"


def live_document() -> dict[str, Any]:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_document_lists_the_resources_and_problem_responses():
    document = live_document()
    paths = document["paths"]
    for path in (
        "/api/v1/accounts",
        "/api/v1/accounts/{record_id}",
        "/api/v1/contacts",
        "/api/v1/contacts/{record_id}",
        "/api/v1/users/me",
        "/api/v1/users/me/tokens",
    ):
        assert path in paths, path
    problem = paths["/api/v1/accounts"]["post"]["responses"]["422"]["content"]
    assert list(problem) == ["application/problem+json"]
    parameters = {p["name"] for p in paths["/api/v1/accounts"]["get"]["parameters"]}
    assert {"limit", "cursor", "sort", "q", "kind", "owner", "industry"} <= parameters
    post_parameters = {p["name"] for p in paths["/api/v1/accounts"]["post"]["parameters"]}
    assert "Idempotency-Key" in post_parameters
    assert document["components"]["schemas"]["AccountInput"]["additionalProperties"] is False


def test_custom_fields_appear_in_the_document():
    empty = live_document()["components"]["schemas"]["AccountOut"]["properties"]["custom"]
    assert empty["properties"] == {}
    CustomFieldDefinition.objects.create(
        object_type="contacts.account",
        key="segment",
        label="Segment",
        field_type=CustomFieldType.CHOICE,
        choices=["smb", "enterprise"],
        required=True,
    )
    CustomFieldDefinition.objects.create(
        object_type="contacts.contact",
        key="shoe_size",
        label="Shoe size",
        field_type=CustomFieldType.NUMBER,
    )
    CustomFieldDefinition.objects.create(
        object_type="contacts.account",
        key="retired",
        label="Retired",
        field_type=CustomFieldType.TEXT,
        active=False,
    )
    schemas = live_document()["components"]["schemas"]
    account_custom = schemas["AccountOut"]["properties"]["custom"]["properties"]
    assert list(account_custom) == ["segment"]
    assert account_custom["segment"]["enum"] == ["smb", "enterprise"]
    assert account_custom["segment"]["title"] == "Segment"
    assert list(schemas["AccountInput"]["properties"]["custom"]["properties"]) == ["segment"]
    assert list(schemas["ContactOut"]["properties"]["custom"]["properties"]) == ["shoe_size"]


def test_docs_page_is_served_from_local_files():
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    assert Client().get("/static/ninja/swagger-ui-bundle.js").status_code == 200


def test_committed_document_matches_the_code():
    """Fails when the API changed without regenerating docs/openapi.json (see docs/api.md)."""
    call_command("openapi_schema", "--check", str(COMMITTED), stdout=io.StringIO())


def test_committed_document_leaves_custom_fields_out_even_when_defined():
    CustomFieldDefinition.objects.create(
        object_type="contacts.account",
        key="segment",
        label="Segment",
        field_type=CustomFieldType.TEXT,
    )
    call_command("openapi_schema", "--check", str(COMMITTED), stdout=io.StringIO())
    out = io.StringIO()
    call_command("openapi_schema", "--with-custom-fields", stdout=out)
    custom = json.loads(out.getvalue())["components"]["schemas"]["AccountOut"]["properties"]
    assert list(custom["custom"]["properties"]) == ["segment"]


def test_check_fails_with_a_clear_message_when_the_copy_differs(tmp_path):
    stale = tmp_path / "openapi.json"
    document = json.loads(COMMITTED.read_text())
    document["info"]["title"] = "Something else"
    stale.write_text(json.dumps(document, sort_keys=True, indent=2) + "\n")
    with pytest.raises(CommandError) as excinfo:
        call_command("openapi_schema", "--check", str(stale), stdout=io.StringIO())
    message = str(excinfo.value)
    assert "out of date" in message
    assert "openapi_schema --output" in message
    assert "Something else" in message


def test_check_of_a_missing_file_says_how_to_create_it(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("openapi_schema", "--check", str(tmp_path / "nope.json"))


def test_output_is_sorted_with_indent_two(tmp_path):
    target = tmp_path / "out.json"
    call_command("openapi_schema", "--output", str(target), stdout=io.StringIO())
    text = target.read_text()
    document = json.loads(text)
    assert text == json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert document["openapi"].startswith("3.1")
