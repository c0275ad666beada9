"""The pipeline board: columns, figures in SQL, stale flags, visibility, paging and moves."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patron.contacts.services import account_create
from patron.core.choices import OrgWideAccess
from patron.core.testing import (
    Endpoint,
    assert_max_queries,
    check_visibility_matrix,
    grant,
    set_org_default,
)
from patron.pipeline import board, services
from patron.pipeline.models import Opportunity, Pipeline, StageHistory
from patron.pipeline.services import opportunity_create, opportunity_update
from patron.pipeline.tests.conftest import make_pipeline
from patron.users.tests.factories import UserFactory, make_role

pytestmark = pytest.mark.django_db

CLOSE = datetime.date(2027, 3, 31)
MOVE = "/opportunities/board/move/"
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def no_guards(monkeypatch):
    """Only the guards a test registers itself check moves."""
    monkeypatch.setattr(services, "_stage_guards", [])


def deal(user, account, name="Rockets", amount="1000", close=CLOSE, **fields):
    return opportunity_create(
        user=user, name=name, account=account, close_date=close, amount=amount, **fields
    )


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def summary_of(html, stage):
    found = re.search(rf'id="summary-{stage.pk}".*?</p>', html, flags=re.DOTALL)
    assert found is not None
    return found.group(0)


def board_url(pipeline):
    return reverse("pipeline:board", args=[pipeline.pk])


def test_board_has_a_column_per_stage_with_cards_in_close_date_order(rep, acme, stages):
    late = deal(rep, acme, "Late deal", close=datetime.date(2027, 6, 1))
    early = deal(rep, acme, "Early deal", close=datetime.date(2027, 1, 15))
    columns = board.board_columns(user=rep, pipeline=stages["Prospecting"].pipeline)
    assert [c.stage.name for c in columns] == list(stages)
    prospecting = columns[0]
    assert [card.opportunity for card in prospecting.page.cards] == [early, late]
    assert all(not c.page.cards for c in columns[1:])

    response = client_for(rep).get(board_url(stages["Prospecting"].pipeline))
    assert response.status_code == 200
    html = response.content.decode()
    for name in stages:
        assert f">{name}</h2>" in html
    assert html.index("Early deal") < html.index("Late deal")
    assert "Acme Corporation" in html
    assert "1,000.00 USD" in html
    assert "15 Jan 2027" in html
    assert "Rita Rep" in html
    assert "0 days" in html
    # The keyboard alternative to dragging: a labelled "Move to" list on every card.
    assert f'<label class="visually-hidden" for="move-{early.pk}">Move to' in html


def test_the_default_board_is_the_default_pipeline_and_an_unknown_one_is_404(rep, acme, stages):
    make_pipeline("Renewals", default=False)
    client = client_for(rep)
    response = client.get("/opportunities/board/")
    assert response.status_code == 200
    assert "<h1>New business</h1>" in response.content.decode()
    assert 'aria-label="Pipelines"' in response.content.decode()
    assert client.get("/opportunities/board/999999/").status_code == 404
    renewals_stage = Pipeline.objects.get(name="Renewals").stages.first()
    assert renewals_stage is not None
    wrong_column = f"/opportunities/board/{stages['Won'].pipeline_id}/stages/{renewals_stage.pk}/"
    assert client.get(wrong_column).status_code == 404
    assert client.get(wrong_column, headers=HTMX).status_code == 404


def test_totals_and_weighted_totals_are_one_sql_query_matching_a_hand_computation(
    rep, acme, stages
):
    deal(rep, acme, "A", amount="1000")
    deal(rep, acme, "B", amount="2500.55")
    deal(rep, acme, "C", amount=None)
    proposal = deal(rep, acme, "D", amount="333.33", stage=stages["Proposal"])
    deal(rep, acme, "E", amount="100", stage=stages["Proposal"], probability=25)
    opportunities = board.board_opportunities(user=rep, pipeline=proposal.pipeline)
    with assert_max_queries(1):
        figures = board.column_figures(opportunities)
    # By hand: Prospecting 10 %, Proposal 60 % (E has a manual 25 %).
    prospecting = figures[stages["Prospecting"].pk]
    assert (prospecting.count, prospecting.total) == (3, Decimal("3500.55"))
    assert prospecting.weighted == Decimal("350.06")  # 350.055 rounded half-even to 350.06
    in_proposal = figures[stages["Proposal"].pk]
    assert (in_proposal.count, in_proposal.total) == (2, Decimal("433.33"))
    assert in_proposal.weighted == Decimal("225.00")  # 199.998 + 25.00 = 224.998
    assert stages["Won"].pk not in figures

    html = client_for(rep).get(board_url(proposal.pipeline)).content.decode()
    summary = summary_of(html, stages["Proposal"])
    assert "<strong>2</strong> deals" in summary
    assert "433.33" in summary
    assert "225.00" in summary


def test_a_card_is_stale_once_its_days_in_stage_exceed_the_stages_expected_days(rep, acme, stages):
    fresh = deal(rep, acme, "Fresh")
    due = deal(rep, acme, "On the limit")
    stale = deal(rep, acme, "Stale deal")
    now = timezone.now()
    Opportunity.objects.filter(pk=due.pk).update(stage_entered_at=now - datetime.timedelta(14))
    Opportunity.objects.filter(pk=stale.pk).update(
        stage_entered_at=now - datetime.timedelta(days=15, hours=1)
    )
    cards = {
        card.opportunity.name: card
        for card in board.board_columns(user=rep, pipeline=fresh.pipeline)[0].page.cards
    }
    assert (cards["Fresh"].days_in_stage, cards["Fresh"].stale) == (0, False)
    assert (cards["On the limit"].days_in_stage, cards["On the limit"].stale) == (14, False)
    assert (cards["Stale deal"].days_in_stage, cards["Stale deal"].stale) == (15, True)
    html = client_for(rep).get(board_url(fresh.pipeline)).content.decode()
    assert html.count(">Stale<") == 1
    assert "longer than the 14 days expected" in html


def test_a_stage_without_expected_days_never_flags_stale(rep, acme, stages, price_too_high):
    won = deal(rep, acme, "Old win", stage=stages["Won"])
    Opportunity.objects.filter(pk=won.pk).update(
        stage_entered_at=timezone.now() - datetime.timedelta(days=400)
    )
    won_column = board.board_columns(user=rep, pipeline=won.pipeline)[4]
    assert won_column.page.cards[0].days_in_stage == 400
    assert not won_column.page.cards[0].stale


def test_cards_the_user_cannot_see_are_absent_and_not_counted(
    rep, other_rep, manager, acme, stages
):
    deal(rep, acme, "Rita's rocket", amount="1000")
    elsewhere = account_create(user=other_rep, name="Globex")
    deal(other_rep, elsewhere, "Otto's secret deal", amount="5000")
    pipeline = stages["Prospecting"].pipeline

    figures = board.column_figures(board.board_opportunities(user=rep, pipeline=pipeline))
    assert figures[stages["Prospecting"].pk].total == Decimal("1000.00")
    html = client_for(rep).get(board_url(pipeline)).content.decode()
    assert "Otto&#x27;s secret deal" not in html
    assert "Otto's secret deal" not in html
    assert "<strong>1</strong> deal<" in html
    assert "5,000.00" not in html
    assert "6,000.00" not in html

    # The manager sees both reps' deals (role hierarchy) and counts both.
    figures = board.column_figures(board.board_opportunities(user=manager, pipeline=pipeline))
    assert figures[stages["Prospecting"].pk].total == Decimal("6000.00")

    column = reverse("pipeline:board_column", args=[pipeline.pk, stages["Prospecting"].pk])
    check_visibility_matrix(
        [
            Endpoint("board", board_url(pipeline), "list"),
            Endpoint("board column", column, "list"),
            Endpoint("board column (HTMX)", column, "list", headers=HTMX),
        ],
        marker="secret deal",
        allowed=other_rep,
        denied=rep,
    )


def test_a_role_without_read_access_to_opportunities_gets_403(db, stages):
    role = make_role("Support agent")
    outsider = UserFactory(role=role)
    response = client_for(outsider).get(board_url(stages["Won"].pipeline))
    assert response.status_code == 403


def _board_queries(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


def test_the_board_query_count_does_not_grow_with_opportunities(rep, acme, stages):
    pipeline = stages["Prospecting"].pipeline
    for n in range(5):
        deal(rep, acme, f"Deal {n}", stage=stages["Qualification" if n % 2 else "Prospecting"])
    client = client_for(rep)
    client.get(board_url(pipeline))
    few, html = _board_queries(client, board_url(pipeline))
    assert "Show more" not in html
    for n in range(5, 60):
        deal(rep, acme, f"Deal {n}", stage=stages["Qualification" if n % 2 else "Prospecting"])
    many, html = _board_queries(client, board_url(pipeline))
    assert many == few
    assert html.count("data-card ") == 2 * board.BOARD_PAGE
    assert 'Show more<span class="visually-hidden"> in Prospecting' in html
    with assert_max_queries(few):
        client.get(board_url(pipeline) + "?mine=true&close_after=2027-01-01")


def test_show_more_pages_a_column_by_close_date_without_repeats(rep, acme, stages):
    pipeline = stages["Prospecting"].pipeline
    start = datetime.date(2027, 1, 1)
    made = [
        deal(rep, acme, f"Deal {n:02}", close=start + datetime.timedelta(days=n // 2))
        for n in range(45)
    ]
    expected = sorted(made, key=lambda o: (o.close_date, o.pk))
    seen = []
    opportunities = board.board_opportunities(user=rep, pipeline=pipeline)
    page = board.column_page(opportunities, stages["Prospecting"])
    seen += [c.opportunity.pk for c in page.cards]
    client = client_for(rep)
    column = reverse("pipeline:board_column", args=[pipeline.pk, stages["Prospecting"].pk])
    while page.next_cursor:
        response = client.get(f"{column}?cursor={page.next_cursor}", headers=HTMX)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="more-' in html
        assert 'hx-swap-oob="true"' in html
        page = board.column_page(opportunities, stages["Prospecting"], cursor=page.next_cursor)
        found = [int(pk) for pk in re.findall(r'data-opportunity="(\d+)"', html)]
        assert found == [c.opportunity.pk for c in page.cards]
        seen += found
    assert seen == [o.pk for o in expected]
    # Without JavaScript the link opens the column as a page of its own.
    response = client.get(column)
    assert response.status_code == 200
    assert '<h1 id="page-title">Prospecting</h1>' in response.content.decode()
    # A cursor that is not one restarts the column instead of failing.
    assert client.get(f"{column}?cursor=2027-02-30_x", headers=HTMX).status_code == 200


def test_filters_narrow_cards_and_figures_and_a_bad_date_says_so(
    rep, other_rep, manager, acme, stages
):
    pipeline = stages["Prospecting"].pipeline
    deal(rep, acme, "Rita early", amount="100", close=datetime.date(2027, 1, 10))
    deal(rep, acme, "Rita late", amount="200", close=datetime.date(2027, 9, 10))
    deal(manager, acme, "Mia deal", amount="400", close=datetime.date(2027, 1, 20))
    client = client_for(manager)
    html = client.get(board_url(pipeline) + "?mine=true").content.decode()
    assert "Mia deal" in html
    assert "Rita early" not in html
    html = client.get(f"{board_url(pipeline)}?owner={rep.pk}&close_before=2027-06-30").content
    html = html.decode()
    assert "Rita early" in html
    assert "Rita late" not in html
    assert "Mia deal" not in html
    assert "<strong>1</strong> deal<" in html
    response = client.get(board_url(pipeline) + "?close_after=31/01/2027&mine=true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter a valid date" in html
    # The valid filter still applies.
    assert "Mia deal" in html
    assert "Rita early" not in html


def _move(client, opportunity, stage, *, htmx=True, **extra):
    data = {"opportunity": opportunity.pk, "stage": stage.pk, "version": opportunity.version}
    data.update(extra)
    return client.post(MOVE, data, headers=HTMX if htmx else {})


def test_moving_a_card_answers_the_new_card_and_every_columns_figures(rep, acme, stages):
    rocket = deal(rep, acme, "Rocket", amount="1000")
    response = _move(client_for(rep), rocket, stages["Qualification"])
    assert response.status_code == 200
    html = response.content.decode()
    rocket.refresh_from_db()
    assert rocket.stage == stages["Qualification"]
    assert rocket.probability == 20
    assert StageHistory.objects.filter(opportunity=rocket).count() == 2
    assert f'data-version="{rocket.version}"' in html
    assert f'<option value="{stages["Prospecting"].pk}">Prospecting</option>' in html
    assert "Moved “Rocket” to Qualification." in html
    for stage in stages.values():
        assert f'id="summary-{stage.pk}" hx-swap-oob="true"' in html
    qualification = summary_of(html, stages["Qualification"])
    assert "<strong>1</strong> deal<" in qualification
    assert "200.00" in qualification  # weighted: 1000 at 20 %


def test_a_guard_refuses_the_move_with_its_message_and_nothing_changes(
    rep, acme, stages, monkeypatch
):
    def needs_next_step(user, opportunity, from_stage, to_stage):
        if to_stage.name == "Proposal" and not opportunity.next_step:
            return ["Fill in the next step first."]
        return []

    monkeypatch.setattr(services, "_stage_guards", [needs_next_step])
    rocket = deal(rep, acme, "Rocket")
    client = client_for(rep)
    response = _move(client, rocket, stages["Proposal"])
    assert response.status_code == 422
    assert "Not ready to move to “Proposal”: Fill in the next step first." in (
        response.content.decode()
    )
    rocket.refresh_from_db()
    assert rocket.stage == stages["Prospecting"]
    assert StageHistory.objects.filter(opportunity=rocket).count() == 1

    # Without JavaScript the refusal is a page of its own, with the way back.
    response = _move(client, rocket, stages["Proposal"], htmx=False)
    assert response.status_code == 422
    html = response.content.decode()
    assert "Fill in the next step first." in html
    assert "Back to the board" in html

    rocket = opportunity_update(user=rep, opportunity=rocket, next_step="Send the proposal")
    assert _move(client, rocket, stages["Proposal"]).status_code == 200


def test_a_stale_version_is_refused_with_409(rep, acme, stages):
    rocket = deal(rep, acme, "Rocket")
    stale_version = rocket.version
    opportunity_update(user=rep, opportunity=rocket, next_step="Call")
    response = _move(client_for(rep), rocket, stages["Qualification"], version=stale_version)
    assert response.status_code == 409
    assert "Reload the board" in response.content.decode()
    rocket.refresh_from_db()
    assert rocket.stage == stages["Prospecting"]


def test_moving_to_lost_needs_a_loss_reason(rep, acme, stages, price_too_high):
    rocket = deal(rep, acme, "Rocket")
    client = client_for(rep)
    response = _move(client, rocket, stages["Lost"])
    assert response.status_code == 422
    assert "Choose a loss reason" in response.content.decode()

    # The plain form asks for the reason and posts the move again.
    response = _move(client, rocket, stages["Lost"], htmx=False)
    assert response.status_code == 422
    html = response.content.decode()
    assert '<select id="loss-reason" name="loss_reason" required>' in html
    assert f'<option value="{price_too_high.pk}">Price too high</option>' in html

    response = _move(
        client, rocket, stages["Lost"], loss_reason=price_too_high.pk, loss_note="Too dear"
    )
    assert response.status_code == 200
    rocket.refresh_from_db()
    assert (rocket.stage, rocket.loss_reason, rocket.loss_note) == (
        stages["Lost"],
        price_too_high,
        "Too dear",
    )
    assert rocket.is_closed
    assert not rocket.is_won


def test_a_plain_form_move_redirects_back_to_the_board_with_a_message(rep, acme, stages):
    rocket = deal(rep, acme, "Rocket")
    client = client_for(rep)
    back = board_url(rocket.pipeline) + "?mine=true"
    response = _move(client, rocket, stages["Negotiation"], htmx=False, next=back)
    assert response.status_code == 302
    assert response["Location"] == back
    html = client.get(back).content.decode()
    assert "Moved “Rocket” to Negotiation." in html
    # Somewhere else than this site is not followed.
    rocket.refresh_from_db()
    response = _move(client, rocket, stages["Proposal"], htmx=False, next="https://evil.example/")
    assert response["Location"] == board_url(rocket.pipeline)


def test_bad_move_input_is_a_clear_422_and_changes_nothing(rep, acme, stages):
    rocket = deal(rep, acme, "Rocket")
    other_stage = make_pipeline("Renewals", default=False).stages.get(name="Proposal")
    client = client_for(rep)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"stage": "x"}, "Choose one of the board"),
        ({"stage": other_stage.pk}, "belongs to another pipeline"),
        ({"version": ""}, "reload it and move the card again"),
        ({"loss_reason": "nope"}, "Choose one of the listed loss reasons"),
    ]
    for extra, message in cases:
        data: dict[str, Any] = {
            "opportunity": rocket.pk,
            "stage": stages["Proposal"].pk,
            "version": 1,
        }
        data.update(extra)
        response = client.post(MOVE, data, headers=HTMX)
        assert response.status_code == 422, extra
        assert message in response.content.decode(), extra
    rocket.refresh_from_db()
    assert rocket.stage == stages["Prospecting"]
    assert client.post(MOVE, {"opportunity": "abc"}, headers=HTMX).status_code == 404
    assert client.get(MOVE).status_code == 405


def test_only_users_who_may_change_the_deal_can_move_it(rep, other_rep, acme, stages):
    rocket = deal(rep, acme, "Rocket")
    # other_rep cannot see it: as if it did not exist.
    assert _move(client_for(other_rep), rocket, stages["Proposal"]).status_code == 404
    # A reader (public read, no update permission) is refused.
    reader_role = make_role("Sales analyst")
    grant(reader_role, "pipeline.opportunity", "read")
    set_org_default("pipeline.opportunity", OrgWideAccess.PUBLIC_READ)
    reader = UserFactory(role=reader_role)
    response = _move(client_for(reader), rocket, stages["Proposal"])
    assert response.status_code == 403
    assert "ask its owner" in response.content.decode()
    rocket.refresh_from_db()
    assert rocket.stage == stages["Prospecting"]


def test_the_board_is_in_the_sales_navigation(rep, stages, pipeline_roles):
    html = client_for(rep).get("/").content.decode()
    assert '<a href="/opportunities/board/">Pipeline board</a>' in html
