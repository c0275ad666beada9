"""The opportunity write path: derived columns, stage history, guards, currencies, errors."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from patron.core.exceptions import ValidationFailed
from patron.core.models import ExchangeRate
from patron.pipeline import services
from patron.pipeline.models import StageHistory
from patron.pipeline.services import (
    opportunity_create,
    opportunity_move_stage,
    opportunity_update,
    register_stage_guard,
)
from patron.pipeline.tests.conftest import make_pipeline

pytestmark = pytest.mark.django_db

CLOSE = datetime.date(2027, 3, 31)


def _deal(rep, acme, **fields):
    return opportunity_create(
        user=rep, name="Rockets", account=acme, close_date=CLOSE, amount="1000", **fields
    )


def test_create_takes_probability_and_category_from_the_first_stage(rep, acme, stages):
    deal = _deal(rep, acme)
    assert deal.stage == stages["Prospecting"]
    assert (deal.probability, deal.forecast_category) == (10, "pipeline")
    assert deal.currency == "USD"
    assert deal.amount_org == Decimal("1000.00")
    history = StageHistory.objects.get(opportunity=deal)
    assert history.from_stage is None
    assert history.to_stage == stages["Prospecting"]


def test_move_records_history_with_time_in_the_previous_stage(rep, acme, stages):
    deal = _deal(rep, acme)
    deal = opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Proposal"])
    assert (deal.probability, deal.forecast_category) == (60, "best_case")
    move = StageHistory.objects.filter(opportunity=deal).order_by("-changed_at", "-pk")[0]
    assert move.from_stage == stages["Prospecting"]
    assert move.to_stage == stages["Proposal"]
    assert move.amount == Decimal("1000.00")
    assert move.seconds_in_from_stage is not None


def test_manual_probability_is_kept_until_the_stage_changes(rep, acme, stages):
    deal = _deal(rep, acme, probability=35)
    assert (deal.probability, deal.probability_is_manual) == (35, True)
    deal = opportunity_update(user=rep, opportunity=deal, next_step="Call")
    assert deal.probability == 35
    deal = opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Negotiation"])
    assert (deal.probability, deal.probability_is_manual) == (80, False)


def test_losing_needs_a_reason_and_sets_the_closed_flags(rep, acme, stages, price_too_high):
    deal = _deal(rep, acme)
    with pytest.raises(ValidationFailed) as refused:
        opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Lost"])
    assert "loss_reason" in refused.value.errors
    deal.refresh_from_db()
    assert deal.stage == stages["Prospecting"]
    deal = opportunity_move_stage(
        user=rep, opportunity=deal, stage=stages["Lost"], loss_reason=price_too_high
    )
    assert (deal.is_closed, deal.is_won, deal.probability) == (True, False, 0)
    assert deal.closed_on is not None


def test_reopening_clears_the_closed_flags_and_the_loss_reason(
    rep, acme, stages, price_too_high
):
    deal = opportunity_move_stage(
        user=rep, opportunity=_deal(rep, acme), stage=stages["Lost"], loss_reason=price_too_high
    )
    deal = opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Qualification"])
    assert (deal.is_closed, deal.closed_on, deal.loss_reason) == (False, None, None)


def test_a_stage_from_another_pipeline_is_refused(rep, acme, stages):
    renewals = make_pipeline("Renewals", default=False)
    foreign = renewals.stages.get(name="Proposal")
    deal = _deal(rep, acme)
    with pytest.raises(ValidationFailed) as refused:
        opportunity_move_stage(user=rep, opportunity=deal, stage=foreign)
    assert "another pipeline" in refused.value.errors["stage"][0]


def test_bad_close_date_and_negative_amount_name_their_fields(rep, acme, stages):
    with pytest.raises(ValidationFailed) as refused:
        opportunity_create(
            user=rep, name="X", account=acme, close_date="31/03/2027", amount="-5"
        )
    assert set(refused.value.errors) == {"close_date", "amount"}


def test_a_currency_without_a_rate_is_refused_and_a_rate_converts(rep, acme, stages):
    with pytest.raises(ValidationFailed) as refused:
        _deal(rep, acme, currency="EUR")
    assert "No exchange rate for EUR" in refused.value.errors["currency"][0]
    ExchangeRate.objects.create(
        currency="EUR", rate=Decimal("1.10"), valid_from=datetime.date(2027, 1, 1)
    )
    assert _deal(rep, acme, currency="EUR").amount_org == Decimal("1100.00")


def test_a_registered_guard_blocks_the_move_and_says_why(rep, acme, stages, monkeypatch):
    monkeypatch.setattr(services, "_stage_guards", [])

    def needs_next_step(user, opportunity, from_stage, to_stage):
        if to_stage.name == "Proposal" and not opportunity.next_step:
            return ["Fill in the next step."]
        return []

    register_stage_guard(needs_next_step)
    deal = _deal(rep, acme)
    with pytest.raises(ValidationFailed) as refused:
        opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Proposal"])
    assert refused.value.errors == {"stage": ["Fill in the next step."]}
    deal = opportunity_update(
        user=rep, opportunity=deal, stage=stages["Proposal"], next_step="Send proposal"
    )
    assert deal.stage == stages["Proposal"]


def test_create_with_only_a_stage_takes_that_stages_pipeline(rep, acme, stages):
    renewals = make_pipeline("Renewals", default=False)
    deal = _deal(rep, acme, stage=renewals.stages.get(name="Proposal"))
    assert deal.pipeline == renewals
