"""Forecasts and quotas: fiscal periods, roll-ups through VP > Manager > Rep, visibility,
managers' adjustments, week-over-week snapshots, quota CSV import, pages and the API."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.test import Client

from patron.contacts.services import account_create
from patron.core.api.testing import assert_problem
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import OrganizationSettings
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix
from patron.pipeline import forecasts
from patron.pipeline.choices import ForecastPeriodKind
from patron.pipeline.forecasts import (
    csv_text_lines,
    fiscal_periods,
    forecast,
    forecast_adjust,
    forecast_users,
    period_containing,
    period_parse,
    quota_import_csv,
    quota_set,
    snapshot_take,
    week_over_week,
)
from patron.pipeline.models import ForecastAdjustment, Opportunity, OpportunitySnapshot, Quota
from patron.pipeline.services import opportunity_create, opportunity_move_stage, opportunity_update
from patron.pipeline.tasks import snapshot_opportunities
from patron.users.models import User
from patron.users.tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
D = datetime.date
Q1_START = D(2026, 4, 1)  # FY2027 Q1 with an April fiscal year
MID_Q1 = D(2026, 5, 1)


@pytest.fixture(autouse=True)
def april_quarters(pipeline_roles):
    OrganizationSettings.objects.update_or_create(
        pk=1,
        defaults={"fiscal_year_start_month": 4, "forecast_period": "quarter"},
    )


@pytest.fixture
def vp(pipeline_roles):
    return UserFactory(role=pipeline_roles["vp"], email="vp@example.com", full_name="Vera VP")


@pytest.fixture
def q1():
    return period_parse("FY2027 Q1")


def _deal(user, stage, amount, close=MID_Q1, **fields):
    account = account_create(user=user, name=f"Account of {user.email}")
    return opportunity_create(
        user=user,
        name=f"{stage.name} {amount}",
        account=account,
        close_date=close,
        amount=amount,
        stage=stage,
        **fields,
    )


def _won(user, stages, amount, closed_on):
    deal = _deal(user, stages["Negotiation"], amount)
    opportunity_move_stage(user=user, opportunity=deal, stage=stages["Won"])
    # The service stamps today; the figures need a fixed day inside the period.
    Opportunity.objects.filter(pk=deal.pk).update(closed_on=closed_on)
    return deal


@pytest.fixture
def book(vp, manager, rep, other_rep, stages):
    """Rep: won 1000, commit 100, best case 200, pipeline 50, and 999 closing next quarter;
    other rep: commit 300; manager: pipeline 40; VP: best case 7; a lost and an omitted deal."""
    _won(rep, stages, "1000", D(2026, 5, 15))
    _deal(rep, stages["Negotiation"], "100")
    _deal(rep, stages["Proposal"], "200", close=D(2026, 6, 30))
    _deal(rep, stages["Prospecting"], "50", close=D(2026, 4, 1))
    _deal(rep, stages["Prospecting"], "999", close=D(2026, 7, 1))
    _deal(rep, stages["Prospecting"], "5000", forecast_category="omitted")
    _deal(other_rep, stages["Negotiation"], "300")
    _deal(manager, stages["Qualification"], "40")
    _deal(vp, stages["Proposal"], "7")
    quota_set(actor=manager, user=rep, period=period_parse("FY2027 Q1"), amount="2000")
    quota_set(actor=manager, user=other_rep, period=period_parse("FY2027 Q1"), amount="1000")


def _figures(row):
    return {name: str(value) for name, value in row.rolled.items()}


# --- fiscal periods ---------------------------------------------------------------------------


def test_april_fiscal_quarters_are_named_by_the_year_they_end_in():
    periods = fiscal_periods(2027, start_month=4, kind=ForecastPeriodKind.QUARTER)
    assert [(p.label, p.start, p.end) for p in periods] == [
        ("FY2027 Q1", D(2026, 4, 1), D(2026, 6, 30)),
        ("FY2027 Q2", D(2026, 7, 1), D(2026, 9, 30)),
        ("FY2027 Q3", D(2026, 10, 1), D(2026, 12, 31)),
        ("FY2027 Q4", D(2027, 1, 1), D(2027, 3, 31)),
    ]


@pytest.mark.parametrize(
    ("day", "label"),
    [
        (D(2026, 3, 31), "FY2026 Q4"),
        (D(2026, 4, 1), "FY2027 Q1"),
        (D(2026, 6, 30), "FY2027 Q1"),
        (D(2026, 7, 1), "FY2027 Q2"),
        (D(2026, 12, 31), "FY2027 Q3"),
        (D(2027, 1, 1), "FY2027 Q4"),
        (D(2027, 3, 31), "FY2027 Q4"),
        (D(2027, 4, 1), "FY2028 Q1"),
    ],
)
def test_a_day_on_each_quarter_boundary_falls_in_the_right_period(day, label):
    assert period_containing(day, start_month=4, kind="quarter").label == label


@pytest.mark.parametrize(
    ("day", "label"),
    [
        (D(2026, 4, 1), "FY2027 M01 (Apr 2026)"),
        (D(2026, 4, 30), "FY2027 M01 (Apr 2026)"),
        (D(2026, 12, 31), "FY2027 M09 (Dec 2026)"),
        (D(2027, 1, 1), "FY2027 M10 (Jan 2027)"),
        (D(2027, 3, 31), "FY2027 M12 (Mar 2027)"),
    ],
)
def test_month_periods_count_from_the_fiscal_year_start(day, label):
    assert period_containing(day, start_month=4, kind="month").label == label


def test_a_january_fiscal_year_is_the_calendar_year():
    periods = fiscal_periods(2026, start_month=1, kind="quarter")
    assert (periods[0].start, periods[-1].end) == (D(2026, 1, 1), D(2026, 12, 31))


def test_periods_parse_from_labels_and_first_days_and_refuse_anything_else():
    assert period_parse("FY2027 Q2").start == D(2026, 7, 1)
    assert period_parse("fy2027 m03").start == D(2026, 6, 1)
    assert period_parse("2026-10-01").label == "FY2027 Q3"
    for bad in ("2026-10-02", "FY2027 Q5", "next quarter", ""):
        with pytest.raises(ValidationFailed) as error:
            period_parse(bad)
        assert "period" in error.value.errors


# --- roll-ups and visibility ------------------------------------------------------------------


def test_the_forecast_rolls_up_through_vp_manager_and_rep(vp, manager, rep, other_rep, book, q1):
    result = forecast(viewer=vp, period=q1, users=forecast_users(vp), hierarchy=True)
    rows = {row.user.email: row for row in result.rows}
    assert [row.user.email for row in result.rows] == [
        "vp@example.com",
        "manager@example.com",
        "other@example.com",
        "rep@example.com",
    ]
    assert [row.depth for row in result.rows] == [0, 1, 2, 2]
    own = rows["rep@example.com"].computed
    assert {k: str(v) for k, v in own.items()} == {
        "closed": "1000.00",
        "commit": "100.00",
        "best_case": "300.00",
        "pipeline": "350.00",
    }
    assert rows["rep@example.com"].attainment == Decimal("50.0")
    assert _figures(rows["manager@example.com"]) == {
        "closed": "1000.00",
        "commit": "400.00",
        "best_case": "600.00",
        "pipeline": "690.00",
    }
    assert rows["manager@example.com"].rolled_quota == Decimal("3000.00")
    assert rows["manager@example.com"].rolled_attainment == Decimal("33.3")
    assert _figures(rows["vp@example.com"]) == {
        "closed": "1000.00",
        "commit": "400.00",
        "best_case": "607.00",
        "pipeline": "697.00",
    }
    assert result.total == rows["vp@example.com"].rolled


def test_a_rep_sees_only_their_own_numbers_not_a_peers(rep, other_rep, book, q1):
    assert forecast_users(rep) == [rep]
    result = forecast(viewer=rep, period=q1, users=[rep, other_rep])
    peer = next(row for row in result.rows if row.user == other_rep)
    assert peer.computed["commit"] == Decimal("0.00")


def test_team_scope_leaves_out_members_the_viewer_may_not_see(rep, other_rep, manager):
    team = TeamFactory()
    team.members.add(rep, other_rep, manager)
    _team, members = forecasts.team_users(rep, team.pk)
    assert members == [rep]
    _team, members = forecasts.team_users(manager, team.pk)
    assert set(members) == {rep, other_rep, manager}


def test_the_forecast_takes_a_fixed_number_of_queries_as_users_grow(vp, pipeline_roles, stages, q1):
    def measure():
        viewer = User.objects.get(pk=vp.pk)
        with assert_max_queries(12) as ctx:
            forecast(viewer=viewer, period=q1, users=forecast_users(viewer), hierarchy=True)
        return len(ctx.captured_queries)

    _deal(UserFactory(role=pipeline_roles["rep"]), stages["Proposal"], "10")
    few = measure()
    for _ in range(4):
        _deal(UserFactory(role=pipeline_roles["rep"]), stages["Proposal"], "10")
    assert measure() == few


# --- adjustments ------------------------------------------------------------------------------


def test_a_manager_adjustment_keeps_both_numbers_and_the_latest_counts(vp, manager, rep, book, q1):
    forecast_adjust(
        manager=manager,
        user=rep,
        period_start=Q1_START,
        category="commit",
        amount="150",
        note="Slipping",
    )
    forecast_adjust(
        manager=vp,
        user=rep,
        period_start=Q1_START,
        category="commit",
        amount="250",
        note="Signed verbally",
    )
    row = next(
        row
        for row in forecast(viewer=manager, period=q1, users=forecast_users(manager)).rows
        if row.user == rep
    )
    assert row.computed["commit"] == Decimal("100.00")
    assert row.figures["commit"] == Decimal("250.00")
    adjustment = row.adjustments["commit"]
    assert (adjustment.computed_amount, adjustment.note, adjustment.adjusted_by) == (
        Decimal("100.00"),
        "Signed verbally",
        "Vera VP",
    )
    assert ForecastAdjustment.objects.count() == 2


def test_only_a_manager_above_may_adjust(manager, rep, other_rep, book):
    for actor, user in ((other_rep, rep), (rep, rep), (rep, manager)):
        with pytest.raises(PermissionDenied):
            forecast_adjust(
                manager=actor,
                user=user,
                period_start=Q1_START,
                category="commit",
                amount="1",
                note="x",
            )
    assert not ForecastAdjustment.objects.exists()


def test_an_adjustment_needs_a_note_an_amount_and_a_judgement_category(manager, rep):
    with pytest.raises(ValidationFailed) as error:
        forecast_adjust(
            manager=manager,
            user=rep,
            period_start=Q1_START,
            category="closed",
            amount="-5",
            note=" ",
        )
    assert set(error.value.errors) == {"category", "amount", "note"}


# --- week over week ---------------------------------------------------------------------------


def test_snapshots_are_taken_once_per_week(rep, stages, manager):
    _deal(rep, stages["Proposal"], "10")
    _deal(rep, stages["Proposal"], "20")
    monday = D(2026, 5, 4)
    assert snapshot_take(on=monday) == 2
    assert snapshot_take(on=D(2026, 5, 7)) == 2
    assert OpportunitySnapshot.objects.filter(taken_on=monday).count() == 2
    snapshot_take(on=D(2026, 5, 11))
    assert OpportunitySnapshot.objects.count() == 4


def test_the_weekly_task_takes_the_snapshot_and_is_scheduled(rep, stages, settings):
    _deal(rep, stages["Proposal"], "10")
    assert snapshot_opportunities() == 1
    assert snapshot_opportunities() == 1
    assert OpportunitySnapshot.objects.count() == 1
    entry = settings.CELERY_BEAT_SCHEDULE["snapshot-opportunities"]
    assert entry["task"] == "pipeline.snapshot_opportunities"


def test_an_administrator_outside_the_hierarchy_sees_everyone_from_the_top(vp, book):
    body = _client(UserFactory(is_superuser=True)).get("/forecast/?period=FY2027 Q1")
    assert body.status_code == 200
    assert "607.00" in body.content.decode()


def test_week_over_week_shows_moves_pushed_dates_wins_and_new_deals(
    manager, rep, stages, q1, price_too_high
):
    moved = _deal(rep, stages["Proposal"], "200")
    pushed = _deal(rep, stages["Proposal"], "70")
    won = _deal(rep, stages["Negotiation"], "500")
    lost = _deal(rep, stages["Prospecting"], "30")
    _deal(rep, stages["Prospecting"], "11")
    snapshot_take(on=D(2026, 5, 4))
    OpportunitySnapshot.objects.update(taken_on=D(2026, 5, 4))
    Opportunity.objects.update(created_at=datetime.datetime(2026, 5, 1, tzinfo=datetime.UTC))
    opportunity_move_stage(user=rep, opportunity=moved, stage=stages["Negotiation"])
    opportunity_update(user=rep, opportunity=pushed, close_date=D(2026, 8, 1))
    opportunity_move_stage(user=rep, opportunity=won, stage=stages["Won"])
    opportunity_move_stage(
        user=rep, opportunity=lost, stage=stages["Lost"], loss_reason=price_too_high
    )
    _deal(rep, stages["Proposal"], "45")

    report = week_over_week(viewer=manager, period=q1, users=forecast_users(manager))
    assert report.since == D(2026, 5, 4)
    moves = {(m.from_category, m.to_category): (m.count, m.amount) for m in report.moves}
    assert moves == {
        ("best_case", "commit"): (1, Decimal("200.00")),
        ("commit", "closed_won"): (1, Decimal("500.00")),
        ("pipeline", "closed_lost"): (1, Decimal("30.00")),
    }
    assert (report.pushed_out.count, report.pushed_out.amount) == (1, Decimal("70.00"))
    assert (report.won.count, report.won.amount) == (1, Decimal("500.00"))
    assert (report.lost.count, report.lost.amount) == (1, Decimal("30.00"))
    assert (report.new.count, report.new.amount) == (1, Decimal("45.00"))
    assert week_over_week(viewer=manager, period=q1, users=[]).moves == []


# --- quotas -----------------------------------------------------------------------------------


def test_quota_csv_saves_good_rows_and_reports_bad_ones_by_line(manager, rep, other_rep):
    data = (
        "\ufeffEmail,Period,Amount,Currency\n"
        "rep@example.com,FY2027 Q1,2000,USD\n"
        "nobody@example.com,FY2027 Q1,10,USD\n"
        "other@example.com,FY2027 Q1,lots,USD\n"
        "other@example.com,FY2031 Q9,10,USD\n"
        "other@example.com,2026-07-01,3000,\n"
        "rep@example.com,FY2027 Q2,10,XYZ\n"
    ).encode()
    result = quota_import_csv(actor=manager, lines=csv_text_lines(data))
    assert result.saved == 2
    assert [(line, sorted(errors)) for line, errors in result.errors] == [
        (3, ["email"]),
        (4, ["amount"]),
        (5, ["period"]),
        (7, ["currency"]),
    ]
    assert "nobody@example.com" in result.errors[0][1]["email"][0]
    quotas = {(q.user.email, q.period_start): (q.amount, q.currency) for q in Quota.objects.all()}
    assert quotas == {
        ("rep@example.com", D(2026, 4, 1)): (Decimal("2000.00"), "USD"),
        ("other@example.com", D(2026, 7, 1)): (Decimal("3000.00"), "USD"),
    }


def test_a_quota_csv_without_the_columns_is_refused(manager):
    with pytest.raises(ValidationFailed) as error:
        quota_import_csv(actor=manager, lines=csv_text_lines(b"name,value\nx,1\n"))
    assert "file" in error.value.errors


def test_a_rep_may_not_set_quotas(rep, other_rep):
    with pytest.raises(PermissionDenied):
        quota_set(actor=rep, user=other_rep, period=period_parse("FY2027 Q1"), amount="5")
    with pytest.raises(ValidationFailed):
        quota_set(
            actor=UserFactory(is_superuser=True),
            user=rep,
            period=period_parse("FY2027 Q1"),
            amount="-1",
        )


def test_a_quarterly_quota_counts_pro_rata_in_a_monthly_forecast(manager, rep):
    quota_set(actor=manager, user=rep, period=period_parse("FY2027 Q1"), amount="9100")
    april = period_parse("FY2027 M01")
    row = forecast(viewer=manager, period=april, users=[rep]).rows[0]
    assert row.quota == Decimal("3000.00")  # 30 of the quarter's 91 days


# --- pages and API ----------------------------------------------------------------------------


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_forecast_page_shows_the_roll_up_and_drills_down(vp, manager, book):
    client = _client(vp)
    response = client.get("/forecast/?period=FY2027 Q1&scope=hierarchy")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Forecast FY2027 Q1" in body
    assert "607.00" in body  # the VP's rolled-up best case
    assert f"focus={manager.pk}" in body
    drilled = client.get(f"/forecast/?period=2026-04-01&scope=hierarchy&focus={manager.pk}")
    assert "Rita Rep" in drilled.content.decode()
    assert "Otto Other" in drilled.content.decode()


def test_a_rep_does_not_see_a_peers_figures_on_the_page(rep, other_rep, book):
    team = TeamFactory(name="Closers")
    team.members.add(rep, other_rep)
    body = _client(rep).get(f"/forecast/?period=FY2027 Q1&scope=team:{team.pk}").content.decode()
    assert "Rita Rep" in body
    assert "Otto Other" not in body
    assert "Adjust a forecast" not in body


def test_a_manager_adjusts_from_the_page_and_bad_input_answers_422(manager, rep, book):
    client = _client(manager)
    form = {"period": "2026-04-01", "scope": "hierarchy", "user": rep.pk, "category": "commit"}
    bad = client.post("/forecast/adjust/", {**form, "amount": "-3", "note": ""})
    assert bad.status_code == 422
    assert not ForecastAdjustment.objects.exists()
    good = client.post("/forecast/adjust/", {**form, "amount": "180", "note": "Legal done"})
    assert good.status_code == 302
    body = client.get(good["Location"]).content.decode()
    assert "Adjusted by Mia Manager (computed 100.00): Legal done" in body


def test_a_rep_cannot_adjust_through_the_page(rep, other_rep):
    response = _client(rep).post(
        "/forecast/adjust/",
        {
            "period": "2026-04-01",
            "user": other_rep.pk,
            "category": "commit",
            "amount": "1",
            "note": "x",
        },
    )
    assert response.status_code == 422
    assert not ForecastAdjustment.objects.exists()


def test_the_forecast_page_query_count_does_not_grow_with_users(vp, pipeline_roles, stages):
    client = _client(vp)

    def count():
        with assert_max_queries(40) as ctx:
            assert client.get("/forecast/?period=FY2027 Q1").status_code == 200
        return len(ctx.captured_queries)

    _deal(UserFactory(role=pipeline_roles["manager"]), stages["Proposal"], "10")
    count()  # the first request of a session loads what later ones reuse
    few = count()
    for role in ("manager", "rep", "rep", "rep"):
        _deal(UserFactory(role=pipeline_roles[role]), stages["Proposal"], "10")
    assert count() == few


def test_the_quota_grid_saves_changed_cells_and_refuses_bad_ones_whole(manager, rep, other_rep):
    client = _client(manager)
    page = client.get("/forecast/quotas/?year=2027")
    assert page.status_code == 200
    assert f'name="q_{rep.pk}_2026-04-01"' in page.content.decode()
    bad = client.post(
        "/forecast/quotas/?year=2027",
        {"year": "2027", f"q_{rep.pk}_2026-04-01": "500", f"q_{other_rep.pk}_2026-07-01": "x"},
    )
    assert bad.status_code == 422
    assert not Quota.objects.exists()
    good = client.post(
        "/forecast/quotas/?year=2027",
        {"year": "2027", f"q_{rep.pk}_2026-04-01": "500", f"q_{other_rep.pk}_2026-07-01": ""},
    )
    assert good.status_code == 302
    assert Quota.objects.get().amount == Decimal("500.00")


def test_the_quota_upload_lists_bad_lines(manager, rep):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = b"email,period,amount\nrep@example.com,FY2027 Q1,10\nghost@example.com,FY2027 Q1,5\n"
    response = _client(manager).post(
        "/forecast/quotas/import/?year=2027",
        {"file": SimpleUploadedFile("quotas.csv", data, content_type="text/csv")},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "1 quota row saved, 1 not saved" in body
    assert "Line 3" in body


# --- API --------------------------------------------------------------------------------------


def test_the_forecast_api_rolls_up_the_hierarchy(vp, book):
    response = _client(vp).get("/api/v1/forecasts?period=FY2027 Q1&scope=hierarchy")
    assert response.status_code == 200
    data = response.json()
    assert data["period"]["label"] == "FY2027 Q1"
    top = data["rows"][0]
    assert (top["name"], Decimal(top["rolled"]["best_case"])) == ("Vera VP", Decimal("607"))
    assert Decimal(data["total"]["pipeline"]) == Decimal("697")


def test_the_forecast_api_hides_a_peers_figures_and_refuses_a_bad_scope(rep, other_rep, book):
    client = _client(rep)
    data = client.get("/api/v1/forecasts?period=FY2027 Q1").json()
    assert [row["name"] for row in data["rows"]] == ["Rita Rep"]
    bad = client.get("/api/v1/forecasts?scope=everyone")
    assert bad.status_code == 422
    assert "scope" in bad.json()["errors"]
    assert client.get("/api/v1/forecasts?period=FY2027 Q7").status_code == 422


def test_adjustments_through_the_api_only_for_managers(manager, rep, other_rep, book):
    payload = {
        "user": rep.pk,
        "period": "FY2027 Q1",
        "category": "commit",
        "amount": "120",
        "note": "Budget approved",
    }
    denied = _client(other_rep).post(
        "/api/v1/forecasts/adjustments", payload, content_type="application/json"
    )
    assert denied.status_code == 403
    created = _client(manager).post(
        "/api/v1/forecasts/adjustments", payload, content_type="application/json"
    )
    assert created.status_code == 201
    body = created.json()
    assert (Decimal(body["computed_amount"]), Decimal(body["amount"])) == (
        Decimal("100"),
        Decimal("120"),
    )


def test_quotas_through_the_api(manager, rep, other_rep):
    client = _client(manager)
    put = client.put(
        "/api/v1/quotas",
        {"user": rep.pk, "period": "2026-04-01", "amount": "900"},
        content_type="application/json",
    )
    assert put.status_code == 200
    assert put.json()["currency"] == "USD"
    listed = client.get("/api/v1/quotas?year=2027").json()
    assert [(q["user_email"], q["period_end"]) for q in listed] == [
        ("rep@example.com", "2026-06-30")
    ]
    assert _client(other_rep).get("/api/v1/quotas?year=2027").json() == []
    bad = client.put(
        "/api/v1/quotas",
        {"user": rep.pk, "period": "2026-04-02", "amount": "900"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    imported = client.post(
        "/api/v1/quotas/import",
        b"email,period,amount\nother@example.com,FY2027 Q2,5\nrep@example.com,FY2027 Q2,-1\n",
        content_type="text/csv",
    )
    assert imported.status_code == 200
    assert imported.json() == {
        "saved": 1,
        "errors": [
            {"line": 3, "errors": {"amount": ["Enter an amount of 0 or more, like 250000."]}}
        ],
    }


def test_quotas_of_a_year_without_dates_are_refused_naming_year(manager):
    # Found by the API fuzz test (issue 8): year=1000000 was a 500.
    for year in (1000000, 0, -5):
        response = _client(manager).get(f"/api/v1/quotas?year={year}")
        assert_problem(response, 422, "year")


def test_visibility_matrix_a_manager_sees_a_reps_forecast_and_quota_a_peer_does_not(
    manager, rep, other_rep, book
):
    check_visibility_matrix(
        [
            Endpoint("forecast page", "/forecast/?period=FY2027 Q1&focus=", "list"),
            Endpoint("quota page", "/forecast/quotas/?year=2027", "list"),
            Endpoint("forecast API", "/api/v1/forecasts?period=FY2027 Q1", "list"),
        ],
        marker="Otto Other",
        allowed=manager,
        denied=rep,
    )
    check_visibility_matrix(
        [Endpoint("quota API", "/api/v1/quotas?year=2027", "list")],
        marker="other@example.com",
        allowed=manager,
        denied=rep,
    )
