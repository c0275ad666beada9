"""Sales configuration: pipelines, stages, loss reasons and exchange rates (services and the
admin-area pages)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.test import Client

from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import ExchangeRate, SearchEntry
from patron.pipeline import config_services as config
from patron.pipeline.models import LossReason, Opportunity, Pipeline, Stage, StageHistory
from patron.pipeline.services import opportunity_create, opportunity_move_stage
from patron.pipeline.tests.conftest import make_pipeline

pytestmark = pytest.mark.django_db

CLOSE = datetime.date(2027, 3, 31)


@pytest.fixture
def admin_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def _deal(rep, acme, name="Rockets"):
    return opportunity_create(user=rep, name=name, account=acme, close_date=CLOSE)


# --- pipelines -----------------------------------------------------------------------------


def test_pipeline_names_are_required_and_unique_ignoring_case(admin_user, sales_pipeline):
    with pytest.raises(ValidationFailed) as empty:
        config.pipeline_save(user=admin_user, name="  ")
    assert "name" in empty.value.errors
    with pytest.raises(ValidationFailed) as taken:
        config.pipeline_save(user=admin_user, name="NEW BUSINESS")
    assert "exists already" in taken.value.errors["name"][0]
    assert Pipeline.objects.count() == 1


def test_positions_beyond_the_database_integer_are_refused_naming_the_field(
    admin_user, sales_pipeline
):
    # Found by the API fuzzer on PostgreSQL: position 204135929280231 was a 500.
    with pytest.raises(ValidationFailed) as pipeline:
        config.pipeline_save(user=admin_user, name="Renewals", position=204135929280231)
    with pytest.raises(ValidationFailed) as stage:
        config.stage_save(
            user=admin_user,
            pipeline=sales_pipeline,
            name="Later",
            probability=50,
            forecast_category="pipeline",
            position=2**31,
        )
    for refused in (pipeline, stage):
        assert "whole number from 0 to 2,147,483,647" in refused.value.errors["position"][0]
    assert Pipeline.objects.count() == 1


def test_making_a_pipeline_default_undefaults_the_previous_one(admin_user, sales_pipeline):
    renewals = config.pipeline_save(user=admin_user, name="Renewals", is_default=True)
    sales_pipeline.refresh_from_db()
    assert renewals.is_default
    assert not sales_pipeline.is_default
    assert Pipeline.objects.filter(is_default=True).count() == 1


def test_the_only_default_pipeline_cannot_be_undefaulted_or_deactivated(admin_user, sales_pipeline):
    with pytest.raises(ValidationFailed) as refused:
        config.pipeline_save(
            user=admin_user, pipeline=sales_pipeline, name=sales_pipeline.name, is_default=False
        )
    assert "make another pipeline the default" in refused.value.errors["is_default"][0]
    with pytest.raises(ValidationFailed) as inactive:
        config.pipeline_save(
            user=admin_user,
            pipeline=sales_pipeline,
            name=sales_pipeline.name,
            is_default=True,
            active=False,
        )
    assert "active" in inactive.value.errors


def test_first_pipeline_becomes_the_default(admin_user):
    assert config.pipeline_save(user=admin_user, name="Partners").is_default


def test_pipeline_with_opportunities_cannot_be_deleted(admin_user, rep, acme, stages):
    _deal(rep, acme)
    config.pipeline_save(user=admin_user, name="Renewals", is_default=True)
    pipeline = stages["Won"].pipeline
    with pytest.raises(ValidationFailed) as refused:
        config.pipeline_delete(user=admin_user, pipeline=pipeline)
    assert "deactivate" in refused.value.errors["pipeline"][0]
    assert Pipeline.objects.filter(pk=pipeline.pk).exists()


def test_only_administrators_change_the_configuration(rep, sales_pipeline):
    with pytest.raises(PermissionDenied):
        config.pipeline_save(user=rep, name="Rogue")
    with pytest.raises(PermissionDenied):
        config.loss_reason_save(user=rep, name="Rogue")


# --- stages --------------------------------------------------------------------------------


@pytest.mark.parametrize("probability", [-1, 101, "high", None])
def test_stage_probability_must_be_0_to_100(admin_user, sales_pipeline, probability):
    with pytest.raises(ValidationFailed) as refused:
        config.stage_save(
            user=admin_user,
            pipeline=sales_pipeline,
            name="Demo",
            probability=probability,
            forecast_category="pipeline",
        )
    assert "from 0 to 100" in refused.value.errors["probability"][0]
    assert not Stage.objects.filter(name="Demo").exists()


def test_stage_names_are_unique_within_a_pipeline_only(admin_user, sales_pipeline):
    with pytest.raises(ValidationFailed) as refused:
        config.stage_save(
            user=admin_user,
            pipeline=sales_pipeline,
            name="proposal",
            probability=50,
            forecast_category="best_case",
        )
    assert "already has a stage" in refused.value.errors["name"][0]
    other = make_pipeline("Renewals", default=False)
    assert other.stages.filter(name="Proposal").exists()


def test_new_stage_goes_last_and_unknown_category_is_refused(admin_user, sales_pipeline):
    demo = config.stage_save(
        user=admin_user,
        pipeline=sales_pipeline,
        name="Demo",
        probability=30,
        forecast_category="pipeline",
        expected_days="7",
    )
    assert demo.position > max(s.position for s in sales_pipeline.stages.exclude(pk=demo.pk))
    with pytest.raises(ValidationFailed) as refused:
        config.stage_save(
            user=admin_user,
            pipeline=sales_pipeline,
            name="Odd",
            probability=30,
            forecast_category="maybe",
        )
    assert "forecast_category" in refused.value.errors


def test_reorder_needs_every_stage_once(admin_user, stages):
    pipeline = stages["Won"].pipeline
    ids = [s.pk for s in pipeline.stages.order_by("position")]
    with pytest.raises(ValidationFailed):
        config.stage_reorder(user=admin_user, pipeline=pipeline, stage_ids=ids[:-1])
    config.stage_reorder(user=admin_user, pipeline=pipeline, stage_ids=list(reversed(ids)))
    assert [s.pk for s in pipeline.stages.order_by("position")] == list(reversed(ids))


def test_stage_in_use_needs_a_target_before_deletion(admin_user, rep, acme, stages):
    deal = _deal(rep, acme)
    with pytest.raises(ValidationFailed) as refused:
        config.stage_delete(user=admin_user, stage=stages["Prospecting"])
    assert "Choose the stage" in refused.value.errors["move_to"][0]
    deal.refresh_from_db()
    assert deal.stage == stages["Prospecting"]
    assert stages["Prospecting"].active


def test_stage_of_another_pipeline_is_refused_as_target(admin_user, rep, acme, stages):
    _deal(rep, acme)
    other = make_pipeline("Renewals", default=False)
    with pytest.raises(ValidationFailed) as refused:
        config.stage_delete(
            user=admin_user, stage=stages["Prospecting"], move_to=other.stages.first()
        )
    assert "move_to" in refused.value.errors


def test_deleting_a_stage_moves_its_deals_with_history(admin_user, rep, acme, stages):
    first = _deal(rep, acme)
    second = _deal(rep, acme, name="Satellites")
    moved = config.stage_delete(
        user=admin_user, stage=stages["Prospecting"], move_to=stages["Proposal"]
    )
    assert moved == 2
    for deal in (first, second):
        deal.refresh_from_db()
        assert (deal.stage, deal.probability, deal.forecast_category) == (
            stages["Proposal"],
            60,
            "best_case",
        )
        assert deal.version == 2
        last = StageHistory.objects.filter(opportunity=deal).latest("changed_at", "pk")
        assert (last.from_stage, last.to_stage) == (stages["Prospecting"], stages["Proposal"])
    # Past moves still name it, so it is kept, inactive, out of every choice.
    stages["Prospecting"].refresh_from_db()
    assert not stages["Prospecting"].active


def test_deleting_an_unused_stage_removes_it(admin_user, stages):
    assert config.stage_delete(user=admin_user, stage=stages["Qualification"]) == 0
    assert not Stage.objects.filter(pk=stages["Qualification"].pk).exists()


def test_stage_delete_page_offers_the_move_and_moves(admin_client, rep, acme, stages):
    deal = _deal(rep, acme)
    url = f"/admin-area/sales/stages/{stages['Prospecting'].pk}/delete/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "1 opportunity is in this stage" in page.content.decode()
    refused = admin_client.post(url, {"move_to": ""})
    assert refused.status_code == 422
    assert "Choose the stage" in refused.content.decode()
    done = admin_client.post(url, {"move_to": stages["Qualification"].pk})
    assert done.status_code == 302
    deal.refresh_from_db()
    assert deal.stage == stages["Qualification"]


# --- loss reasons and exchange rates -------------------------------------------------------


def test_used_loss_reason_cannot_be_deleted(admin_user, rep, acme, stages, price_too_high):
    deal = _deal(rep, acme)
    opportunity_move_stage(
        user=rep, opportunity=deal, stage=stages["Lost"], loss_reason=price_too_high
    )
    with pytest.raises(ValidationFailed) as refused:
        config.loss_reason_delete(user=admin_user, reason=price_too_high)
    assert "Deactivate" in refused.value.errors["reason"][0]
    with pytest.raises(ValidationFailed):
        config.loss_reason_save(user=admin_user, name="price TOO high")
    assert LossReason.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"currency": "EURO", "value": "1.1", "valid_from": "2027-01-01"}, "currency"),
        ({"currency": "USD", "value": "1", "valid_from": "2027-01-01"}, "currency"),
        ({"currency": "EUR", "value": "-2", "valid_from": "2027-01-01"}, "rate"),
        ({"currency": "EUR", "value": "1.1", "valid_from": "01/01/2027"}, "valid_from"),
    ],
)
def test_exchange_rate_input_is_checked(admin_user, fields, field):
    with pytest.raises(ValidationFailed) as refused:
        config.exchange_rate_save(user=admin_user, **fields)
    assert field in refused.value.errors
    assert not ExchangeRate.objects.exists()


def test_exchange_rate_is_saved_once_per_currency_and_day(admin_user):
    rate = config.exchange_rate_save(
        user=admin_user, currency="eur", value="1.08", valid_from="2027-01-01"
    )
    assert (rate.currency, rate.rate) == ("EUR", Decimal("1.08"))
    with pytest.raises(ValidationFailed) as refused:
        config.exchange_rate_save(
            user=admin_user, currency="EUR", value="1.1", valid_from="2027-01-01"
        )
    assert "valid_from" in refused.value.errors


def test_changing_a_rate_reconverts_the_deals_it_applies_to(admin_user, rep, acme, stages):
    early = config.exchange_rate_save(
        user=admin_user, currency="EUR", value="1.10", valid_from="2026-01-01"
    )
    deal = opportunity_create(
        user=rep, name="Euro deal", account=acme, close_date=CLOSE, amount="100", currency="EUR"
    )
    assert deal.amount_org == Decimal("110.00")
    later = config.exchange_rate_save(
        user=admin_user, currency="EUR", value="1.20", valid_from="2027-01-01"
    )
    assert Opportunity.objects.get(pk=deal.pk).amount_org == Decimal("120.00")
    config.exchange_rate_delete(user=admin_user, rate=later)
    assert Opportunity.objects.get(pk=deal.pk).amount_org == Decimal("110.00")
    with pytest.raises(ValidationFailed) as refused:
        config.exchange_rate_delete(user=admin_user, rate=early)
    assert "would have no exchange rate" in refused.value.detail
    assert ExchangeRate.objects.filter(pk=early.pk).exists()
    assert Opportunity.objects.get(pk=deal.pk).amount_org == Decimal("110.00")


def test_admin_pages_are_for_administrators(admin_client, rep, sales_pipeline):
    for url in (
        "/admin-area/sales/pipelines/",
        "/admin-area/sales/loss-reasons/",
        "/admin-area/sales/exchange-rates/",
        f"/admin-area/sales/pipelines/{sales_pipeline.pk}/",
    ):
        assert admin_client.get(url).status_code == 200, url
    rep_client = Client()
    rep_client.force_login(rep)
    assert rep_client.get("/admin-area/sales/pipelines/").status_code == 403


def test_admin_adds_a_stage_and_a_rate_through_the_pages(admin_client, sales_pipeline):
    bad = admin_client.post(
        f"/admin-area/sales/pipelines/{sales_pipeline.pk}/stages/new/",
        {"name": "Demo", "probability": "150", "forecast_category": "pipeline", "active": "on"},
    )
    assert bad.status_code == 422
    created = admin_client.post(
        f"/admin-area/sales/pipelines/{sales_pipeline.pk}/stages/new/",
        {"name": "Demo", "probability": "30", "forecast_category": "pipeline", "active": "on"},
    )
    assert created.status_code == 302
    assert sales_pipeline.stages.filter(name="Demo", probability=30).exists()
    rate = admin_client.post(
        "/admin-area/sales/exchange-rates/",
        {"currency": "GBP", "rate": "1.27", "valid_from": "2027-01-01"},
    )
    assert rate.status_code == 302
    assert ExchangeRate.objects.filter(currency="GBP").exists()


def test_opportunities_keep_their_stage_when_a_stage_is_edited(admin_user, rep, acme, stages):
    deal = _deal(rep, acme)
    config.stage_save(
        user=admin_user,
        pipeline=stages["Prospecting"].pipeline,
        stage=stages["Prospecting"],
        name="Discovery",
        probability=15,
        forecast_category="pipeline",
    )
    assert Opportunity.objects.get(pk=deal.pk).stage.name == "Discovery"
    entry = SearchEntry.objects.get(object_id=deal.pk, content_type__model="opportunity")
    assert "Discovery" in entry.subtitle
