"""Lead scoring: rules (fit and behaviour, caps), a replayed event scoring once, the learned
model on synthetic history with its reasons, too little history, and the score card/API."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.jobs import job_progress
from patron.core.models import Job
from patron.core.testing import grant
from patron.leads import scoring, scoring_model, tasks
from patron.leads.models import Lead, ScoreModel, ScoringRule
from patron.leads.scoring import (
    behaviour_record,
    clean_rule,
    lead_score_refresh,
    scoring_rule_create,
)
from patron.leads.scoring_sources import BehaviourSource, register_behaviour_source
from patron.leads.tasks import refit_score_model, refit_score_model_job

pytestmark = pytest.mark.django_db


def fit(name, field, operator, value, points):
    return ScoringRule.objects.create(
        name=name, kind="fit", field=field, operator=operator, value=value, points=points
    )


def behaviour(name, event_type, points, cap=None):
    return ScoringRule.objects.create(
        name=name, kind="behaviour", event_type=event_type, points=points, max_points=cap
    )


def make_lead(owner, **fields):
    fields.setdefault("last_name", "Lovelace")
    return Lead.objects.create(owner=owner, **fields)


# --- validating rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"field": "shoe_size", "operator": "eq", "value": "9"}, "field", "not a lead field"),
        ({"field": "industry", "operator": "gt", "value": "b"}, "operator", "can be tested with"),
        ({"field": "employee_count", "operator": "gte", "value": "many"}, "value", "a number"),
        ({"field": "source", "operator": "eq", "value": "carrier pigeon"}, "value", "choose one"),
        ({"field": "country", "operator": "in", "value": []}, "value", "at least one value"),
        ({"field": "title", "operator": "eq", "value": ""}, "value", "Enter the value"),
    ],
)
def test_fit_rules_are_validated_against_the_lead_fields(data, field, words):
    with pytest.raises(ValidationFailed) as caught:
        clean_rule({"name": "R", "kind": "fit", "points": 5, **data})
    assert words in " ".join(caught.value.errors[field])


def test_rule_errors_name_every_bad_field():
    with pytest.raises(ValidationFailed) as caught:
        clean_rule({"name": "", "kind": "behaviour", "points": 0, "event_type": "tv.watched"})
    assert set(caught.value.errors) == {"name", "points", "event_type"}


def test_a_cap_below_one_events_points_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        clean_rule(
            {
                "name": "Calls",
                "kind": "behaviour",
                "event_type": "activity.call",
                "points": 10,
                "max_points": 5,
            }
        )
    assert "max_points" in caught.value.errors


def test_values_are_cleaned_to_what_evaluation_compares():
    cleaned = clean_rule(
        {
            "name": "Big",
            "kind": "fit",
            "field": "employee_count",
            "operator": "gte",
            "value": "500",
            "points": 10,
        }
    )
    assert cleaned["value"] == 500
    cleaned = clean_rule(
        {
            "name": "Web",
            "kind": "fit",
            "field": "source",
            "operator": "in",
            "value": "Web form, referral",
            "points": 10,
        }
    )
    assert cleaned["value"] == ["web_form", "referral"]


def test_only_administrators_change_rules(rep):
    with pytest.raises(PermissionDenied):
        scoring_rule_create(
            user=rep,
            data={
                "name": "R",
                "kind": "fit",
                "field": "title",
                "operator": "is_not_empty",
                "points": 1,
            },
        )


# --- scoring ----------------------------------------------------------------------------------


def test_fit_and_behaviour_rules_add_up_with_caps_and_explain_themselves(admin_user):
    fit("Software", "industry", "in", ["software", "saas"], 20)
    fit("Big", "employee_count", "gte", 200, 10)
    fit("No phone", "phone", "is_empty", None, -5)
    fit("Gmail", "email", "contains", "@gmail.", -15)
    behaviour("Calls", "activity.call", 10, cap=25)
    behaviour("Notes", "activity.note", 1)
    lead = make_lead(
        admin_user,
        industry="SaaS",
        employee_count=250,
        phone="+4930123456",
        email="ada@engines.example",
    )
    for i in range(4):
        assert behaviour_record(lead=lead, event_type="activity.call", source_key=f"call:{i}")
    behaviour_record(lead=lead, event_type="activity.note", source_key="note:1")
    lead.refresh_from_db()
    assert (lead.score_fit, lead.score_behaviour, lead.score) == (30, 26, 56)
    fired = {rule["label"]: rule for rule in lead.score_explanation["rules"]}
    assert set(fired) == {"Software", "Big", "Calls", "Notes"}
    assert fired["Calls"]["points"] == 25
    assert "4 times" in fired["Calls"]["detail"]
    assert "capped" in fired["Calls"]["detail"]
    assert fired["Software"]["detail"] == "Industry is one of software, saas"


def test_a_replayed_behaviour_event_scores_once(admin_user):
    behaviour("Calls", "activity.call", 10)
    lead = make_lead(admin_user)
    assert behaviour_record(lead=lead, event_type="activity.call", source_key="activity:7")
    assert not behaviour_record(lead=lead, event_type="activity.call", source_key="activity:7")
    lead.refresh_from_db()
    assert lead.score == 10


def test_later_apps_add_behaviour_types_without_changes_here(admin_user):
    register_behaviour_source(BehaviourSource("web.visit", "Visited the website"))
    rule = scoring_rule_create(
        user=admin_user,
        data={"name": "Visits", "kind": "behaviour", "event_type": "web.visit", "points": 2},
    )
    lead = make_lead(admin_user)
    behaviour_record(lead=lead, event_type="web.visit", source_key="visit:1")
    lead.refresh_from_db()
    assert lead.score == 2
    assert scoring.describe_rule(rule) == "Visited the website: +2 each"


def test_saving_a_lead_rescores_it(admin_user, django_capture_on_commit_callbacks):
    from patron.leads.services import lead_update

    fit("Germany", "country", "eq", "de", 7)
    lead = make_lead(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        lead_update(user=admin_user, lead=lead, data={"country": "DE"})
    lead.refresh_from_db()
    assert lead.score == 7


def test_scoring_does_not_bump_the_version_a_user_is_editing(admin_user):
    fit("Any title", "title", "is_not_empty", None, 3)
    lead = make_lead(admin_user, title="CTO")
    version = lead.version
    lead_score_refresh(lead=lead)
    assert Lead.objects.get(pk=lead.pk).version == version


# --- the learned model ------------------------------------------------------------------------


def history(owner, converted=30, disqualified=30):
    now = timezone.now()
    rows = []
    for i in range(converted):
        rows.append(
            Lead(
                owner=owner,
                last_name=f"Won {i}",
                source="referral",
                phone="+4930123456" if i % 3 else "",
                title="CEO" if i % 2 else "CTO",
                employee_count=300,
                converted_at=now,
                status="qualified",
            )
        )
    for i in range(disqualified):
        rows.append(
            Lead(
                owner=owner,
                last_name=f"Lost {i}",
                source="advertising",
                title="Intern" if i % 2 else "",
                employee_count=5 if i % 4 else 300,
                status="disqualified",
                disqualification_reason="no_budget",
                phone="+4930123456" if i % 5 == 0 else "",
            )
        )
    Lead.objects.bulk_create(rows)


def test_too_little_history_gives_no_model_and_says_why(admin_user):
    history(admin_user, converted=25, disqualified=12)
    outcome = scoring_model.score_model_fit()
    assert outcome.model is None
    assert "12 disqualified" in outcome.message
    assert "at least 20 of each" in outcome.message
    assert not ScoreModel.objects.exists()


def test_model_learned_from_history_gives_probabilities_and_reasons(admin_user):
    history(admin_user)
    outcome = scoring_model.score_model_fit()
    model = outcome.model
    assert model is not None
    assert model.is_current
    assert model.converted_count == 30
    assert model.disqualified_count == 30
    assert model.metrics["roc_auc"] > 0.9
    # Stored as plain numbers: JSON, no pickle.
    assert all(isinstance(spec["coefficient"], float) for spec in model.features.values())
    promising = make_lead(
        admin_user, source="referral", title="CEO", phone="+4930111111", employee_count=400
    )
    doubtful = make_lead(admin_user, source="advertising", title="Intern", employee_count=3)
    lead_score_refresh(lead=promising)
    lead_score_refresh(lead=doubtful)
    assert promising.score_probability > 0.8 > 0.2 > doubtful.score_probability
    reasons = promising.score_explanation["model"]
    assert len(reasons) == 3
    assert reasons[0]["direction"] == "raises"
    assert any(r["label"] == "Source is Referral" for r in reasons)
    assert any(
        r["label"] == "Source is Advertising" and r["direction"] == "lowers"
        for r in doubtful.score_explanation["model"]
    )


def test_a_new_fit_replaces_the_current_model(admin_user):
    history(admin_user)
    first = scoring_model.score_model_fit().model
    second = scoring_model.score_model_fit().model
    assert ScoreModel.objects.get(is_current=True) == second != first


def test_scheduled_refit_runs_only_when_the_model_is_old(admin_user):
    history(admin_user)
    refit_score_model()
    assert ScoreModel.objects.count() == 1
    refit_score_model()
    assert ScoreModel.objects.count() == 1
    ScoreModel.objects.update(trained_at=timezone.now() - datetime.timedelta(days=8))
    refit_score_model()
    assert ScoreModel.objects.count() == 2


def test_refit_on_demand_reports_its_outcome_on_the_job(admin_user, client):
    client.force_login(admin_user)
    response = client.post(reverse("lead_policy:scoring_refit"))
    job = Job.objects.get()
    assert response.status_code == 302
    refit_score_model_job(job.pk)
    job.refresh_from_db()
    assert job.status == "done"
    assert "Not enough history" in job.message


def test_refit_job_shows_progress_through_rescoring_the_open_leads(admin_user, monkeypatch):
    history(admin_user)
    for i in range(3):
        make_lead(admin_user, last_name=f"Open {i}")
    reported: list[tuple[int, int | None, str]] = []

    def recording_progress(job, *, done, total=None, message=""):
        reported.append((done, total, message))
        job_progress(job, done=done, total=total, message=message)

    monkeypatch.setattr(scoring, "job_progress", recording_progress)
    job = Job.objects.create(kind=tasks.REFIT_JOB_KIND, created_by=admin_user, params={})
    refit_score_model_job(job.pk)
    job.refresh_from_db()
    assert job.status == "done"
    assert "Learned from 60 leads" in job.message
    assert (job.progress_done, job.progress_total) == (3, 3)
    assert reported[0] == (0, None, "Learning the score model from the leads' history.")
    assert reported[1] == (0, 3, "Scoring the open leads with the new model.")
    assert reported[-1] == (3, 3, "")


# --- pages and API ----------------------------------------------------------------------------


def test_lead_page_shows_the_score_card(lead_roles, rep, admin_user, client):
    fit("Software", "industry", "eq", "software", 20)
    lead = make_lead(rep, industry="Software")
    lead_score_refresh(lead=lead)
    client.force_login(rep)
    response = client.get(reverse("leads:lead_detail", args=[lead.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="lead-score"' in html
    assert "Industry is software" in html


def test_score_api_explains_a_lead_to_those_who_see_it(lead_roles, rep, other_rep, client):
    fit("Software", "industry", "eq", "software", 20)
    lead = make_lead(rep, industry="software")
    lead_score_refresh(lead=lead)
    client.force_login(rep)
    body = client.get(f"/api/v1/leads/{lead.pk}/score").json()
    assert body["score"] == 20
    assert body["probability"] is None
    assert body["rules"][0]["label"] == "Software"
    client.force_login(other_rep)
    assert client.get(f"/api/v1/leads/{lead.pk}/score").status_code == 404


def test_rules_api_creates_validates_and_is_for_administrators(admin_user, rep, client):
    client.force_login(admin_user)
    created = client.post(
        "/api/v1/lead-scoring/rules",
        {
            "name": "Big",
            "kind": "fit",
            "field": "employee_count",
            "operator": "gte",
            "value": 200,
            "points": 15,
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    bad = client.patch(
        f"/api/v1/lead-scoring/rules/{rule_id}",
        {"operator": "contains"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert "operator" in bad.json()["errors"]
    assert ScoringRule.objects.get().operator == "gte"
    assert client.get("/api/v1/lead-scoring/model").json()["has_model"] is False
    assert client.delete(f"/api/v1/lead-scoring/rules/{rule_id}").status_code == 204
    client.force_login(rep)
    assert client.get("/api/v1/lead-scoring/rules").status_code == 403


def test_rule_page_shows_errors_inline_and_keeps_the_input(admin_user, client):
    client.force_login(admin_user)
    response = client.post(
        reverse("lead_policy:scoring_rule_create"),
        {
            "name": "Odd",
            "kind": "fit",
            "field": "industry",
            "operator": "gt",
            "value": "x",
            "points": "5",
            "position": "0",
        },
    )
    assert response.status_code == 422
    assert "can be tested with" in response.content.decode()
    assert not ScoringRule.objects.exists()
    ok = client.post(
        reverse("lead_policy:scoring_rule_create"),
        {
            "name": "Calls",
            "kind": "behaviour",
            "event_type": "activity.call",
            "points": "5",
            "max_points": "20",
            "position": "0",
            "is_active": "on",
        },
    )
    assert ok.status_code == 302
    assert client.get(reverse("lead_policy:scoring")).status_code == 200


def test_activities_logged_on_a_lead_score_as_behaviour(
    lead_roles, rep, django_capture_on_commit_callbacks
):
    from patron.activities.services import activity_create

    for role in lead_roles.values():
        grant(role, "activities.activity", "create", "read")
    behaviour("Calls", "activity.call", 10)
    lead = make_lead(rep)
    with django_capture_on_commit_callbacks(execute=True):
        activity_create(
            user=rep,
            kind="call",
            subject="Intro",
            links=[{"object_type": "leads.lead", "id": lead.pk}],
        )
    lead.refresh_from_db()
    assert lead.score == 10


def test_a_lead_at_the_hot_score_is_hot(admin_user):
    from unittest import mock

    from patron.leads import policy_services
    from patron.leads.policy_services import lead_settings_update

    fit("Software", "industry", "eq", "software", 20)
    lead = make_lead(admin_user, industry="software")
    lead_score_refresh(lead=lead)
    assert lead.score_explanation["hot"] is False
    with mock.patch.object(policy_services, "enqueue") as enqueue:
        lead_settings_update(user=admin_user, hot_score=20)
    enqueue.assert_called_once_with("leads.rescore_leads")
    scoring.leads_rescore()
    lead.refresh_from_db()
    assert lead.score_explanation["hot"] is True
