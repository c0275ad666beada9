"""Activity pages through Django's test client: the list and its filters, the form of each
kind, bad input, the detail page, "Mark done", "My tasks", bulk edit, export, search and
the visibility of every page."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from patron.activities.models import Activity, ActivityAttendee
from patron.activities.services import activity_create, activity_delete
from patron.contacts.services import account_create, contact_create
from patron.core.exports import export_csv_run
from patron.core.models import Job
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
# A list page runs a fixed number of queries (session, user, access profile, custom fields,
# count, page, links, names per kind of linked record, saved views, filter choices).
LIST_QUERIES = 24


@pytest.fixture
def rep_client(rep, activity_roles):
    client = Client()
    client.force_login(rep)
    return client


def _task(user, subject="Send the quote", **fields):
    return activity_create(user=user, kind="task", subject=subject, **fields)


def _rows(response) -> list[str]:
    return [str(r) for r in response.context["page"].rows]


# ---------- list ----------


def test_list_shows_kind_subject_links_and_queries_do_not_grow(rep_client, rep, acme):
    contact = contact_create(user=rep, first_name="Ann", last_name="Lee", account=acme)
    links = [
        {"object_type": "contacts.account", "id": acme.pk},
        {"object_type": "contacts.contact", "id": contact.pk},
    ]
    _task(rep, due_at=NOON, links=links)
    with CaptureQueriesContext(connection) as few:
        response = rep_client.get("/activities/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Send the quote" in body
    assert f'<a href="/accounts/{acme.pk}/">Acme Corporation</a>' in body
    assert body.count(f'<a href="/contacts/{contact.pk}/">Ann Lee</a>') == 1
    assert len(few.captured_queries) <= LIST_QUERIES
    for i in range(12):
        activity_create(user=rep, kind="call", subject=f"Call {i}", links=links)
    with assert_max_queries(len(few.captured_queries)):
        response = rep_client.get("/activities/")
    assert len(response.context["page"].rows) == 13


def test_list_filters_by_kind_and_by_who_is_involved(rep_client, rep, other_rep, acme):
    _task(rep, subject="My task")
    activity_create(user=rep, kind="note", subject="My note", description="A note")
    _task(other_rep, subject="Assigned to me", assignee=rep)
    _task(other_rep, subject="Not mine")
    assert set(_rows(rep_client.get("/activities/?kind=task"))) == {"My task", "Assigned to me"}
    mine = rep_client.get("/activities/mine/")
    assert mine.status_code == 302
    assert mine.url == "/activities/?mine=true"
    assert set(_rows(rep_client.get(mine.url))) == {"My task", "My note", "Assigned to me"}
    assert set(_rows(rep_client.get(f"/activities/?involves={rep.pk}"))) == {
        "My task",
        "My note",
        "Assigned to me",
    }


def test_a_shared_mine_view_shows_each_user_their_own_activities(rep, other_rep, activity_roles):
    _task(rep, subject="Rep's task")
    _task(other_rep, subject="Other's task")
    other_rep.role = rep.role
    other_rep.save(update_fields=["role"])
    for user, expected in ((rep, {"Rep's task"}), (other_rep, {"Other's task"})):
        client = Client()
        client.force_login(user)
        assert set(_rows(client.get("/activities/?mine=true"))) == expected


def test_list_filters_by_due_range_as_the_date_picker_sends_it(rep_client, rep):
    _task(rep, subject="Early", due_at=NOON - datetime.timedelta(days=3))
    _task(rep, subject="On time", due_at=NOON)
    _task(rep, subject="Late", due_at=NOON + datetime.timedelta(days=3))
    response = rep_client.get("/activities/?due_after=2026-11-30T00:00&due_before=2026-12-02T00:00")
    assert _rows(response) == ["On time"]
    assert 'type="datetime-local"' in response.content.decode()


def test_list_filter_with_bad_date_shows_the_error_not_a_500(rep_client):
    response = rep_client.get("/activities/?due_after=not-a-date")
    assert response.status_code == 200
    assert response.context["filterset"].errors


# ---------- forms ----------


@pytest.mark.parametrize(
    ("kind", "shown", "absent"),
    [
        ("task", ["due_at", "priority", "assignee"], ["starts_at", "phone_number"]),
        ("appointment", ["starts_at", "ends_at", "location", "attendee_users"], ["due_at"]),
        ("call", ["direction", "phone_number", "duration_minutes", "outcome"], ["location"]),
        ("note", ["description"], ["due_at", "starts_at", "phone_number"]),
        ("email", ["email_from", "email_to", "sent_at"], ["due_at"]),
    ],
)
def test_create_form_shows_only_the_fields_of_the_kind(rep_client, kind, shown, absent):
    response = rep_client.get(f"/activities/new/?kind={kind}")
    assert response.status_code == 200
    body = response.content.decode()
    for name in shown:
        assert f'name="{name}"' in body, name
    for name in absent:
        assert f'name="{name}"' not in body, name
    assert f'name="kind" value="{kind}"' in body


def test_create_call_with_link_from_the_form(rep_client, rep, acme):
    response = rep_client.post(
        "/activities/new/",
        {
            "kind": "call",
            "subject": "Intro call",
            "direction": "inbound",
            "phone_number": "+44 20 7946 0958",
            "duration_minutes": "5",
            "outcome": "connected",
            "link": f"contacts.account:{acme.pk}",
        },
    )
    call = Activity.objects.get(subject="Intro call")
    assert response.status_code == 302
    assert response.url == f"/activities/{call.pk}/"
    assert (call.kind, call.duration_seconds, call.phone_number) == ("call", 300, "+442079460958")
    assert [(link.object_type, link.object_id) for link in call.links.all()] == [
        ("contacts.account", acme.pk)
    ]


def test_create_appointment_with_user_attendees(rep_client, rep, other_rep):
    response = rep_client.post(
        "/activities/new/",
        {
            "kind": "appointment",
            "subject": "Demo",
            "starts_at": "2026-12-01T10:00",
            "ends_at": "2026-12-01T11:00",
            "attendee_users": [str(other_rep.pk)],
        },
    )
    assert response.status_code == 302
    demo = Activity.objects.get(subject="Demo")
    assert list(demo.attendees.values_list("user_id", flat=True)) == [other_rep.pk]


def test_appointment_ending_before_it_starts_is_refused_with_input_kept(rep_client):
    response = rep_client.post(
        "/activities/new/",
        {
            "kind": "appointment",
            "subject": "Backwards meeting",
            "starts_at": "2026-12-01T10:00",
            "ends_at": "2026-12-01T09:00",
            "location": "Room 4",
        },
    )
    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors["ends_at"] == ["The end must not be before the start."]
    body = response.content.decode()
    assert 'value="Backwards meeting"' in body
    assert 'value="Room 4"' in body
    assert not Activity.objects.exists()


def test_task_without_subject_gets_a_field_error(rep_client):
    response = rep_client.post("/activities/new/", {"kind": "task", "subject": ""})
    assert response.status_code == 422
    assert response.context["form"].errors["subject"]


def test_link_to_a_record_the_user_cannot_see_is_refused(rep_client, other_rep, activity_roles):
    hidden = account_create(user=other_rep, name="Hidden Ltd")
    response = rep_client.post(
        "/activities/new/",
        {"kind": "note", "description": "x", "link": f"contacts.account:{hidden.pk}"},
    )
    assert response.status_code == 422
    assert "that you can see" in response.content.decode()
    assert not Activity.objects.exists()


def test_edit_keeps_the_kind_and_saves_changes(rep_client, rep):
    call = activity_create(user=rep, kind="call", subject="Old", duration_seconds=120)
    page = rep_client.get(f"/activities/{call.pk}/edit/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="kind"' not in body
    assert 'name="duration_minutes"' in body
    assert 'value="2"' in body
    response = rep_client.post(
        f"/activities/{call.pk}/edit/",
        {
            "version": call.version,
            "subject": "New",
            "direction": "outbound",
            "duration_minutes": "3",
            "owner": rep.pk,
        },
    )
    assert response.status_code == 302
    call.refresh_from_db()
    assert (call.kind, call.subject, call.duration_seconds) == ("call", "New", 180)


# ---------- detail ----------


def test_detail_shows_kind_fields_links_and_attendee_responses(rep_client, rep, other_rep, acme):
    contact = contact_create(user=rep, first_name="Ann", last_name="Lee", account=acme)
    meeting = activity_create(
        user=rep,
        kind="appointment",
        subject="Kick-off",
        starts_at=NOON,
        location="Room 4",
        links=[{"object_type": "contacts.account", "id": acme.pk}],
        attendees=[
            {"user": other_rep.pk, "response": "accepted"},
            {"object_type": "contacts.contact", "id": contact.pk},
        ],
    )
    response = rep_client.get(f"/activities/{meeting.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Room 4" in body
    assert f'<a href="/accounts/{acme.pk}/">Acme Corporation</a>' in body
    assert f'<a href="/contacts/{contact.pk}/">Ann Lee</a>' in body
    assert "Otto Other" in body
    assert "Accepted" in body
    assert "Needs action" in body
    assert "Log an activity" not in body


def test_detail_does_not_name_a_linked_record_the_reader_cannot_see(rep, other_rep, acme):
    task = _task(
        rep, links=[{"object_type": "contacts.account", "id": acme.pk}], assignee=other_rep
    )
    client = Client()
    client.force_login(other_rep)
    body = client.get(f"/activities/{task.pk}/").content.decode()
    assert "Send the quote" in body
    assert "Acme Corporation" not in body
    assert "a record you cannot see" in body


def test_mark_done_completes_an_open_task(rep_client, rep):
    task = _task(rep)
    page = rep_client.get(f"/activities/{task.pk}/").content.decode()
    assert "Mark done" in page
    response = rep_client.post(f"/activities/{task.pk}/complete/")
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == "done"
    assert task.completed_at is not None
    assert "Mark done" not in rep_client.get(f"/activities/{task.pk}/").content.decode()


def test_mark_done_needs_edit_access(rep, manager, other_rep, activity_roles):
    task = _task(rep)
    client = Client()
    client.force_login(other_rep)
    assert client.post(f"/activities/{task.pk}/complete/").status_code == 404
    task.refresh_from_db()
    assert task.status == "open"


def test_mark_done_on_a_call_says_why_not(rep_client, rep):
    call = activity_create(user=rep, kind="call", subject="Ring")
    response = rep_client.post(f"/activities/{call.pk}/complete/", follow=True)
    assert "This activity is not a task." in response.content.decode()


# ---------- my tasks ----------


def test_my_tasks_lists_open_tasks_assigned_to_me_soonest_first(rep_client, rep, other_rep):
    _task(rep, subject="Later", due_at=NOON + datetime.timedelta(days=2))
    _task(rep, subject="Sooner", due_at=NOON)
    _task(rep, subject="Whenever")
    _task(other_rep, subject="Given to me", assignee=rep, status="in_progress")
    _task(rep, subject="Finished", status="done")
    _task(rep, subject="Given away", assignee=other_rep)
    with assert_max_queries(LIST_QUERIES):
        response = rep_client.get("/activities/my-tasks/")
    assert response.status_code == 200
    subjects = [str(task) for task, _links in response.context["rows"]]
    assert subjects[:2] == ["Sooner", "Later"]
    assert set(subjects) == {"Sooner", "Later", "Whenever", "Given to me"}


def test_my_tasks_and_activities_are_in_the_navigation(rep_client):
    body = rep_client.get("/activities/").content.decode()
    assert 'href="/activities/my-tasks/"' in body


# ---------- bulk, export, recycle bin, search ----------


def test_bulk_status_applies_to_tasks_and_names_refused_rows(rep_client, rep):
    task = _task(rep)
    note = activity_create(user=rep, kind="note", subject="Jot", description="x")
    response = rep_client.post(
        "/activities/bulk/",
        {"ids": [task.pk, note.pk], "action": "edit", "status": "in_progress"},
        follow=True,
    )
    task.refresh_from_db()
    assert task.status == "in_progress"
    note.refresh_from_db()
    assert note.status == ""
    assert "1 not updated: Jot" in response.content.decode()


def test_export_writes_the_visible_activities(rep_client, rep, other_rep):
    _task(rep, subject="Exported task")
    _task(other_rep, subject="Someone else's")
    rep_client.post("/activities/export/", {"query": "kind=task"})
    job = Job.objects.filter(created_by=rep).latest("id")
    export_csv_run(job_id=job.pk)
    download = rep_client.get(f"/ui/jobs/{job.pk}/download/")
    body = b"".join(download.streaming_content) if download.streaming else download.content
    assert b"Exported task" in body
    assert b"Someone else" not in body


def test_deleted_activity_is_in_the_recycle_bin_and_out_of_search(rep_client, rep):
    task = _task(rep, subject="Quarterly review prep")
    assert "Quarterly review prep" in rep_client.get("/search/?q=Quarterly").content.decode()
    activity_delete(user=rep, activity=task)
    assert "Quarterly review prep" in rep_client.get("/ui/recycle-bin/").content.decode()
    assert "Quarterly review prep" not in rep_client.get("/search/?q=Quarterly").content.decode()


def test_search_finds_an_edited_subject(rep_client, rep):
    task = _task(rep, subject="Draft")
    rep_client.post(
        f"/activities/{task.pk}/edit/",
        {"version": task.version, "subject": "Renewal paperwork", "owner": rep.pk},
    )
    assert "Renewal paperwork" in rep_client.get("/search/?q=paperwork").content.decode()


# ---------- visibility ----------

MARKER = "Qwertzuiop"
QUERY = MARKER[:5]


def test_every_page_shows_an_activity_only_to_who_may_see_it(rep, other_rep, manager, acme):
    task = _task(rep, subject=f"{MARKER} follow-up", due_at=NOON)
    endpoints = [
        Endpoint("activity list", "/activities/", "list"),
        Endpoint("activity list, filtered", "/activities/?kind=task", "list"),
        Endpoint("activity detail", f"/activities/{task.pk}/", "detail"),
        Endpoint("activity edit", f"/activities/{task.pk}/edit/", "detail"),
        Endpoint("search", f"/search/?q={QUERY}", "search"),
    ]
    check_visibility_matrix(endpoints, marker=MARKER, allowed=rep, denied=other_rep)
    check_visibility_matrix(endpoints, marker=MARKER, allowed=manager, denied=other_rep)


def test_an_assignee_sees_the_task_in_my_tasks_and_others_do_not(rep, other_rep, activity_roles):
    _task(rep, subject=f"{MARKER} for Otto", assignee=other_rep)
    endpoints = [Endpoint("my tasks", "/activities/my-tasks/", "list")]
    check_visibility_matrix(endpoints, marker=MARKER, allowed=other_rep, denied=rep)


def test_attendee_record_names_follow_visibility(rep, other_rep, activity_roles):
    hidden = contact_create(user=other_rep, first_name="Secret", last_name="Person")
    meeting = activity_create(
        user=other_rep,
        kind="appointment",
        subject="Meet",
        starts_at=NOON,
        attendees=[{"user": rep.pk}, {"object_type": "contacts.contact", "id": hidden.pk}],
    )
    assert ActivityAttendee.objects.filter(activity=meeting).count() == 2
    client = Client()
    client.force_login(rep)
    body = client.get(f"/activities/{meeting.pk}/").content.decode()
    assert "Secret Person" not in body
    assert "Someone you cannot see" in body


# ---------- reminders ----------


def test_appointment_form_sets_a_reminder_and_edit_replaces_it(rep_client, rep):
    response = rep_client.post(
        "/activities/new/",
        {
            "kind": "appointment",
            "subject": "Review",
            "starts_at": "2026-12-01T10:00",
            "reminder_minutes": "15",
        },
    )
    assert response.status_code == 302
    review = Activity.objects.get(subject="Review")
    assert list(review.reminders.values_list("minutes_before", flat=True)) == [15]
    page = rep_client.get(f"/activities/{review.pk}/").content.decode()
    assert "15 min before" in page
    rep_client.post(
        f"/activities/{review.pk}/edit/",
        {
            "version": review.version,
            "subject": "Review",
            "starts_at": "2026-12-01T10:00",
            "reminder_minutes": "1440",
            "owner": rep.pk,
        },
    )
    assert list(review.reminders.values_list("minutes_before", flat=True)) == [1440]


def test_reminder_on_a_task_without_due_date_is_refused_and_nothing_is_saved(rep_client):
    response = rep_client.post(
        "/activities/new/", {"kind": "task", "subject": "Someday", "reminder_minutes": "60"}
    )
    assert response.status_code == 422
    assert response.context["form"].errors["reminder_minutes"] == [
        "Reminders need a due date; set it first."
    ]
    assert not Activity.objects.exists()
