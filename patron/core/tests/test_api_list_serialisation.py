"""API list pages are rendered from the model's values without validation (issue 8): for
every record resource, each field the list sends must come out exactly as validating it
through the documented schema would."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import models
from django.test import Client
from django.urls import get_resolver
from ninja.responses import NinjaJSONEncoder

from patron.contacts.models import Contact
from patron.contacts.services import contact_create
from patron.core.api.records import record_columns, record_data, row_data, row_values
from patron.core.api.resources import RecordResource, record_resources, renders_as_is
from patron.users.services import token_create

SAMPLES: dict[str, Any] = {
    "CharField": "x",
    "TextField": "x",
    "EmailField": "x@example.com",
    "URLField": "https://example.com",
    "SlugField": "x",
    "IntegerField": 7,
    "BigIntegerField": 7,
    "SmallIntegerField": 7,
    "PositiveIntegerField": 7,
    "PositiveSmallIntegerField": 7,
    "PositiveBigIntegerField": 7,
    "AutoField": 7,
    "BigAutoField": 7,
    "BooleanField": True,
    "DateTimeField": datetime.datetime(2026, 11, 23, 9, 30, tzinfo=datetime.UTC),
    "DateField": datetime.date(2026, 11, 23),
    "DecimalField": Decimal("12.50"),
    "JSONField": {"key": "value"},
}


def _sample(field: models.Field[Any, Any]) -> Any:
    if field.choices:
        return field.flatchoices[0][0]
    if isinstance(field, models.ForeignKey):
        return 7
    return SAMPLES[field.get_internal_type()]


def _row(resource: RecordResource) -> dict[str, Any]:
    row: dict[str, Any] = {"id": 7, "version": 3, "custom": {"tier": "gold"}}
    for name in resource.fields:
        field = resource.model._meta.get_field(name)
        assert isinstance(field, models.Field)
        row[name] = _sample(field)
    return row


def _as_is_resource_ids() -> list[str]:
    """The resources whose lists skip Ninja's validation (the others are validated by it)."""
    get_resolver().url_patterns  # noqa: B018 - loading the URLconf builds every resource
    return [resource.prefix for resource in record_resources() if renders_as_is(resource)]


def _rendered(data: Any) -> Any:
    return json.loads(json.dumps(data, cls=NinjaJSONEncoder))


@pytest.mark.parametrize("prefix", _as_is_resource_ids())
def test_every_list_rendered_as_is_renders_as_its_schema_would_validate_it(prefix):
    resource = next(r for r in record_resources() if r.prefix == prefix)
    row = _row(resource)
    validated = resource.out_schema.model_validate(row).model_dump(exclude_unset=True)
    assert _rendered(row) == _rendered(validated)


def test_the_benchmarked_lists_render_as_is_and_activities_do_not():
    as_is = {r.prefix: renders_as_is(r) for r in record_resources()}
    assert {prefix for prefix, fast in as_is.items() if fast} >= {"/contacts", "/leads"}
    assert not as_is["/activities"]


@pytest.mark.django_db
def test_a_listed_contact_equals_the_same_contact_read_alone(rep):
    contact = contact_create(
        user=rep,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        social={"github": "ada"},
    )
    _, secret = token_create(user=rep, name="test", scopes=["contacts:read"])
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    listed = client.get("/api/v1/contacts").json()
    assert listed["items"] == [client.get(f"/api/v1/contacts/{contact.pk}").json()]
    assert listed["next_cursor"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("hidden", [frozenset(), frozenset({"birthdate", "custom.secret"})])
def test_a_list_row_read_as_values_is_what_record_data_makes_of_the_record(rep, hidden):
    contact = contact_create(user=rep, first_name="Ada", last_name="Lovelace")
    Contact.objects.filter(pk=contact.pk).update(
        birthdate=datetime.date(1815, 12, 10), custom={"tier": "gold", "secret": "x"}
    )
    resource = next(r for r in record_resources() if r.prefix == "/contacts")
    row = Contact.objects.filter(pk=contact.pk).values(*row_values(Contact, resource.fields)).get()
    columns = record_columns(Contact, resource.fields)
    expected = record_data(Contact.objects.get(pk=contact.pk), resource.fields, hidden)
    assert row_data(row, columns, hidden) == expected
    assert ("birthdate" in expected) is not ("birthdate" in hidden)
