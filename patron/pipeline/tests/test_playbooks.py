"""Playbooks: the definition's validation, YAML export and import, exit criteria, the activity
plan, versioning, checklist ticks, the adherence report, pages and API."""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from conftest import ALL_ACTIONS
from patron.activities.models import Activity, ActivityLink
from patron.contacts.services import account_create
from patron.contacts.tests.test_api import bearer
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix, grant
from patron.pipeline import playbooks
from patron.pipeline.models import ChecklistTick, Opportunity, Playbook, PlaybookVersion
from patron.pipeline.services import opportunity_create, opportunity_move_stage, opportunity_update

pytestmark = pytest.mark.django_db

CLOSE = datetime.date(2027, 3, 31)

DEFINITION: dict[str, Any] = {
    "stages": {
        "Prospecting": {
            "guidance": "Find the pain.\nName the budget holder.",
            "required_fields": ["next_step", "amount"],
            "required_checklist": ["Budget confirmed"],
            "checklist": ["Budget confirmed", "Decision maker met"],
            "call_script": "Hello, this is …",
            "email_templates": [
                {"name": "Intro", "subject": "Nice to meet you", "body": "Dear …\nThanks."}
            ],
            "activity_plan": [
                {"subject": "Research the account", "day_offset": 0},
                {"subject": "First call", "day_offset": 2, "priority": "high"},
            ],
        },
        "Proposal": {
            "checklist": ["Proposal sent"],
            "activity_plan": [{"subject": "Follow up on the proposal", "day_offset": 3}],
        },
    }
}


@pytest.fixture
def sellers(pipeline_roles):
    for role in pipeline_roles.values():
        grant(role, "activities.activity", *ALL_ACTIONS)
    return pipeline_roles


@pytest.fixture
def playbook(admin_user, sales_pipeline):
    return playbooks.playbook_create(
        user=admin_user,
        pipeline=sales_pipeline,
        name="Enterprise",
        definition=copy.deepcopy(DEFINITION),
        note="First cut",
    )


def _deal(user, acme, name="Rockets", **fields):
    return opportunity_create(user=user, name=name, account=acme, close_date=CLOSE, **fields)


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the definition ---------------------------------------------------------------------------


def _problems(definition, pipeline) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        playbooks.validate_definition(definition, pipeline=pipeline)
    return caught.value.errors["definition"]


def test_definition_errors_name_the_path(sales_pipeline):
    problems = _problems(
        {
            "stages": {
                "Proposal": {
                    "activity_plan": [
                        {"subject": "Call", "day_offset": 1},
                        {"subject": "Send", "day_offset": -2},
                        {"subject": "", "day_offset": 1.5, "priority": "urgent"},
                    ],
                    "required_fields": ["amount", "colour"],
                    "checklist": ["Sent"],
                    "required_checklist": ["Signed"],
                    "email_templates": [{"subject": "Hi"}],
                    "mood": "happy",
                },
                "Closing": {},
            }
        },
        sales_pipeline,
    )
    assert (
        "stages.Proposal.activity_plan[1].day_offset must be a whole number of days, 0 or more."
        in problems
    )
    assert (
        "stages.Proposal.activity_plan[2].day_offset must be a whole number of days, 0 or more."
        in (problems)
    )
    assert "stages.Proposal.activity_plan[2].subject is required." in problems
    assert any(
        p.startswith("stages.Proposal.activity_plan[2].priority must be one of") for p in problems
    )
    assert any(p.startswith("stages.Proposal.required_fields[1] “colour”") for p in problems)
    assert (
        "stages.Proposal.required_checklist[0] “Signed” must also be in "
        "stages.Proposal.checklist." in problems
    )
    assert "stages.Proposal.email_templates[0].name is required." in problems
    assert any(p.startswith("stages.Proposal.mood is not a known key") for p in problems)
    assert any(p.startswith("stages.Closing: “Closing” is not a stage") for p in problems)


def test_definition_must_be_a_mapping(sales_pipeline):
    assert _problems(["stages"], sales_pipeline) == [
        'The definition must be a mapping with a "stages" key.'
    ]


def test_valid_definition_is_normalised_in_stage_order(sales_pipeline):
    clean = playbooks.validate_definition(
        {"stages": {"Proposal": {"checklist": [" Sent "]}, "Prospecting": None}},
        pipeline=sales_pipeline,
    )
    assert list(clean["stages"]) == ["Prospecting", "Proposal"]
    assert clean["stages"]["Proposal"]["checklist"] == ["Sent"]
    assert clean["stages"]["Prospecting"] == {
        "guidance": "",
        "required_fields": [],
        "required_checklist": [],
        "checklist": [],
        "call_script": "",
        "email_templates": [],
        "activity_plan": [],
    }


# --- versions ---------------------------------------------------------------------------------


def test_publishing_keeps_old_versions_unchanged_and_switches_the_active_one(admin_user, playbook):
    first = playbook.active_version
    assert first is not None
    assert first.number == 1
    before = copy.deepcopy(first.definition)
    changed = copy.deepcopy(DEFINITION)
    changed["stages"]["Proposal"]["checklist"].append("Pricing approved")
    second = playbooks.playbook_publish_version(
        user=admin_user, playbook=playbook, definition=changed, note="Pricing step"
    )
    first.refresh_from_db()
    playbook.refresh_from_db()
    assert second.number == 2
    assert playbook.active_version == second
    assert first.definition == before
    assert "Pricing approved" not in first.definition["stages"]["Proposal"]["checklist"]


def test_invalid_version_is_not_published(admin_user, playbook):
    with pytest.raises(ValidationFailed):
        playbooks.playbook_publish_version(
            user=admin_user, playbook=playbook, definition={"stages": {"Nope": {}}}
        )
    playbook.refresh_from_db()
    assert playbook.versions.count() == 1
    assert playbook.active_version is not None
    assert playbook.active_version.number == 1


def test_only_administrators_change_playbooks(rep, playbook, sales_pipeline):
    with pytest.raises(PermissionDenied):
        playbooks.playbook_publish_version(user=rep, playbook=playbook, definition=DEFINITION)
    with pytest.raises(PermissionDenied):
        playbooks.playbook_import_yaml(user=rep, text="playbook: X")


def test_a_pipeline_has_one_playbook(admin_user, playbook, sales_pipeline):
    with pytest.raises(ValidationFailed) as caught:
        playbooks.playbook_create(user=admin_user, pipeline=sales_pipeline, name="Other")
    assert "publish a new version" in caught.value.errors["pipeline"][0]


# --- YAML -------------------------------------------------------------------------------------


def test_yaml_export_then_import_gives_the_same_definition(admin_user, playbook):
    version = playbook.active_version
    text = playbooks.playbook_export_yaml(version=version)
    assert "playbook: Enterprise" in text
    assert "guidance: |-\n      Find the pain." in text
    imported = playbooks.playbook_import_yaml(user=admin_user, text=text)
    assert imported.playbook_id == playbook.pk
    assert imported.number == 2
    assert imported.definition == version.definition
    assert imported.note == "First cut"


def test_import_creates_the_playbook_of_a_pipeline_without_one(admin_user, sales_pipeline):
    version = playbooks.playbook_import_yaml(
        user=admin_user,
        text="playbook: Fresh\npipeline: New business\nstages:\n  Proposal:\n"
        "    checklist: [Proposal sent]\n",
    )
    assert version.playbook.name == "Fresh"
    assert version.definition["stages"]["Proposal"]["checklist"] == ["Proposal sent"]


def test_malformed_yaml_names_the_line_and_saves_nothing(admin_user, sales_pipeline):
    text = "playbook: Broken\npipeline: New business\nstages:\n  Proposal: [unclosed\n"
    with pytest.raises(ValidationFailed) as caught:
        playbooks.playbook_import_yaml(user=admin_user, text=text)
    assert "line 5" in caught.value.errors["file"][0]
    assert "Nothing was saved" in caught.value.errors["file"][0]
    assert not Playbook.objects.exists()
    assert not PlaybookVersion.objects.exists()


def test_import_with_an_invalid_stage_saves_nothing(admin_user, sales_pipeline):
    text = "playbook: Broken\npipeline: New business\nstages:\n  Closing: {}\n"
    with pytest.raises(ValidationFailed):
        playbooks.playbook_import_yaml(user=admin_user, text=text)
    assert not Playbook.objects.exists()


def test_import_for_an_unknown_pipeline_is_refused(admin_user, sales_pipeline):
    with pytest.raises(ValidationFailed) as caught:
        playbooks.playbook_import_yaml(user=admin_user, text="playbook: X\npipeline: Nope\n")
    assert caught.value.errors["pipeline"] == ["There is no pipeline named “Nope”."]


# --- exit criteria ----------------------------------------------------------------------------


def test_exit_criteria_block_moving_forward_and_say_what_is_missing(
    rep, acme, stages, playbook, sellers
):
    deal = _deal(rep, acme)
    with pytest.raises(ValidationFailed) as caught:
        opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Qualification"])
    assert caught.value.errors["stage"] == [
        "Fill in Next step and Amount; tick “Budget confirmed”."
    ]
    deal.refresh_from_db()
    assert deal.stage == stages["Prospecting"]

    deal = opportunity_update(user=rep, opportunity=deal, next_step="Demo", amount="500")
    with pytest.raises(ValidationFailed) as caught:
        opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Won"])
    assert caught.value.errors["stage"] == ["Tick “Budget confirmed”."]

    playbooks.checklist_tick(user=rep, opportunity=deal, item="Budget confirmed")
    deal = opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Qualification"])
    assert deal.stage == stages["Qualification"]


def test_exit_criteria_do_not_block_moving_back_or_losing(
    rep, acme, stages, playbook, sellers, price_too_high
):
    deal = _deal(rep, acme)
    deal = opportunity_move_stage(
        user=rep, opportunity=deal, stage=stages["Lost"], loss_reason=price_too_high
    )
    assert deal.stage == stages["Lost"]
    deal = opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Prospecting"])
    other = _deal(rep, acme, name="Satellites", stage=stages["Proposal"])
    other = opportunity_move_stage(user=rep, opportunity=other, stage=stages["Prospecting"])
    assert other.stage == stages["Prospecting"]


def test_without_a_playbook_moves_are_not_checked(rep, acme, stages, sellers):
    deal = _deal(rep, acme)
    deal = opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Negotiation"])
    assert deal.stage == stages["Negotiation"]


# --- activity plan ----------------------------------------------------------------------------


def test_entering_a_stage_creates_the_plan_tasks_once(
    rep, acme, stages, playbook, sellers, django_capture_on_commit_callbacks
):
    rep.time_zone = "Pacific/Auckland"
    rep.save(update_fields=["time_zone"])
    with django_capture_on_commit_callbacks(execute=True):
        deal = _deal(rep, acme)
    payload = {
        "pk": deal.pk,
        "actor_id": rep.pk,
        "from_stage_id": None,
        "to_stage_id": stages["Prospecting"].pk,
    }
    playbooks.create_activity_plan("opportunity.stage_changed", payload)
    playbooks.create_activity_plan("opportunity.stage_changed", payload)

    linked = ActivityLink.objects.filter(object_id=deal.pk).values("activity_id")
    tasks = {task.subject: task for task in Activity.objects.filter(pk__in=linked)}
    assert set(tasks) == {"Research the account", "First call"}
    today = datetime.datetime.now(ZoneInfo("Pacific/Auckland")).date()
    first_call = tasks["First call"]
    assert first_call.kind == "task"
    assert first_call.priority == "high"
    assert first_call.assignee == rep
    assert first_call.owner == rep
    assert first_call.due_at is not None
    due = first_call.due_at.astimezone(ZoneInfo("Pacific/Auckland"))
    assert (due.date(), due.hour) == (today + datetime.timedelta(days=2), 9)
    deal.refresh_from_db()
    assert deal.playbook_version == playbook.active_version


def test_moving_a_deal_creates_the_plan_of_the_stage_it_enters(
    rep, acme, stages, playbook, sellers, django_capture_on_commit_callbacks
):
    deal = _deal(rep, acme, stage=stages["Qualification"])
    with django_capture_on_commit_callbacks(execute=True):
        opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Proposal"])
    linked = ActivityLink.objects.filter(object_id=deal.pk).values("activity_id")
    subjects = list(Activity.objects.filter(pk__in=linked).values_list("subject", flat=True))
    assert subjects == ["Follow up on the proposal"]


def test_a_stage_without_a_plan_creates_nothing(rep, acme, stages, playbook, sellers):
    deal = _deal(rep, acme, stage=stages["Negotiation"])
    playbooks.create_activity_plan(
        "opportunity.stage_changed", {"pk": deal.pk, "to_stage_id": stages["Negotiation"].pk}
    )
    assert not ActivityLink.objects.filter(object_id=deal.pk).exists()


# --- checklist --------------------------------------------------------------------------------


def test_ticking_needs_edit_access_and_a_known_item(rep, other_rep, acme, playbook, sellers):
    deal = _deal(rep, acme)
    with pytest.raises(PermissionDenied):
        playbooks.checklist_tick(user=other_rep, opportunity=deal, item="Budget confirmed")
    with pytest.raises(ValidationFailed) as caught:
        playbooks.checklist_tick(user=rep, opportunity=deal, item="Lunch")
    assert caught.value.errors["item"] == [
        "“Lunch” is not on the playbook checklist of “Prospecting”."
    ]
    tick = playbooks.checklist_tick(user=rep, opportunity=deal, item="Budget confirmed")
    again = playbooks.checklist_tick(user=rep, opportunity=deal, item="Budget confirmed")
    assert tick.pk == again.pk
    assert tick.playbook_version == playbook.active_version
    playbooks.checklist_untick(user=rep, opportunity=deal, item="Budget confirmed")
    assert not ChecklistTick.objects.filter(opportunity=deal).exists()


# --- adherence --------------------------------------------------------------------------------


def _closed(rep, acme, stages, name, *, ticked: bool, won: bool, lost_reason):
    deal = _deal(rep, acme, name=name, next_step="Call", amount="100")
    Opportunity.objects.filter(pk=deal.pk).update(
        playbook_version=Playbook.objects.get().active_version
    )
    playbooks.checklist_tick(user=rep, opportunity=deal, item="Budget confirmed")
    if ticked:
        playbooks.checklist_tick(user=rep, opportunity=deal, item="Decision maker met")
    deal = opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Proposal"])
    if ticked:
        playbooks.checklist_tick(user=rep, opportunity=deal, item="Proposal sent")
    target = stages["Won"] if won else stages["Lost"]
    return opportunity_move_stage(
        user=rep, opportunity=deal, stage=target, loss_reason=None if won else lost_reason
    )


def test_adherence_compares_win_rates_as_computed_by_hand(
    rep, other_rep, acme, stages, playbook, sellers, price_too_high
):
    # Followed: 3 closed, 2 won (66.7 %). Not followed: 2 closed, 1 won (50 %). An open deal
    # and a closed deal of another rep that ``rep`` cannot see are left out.
    for index, won in enumerate((True, True, False)):
        _closed(rep, acme, stages, f"F{index}", ticked=True, won=won, lost_reason=price_too_high)
    for index, won in enumerate((False, True)):
        _closed(rep, acme, stages, f"N{index}", ticked=False, won=won, lost_reason=price_too_high)
    _deal(rep, acme, name="Open")
    elsewhere = account_create(user=other_rep, name="Elsewhere Ltd")
    _closed(other_rep, elsewhere, stages, "Hidden", ticked=True, won=True, lost_reason=None)
    rows = playbooks.playbook_adherence(user=rep, playbook=playbook)
    assert len(rows) == 1
    row = rows[0]
    assert (row.followed.closed, row.followed.won, row.followed.win_rate) == (3, 2, 66.7)
    assert (row.not_followed.closed, row.not_followed.won, row.not_followed.win_rate) == (
        2,
        1,
        50.0,
    )
    assert playbooks.playbook_adherence(user=other_rep, playbook=playbook)[0].followed.closed == 1


# --- pages ------------------------------------------------------------------------------------


def test_the_opportunity_page_shows_the_playbook_card(rep, acme, playbook, sellers):
    deal = _deal(rep, acme)
    response = login(rep).get(f"/opportunities/{deal.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Playbook: Prospecting" in body
    assert "Fill in Next step and Amount; tick “Budget confirmed”." in body
    assert "Decision maker met" in body


def test_ticking_from_the_card(rep, other_rep, acme, playbook, sellers):
    deal = _deal(rep, acme)
    url = f"/opportunities/{deal.pk}/checklist/"
    assert login(other_rep).post(url, {"item": "Budget confirmed", "done": "1"}).status_code == 404
    response = login(rep).post(url, {"item": "Budget confirmed", "done": "1"})
    assert response.status_code == 302
    assert ChecklistTick.objects.filter(opportunity=deal, item="Budget confirmed").exists()
    login(rep).post(url, {"item": "Budget confirmed", "done": "0"})
    assert not ChecklistTick.objects.filter(opportunity=deal).exists()


def test_admin_pages_are_for_administrators(rep, admin_user, playbook):
    for url in (
        "/admin-area/playbooks/",
        f"/admin-area/playbooks/{playbook.pk}/",
        f"/admin-area/playbooks/{playbook.pk}/versions/1/",
        f"/admin-area/playbooks/{playbook.pk}/versions/1/export/",
    ):
        assert login(rep).get(url).status_code == 403
        assert login(admin_user).get(url).status_code == 200


def test_playbook_list_page_queries_do_not_grow(admin_user, sales_pipeline):
    client = login(admin_user)
    client.get("/admin-area/playbooks/")
    with assert_max_queries(8) as few:
        client.get("/admin-area/playbooks/")
    from patron.pipeline.tests.conftest import make_pipeline

    for number in range(3):
        pipeline = make_pipeline(f"Line {number}", default=False)
        playbooks.playbook_create(
            user=admin_user, pipeline=pipeline, name=f"P{number}", definition={}
        )
    with assert_max_queries(len(few.captured_queries)):
        response = client.get("/admin-area/playbooks/")
    assert "P2" in response.content.decode()


def test_create_edit_and_publish_from_the_admin_pages(admin_user, sales_pipeline, stages):
    client = login(admin_user)
    response = client.post(
        "/admin-area/playbooks/", {"pipeline": sales_pipeline.pk, "name": "Inside sales"}
    )
    playbook = Playbook.objects.get()
    assert response.status_code == 302
    qualification = stages["Qualification"].pk
    form = {
        f"s{qualification}-guidance": "Qualify with BANT.",
        f"s{qualification}-checklist": "Budget\nAuthority",
        f"s{qualification}-required_checklist": "Budget",
        f"s{qualification}-required_fields": ["next_step"],
        f"s{qualification}-activity_plan": "1 | Book the demo | high\n5 | Send the agenda",
        f"s{qualification}-email_templates": "- name: Demo\n  subject: Demo\n  body: Hi\n",
        "note": "From the form",
    }
    response = client.post(f"/admin-area/playbooks/{playbook.pk}/", form)
    assert response.status_code == 302
    playbook.refresh_from_db()
    version = playbook.active_version
    assert version is not None
    assert version.note == "From the form"
    content = version.definition["stages"]["Qualification"]
    assert content["required_checklist"] == ["Budget"]
    assert content["activity_plan"][1] == {
        "subject": "Send the agenda",
        "day_offset": 5,
        "priority": "normal",
        "description": "",
    }
    assert list(version.definition["stages"]) == ["Qualification"]


def test_bad_stage_form_input_publishes_nothing(admin_user, playbook, stages):
    proposal = stages["Proposal"].pk
    response = login(admin_user).post(
        f"/admin-area/playbooks/{playbook.pk}/",
        {f"s{proposal}-activity_plan": "soon | Call", f"s{proposal}-checklist": "Sent"},
    )
    assert response.status_code == 200
    assert "Line 1 of the activity plan" in response.content.decode()
    assert playbook.versions.count() == 1


def test_import_page_reports_malformed_yaml(admin_user, sales_pipeline):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("p.yaml", b"playbook: [x\n", content_type="application/yaml")
    response = login(admin_user).post(
        "/admin-area/playbooks/import/", {"file": upload}, follow=True
    )
    assert "The YAML is not valid at line 2" in response.content.decode()
    assert not Playbook.objects.exists()


def test_adherence_page(rep, playbook):
    response = login(rep).get(f"/playbooks/{playbook.pk}/adherence/")
    assert response.status_code == 200
    assert "Not followed" in response.content.decode()


# --- API --------------------------------------------------------------------------------------


def api(user, *scopes: str) -> Client:
    client = Client()
    client.defaults.update(
        {"HTTP_AUTHORIZATION": bearer(user, *(scopes or ("sales:write",)))["Authorization"]}
    )
    return client


def test_api_publish_list_export_and_import(admin_user, playbook):
    client = api(admin_user)
    changed = copy.deepcopy(DEFINITION)
    changed["stages"]["Proposal"]["activity_plan"][0]["day_offset"] = -1
    response = client.post(
        f"/api/v1/playbooks/{playbook.pk}/versions",
        json.dumps({"definition": changed}),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert (
        "stages.Proposal.activity_plan[0].day_offset must be a whole number of days, 0 or more."
        in response.json()["errors"]["definition"]
    )
    response = client.post(
        f"/api/v1/playbooks/{playbook.pk}/versions",
        json.dumps({"definition": DEFINITION, "note": "Again"}),
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["number"] == 2
    with assert_max_queries(6):
        listing = client.get("/api/v1/playbooks")
    assert listing.json()[0]["active_version"] == 2
    exported = client.get(f"/api/v1/playbooks/{playbook.pk}/export?version=1")
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("application/yaml")
    imported = client.post(
        "/api/v1/playbooks/import", exported.content, content_type="application/yaml"
    )
    assert imported.status_code == 201
    assert imported.json()["definition"] == playbook.versions.get(number=1).definition
    broken = client.post(
        "/api/v1/playbooks/import", b"playbook: [x\n", content_type="application/yaml"
    )
    assert broken.status_code == 422
    assert "line 2" in broken.json()["errors"]["file"][0]
    assert playbook.versions.count() == 3


def test_api_checklist_tick_and_untick(rep, acme, playbook, sellers):
    deal = _deal(rep, acme)
    client = api(rep)
    url = f"/api/v1/opportunities/{deal.pk}/checklist"
    response = client.post(
        url, json.dumps({"item": "Budget confirmed"}), content_type="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["items"][0]["ticked"] is True
    assert body["items"][0]["required"] is True
    assert body["exit_missing"] == "Fill in Next step and Amount."
    bad = client.post(url, json.dumps({"item": "Lunch"}), content_type="application/json")
    assert bad.status_code == 422
    response = client.delete(f"{url}?item=Budget%20confirmed")
    assert response.json()["items"][0]["ticked"] is False


def test_api_checklist_needs_the_write_scope_and_edit_access(
    rep, other_rep, acme, playbook, sellers
):
    deal = _deal(rep, acme)
    url = f"/api/v1/opportunities/{deal.pk}/checklist"
    payload = json.dumps({"item": "Budget confirmed"})
    reader = api(rep, "sales:read")
    assert reader.post(url, payload, content_type="application/json").status_code == 403
    assert api(other_rep).post(url, payload, content_type="application/json").status_code == 404


def test_api_non_admins_cannot_publish(rep, playbook):
    response = api(rep).post(
        f"/api/v1/playbooks/{playbook.pk}/versions",
        json.dumps({"definition": DEFINITION}),
        content_type="application/json",
    )
    assert response.status_code == 403


def test_api_adherence(rep, playbook):
    response = api(rep, "sales:read").get(f"/api/v1/playbooks/{playbook.pk}/adherence")
    assert response.status_code == 200
    assert response.json() == [
        {
            "version": 1,
            "followed": {"closed": 0, "won": 0, "win_rate": None},
            "not_followed": {"closed": 0, "won": 0, "win_rate": None},
        }
    ]


def test_checklist_visibility_matrix(rep, other_rep, acme, playbook, sellers):
    deal = _deal(rep, acme)
    check_visibility_matrix(
        [
            Endpoint("checklist API", f"/api/v1/opportunities/{deal.pk}/checklist", "detail"),
            Endpoint("opportunity page card", f"/opportunities/{deal.pk}/", "detail"),
        ],
        marker="Budget confirmed",
        allowed=rep,
        denied=other_rep,
    )
