"""My and team calendar pages, the subscription feed and the calendar API."""

from __future__ import annotations

import datetime
import zoneinfo

import icalendar
import pytest
from django.test import Client
from django.utils import timezone

from patron.activities.calendar import team_members
from patron.activities.models import Activity, CalendarFeed
from patron.activities.services import activity_create
from patron.activities.tests.test_ics import GOOD_AND_BAD
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix
from patron.users.services import token_create

pytestmark = pytest.mark.django_db

UTC = zoneinfo.ZoneInfo("UTC")
TODAY = timezone.now().astimezone(UTC).date()


def at(day: datetime.date, hour: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=UTC)


@pytest.fixture
def entries(rep, other_rep, manager, activity_roles):
    """Rita's appointment and task, Otto's private appointment and one Otto invites Rita to,
    and the manager's private appointment."""
    return {
        "mine": activity_create(
            user=rep, kind="appointment", subject="Rita demo", starts_at=at(TODAY, 10)
        ),
        "task": activity_create(user=rep, kind="task", subject="Rita task", due_at=at(TODAY, 15)),
        "private": activity_create(
            user=other_rep, kind="appointment", subject="Otto private", starts_at=at(TODAY, 11)
        ),
        "invited": activity_create(
            user=other_rep,
            kind="appointment",
            subject="Otto invites Rita",
            starts_at=at(TODAY, 12),
            attendees=[{"user": rep.pk}],
        ),
        "boss": activity_create(
            user=manager, kind="appointment", subject="Mia private", starts_at=at(TODAY, 9)
        ),
    }


def page(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("view", ["day", "week", "month"])
def test_my_calendar_shows_what_i_own_attend_and_must_do(client, rep, entries, view):
    body = page(client, rep, f"/calendar/?view={view}")
    for subject in ("Rita demo", "Rita task", "Otto invites Rita"):
        assert subject in body
    assert "Otto private" not in body
    assert "Mia private" not in body


def test_team_calendar_shows_my_reports_but_not_my_peers_private_entries(
    client, manager, rep, entries
):
    body = page(client, manager, "/calendar/team/?view=week")
    assert "3 people" in body
    assert "Rita demo" in body
    assert "Mia private" in body
    # Otto is Rita's peer and a report of Mia: his private appointment shows to Mia.
    assert "Otto private" in body
    body = page(client, rep, "/calendar/team/?view=week")
    assert "Otto private" not in body
    assert "Mia private" not in body


def test_team_members_are_me_my_teams_and_the_roles_below(rep, other_rep, manager):
    assert set(team_members(user=manager)) == {manager, rep, other_rep}
    assert set(team_members(user=rep)) == {rep}


def test_navigation_moves_by_period_and_a_bad_date_shows_today(client, rep, entries):
    body = page(client, rep, "/calendar/?view=month&date=2026-03-31")
    assert "March 2026" in body
    assert "date=2026-02-28" in body
    assert "date=2026-04-30" in body
    body = page(client, rep, "/calendar/?view=week&date=2026-03-04")
    assert "Week of 02 March 2026" in body
    assert "date=2026-02-25" in body
    assert "date=2026-03-11" in body
    body = page(client, rep, "/calendar/?view=fortnight&date=not-a-date")
    assert TODAY.strftime("%B %Y") in body
    assert "Rita demo" in body


def test_month_view_has_a_phone_list_and_labelled_controls(client, rep, entries):
    body = page(client, rep, "/calendar/")
    assert 'class="cal-agenda cal-month-list"' in body
    assert '<label for="cal-date">' in body
    assert '<label for="ics-file">' in body
    assert 'aria-current="date"' in body


def test_entries_spanning_days_show_on_each_day(client, rep, activity_roles):
    activity_create(
        user=rep,
        kind="appointment",
        subject="Trade fair",
        starts_at=at(TODAY, 9),
        ends_at=at(TODAY + datetime.timedelta(days=2), 17),
    )
    body = page(client, rep, f"/calendar/?view=week&date={TODAY + datetime.timedelta(days=1)}")
    expected = sum(
        1
        for offset in range(3)
        if (TODAY + datetime.timedelta(days=offset)).isocalendar()[:2]
        == (TODAY + datetime.timedelta(days=1)).isocalendar()[:2]
    )
    assert body.count("Trade fair") == expected


def test_calendar_query_count_does_not_grow_with_entries(client, rep, other_rep, activity_roles):
    client.force_login(rep)
    activity_create(user=rep, kind="appointment", subject="First", starts_at=at(TODAY, 8))
    with assert_max_queries(25) as few:
        client.get("/calendar/team/")
    for hour in range(10, 20):
        activity_create(
            user=rep,
            kind="appointment",
            subject=f"Meeting {hour}",
            starts_at=at(TODAY, hour),
            attendees=[{"user": other_rep.pk}],
        )
        activity_create(user=rep, kind="task", subject=f"Task {hour}", due_at=at(TODAY, hour))
    with assert_max_queries(len(few.captured_queries)):
        client.get("/calendar/team/")
    with assert_max_queries(len(few.captured_queries)):
        client.get("/calendar/?view=week")


def test_calendar_pages_follow_visibility(rep, other_rep, entries):
    check_visibility_matrix(
        [
            Endpoint("my calendar", "/calendar/", "list"),
            Endpoint("my calendar week", "/calendar/?view=week", "list"),
            Endpoint("team calendar", "/calendar/team/?view=day", "list"),
        ],
        marker="Otto private",
        allowed=other_rep,
        denied=rep,
    )


def test_calendar_needs_login(client):
    response = client.get("/calendar/")
    assert response.status_code == 302


# --- subscription feed -----------------------------------------------------------------------


def feed_url_from(body: str) -> str:
    start = body.index("http://testserver/calendar/feed/")
    return body[start : body.index('"', start)].removeprefix("http://testserver")


def test_subscription_url_is_shown_once_and_serves_my_calendar_without_login(client, rep, entries):
    client.force_login(rep)
    url = feed_url_from(client.post("/calendar/subscription/").content.decode())
    assert "/calendar/feed/" not in page(client, rep, "/calendar/")
    assert "Reset subscription address" in page(client, rep, "/calendar/")

    response = Client().get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(response.content)
    summaries = {str(e["SUMMARY"]) for e in calendar.walk("VEVENT")}
    assert summaries == {"Rita demo", "Otto invites Rita"}
    assert {str(t["SUMMARY"]) for t in calendar.walk("VTODO")} == {"Rita task"}
    assert all("UID" in c and "DTSTAMP" in c for c in calendar.walk("VEVENT"))
    assert CalendarFeed.objects.get(user=rep).last_fetched_at is not None


def test_reset_makes_the_old_address_stop_working(client, rep, entries):
    client.force_login(rep)
    old = feed_url_from(client.post("/calendar/subscription/").content.decode())
    new = feed_url_from(client.post("/calendar/subscription/").content.decode())
    assert old != new
    assert Client().get(old).status_code == 404
    assert Client().get(new).status_code == 200


def test_turning_the_subscription_off_stops_the_address(client, rep, entries):
    client.force_login(rep)
    url = feed_url_from(client.post("/calendar/subscription/").content.decode())
    response = client.post("/calendar/subscription/delete/", follow=True)
    assert "Calendar subscription turned off" in response.content.decode()
    assert "Create subscription address" in response.content.decode()
    assert Client().get(url).status_code == 404


def test_api_turns_the_subscription_off(client, rep, entries):
    client.force_login(rep)
    url = client.post("/api/v1/calendar/feed").json()["url"].removeprefix("http://testserver")
    assert client.delete("/api/v1/calendar/feed").status_code == 204
    assert Client().get(url).status_code == 404
    assert not CalendarFeed.objects.filter(user=rep).exists()


def test_unknown_feed_and_inactive_users_feed_are_404(client, rep, entries):
    assert Client().get("/calendar/feed/nope.ics").status_code == 404
    client.force_login(rep)
    url = feed_url_from(client.post("/calendar/subscription/").content.decode())
    rep.is_active = False
    rep.save(update_fields=["is_active"])
    assert Client().get(url).status_code == 404


def test_feed_query_count_does_not_grow(client, rep, other_rep, activity_roles):
    client.force_login(rep)
    url = feed_url_from(client.post("/calendar/subscription/").content.decode())
    activity_create(user=rep, kind="appointment", subject="One", starts_at=at(TODAY, 8))
    anonymous = Client()
    with assert_max_queries(20) as few:
        anonymous.get(url)
    for hour in range(9, 15):
        activity_create(
            user=rep,
            kind="appointment",
            subject=f"M{hour}",
            starts_at=at(TODAY, hour),
            attendees=[{"user": other_rep.pk}],
        )
    with assert_max_queries(len(few.captured_queries)):
        anonymous.get(url)


def test_api_creates_the_feed_url_once(client, rep, activity_roles):
    _, secret = token_create(user=rep, name="t", scopes=["activities:write"])
    response = client.post("/api/v1/calendar/feed", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 201
    url = response.json()["url"]
    assert url.startswith("http://testserver/calendar/feed/")
    assert Client().get(url.removeprefix("http://testserver")).status_code == 200


# --- import ------------------------------------------------------------------------------------


def test_import_page_reports_created_and_failed_events(client, rep, activity_roles):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(rep)
    upload = SimpleUploadedFile("cal.ics", GOOD_AND_BAD, content_type="text/calendar")
    response = client.post("/calendar/import/", {"file": upload})
    assert response.status_code == 200
    body = response.content.decode()
    assert "3 appointments imported, 3 events not imported" in body
    assert "Backwards" in body
    assert "before the start" in body
    assert Activity.objects.filter(owner=rep).count() == 3


def test_import_page_refuses_a_file_that_is_not_icalendar(client, rep, activity_roles):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(rep)
    upload = SimpleUploadedFile("cal.ics", b"BEGIN:VCARD\r\nEND:VCARD\r\n")
    response = client.post("/calendar/import/", {"file": upload})
    assert response.status_code == 422
    assert "Nothing was imported" in response.content.decode()
    assert client.post("/calendar/import/").status_code == 422
    assert not Activity.objects.exists()


def test_api_import_takes_a_body_or_a_multipart_file(client, rep, activity_roles):
    client.force_login(rep)
    response = client.post("/api/v1/calendar/import", GOOD_AND_BAD, content_type="text/calendar")
    assert response.status_code == 200
    body = response.json()
    assert len(body["created"]) == 3
    assert [p["number"] for p in body["problems"]] == [2, 3, 4]
    assert body["problems"][0]["uid"] == "backwards@example.com"

    bad = client.post("/api/v1/calendar/import", b"nonsense", content_type="text/calendar")
    assert bad.status_code == 422
    assert bad["Content-Type"].startswith("application/problem+json")
    assert "file" in bad.json()["errors"]


def test_import_needs_create_permission(client, activity_roles):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from patron.users.tests.factories import UserFactory

    nobody = UserFactory(email="nobody@example.com")
    client.force_login(nobody)
    response = client.post("/api/v1/calendar/import", GOOD_AND_BAD, content_type="text/calendar")
    assert response.status_code == 403
    upload = SimpleUploadedFile("cal.ics", GOOD_AND_BAD, content_type="text/calendar")
    response = client.post("/calendar/import/", {"file": upload})
    assert response.status_code == 403
    assert "may not create activities" in response.content.decode()
    assert not Activity.objects.exists()
