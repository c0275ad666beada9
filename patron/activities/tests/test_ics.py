"""iCalendar: what Patron writes parses with the icalendar library and carries UID, DTSTAMP
and time zones; imports create appointments and name each event they cannot read."""

from __future__ import annotations

import datetime
import zoneinfo

import icalendar
import pytest
from django.utils import timezone

from patron.activities.calendar import feed_document
from patron.activities.ics import ics_import, invitation_ics, with_calendar_parts
from patron.activities.models import Activity, ActivityReminder
from patron.activities.reminders import reminders_set
from patron.activities.services import activity_create, activity_delete
from patron.contacts.services import contact_create
from patron.core.exceptions import ValidationFailed

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def soon(days: int = 3, hour: int = 9) -> datetime.datetime:
    day = timezone.now().astimezone(BERLIN).date() + datetime.timedelta(days=days)
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=BERLIN)


def loaded(activity: Activity) -> Activity:
    return with_calendar_parts(Activity.all_objects.filter(pk=activity.pk)).get()


@pytest.fixture
def berlin_rep(rep):
    rep.time_zone = "Europe/Berlin"
    rep.save(update_fields=["time_zone"])
    return rep


@pytest.fixture
def meeting(berlin_rep, other_rep, activity_roles):
    ana = contact_create(user=berlin_rep, first_name="Ana", last_name="Lee", email="ana@acme.com")
    activity = activity_create(
        user=berlin_rep,
        kind="appointment",
        subject="Quarterly review",
        description="Bring the numbers.",
        location="Acme HQ, room 4",
        starts_at=soon(),
        ends_at=soon() + datetime.timedelta(hours=1),
        attendees=[
            {"user": other_rep.pk, "response": "accepted"},
            {"object_type": "contacts.contact", "id": ana.pk},
        ],
    )
    reminders_set(activity=activity, minutes=[15])
    return activity


def parse(data: bytes) -> icalendar.Calendar:
    calendar = icalendar.Calendar.from_ical(data)
    assert isinstance(calendar, icalendar.Calendar)
    return calendar


def test_invitation_is_a_request_with_uid_stamp_sequence_and_the_organisers_zone(meeting):
    calendar = parse(invitation_ics(loaded(meeting)))
    assert str(calendar["METHOD"]) == "REQUEST"
    [event] = calendar.events
    assert str(event["UID"]) == f"activity-{meeting.pk}@patron"
    assert isinstance(event.decoded("DTSTAMP"), datetime.datetime)
    assert event.sequence == meeting.version
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event.decoded("DTSTART") == soon()
    assert event.decoded("DTEND") == soon() + datetime.timedelta(hours=1)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert str(event["LOCATION"]) == "Acme HQ, room 4"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["ORGANIZER"]) == "mailto:rep@example.com"
    attendees = {str(a): a.params for a in event.attendees}
    assert attendees["mailto:other@example.com"]["PARTSTAT"] == "ACCEPTED"
    assert attendees["mailto:ana@acme.com"]["PARTSTAT"] == "NEEDS-ACTION"
    assert attendees["mailto:ana@acme.com"]["ROLE"] == "REQ-PARTICIPANT"
    assert attendees["mailto:ana@acme.com"]["CN"] == "Ana Lee"
    [alarm] = event.walk("VALARM")
    assert alarm.decoded("TRIGGER") == datetime.timedelta(minutes=-15)


def test_cancellation_has_method_cancel_and_status_cancelled(berlin_rep, meeting):
    deleted = activity_delete(user=berlin_rep, activity=meeting)
    calendar = parse(invitation_ics(loaded(deleted), cancelled=True))
    assert str(calendar["METHOD"]) == "CANCEL"
    [event] = calendar.events
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.sequence == deleted.version
    assert str(event["UID"]) == f"activity-{meeting.pk}@patron"


def test_all_day_appointment_uses_dates_with_an_exclusive_end(berlin_rep, activity_roles):
    activity = activity_create(
        user=berlin_rep,
        kind="appointment",
        subject="Trade fair",
        starts_at=soon(hour=0),
        ends_at=soon(days=4, hour=0),
        all_day=True,
    )
    [event] = parse(invitation_ics(loaded(activity))).events
    assert event.decoded("DTSTART") == soon().date()
    assert event.decoded("DTEND") == soon(days=5).date()


def test_feed_has_my_appointments_and_tasks_and_nothing_else(
    berlin_rep, other_rep, meeting, activity_roles
):
    task = activity_create(user=berlin_rep, kind="task", subject="Send slides", due_at=soon(1))
    activity_create(user=other_rep, kind="appointment", subject="Otto private", starts_at=soon())
    activity_create(
        user=berlin_rep, kind="appointment", subject="Far away", starts_at=soon(days=400)
    )
    gone = activity_create(user=berlin_rep, kind="appointment", subject="Gone", starts_at=soon())
    activity_delete(user=berlin_rep, activity=gone)

    calendar = parse(feed_document(user=berlin_rep))
    assert "METHOD" not in calendar
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/Berlin"
    events = {str(e["SUMMARY"]): e for e in calendar.events}
    assert set(events) == {"Quarterly review"}
    [todo] = calendar.walk("VTODO")
    assert str(todo["UID"]) == f"activity-{task.pk}@patron"
    assert todo["DUE"].params["TZID"] == "Europe/Berlin"
    assert isinstance(todo.decoded("DTSTAMP"), datetime.datetime)
    assert str(todo["STATUS"]) == "NEEDS-ACTION"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]


def test_attendee_sees_the_appointment_in_their_feed_in_their_own_zone(other_rep, meeting):
    calendar = parse(feed_document(user=other_rep))
    [event] = calendar.events
    assert event.decoded("DTSTART") == soon()
    assert event.decoded("DTSTART").utcoffset() == datetime.timedelta(0)


GOOD_AND_BAD = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Test//EN\r
BEGIN:VTIMEZONE\r
TZID:America/New_York\r
BEGIN:STANDARD\r
DTSTART:20261101T020000\r
TZOFFSETFROM:-0400\r
TZOFFSETTO:-0500\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:good-1@example.com\r
DTSTAMP:20261120T100000Z\r
DTSTART;TZID=America/New_York:20261203T090000\r
DTEND;TZID=America/New_York:20261203T100000\r
SUMMARY:Kick-off with \xc3\x9cber GmbH\r
LOCATION:Video call\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
TRIGGER:-PT30M\r
DESCRIPTION:Reminder\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:backwards@example.com\r
DTSTAMP:20261120T100000Z\r
DTSTART:20261204T100000Z\r
DTEND:20261204T090000Z\r
SUMMARY:Backwards\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:nostart@example.com\r
DTSTAMP:20261120T100000Z\r
SUMMARY:No start\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:broken@example.com\r
DTSTART:2026-12-xx\r
SUMMARY:Broken date\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:allday@example.com\r
DTSTART;VALUE=DATE:20261210\r
DTEND;VALUE=DATE:20261212\r
SUMMARY:Offsite\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:floating@example.com\r
DTSTART:20261211T140000\r
DURATION:PT45M\r
SUMMARY:Floating\r
RRULE:FREQ=WEEKLY;COUNT=3\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_import_creates_good_events_and_names_each_bad_one(berlin_rep, activity_roles):
    result = ics_import(user=berlin_rep, data=GOOD_AND_BAD)

    by_subject = {a.subject: a for a in result.created}
    assert set(by_subject) == {"Kick-off with Über GmbH", "Offsite", "Floating"}
    kickoff = by_subject["Kick-off with Über GmbH"]
    new_york = zoneinfo.ZoneInfo("America/New_York")
    assert kickoff.starts_at == datetime.datetime(2026, 12, 3, 9, tzinfo=new_york)
    assert kickoff.location == "Video call"
    assert kickoff.owner_id == berlin_rep.pk
    assert list(
        ActivityReminder.objects.filter(activity=kickoff).values_list("minutes_before", flat=True)
    ) == [30]
    offsite = by_subject["Offsite"]
    assert offsite.all_day
    assert offsite.starts_at == datetime.datetime(2026, 12, 10, tzinfo=BERLIN)
    assert offsite.ends_at == datetime.datetime(2026, 12, 11, tzinfo=BERLIN)
    floating = by_subject["Floating"]
    assert floating.starts_at == datetime.datetime(2026, 12, 11, 14, tzinfo=BERLIN)
    assert floating.ends_at == datetime.datetime(2026, 12, 11, 14, 45, tzinfo=BERLIN)
    assert any("first occurrence" in note for note in result.notes)

    problems = {p.number: p for p in result.problems}
    assert set(problems) == {2, 3, 4}
    assert "before the start" in problems[2].messages[0]
    assert problems[2].uid == "backwards@example.com"
    assert "DTSTART is missing" in problems[3].messages[0]
    assert "DTSTART" in problems[4].messages[0]


def test_importing_the_same_file_again_creates_nothing(berlin_rep, activity_roles):
    ics_import(user=berlin_rep, data=GOOD_AND_BAD)
    count = Activity.objects.count()
    again = ics_import(user=berlin_rep, data=GOOD_AND_BAD)
    assert again.created == []
    assert Activity.objects.count() == count
    assert len([n for n in again.notes if "already in your calendar" in n]) == 3


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"hello, this is a vCard\r\n", "BEGIN:VCALENDAR"),
        (b"BEGIN:VCALENDAR\r\nthis line is garbage\r\nEND:VCALENDAR\r\n", "malformed"),
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "no VEVENT"),
        (b"BEGIN:VCALENDAR\x00\x01", "binary"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20261203T100000Z\r\n", "cut off"),
    ],
)
def test_malformed_files_are_refused_naming_the_file(berlin_rep, activity_roles, data, words):
    with pytest.raises(ValidationFailed) as excinfo:
        ics_import(user=berlin_rep, data=data)
    assert set(excinfo.value.errors) == {"file"}
    assert words in " ".join(excinfo.value.errors["file"])
    assert not Activity.objects.exists()


def test_feed_round_trips_through_import(berlin_rep, other_rep, meeting):
    result = ics_import(user=other_rep, data=feed_document(user=berlin_rep))
    [copy] = result.created
    assert (copy.subject, copy.starts_at, copy.ends_at, copy.location, copy.description) == (
        meeting.subject,
        meeting.starts_at,
        meeting.ends_at,
        meeting.location,
        meeting.description,
    )
    assert copy.owner_id == other_rep.pk


def test_an_unknown_time_zone_is_read_in_mine_and_said_so(berlin_rep, activity_roles):
    data = (
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n"
        b"DTSTART;TZID=Nowhere/Land:20261203T090000\r\nSUMMARY:Odd zone\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    result = ics_import(user=berlin_rep, data=data)
    [activity] = result.created
    assert activity.starts_at == datetime.datetime(2026, 12, 3, 9, tzinfo=BERLIN)
    assert result.notes == [
        "Event 1 (Odd zone): the time zone 'Nowhere/Land' is unknown, "
        "so its times were read in Europe/Berlin."
    ]


def test_windows_zone_names_and_several_calendars_in_one_file(berlin_rep, activity_roles):
    data = (
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:w\r\n"
        b"DTSTART;TZID=Pacific Standard Time:20261203T090000\r\nSUMMARY:Outlook\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\n"
        b"DTSTART:20261204T090000Z\r\nSUMMARY:Second calendar\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    result = ics_import(user=berlin_rep, data=data)
    starts = {a.subject: a.starts_at for a in result.created}
    los_angeles = zoneinfo.ZoneInfo("America/Los_Angeles")
    assert starts == {
        "Outlook": datetime.datetime(2026, 12, 3, 9, tzinfo=los_angeles),
        "Second calendar": datetime.datetime(2026, 12, 4, 9, tzinfo=datetime.UTC),
    }
    assert result.notes == []
