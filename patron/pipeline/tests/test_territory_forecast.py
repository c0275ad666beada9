"""Forecasts and quotas rolled up by territory: deals count for their account's territory in
the active model, children roll up into parents, quotas pro rata, one grouped query."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.test import Client

from patron.contacts.services import account_create
from patron.core.models import OrganizationSettings
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix
from patron.pipeline.forecasts import period_parse
from patron.pipeline.models import Opportunity
from patron.pipeline.services import opportunity_create, opportunity_move_stage
from patron.pipeline.territory_forecasts import territory_forecast
from patron.territories import services as territories
from patron.territories.choices import ModelState
from patron.territories.models import TerritoryModel

pytestmark = pytest.mark.django_db
D = datetime.date
MID_Q1 = D(2026, 5, 1)


@pytest.fixture(autouse=True)
def april_quarters(pipeline_roles):
    OrganizationSettings.objects.update_or_create(
        pk=1, defaults={"fiscal_year_start_month": 4, "forecast_period": "quarter"}
    )


def _deal(user, stage, amount, country, close=MID_Q1):
    account = account_create(user=user, name=f"Account {country} {amount}", billing_country=country)
    territories.territory_assign_record(obj=account)
    return opportunity_create(
        user=user,
        name=f"{stage.name} {amount}",
        account=account,
        close_date=close,
        amount=amount,
        stage=stage,
    )


@pytest.fixture
def europe(admin_user):
    model = TerritoryModel.objects.create(name="Active", state=ModelState.ACTIVE)
    europe = territories.territory_save(user=admin_user, model=model, name="Europe")
    germany = territories.territory_save(
        user=admin_user, model=model, name="Germany", parent=europe
    )
    territories.rule_add(
        user=admin_user,
        territory=germany,
        data={"field": "country", "operator": "in", "values": ["DE"]},
    )
    france = territories.territory_save(user=admin_user, model=model, name="France", parent=europe)
    territories.rule_add(
        user=admin_user,
        territory=france,
        data={"field": "country", "operator": "in", "values": ["FR"]},
    )
    territories.quota_set(
        user=admin_user,
        territory=germany,
        period_start=D(2026, 4, 1),
        period_end=D(2026, 6, 30),
        amount="2000",
        currency="USD",
    )
    territories.quota_set(
        user=admin_user,
        territory=france,
        period_start=D(2026, 4, 1),
        period_end=D(2027, 3, 31),
        amount="4000",
        currency="USD",
    )
    return {"model": model, "europe": europe, "germany": germany, "france": france}


@pytest.fixture
def book(admin_user, rep, stages, europe):
    won = _deal(rep, stages["Negotiation"], "1000", "DE")
    opportunity_move_stage(user=rep, opportunity=won, stage=stages["Won"])
    Opportunity.objects.filter(pk=won.pk).update(closed_on=D(2026, 5, 15))
    _deal(rep, stages["Negotiation"], "100", "DE")
    _deal(rep, stages["Proposal"], "200", "FR")
    _deal(rep, stages["Prospecting"], "50", "FR")
    _deal(rep, stages["Prospecting"], "999", "FR", close=D(2026, 7, 1))
    _deal(rep, stages["Negotiation"], "7", "JP")


def test_figures_roll_up_from_territories_into_their_parents(admin_user, book, europe):
    result = territory_forecast(viewer=admin_user, period=period_parse("FY2027 Q1"))
    rows = {row.territory.name: row for row in result.rows}
    assert [row.territory.name for row in result.rows] == ["Europe", "France", "Germany"]
    germany, france, top = rows["Germany"], rows["France"], rows["Europe"]
    assert germany.own == {
        "closed": Decimal("1000.00"),
        "commit": Decimal("100.00"),
        "best_case": Decimal("100.00"),
        "pipeline": Decimal("100.00"),
    }
    assert france.rolled["best_case"] == Decimal("200.00")
    assert france.rolled["pipeline"] == Decimal("250.00")
    assert top.own["pipeline"] == Decimal("0.00")
    assert top.rolled["closed"] == Decimal("1000.00")
    assert top.rolled["pipeline"] == Decimal("350.00")
    assert result.unassigned["commit"] == Decimal("7.00")
    # Germany's quota is the quarter's; France's yearly quota counts for 91 of 365 days.
    assert germany.quota == Decimal("2000.00")
    assert france.quota == Decimal("997.26")
    assert top.quota is None
    assert top.rolled_quota == Decimal("2997.26")
    assert germany.attainment == Decimal("50.0")
    assert result.total["pipeline"] == Decimal("350.00")


def test_territory_forecast_runs_a_fixed_number_of_queries(admin_user, book, europe):
    period = period_parse("FY2027 Q1")
    territory_forecast(viewer=admin_user, period=period)
    with assert_max_queries(8) as first:
        territory_forecast(viewer=admin_user, period=period)
    for index in range(5):
        extra = territories.territory_save(
            user=admin_user, model=europe["model"], name=f"Extra {index}", parent=europe["europe"]
        )
        territories.quota_set(
            user=admin_user,
            territory=extra,
            period_start=D(2026, 4, 1),
            period_end=D(2026, 6, 30),
            amount="1",
            currency="USD",
        )
    with assert_max_queries(len(first.captured_queries)):
        territory_forecast(viewer=admin_user, period=period)


def test_only_deals_the_viewer_sees_count(other_rep, book):
    result = territory_forecast(viewer=other_rep, period=period_parse("FY2027 Q1"))
    assert all(row.rolled["pipeline"] == 0 for row in result.rows)


def test_page_and_api_show_the_territory_forecast(admin_user, rep, other_rep, book):
    client = Client()
    client.force_login(admin_user)
    client.get("/forecast/territories/?period=FY2027 Q1")
    with assert_max_queries(25):
        page = client.get("/forecast/territories/?period=2026-04-01")
    assert page.status_code == 200
    assert b"Germany" in page.content
    assert b"2,997.26" in page.content
    with assert_max_queries(15):
        api = client.get("/api/v1/forecasts/territories?period=FY2027 Q1")
    body = api.json()
    assert api.status_code == 200
    assert body["rows"][0]["name"] == "Europe"
    assert body["rows"][0]["rolled"]["closed"] == "1000.00"
    bad = client.get("/api/v1/forecasts/territories?period=someday")
    assert bad.status_code == 422
    check_visibility_matrix(
        [Endpoint("page", "/forecast/territories/?period=FY2027 Q1", "list")],
        marker="1,000.00",
        allowed=rep,
        denied=other_rep,
    )
    check_visibility_matrix(
        [Endpoint("api", "/api/v1/forecasts/territories?period=FY2027 Q1", "list")],
        marker='"closed": "1000.00"',
        allowed=rep,
        denied=other_rep,
    )
