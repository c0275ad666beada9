"""Condition trees, cron parsing and the definition validator: clear errors at save time,
in-memory evaluation at run time."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from patron.automation import conditions, services
from patron.automation.models import Workflow
from patron.automation.schedule import CronError, parse_cron
from patron.core.exceptions import PermissionDenied, ValidationFailed

pytestmark = pytest.mark.django_db

OPP = "pipeline.opportunity"


def test_operators_per_field_type(deal: Any, stages: Any) -> None:
    cases = [
        ({"field": "amount", "op": "gt", "value": 999}, True),
        ({"field": "amount", "op": "lte", "value": "999.99"}, False),
        ({"field": "name", "op": "contains", "value": "ock"}, True),
        ({"field": "name", "op": "starts_with", "value": "roc"}, True),
        ({"field": "description", "op": "is_empty"}, True),
        ({"field": "close_date", "op": "lt", "value": "2027-04-01"}, True),
        ({"field": "stage", "op": "in", "value": [stages["Prospecting"].pk]}, True),
        ({"field": "stage", "op": "not_in", "value": [stages["Prospecting"].pk]}, False),
        ({"field": "account.name", "op": "eq", "value": "Acme Corporation"}, True),
        ({"field": "owner.email", "op": "eq", "value": "rep@example.com"}, True),
    ]
    for tree, expected in cases:
        assert conditions.validate_conditions(tree, OPP) == {}, tree
        assert conditions.evaluate(tree, deal, {}) is expected, tree


def test_all_any_not_combine(deal: Any) -> None:
    big = {"field": "amount", "op": "gt", "value": 5000}
    named = {"field": "name", "op": "eq", "value": "Rockets"}
    assert conditions.evaluate({"any": [big, named]}, deal, {})
    assert not conditions.evaluate({"all": [big, named]}, deal, {})
    assert conditions.evaluate({"not": big}, deal, {})
    assert conditions.evaluate({}, deal, {})


def test_changed_from_and_to_read_the_events_changes(deal: Any, stages: Any) -> None:
    old, new = stages["Prospecting"].pk, stages["Negotiation"].pk
    changes = {"stage": [old, new], "amount": ["1000.00", "60000.00"]}
    assert conditions.evaluate({"field": "stage", "op": "changed"}, deal, changes)
    assert conditions.evaluate({"field": "stage", "op": "changed_to", "value": new}, deal, changes)
    assert conditions.evaluate(
        {"field": "stage", "op": "changed_from", "value": old}, deal, changes
    )
    assert not conditions.evaluate({"field": "name", "op": "changed"}, deal, changes)
    assert conditions.evaluate(
        {"field": "amount", "op": "changed_to", "value": 60000}, deal, changes
    )


@pytest.mark.parametrize(
    ("tree", "path", "words"),
    [
        ({"field": "nope", "op": "eq", "value": 1}, "conditions.field", "Unknown field 'nope'"),
        ({"field": "amount", "op": "contains", "value": 1}, "conditions.op", "does not apply"),
        ({"field": "amount", "op": "gt", "value": "lots"}, "conditions.value", "not a number"),
        ({"field": "close_date", "op": "gt", "value": "soon"}, "conditions.value", "not a date"),
        ({"all": []}, "conditions.all", "non-empty list"),
        ({"all": [{"field": "amount"}]}, "conditions.all[0].op", "does not apply"),
        ({"any": [{}, 3]}, "conditions.any[1]", "A condition is an object"),
        ({"field": "amount", "op": "in", "value": 5}, "conditions.value", "non-empty list"),
        ({"field": "account.name", "op": "changed"}, "conditions.op", "own fields only"),
        ({"field": "amount", "op": "eq"}, "conditions.value", "Give a value"),
        ({"field": "a.b.c", "op": "eq", "value": 1}, "conditions.field", "Unknown field"),
    ],
)
def test_invalid_condition_trees_are_refused_with_the_path(
    db: Any, tree: Any, path: str, words: str
) -> None:
    errors = conditions.validate_conditions(tree, OPP)
    assert words in errors[path], errors


def test_describe_fields_lists_own_custom_and_related_fields(db: Any) -> None:
    from patron.core.models import CustomFieldDefinition

    CustomFieldDefinition.objects.create(
        object_type=OPP, key="region", label="Region", field_type="choice", choices=["EU", "US"]
    )
    found = {spec.name: spec for spec in conditions.describe_fields(OPP)}
    assert found["amount"].type == "number"
    assert found["stage"].type == "fk"
    assert found["close_date"].type == "date"
    assert found["custom.region"].choices == (("EU", "EU"), ("US", "US"))
    assert found["account.industry"].type == "text"
    assert found["owner.email"].label == "Owner > Email"
    assert "gt" in found["amount"].as_dict()["operators"]


def test_custom_field_values_compare(deal: Any) -> None:
    deal.custom = {"region": "EU", "score": 7}
    assert conditions.evaluate({"field": "custom.region", "op": "eq", "value": "EU"}, deal, {})
    assert conditions.evaluate({"field": "custom.score", "op": "gte", "value": 7}, deal, {})


def test_cron_parsing_and_next_slot() -> None:
    cron = parse_cron("*/15 8-9 * * mon-fri")
    friday = datetime.datetime(2026, 11, 20, 9, 50, tzinfo=datetime.UTC)
    assert cron.next_after(friday) == datetime.datetime(2026, 11, 23, 8, 0, tzinfo=datetime.UTC)
    assert parse_cron("0 0 1 jan *").next_after(friday).date() == datetime.date(2027, 1, 1)
    for bad, words in [
        ("* * *", "five fields"),
        ("61 * * * *", "outside 0-59"),
        ("* * 30 feb *", "never fires"),
        ("*/0 * * * *", "positive"),
        ("5-1 * * * *", "backwards"),
        ("x * * * *", "not a number"),
    ]:
        with pytest.raises(CronError, match=words):
            parse_cron(bad)


def _definition(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Check",
        "object_type": OPP,
        "trigger": {"type": "record_updated"},
        "conditions": {},
        "steps": [{"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "x"}}],
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "path", "words"),
    [
        (
            {
                "steps": [
                    {"id": "a", "type": "notify", "config": {"recipient": "owner", "title": "x"}},
                    {"id": "b", "type": "notify", "config": {"recipient": "owner", "title": "x"}},
                    {
                        "id": "c",
                        "type": "send_email",
                        "config": {"to": "owner", "subject": "{{ record.foo }}", "body": "x"},
                    },
                ]
            },
            "steps[2].config.subject",
            "unknown merge field record.foo",
        ),
        (
            {
                "steps": [
                    {
                        "id": "t",
                        "type": "notify",
                        "config": {"recipient": "owner", "title": "{% load x %}"},
                    }
                ]
            },
            "steps[0].config.title",
            "",
        ),
        (
            {"trigger": {"type": "schedule", "cron": "every day"}, "object_type": ""},
            "trigger.cron",
            "five fields",
        ),
        ({"trigger": {"type": "nope"}}, "trigger.type", "Choose a trigger type"),
        (
            {"trigger": {"type": "field_changed", "field": "colour"}},
            "trigger.field",
            "Unknown field",
        ),
        (
            {"trigger": {"type": "event", "event": "lead.converted"}},
            "trigger.event",
            "is about leads.lead",
        ),
        (
            {"conditions": {"field": "amount", "op": "gt", "value": "x"}},
            "conditions.value",
            "not a number",
        ),
        ({"steps": []}, "steps", "at least one step"),
        (
            {"steps": [{"id": "x", "type": "teleport", "config": {}}]},
            "steps[0].type",
            "Unknown step type",
        ),
        (
            {
                "steps": [
                    {"id": "x", "type": "notify", "config": {"recipient": "owner", "title": "a"}},
                    {"id": "x", "type": "notify", "config": {"recipient": "owner", "title": "b"}},
                ]
            },
            "steps[1].id",
            "used by another step",
        ),
        (
            {
                "steps": [
                    {
                        "id": "b",
                        "type": "branch",
                        "config": {
                            "conditions": {"field": "amount", "op": "gt", "value": 1},
                            "then": [
                                {
                                    "id": "u",
                                    "type": "update_fields",
                                    "config": {"values": {"amount": "many"}},
                                }
                            ],
                        },
                    }
                ]
            },
            "steps[0].config.then[0].config.values.amount",
            "not a number",
        ),
        (
            {"steps": [{"id": "w", "type": "wait", "config": {"duration": {"days": -1}}}]},
            "steps[0].config.duration",
            "positive",
        ),
        (
            {"steps": [{"id": "h", "type": "webhook", "config": {"url": "http://127.0.0.1/x"}}]},
            "steps[0].config.url",
            "loopback address",
        ),
        (
            {"steps": [{"id": "h", "type": "webhook", "config": {"url": "ftp://example.com/"}}]},
            "steps[0].config.url",
            "Only http and https URLs",
        ),
        (
            {"steps": [{"id": "a", "type": "start_approval", "config": {"process": "Nope"}}]},
            "steps[0].config.process",
            "Choose an approval process",
        ),
        ({"object_type": "nope.thing"}, "object_type", "Unknown record type"),
        (
            {"object_type": "", "trigger": {"type": "record_created"}},
            "object_type",
            "needs a record type",
        ),
    ],
)
def test_bad_definitions_are_refused_at_save_naming_the_path(
    admin_user: Any, overrides: dict[str, Any], path: str, words: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.workflow_create(user=admin_user, data=_definition(**overrides))
    errors = caught.value.errors
    assert path in errors, errors
    assert words in errors[path][0]
    assert not Workflow.objects.exists()


def test_only_administrators_write_workflows(rep: Any) -> None:
    with pytest.raises(PermissionDenied):
        services.workflow_create(user=rep, data=_definition())


def test_merge_fields_render_values_escaped_in_html_only(deal: Any) -> None:
    from patron.automation.registry import StepContext
    from patron.automation.steps import render

    deal.amount = Decimal("1234.50")
    deal.name = "<b>Big</b>"
    ctx = StepContext(
        step_id="s", step_type="notify", config={}, object_type=OPP, record=deal, actor=None
    )
    source = "{{ record.amount }} {{ record.name }} ({{ record.account }})"
    assert render(source, ctx, html=True) == "1234.50 &lt;b&gt;Big&lt;/b&gt; (Acme Corporation)"
    assert render(source, ctx) == "1234.50 <b>Big</b> (Acme Corporation)"
