"""Opportunities on the timelines of their accounts, contacts and themselves, and the pipeline
figures rolled up the account hierarchy."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.test import Client

from conftest import ALL_ACTIONS
from patron.activities.models import Activity
from patron.contacts import rollups
from patron.contacts.selectors import account_hierarchy
from patron.contacts.services import account_create, account_team_add, contact_create
from patron.core.choices import OrgWideAccess
from patron.core.testing import assert_max_queries, grant, set_org_default
from patron.core.timeline import timeline_filters, timeline_page
from patron.pipeline.related_services import opportunity_contact_add
from patron.pipeline.services import (
    opportunity_create,
    opportunity_delete,
    opportunity_move_stage,
)

pytestmark = pytest.mark.django_db
CLOSE = datetime.date(2027, 3, 31)


@pytest.fixture(autouse=True)
def activity_permissions(sales_roles):
    for role in sales_roles.values():
        grant(role, "activities.activity", *ALL_ACTIONS)
    set_org_default("activities.activity", OrgWideAccess.PRIVATE)


def _deal(user, account, name="Deal", amount="1000", **fields):
    return opportunity_create(
        user=user, name=name, account=account, close_date=CLOSE, amount=amount, **fields
    )


def _titles(user, record, **filters):
    page = timeline_page(user=user, record=record, filters=timeline_filters(**filters))
    return [entry.title for entry in page.entries]


# --- the timeline -----------------------------------------------------------------------------


def test_the_account_timeline_shows_creation_stage_changes_with_amount_and_the_win(
    rep, acme, stages
):
    deal = _deal(rep, acme, "Fleet renewal", amount="12000")
    opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Proposal"])
    opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Won"])
    page = timeline_page(user=rep, record=acme, filters=timeline_filters(department="sales"))
    entries = [entry for entry in page.entries if entry.source == "opportunities"]
    assert [entry.title for entry in entries] == [
        "Opportunity “Fleet renewal” won",
        "Opportunity “Fleet renewal” moved Prospecting → Proposal",
        "Opportunity “Fleet renewal” created in Prospecting",
    ]
    assert entries[1].summary == "Prospecting → Proposal · 12,000.00 USD · 60 %"
    assert entries[0].summary == "Proposal → Won · 12,000.00 USD"
    assert entries[0].url == f"/opportunities/{deal.pk}/"
    assert {entry.department for entry in entries} == {"sales"}
    assert _titles(rep, acme, kinds=["opportunity_won"]) == ["Opportunity “Fleet renewal” won"]


def test_a_lost_deal_shows_as_lost_on_the_timeline_of_a_contact_in_a_role(
    rep, acme, stages, price_too_high
):
    person = contact_create(user=rep, last_name="Decider")
    deal = _deal(rep, acme, "Lost cause")
    opportunity_contact_add(user=rep, opportunity=deal, contact_id=person.pk, role="decision_maker")
    opportunity_move_stage(
        user=rep, opportunity=deal, stage=stages["Lost"], loss_reason=price_too_high
    )
    assert _titles(rep, person, kinds=["opportunity_lost", "opportunity_created"]) == [
        "Opportunity “Lost cause” lost",
        "Opportunity “Lost cause” created in Prospecting",
    ]


def test_who_sees_the_account_but_not_the_opportunity_sees_none_of_its_entries(
    rep, other_rep, acme, stages
):
    _deal(rep, acme, "Private deal")
    account_team_add(user=rep, account=acme, member_user=other_rep, team_role="support")
    viewer = type(other_rep).objects.get(pk=other_rep.pk)
    assert _titles(viewer, acme, department="sales") == []
    assert _titles(rep, acme, department="sales") == [
        "Opportunity “Private deal” created in Prospecting"
    ]


def test_an_opportunitys_own_timeline_shows_its_activities_and_changes(rep, acme, stages):
    deal = _deal(rep, acme, "Own timeline")
    response = Client()
    response.force_login(rep)
    logged = response.post(
        "/activities/quick-add/",
        {"target": f"pipeline.opportunity:{deal.pk}", "kind": "note", "description": "Met CFO"},
    )
    assert logged.status_code == 302
    assert logged["Location"].startswith(f"/opportunities/{deal.pk}/")
    assert Activity.objects.filter(links__object_id=deal.pk).count() == 1
    opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Qualification"])
    page = timeline_page(user=rep, record=deal)
    sources = {entry.source for entry in page.entries}
    assert {"activities", "changes", "opportunities"} <= sources
    assert any(entry.title.startswith("Met CFO") for entry in page.entries)


def _add_deals(rep, acme, person, stages, count):
    for index in range(count):
        deal = _deal(rep, acme, f"Deal {index}")
        opportunity_contact_add(user=rep, opportunity=deal, contact_id=person.pk, role="user")
        opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Proposal"])


def _timeline_queries(rep, acme, person) -> int:
    viewer = type(rep).objects.get(pk=rep.pk)
    with assert_max_queries(50) as counted:
        page = timeline_page(user=viewer, record=acme, limit=25)
        timeline_page(user=viewer, record=person, limit=25)
    assert any(entry.source == "opportunities" for entry in page.entries)
    return len(counted.captured_queries)


def test_the_account_and_contact_timelines_cost_the_same_queries_for_5_or_50_opportunities(
    rep, acme, stages
):
    person = contact_create(user=rep, last_name="Buyer", account=acme)
    _add_deals(rep, acme, person, stages, 5)
    with_five = _timeline_queries(rep, acme, person)
    _add_deals(rep, acme, person, stages, 45)
    assert _timeline_queries(rep, acme, person) == with_five


# --- roll-ups ---------------------------------------------------------------------------------


@pytest.fixture
def group(rep, pipeline_roles):
    """Holding > Acme > Acme Labs."""
    holding = account_create(user=rep, name="Holding")
    acme = account_create(user=rep, name="Acme", parent=holding)
    labs = account_create(user=rep, name="Acme Labs", parent=acme)
    return {"holding": holding, "acme": acme, "labs": labs}


def _figures(rep, account):
    tree = account_hierarchy(user=rep, account=account)
    return {
        f.key: (f.account, f.subtree)
        for f in rollups.rollup_figures(account_id=account.pk, subtree_ids=tree.subtree_ids)
    }


def test_open_pipeline_and_won_revenue_roll_up_three_levels(rep, group, stages, price_too_high):
    _deal(rep, group["holding"], amount="100")
    _deal(rep, group["acme"], amount="20")
    won = _deal(rep, group["labs"], amount="3")
    opportunity_move_stage(user=rep, opportunity=won, stage=stages["Won"])
    _deal(rep, group["labs"], amount="4000")
    lost = _deal(rep, group["labs"], amount="50000")
    opportunity_move_stage(
        user=rep, opportunity=lost, stage=stages["Lost"], loss_reason=price_too_high
    )
    opportunity_delete(user=rep, opportunity=_deal(rep, group["acme"], amount="700000"))
    holding, acme, labs = (_figures(rep, group[key]) for key in ("holding", "acme", "labs"))
    assert holding["open_pipeline"] == (Decimal("100"), Decimal("4120"))
    assert acme["open_pipeline"] == (Decimal("20"), Decimal("4020"))
    assert labs["open_pipeline"] == (Decimal("4000"), Decimal("4000"))
    assert holding["won_revenue"] == (Decimal("0"), Decimal("3"))
    assert labs["won_revenue"] == (Decimal("3"), Decimal("3"))


def test_the_account_page_shows_the_pipeline_figures(rep, group, stages):
    _deal(rep, group["labs"], amount="4000")
    client = Client()
    client.force_login(rep)
    html = client.get(f"/accounts/{group['holding'].pk}/").content.decode()
    assert "Open pipeline" in html
    assert "Won revenue" in html
