"""Quick-add: the "Log an activity" card on other records' pages, its compact forms, and
logging a task, call, note or appointment without leaving the record (HTMX and plain)."""

from __future__ import annotations

import pytest
from django.test import Client

from patron.activities.models import Activity
from patron.contacts.services import account_create, contact_create
from patron.core.testing import Endpoint, check_visibility_matrix, grant
from patron.users.tests.factories import UserFactory, make_role

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def rep_client(rep, activity_roles):
    client = Client()
    client.force_login(rep)
    return client


@pytest.fixture
def ann(rep, acme):
    return contact_create(user=rep, first_name="Ann", last_name="Lee", account=acme)


def _links(activity: Activity) -> list[tuple[str, int]]:
    return [(link.object_type, link.object_id) for link in activity.links.all()]


def test_account_and_contact_pages_offer_the_card(rep_client, acme, ann):
    for url, target in (
        (f"/accounts/{acme.pk}/", f"contacts.account:{acme.pk}"),
        (f"/contacts/{ann.pk}/", f"contacts.contact:{ann.pk}"),
    ):
        body = rep_client.get(url).content.decode()
        assert "Log an activity" in body
        for kind in ("task", "call", "note", "appointment"):
            assert f"target={target.replace(':', '%3A')}&amp;kind={kind}" in body


def test_card_is_left_out_for_a_role_that_may_not_create_activities(sales_roles):
    reader = make_role("Reader")
    grant(reader, "contacts.account", "create", "read")
    grant(reader, "activities.activity", "read")
    viewer = UserFactory(role=reader)
    acme = account_create(user=viewer, name="Acme Corporation")
    client = Client()
    client.force_login(viewer)
    page = client.get(f"/accounts/{acme.pk}/")
    assert page.status_code == 200
    assert "Log an activity" not in page.content.decode()
    refused = client.get(f"/activities/quick-add/?target=contacts.account:{acme.pk}&kind=note")
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("task", ["subject", "due_at", "priority", "assignee"]),
        ("call", ["subject", "direction", "phone_number", "duration_minutes", "outcome"]),
        ("note", ["subject", "description"]),
        ("appointment", ["subject", "starts_at", "ends_at", "location", "attendee_users"]),
    ],
)
def test_each_kind_loads_its_compact_form(rep_client, acme, kind, fields):
    response = rep_client.get(
        f"/activities/quick-add/?target=contacts.account:{acme.pk}&kind={kind}", headers=HTMX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    for name in fields:
        assert f'name="{name}"' in body, name
    assert f'value="contacts.account:{acme.pk}"' in body
    assert f"/activities/new/?kind={kind}&amp;link=contacts.account%3A{acme.pk}" in body


def test_logging_a_call_on_an_account_rerenders_the_card_and_tells_the_timeline(
    rep_client, rep, acme
):
    response = rep_client.post(
        "/activities/quick-add/",
        {
            "target": f"contacts.account:{acme.pk}",
            "kind": "call",
            "subject": "Checked in",
            "direction": "outbound",
            "duration_minutes": "4",
            "outcome": "connected",
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "timeline-changed"
    assert response["HX-Retarget"] == "#quick-add"
    call = Activity.objects.get(subject="Checked in")
    assert (call.kind, call.duration_seconds, call.owner_id) == ("call", 240, rep.pk)
    assert _links(call) == [("contacts.account", acme.pk)]
    body = response.content.decode()
    assert "was logged on Acme Corporation" in body
    assert 'id="quick-add"' in body


@pytest.mark.parametrize("kind", ["task", "note"])
def test_task_and_note_on_a_contact(rep_client, rep, ann, kind):
    data = {"target": f"contacts.contact:{ann.pk}", "kind": kind, "subject": f"A {kind}"}
    if kind == "note":
        data["description"] = "Prefers email."
    else:
        data["priority"] = "high"
    response = rep_client.post("/activities/quick-add/", data, headers=HTMX)
    assert response.status_code == 200
    activity = Activity.objects.get(kind=kind)
    assert _links(activity) == [("contacts.contact", ann.pk)]
    if kind == "task":
        assert (activity.priority, activity.status, activity.assignee_id) == (
            "high",
            "open",
            rep.pk,
        )


def test_appointment_on_a_contact_invites_the_contact_and_users(rep_client, rep, other_rep, ann):
    form = rep_client.get(
        f"/activities/quick-add/?target=contacts.contact:{ann.pk}&kind=appointment",
        headers=HTMX,
    )
    assert "Invite Ann Lee" in form.content.decode()
    response = rep_client.post(
        "/activities/quick-add/",
        {
            "target": f"contacts.contact:{ann.pk}",
            "kind": "appointment",
            "subject": "Lunch",
            "starts_at": "2026-12-02T12:00",
            "ends_at": "2026-12-02T13:00",
            "location": "Canteen",
            "attendee_users": [str(other_rep.pk)],
            "invite_target": "on",
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    lunch = Activity.objects.get(subject="Lunch")
    assert _links(lunch) == [("contacts.contact", ann.pk)]
    attendees = {(a.user_id, a.object_type, a.object_id) for a in lunch.attendees.all()}
    assert attendees == {(other_rep.pk, None, None), (None, "contacts.contact", ann.pk)}


def test_appointment_on_a_company_does_not_offer_to_invite_it(rep_client, acme):
    form = rep_client.get(
        f"/activities/quick-add/?target=contacts.account:{acme.pk}&kind=appointment",
        headers=HTMX,
    )
    assert 'name="invite_target"' not in form.content.decode()


def test_appointment_ending_before_it_starts_keeps_the_input(rep_client, acme):
    response = rep_client.post(
        "/activities/quick-add/",
        {
            "target": f"contacts.account:{acme.pk}",
            "kind": "appointment",
            "subject": "Backwards",
            "starts_at": "2026-12-02T12:00",
            "ends_at": "2026-12-02T11:00",
            "location": "Canteen",
        },
        headers=HTMX,
    )
    assert response.status_code == 422
    assert response.context["form"].errors["ends_at"] == ["The end must not be before the start."]
    body = response.content.decode()
    assert 'value="Backwards"' in body
    assert 'value="Canteen"' in body
    assert "HX-Trigger" not in response
    assert not Activity.objects.exists()


def test_missing_subject_is_a_field_error(rep_client, acme):
    response = rep_client.post(
        "/activities/quick-add/",
        {"target": f"contacts.account:{acme.pk}", "kind": "task", "subject": ""},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert response.context["form"].errors["subject"]


def test_without_javascript_it_posts_and_returns_to_the_record(rep_client, acme):
    page = rep_client.get(
        f"/activities/quick-add/?target=contacts.account:{acme.pk}&kind=note"
        f"&next=/accounts/{acme.pk}/"
    )
    assert page.status_code == 200
    assert "<html" in page.content.decode()
    response = rep_client.post(
        "/activities/quick-add/",
        {
            "target": f"contacts.account:{acme.pk}",
            "kind": "note",
            "description": "Met at the fair.",
            "next": f"/accounts/{acme.pk}/",
        },
    )
    assert response.status_code == 302
    assert response.url == f"/accounts/{acme.pk}/"
    assert Activity.objects.get(kind="note").description == "Met at the fair."


def test_without_javascript_bad_input_shows_the_page_again(rep_client, acme):
    response = rep_client.post(
        "/activities/quick-add/",
        {"target": f"contacts.account:{acme.pk}", "kind": "note", "description": ""},
    )
    assert response.status_code == 422
    assert "<html" in response.content.decode()


def test_a_record_the_user_cannot_see_is_not_found_and_nothing_is_logged(
    rep_client, other_rep, activity_roles
):
    hidden = account_create(user=other_rep, name="Hidden Ltd")
    response = rep_client.post(
        "/activities/quick-add/",
        {"target": f"contacts.account:{hidden.pk}", "kind": "note", "description": "x"},
    )
    assert response.status_code == 404
    assert "Hidden Ltd" not in response.content.decode()
    assert not Activity.objects.exists()


@pytest.mark.parametrize(
    "target", ["", "nonsense", "contacts.account:abc", "no.model:1", "activities.activity:1"]
)
def test_malformed_targets_are_not_found(rep_client, target):
    response = rep_client.get(f"/activities/quick-add/?target={target}&kind=note")
    assert response.status_code == 404


def test_an_unknown_kind_is_not_found(rep_client, acme):
    response = rep_client.get(f"/activities/quick-add/?target=contacts.account:{acme.pk}&kind=x")
    assert response.status_code == 404


def test_quick_add_form_follows_the_visibility_of_the_record(rep, other_rep, manager, acme):
    acme.name = "Zyxwvut Acme"
    acme.save()
    endpoints = [
        Endpoint(
            "quick-add form",
            f"/activities/quick-add/?target=contacts.account:{acme.pk}&kind=call",
            "detail",
            HTMX,
        ),
        Endpoint(
            "quick-add page",
            f"/activities/quick-add/?target=contacts.account:{acme.pk}&kind=task",
            "detail",
        ),
    ]
    check_visibility_matrix(endpoints, marker="Zyxwvut", allowed=rep, denied=other_rep)
    check_visibility_matrix(endpoints, marker="Zyxwvut", allowed=manager, denied=other_rep)


def test_appointment_quick_add_sets_a_reminder(rep_client, acme):
    response = rep_client.post(
        "/activities/quick-add/",
        {
            "target": f"contacts.account:{acme.pk}",
            "kind": "appointment",
            "subject": "Site visit",
            "starts_at": "2026-12-03T09:00",
            "reminder_minutes": "30",
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    visit = Activity.objects.get(subject="Site visit")
    assert list(visit.reminders.values_list("minutes_before", flat=True)) == [30]
