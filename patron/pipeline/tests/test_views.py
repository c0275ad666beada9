"""Opportunity pages: list, detail with the stage path and history, the move form, create
and edit forms, bulk edit, export and search, and who sees what."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from patron.core.exports import export_csv_run
from patron.core.models import Job
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix
from patron.pipeline import services
from patron.pipeline.models import Opportunity, StageHistory
from patron.pipeline.services import opportunity_create, opportunity_move_stage
from patron.pipeline.tests.conftest import make_pipeline

pytestmark = pytest.mark.django_db

CLOSE = datetime.date(2027, 3, 31)
MARKER = "Vexillum"
QUERY = MARKER[:5]


@pytest.fixture
def rep_client(rep, pipeline_roles):
    client = Client()
    client.force_login(rep)
    return client


def _deal(user, account, name=f"{MARKER} rockets", **fields):
    fields = {"close_date": CLOSE, "amount": "1000", **fields}
    return opportunity_create(user=user, name=name, account=account, **fields)


@pytest.fixture
def deal(rep, acme, stages, django_capture_on_commit_callbacks):
    # Search entries follow the record events, delivered after commit.
    with django_capture_on_commit_callbacks(execute=True):
        return _deal(rep, acme)


# --- list ----------------------------------------------------------------------------------


def test_list_query_count_does_not_grow_with_rows(rep_client, rep, acme, stages):
    for i in range(3):
        _deal(rep, acme, name=f"Deal {i}")
    with assert_max_queries(30) as few:
        response = rep_client.get("/opportunities/")
    assert response.status_code == 200
    for i in range(3, 20):
        _deal(rep, acme, name=f"Deal {i}")
    with assert_max_queries(len(few.captured_queries)):
        response = rep_client.get("/opportunities/?sort=-amount")
    assert len(response.context["page"].rows) == 20


def test_list_filters_by_status_stage_amount_and_close_date(
    rep_client, rep, acme, stages, price_too_high, django_capture_on_commit_callbacks
):
    # The text filter reads the search index, which opportunities update once committed.
    with django_capture_on_commit_callbacks(execute=True):
        open_deal = _deal(rep, acme, name="Open one")
        won = _deal(rep, acme, name="Won one", amount="5000")
        opportunity_move_stage(user=rep, opportunity=won, stage=stages["Won"])
        lost = _deal(rep, acme, name="Lost one", close_date=datetime.date(2026, 1, 1))
        opportunity_move_stage(
            user=rep, opportunity=lost, stage=stages["Lost"], loss_reason=price_too_high
        )

    def names(query: str) -> set[str]:
        response = rep_client.get(f"/opportunities/?{query}")
        assert response.status_code == 200, response.content[:300]
        return {row.name for row in response.context["page"].rows}

    assert names("status=open") == {open_deal.name}
    assert names("status=won") == {"Won one"}
    assert names("status=lost") == {"Lost one"}
    assert names(f"stage={stages['Won'].pk}") == {"Won one"}
    assert names("min_amount=2000") == {"Won one"}
    assert names("close_before=2026-12-31") == {"Lost one"}
    assert names("forecast_category=closed_won") == {"Won one"}
    assert names("q=acme&mine=true") == {"Open one", "Won one", "Lost one"}


# --- who sees what -------------------------------------------------------------------------


def _endpoints(deal: Opportunity) -> list[Endpoint]:
    return [
        Endpoint("list page", "/opportunities/", "list"),
        Endpoint("list page, filtered", f"/opportunities/?q={QUERY}", "list"),
        Endpoint("detail page", f"/opportunities/{deal.pk}/", "detail"),
        Endpoint("edit page", f"/opportunities/{deal.pk}/edit/", "detail"),
        Endpoint("search page", f"/search/?q={QUERY}", "search"),
        Endpoint("API list", "/api/v1/opportunities", "list"),
        Endpoint("API opportunity", f"/api/v1/opportunities/{deal.pk}", "detail"),
        Endpoint("API shares", f"/api/v1/opportunities/{deal.pk}/shares", "detail"),
        Endpoint("API stage history", f"/api/v1/opportunities/{deal.pk}/stage-history", "detail"),
    ]


def test_owner_and_manager_see_the_deal_everywhere_a_peer_nowhere(deal, rep, manager, other_rep):
    check_visibility_matrix(_endpoints(deal), marker=MARKER, allowed=rep, denied=other_rep)
    check_visibility_matrix(_endpoints(deal), marker=MARKER, allowed=manager, denied=other_rep)


def test_export_contains_only_visible_deals(deal, rep, other_rep):
    for user, may_see in ((rep, True), (other_rep, False)):
        client = Client()
        client.force_login(user)
        client.post("/opportunities/export/")
        job = Job.objects.filter(created_by=user).latest("id")
        export_csv_run(job_id=job.pk)
        download = client.get(f"/ui/jobs/{job.pk}/download/")
        assert download.status_code == 200
        body = download.getvalue() if download.streaming else download.content
        assert (MARKER.encode() in body) is may_see, user


# --- detail and moving ---------------------------------------------------------------------


def test_detail_shows_stage_path_history_and_milestones(rep_client, rep, deal, stages):
    opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Proposal"])
    page = rep_client.get(f"/opportunities/{deal.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'aria-current="step"' in html
    assert "Stage history" in html
    assert "Milestones" in html
    path = page.context["stage_path"]
    assert [step["stage"].name for step in path][:3] == [
        "Prospecting",
        "Qualification",
        "Proposal",
    ]
    assert [step["state"] for step in path][:4] == ["done", "done", "current", "ahead"]
    assert [item["row"].to_stage.name for item in page.context["stage_history"]] == [
        "Proposal",
        "Prospecting",
    ]
    assert 'id="move-stage"' in html


def test_move_form_moves_the_deal(rep_client, deal, stages):
    response = rep_client.post(
        f"/opportunities/{deal.pk}/move/",
        {"stage": stages["Negotiation"].pk, "version": deal.version},
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.stage, deal.probability) == (stages["Negotiation"], 80)


def test_move_form_to_lost_without_reason_says_so_and_changes_nothing(rep_client, deal, stages):
    response = rep_client.post(
        f"/opportunities/{deal.pk}/move/", {"stage": stages["Lost"].pk}, follow=True
    )
    assert "Choose a loss reason" in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage == stages["Prospecting"]
    assert StageHistory.objects.filter(opportunity=deal).count() == 1


def test_move_form_shows_guard_messages(rep_client, deal, stages, monkeypatch):
    def needs_budget(user, opportunity, from_stage, to_stage):
        return ["Record the budget first."] if to_stage.name == "Proposal" else []

    monkeypatch.setattr(services, "_stage_guards", [needs_budget])
    response = rep_client.post(
        f"/opportunities/{deal.pk}/move/", {"stage": stages["Proposal"].pk}, follow=True
    )
    assert "Record the budget first." in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage == stages["Prospecting"]


def test_move_form_with_a_stale_version_moves_nothing(rep_client, rep, deal, stages):
    stale = deal.version
    services.opportunity_update(user=rep, opportunity=deal, next_step="Call")
    response = rep_client.post(
        f"/opportunities/{deal.pk}/move/",
        {"stage": stages["Proposal"].pk, "version": stale},
        follow=True,
    )
    assert "Someone changed this opportunity" in response.content.decode()
    assert Opportunity.objects.get(pk=deal.pk).stage == stages["Prospecting"]


def test_peer_cannot_move_or_see_the_move_form(deal, other_rep, stages):
    client = Client()
    client.force_login(other_rep)
    response = client.post(f"/opportunities/{deal.pk}/move/", {"stage": stages["Won"].pk})
    assert response.status_code == 404
    assert Opportunity.objects.get(pk=deal.pk).stage == stages["Prospecting"]


# --- forms ---------------------------------------------------------------------------------


def test_create_form_offers_only_stages_of_the_chosen_pipeline(rep_client, stages):
    other = make_pipeline("Renewals", default=False)
    page = rep_client.get("/opportunities/new/")
    stage_ids = {
        choice[0].value for choice in page.context["form"].fields["stage"].choices if choice[0]
    }
    assert stage_ids == {s.pk for s in stages.values()}
    chosen = rep_client.get(f"/opportunities/new/?pipeline={other.pk}")
    other_ids = {c[0].value for c in chosen.context["form"].fields["stage"].choices if c[0]}
    assert other_ids == set(other.stages.values_list("pk", flat=True))
    # Changing the pipeline re-renders the stage field with the new pipeline's stages.
    assert 'hx-target="#field-id_stage"' in page.content.decode()
    refreshed = rep_client.post(
        "/opportunities/new/",
        {"pipeline": other.pk, "stage": stages["Proposal"].pk, "_validate": "pipeline"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="field-id_stage",
    )
    refreshed_ids = {c[0].value for c in refreshed.context["form"].fields["stage"].choices if c[0]}
    assert refreshed_ids == other_ids
    assert "field-error" not in refreshed.content.decode()


def test_create_form_saves_a_deal_with_the_stage_probability(rep_client, acme, stages):
    response = rep_client.post(
        "/opportunities/new/",
        {
            "name": "Satellites",
            "account": acme.pk,
            "stage": stages["Qualification"].pk,
            "amount": "2500",
            "close_date": "2027-06-30",
            "probability": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    deal = Opportunity.objects.get(name="Satellites")
    assert (deal.stage, deal.probability, deal.pipeline) == (
        stages["Qualification"],
        20,
        stages["Qualification"].pipeline,
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("close_date", "31/03/2027", "valid date"),
        ("amount", "-5", "greater than or equal to 0"),
        ("currency", "EUR", "No exchange rate for EUR"),
    ],
)
def test_create_form_bad_input_names_the_field_and_saves_nothing(
    rep_client, acme, stages, field, value, message
):
    data = {"name": "Bad", "account": acme.pk, "amount": "10", "close_date": "2027-06-30"}
    data[field] = value
    response = rep_client.post("/opportunities/new/", data)
    assert response.status_code == 422
    assert message in " ".join(response.context["form"].errors[field])
    assert not Opportunity.objects.filter(name="Bad").exists()


def test_bulk_edit_sets_the_close_date(rep_client, rep, acme, stages):
    deals = [_deal(rep, acme, name=f"Bulk {i}") for i in range(2)]
    response = rep_client.post(
        "/opportunities/bulk/",
        {"action": "edit", "ids": [d.pk for d in deals], "close_date": "2027-09-30"},
    )
    assert response.status_code == 302
    assert set(
        Opportunity.objects.filter(pk__in=[d.pk for d in deals]).values_list(
            "close_date", flat=True
        )
    ) == {datetime.date(2027, 9, 30)}


def test_deleted_deal_goes_to_the_recycle_bin(rep_client, deal):
    assert rep_client.post(f"/opportunities/{deal.pk}/delete/").status_code == 302
    assert not Opportunity.objects.filter(pk=deal.pk).exists()
    assert MARKER in rep_client.get("/ui/recycle-bin/").content.decode()
