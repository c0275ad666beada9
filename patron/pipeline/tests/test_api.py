"""The sales resources of /api/v1/: opportunities, the move and stage history, and the
sales configuration."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from patron.core.api.testing import assert_problem
from patron.core.testing import assert_max_queries
from patron.pipeline import services
from patron.pipeline.models import Opportunity, Pipeline, StageHistory
from patron.pipeline.services import opportunity_create
from patron.pipeline.tests.conftest import make_pipeline
from patron.users.services import token_create

pytestmark = pytest.mark.django_db

JSON = "application/json"
CLOSE = datetime.date(2027, 3, 31)


def _client(user, *scopes: str) -> Client:
    _, secret = token_create(user=user, name="test", scopes=list(scopes) or ["sales:write"])
    client = Client()
    client.defaults.update({"HTTP_AUTHORIZATION": f"Bearer {secret}"})
    return client


@pytest.fixture
def api(rep, pipeline_roles):
    return _client(rep)


@pytest.fixture
def deal(rep, acme, stages):
    return opportunity_create(
        user=rep, name="Rockets", account=acme, close_date=CLOSE, amount="1000"
    )


def _move(api, deal, body, etag=None):
    headers = {"If-Match": etag} if etag else {}
    return api.post(
        f"/api/v1/opportunities/{deal.pk}/move", body, content_type=JSON, headers=headers
    )


# --- opportunities -------------------------------------------------------------------------


def test_create_returns_derived_fields(api, acme, stages):
    response = api.post(
        "/api/v1/opportunities",
        {"name": "Satellites", "account": acme.pk, "close_date": "2027-06-30", "amount": "99.5"},
        content_type=JSON,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["stage"] == stages["Prospecting"].pk
    assert (body["probability"], body["forecast_category"]) == (10, "pipeline")
    assert (body["currency"], body["amount_org"]) == ("USD", "99.50")
    assert body["is_closed"] is False
    assert body["is_won"] is False


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("close_date", "31/03/2027", "YYYY-MM-DD"),
        ("amount", "-5", "zero or more"),
        ("currency", "EUR", "No exchange rate for EUR"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_saves_nothing(
    api, acme, stages, field, value, words
):
    body = {"name": "Bad", "account": acme.pk, "close_date": "2027-06-30", "amount": "10"}
    body[field] = value
    response = api.post("/api/v1/opportunities", body, content_type=JSON)
    problem = assert_problem(response, 422, field)
    assert words in " ".join(problem["errors"][field])
    assert not Opportunity.objects.filter(name="Bad").exists()


def test_list_query_count_does_not_grow_with_rows(api, rep, acme, stages):
    for i in range(3):
        opportunity_create(user=rep, name=f"Deal {i}", account=acme, close_date=CLOSE)
    with assert_max_queries(20) as few:
        assert api.get("/api/v1/opportunities").status_code == 200
    for i in range(3, 15):
        opportunity_create(user=rep, name=f"Deal {i}", account=acme, close_date=CLOSE)
    with assert_max_queries(len(few.captured_queries)):
        response = api.get("/api/v1/opportunities?status=open&sort=-amount")
    assert len(response.json()["items"]) == 15


# --- moving --------------------------------------------------------------------------------


def test_move_changes_stage_and_answers_the_new_etag(api, deal, stages):
    response = _move(api, deal, {"stage": stages["Proposal"].pk}, etag=f'"{deal.pk}-1"')
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == stages["Proposal"].pk
    assert response["ETag"] == f'"{deal.pk}-2"'
    history = api.get(f"/api/v1/opportunities/{deal.pk}/stage-history").json()
    assert [row["to_stage_name"] for row in history] == ["Prospecting", "Proposal"]
    assert history[1]["from_stage_name"] == "Prospecting"


def test_move_blocked_by_a_guard_is_422_with_its_messages(api, deal, stages, monkeypatch):
    def needs_budget(user, opportunity, from_stage, to_stage):
        return ["Record the budget first."]

    monkeypatch.setattr(services, "_stage_guards", [needs_budget])
    problem = assert_problem(_move(api, deal, {"stage": stages["Proposal"].pk}), 422, "stage")
    assert problem["errors"]["stage"] == ["Record the budget first."]
    assert Opportunity.objects.get(pk=deal.pk).stage == stages["Prospecting"]


def test_move_to_lost_needs_a_reason(api, deal, stages, price_too_high):
    assert_problem(_move(api, deal, {"stage": stages["Lost"].pk}), 422, "loss_reason")
    assert StageHistory.objects.filter(opportunity=deal).count() == 1
    lost = _move(
        api,
        deal,
        {"stage": stages["Lost"].pk, "loss_reason": price_too_high.pk, "loss_note": "Too dear"},
    )
    assert lost.status_code == 200
    body = lost.json()
    assert (body["is_closed"], body["is_won"], body["loss_reason"]) == (
        True,
        False,
        price_too_high.pk,
    )


def test_move_to_a_stage_of_another_pipeline_is_422(api, deal, stages):
    other = make_pipeline("Renewals", default=False)
    foreign = other.stages.get(name="Proposal")
    problem = assert_problem(_move(api, deal, {"stage": foreign.pk}), 422, "stage")
    assert "another pipeline" in problem["errors"]["stage"][0]


def test_move_with_a_stale_etag_is_412(api, rep, deal, stages):
    services.opportunity_update(user=rep, opportunity=deal, next_step="Call")
    assert_problem(_move(api, deal, {"stage": stages["Proposal"].pk}, etag=f'"{deal.pk}-1"'), 412)
    assert Opportunity.objects.get(pk=deal.pk).stage == stages["Prospecting"]


def test_move_needs_write_scope_and_visibility(rep, other_rep, deal, stages, pipeline_roles):
    reader = _client(rep, "sales:read")
    assert _move(reader, deal, {"stage": stages["Proposal"].pk}).status_code == 403
    peer = _client(other_rep)
    assert _move(peer, deal, {"stage": stages["Proposal"].pk}).status_code == 404
    assert peer.get(f"/api/v1/opportunities/{deal.pk}/stage-history").status_code == 404


# --- sales configuration -------------------------------------------------------------------


def test_pipelines_list_with_stages_in_order(api, stages):
    body = api.get("/api/v1/pipelines").json()
    assert [s["name"] for s in body[0]["stages"]] == [
        "Prospecting",
        "Qualification",
        "Proposal",
        "Negotiation",
        "Won",
        "Lost",
    ]
    assert body[0]["stages"][4]["is_won"] is True


def test_only_administrators_write_the_configuration(api, admin_user, stages):
    assert_problem(api.post("/api/v1/pipelines", {"name": "Rogue"}, content_type=JSON), 403)
    assert_problem(api.post("/api/v1/loss-reasons", {"name": "Rogue"}, content_type=JSON), 403)
    admin = _client(admin_user)
    created = admin.post("/api/v1/pipelines", {"name": "Renewals"}, content_type=JSON)
    assert created.status_code == 201
    pipeline_id = created.json()["id"]
    bad = admin.post(
        f"/api/v1/pipelines/{pipeline_id}/stages",
        {"name": "Open", "probability": 120, "forecast_category": "pipeline"},
        content_type=JSON,
    )
    assert_problem(bad, 422, "probability")
    stage = admin.post(
        f"/api/v1/pipelines/{pipeline_id}/stages",
        {"name": "Open", "probability": 20, "forecast_category": "pipeline"},
        content_type=JSON,
    )
    assert stage.status_code == 201
    made_default = admin.patch(
        f"/api/v1/pipelines/{pipeline_id}", {"is_default": True}, content_type=JSON
    )
    assert made_default.json()["is_default"] is True
    assert Pipeline.objects.filter(is_default=True).count() == 1


def test_stage_delete_through_the_api_moves_the_deals(admin_user, deal, stages):
    admin = _client(admin_user)
    url = f"/api/v1/pipelines/{stages['Prospecting'].pipeline_id}/stages/{stages['Prospecting'].pk}"
    assert_problem(admin.delete(url), 422, "move_to")
    assert admin.delete(f"{url}?move_to={stages['Qualification'].pk}").status_code == 204
    assert Opportunity.objects.get(pk=deal.pk).stage == stages["Qualification"]


def test_exchange_rates_and_loss_reasons_round_trip(admin_user, api, price_too_high):
    admin = _client(admin_user)
    rate = admin.post(
        "/api/v1/exchange-rates",
        {"currency": "EUR", "rate": "1.08", "valid_from": "2027-01-01"},
        content_type=JSON,
    )
    assert rate.status_code == 201
    assert_problem(
        admin.post(
            "/api/v1/exchange-rates",
            {"currency": "EUR", "rate": "0", "valid_from": "2027-13-01"},
            content_type=JSON,
        ),
        422,
        "rate",
        "valid_from",
    )
    assert [r["currency"] for r in api.get("/api/v1/exchange-rates").json()] == ["EUR"]
    assert [r["name"] for r in api.get("/api/v1/loss-reasons").json()] == ["Price too high"]
