"""iCalendar (RFC 5545): appointments as VEVENT, tasks as VTODO, and import of .ics files.

Built and parsed with the ``icalendar`` library. Times carry a TZID with its VTIMEZONE (the
organiser's zone in invitations, the subscriber's in the feed) so calendar programs show
them at the right wall-clock time across daylight-saving changes.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import icalendar
from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from patron.activities.choices import ActivityKind, AttendeeResponse, TaskPriority, TaskStatus
from patron.activities.models import Activity, ActivityAttendee, ActivityReminder
from patron.core.choices import Action, Via
from patron.core.exceptions import PatronError, PermissionDenied, ValidationFailed

PRODID = "-//Patron//Patron CRM//EN"
CONTENT_TYPE = "text/calendar; charset=utf-8"
# An .ics upload larger than this is refused before parsing (a year of a busy calendar is
# far smaller).
MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_EVENTS = 2000

_PARTSTAT = {
    AttendeeResponse.NEEDS_ACTION: "NEEDS-ACTION",
    AttendeeResponse.ACCEPTED: "ACCEPTED",
    AttendeeResponse.DECLINED: "DECLINED",
    AttendeeResponse.TENTATIVE: "TENTATIVE",
}
_TODO_STATUS = {
    TaskStatus.OPEN: "NEEDS-ACTION",
    TaskStatus.IN_PROGRESS: "IN-PROCESS",
    TaskStatus.DONE: "COMPLETED",
    TaskStatus.CANCELLED: "CANCELLED",
}
# RFC 5545 PRIORITY: 1 is highest, 9 lowest, 5 medium.
_TODO_PRIORITY = {TaskPriority.HIGH: 1, TaskPriority.NORMAL: 5, TaskPriority.LOW: 9}


def calendar_host() -> str:
    """The right-hand side of every UID, stable for the installation."""
    return str(getattr(settings, "PATRON_CALENDAR_HOST", "") or "patron")


def activity_uid(activity: Activity) -> str:
    return f"activity-{activity.pk}@{calendar_host()}"


def zone_of(user: Any) -> zoneinfo.ZoneInfo:
    """``user``'s time zone, UTC when it is unset or unknown."""
    try:
        return zoneinfo.ZoneInfo(getattr(user, "time_zone", "") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


@dataclass(frozen=True)
class Address:
    """Who an attendee is in a calendar: a name and an email address (may be empty)."""

    name: str
    email: str


def record_addresses(attendees: Iterable[ActivityAttendee]) -> dict[int, Address]:
    """Name and ``email`` of each record attendee, one query per kind of record.

    Read generically through the content type, so activities never import the apps whose
    records (contacts, leads, ...) can attend.
    """
    wanted: dict[Any, set[int]] = defaultdict(set)
    for row in attendees:
        if row.content_type_id is not None and row.object_id is not None:
            wanted[row.content_type].add(row.object_id)
    found: dict[tuple[int, int], Address] = {}
    for content_type, ids in wanted.items():
        model = content_type.model_class()
        if model is None:
            continue
        for record in model._default_manager.filter(pk__in=ids):
            email = getattr(record, "email", "") or ""
            found[(content_type.pk, record.pk)] = Address(str(record), str(email))
    return {
        row.pk: found.get((row.content_type_id, row.object_id), Address("", ""))
        for row in attendees
        if row.content_type_id is not None and row.object_id is not None
    }


def attendee_address(row: ActivityAttendee, records: dict[int, Address]) -> Address:
    if row.user_id is not None and row.user is not None:
        return Address(row.user.get_full_name() or row.user.email, row.user.email)
    return records.get(row.pk, Address("", ""))


def _cal_address(address: Address, **params: str) -> icalendar.vCalAddress:
    value = icalendar.vCalAddress(f"mailto:{address.email}")
    if address.name:
        value.params["CN"] = address.name
    for name, param in params.items():
        value.params[name.upper()] = param
    return value


def new_calendar(*, method: str = "", name: str = "") -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    if name:
        calendar.add("x-wr-calname", name)
    return calendar


def _alarms(component: icalendar.Component, reminders: Sequence[ActivityReminder]) -> None:
    for reminder in reminders:
        alarm = icalendar.Alarm()
        alarm.add("uid", f"reminder-{reminder.pk}@{calendar_host()}")
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", datetime.timedelta(minutes=-reminder.minutes_before))
        alarm.add("description", str(component.get("summary", "Reminder")))
        component.add_component(alarm)


def appointment_event(
    activity: Activity,
    *,
    zone: zoneinfo.ZoneInfo,
    stamp: datetime.datetime,
    records: dict[int, Address],
    cancelled: bool = False,
) -> icalendar.Event:
    """The VEVENT of an appointment (attendees and reminders prefetched on ``activity``)."""
    event = icalendar.Event()
    event.add("uid", activity_uid(activity))
    event.add("dtstamp", stamp)
    event.add("sequence", activity.version)
    event.add("created", activity.created_at)
    event.add("last-modified", activity.updated_at)
    event.add("summary", activity.subject or str(activity))
    starts = (activity.starts_at or activity.occurred_at).astimezone(zone)
    ends = activity.ends_at.astimezone(zone) if activity.ends_at else None
    if activity.all_day:
        # DTEND of an all-day event is exclusive: the day after the last day.
        event.add("dtstart", starts.date())
        event.add("dtend", (ends or starts).date() + datetime.timedelta(days=1))
    else:
        event.add("dtstart", starts)
        if ends is not None:
            event.add("dtend", ends)
    if activity.location:
        event.add("location", activity.location)
    if activity.description:
        event.add("description", activity.description)
    event.add("status", "CANCELLED" if cancelled or activity.deleted_at else "CONFIRMED")
    event.add("transp", "OPAQUE")
    owner = activity.owner
    if owner.email:
        event.add("organizer", _cal_address(Address(owner.get_full_name(), owner.email)))
    for row in activity.attendees.all():
        address = attendee_address(row, records)
        if not address.email:
            continue
        event.add(
            "attendee",
            _cal_address(
                address,
                cutype="INDIVIDUAL",
                role="REQ-PARTICIPANT",
                partstat=_PARTSTAT.get(AttendeeResponse(row.response), "NEEDS-ACTION"),
                rsvp="TRUE" if row.response == AttendeeResponse.NEEDS_ACTION else "FALSE",
            ),
        )
    if not cancelled:
        _alarms(event, list(activity.reminders.all()))
    return event


def task_todo(
    activity: Activity, *, zone: zoneinfo.ZoneInfo, stamp: datetime.datetime
) -> icalendar.Todo:
    todo = icalendar.Todo()
    todo.add("uid", activity_uid(activity))
    todo.add("dtstamp", stamp)
    todo.add("sequence", activity.version)
    todo.add("created", activity.created_at)
    todo.add("last-modified", activity.updated_at)
    todo.add("summary", activity.subject or str(activity))
    if activity.due_at is not None:
        todo.add("due", activity.due_at.astimezone(zone))
    if activity.description:
        todo.add("description", activity.description)
    todo.add("status", _TODO_STATUS.get(TaskStatus(activity.status or TaskStatus.OPEN)))
    todo.add("priority", _TODO_PRIORITY.get(TaskPriority(activity.priority or "normal"), 5))
    if activity.completed_at is not None:
        todo.add("completed", activity.completed_at)
    _alarms(todo, list(activity.reminders.all()))
    return todo


def with_calendar_parts(queryset: QuerySet[Activity]) -> QuerySet[Activity]:
    """What building events needs, in a fixed number of queries."""
    return queryset.select_related("owner").prefetch_related(
        Prefetch(
            "attendees",
            queryset=ActivityAttendee.objects.select_related("user", "content_type").order_by("pk"),
        ),
        Prefetch("reminders", queryset=ActivityReminder.objects.order_by("minutes_before", "pk")),
    )


def _finish(calendar: icalendar.Calendar, moments: list[datetime.datetime]) -> bytes:
    if moments:
        # VTIMEZONE rules covering the events, a year either side, keep the file small.
        first = min(moments).date() - datetime.timedelta(days=366)
        last = max(moments).date() + datetime.timedelta(days=366)
        calendar.add_missing_timezones(first_date=first, last_date=last)
    return bytes(calendar.to_ical())


def invitation_ics(activity: Activity, *, cancelled: bool = False) -> bytes:
    """A METHOD:REQUEST (or CANCEL) calendar with the one appointment, in its organiser's
    time zone (``activity`` loaded through ``with_calendar_parts``)."""
    attendees = list(activity.attendees.all())
    calendar = new_calendar(method="CANCEL" if cancelled else "REQUEST")
    event = appointment_event(
        activity,
        zone=zone_of(activity.owner),
        stamp=timezone.now(),
        records=record_addresses(attendees),
        cancelled=cancelled,
    )
    calendar.add_component(event)
    return _finish(calendar, [activity.starts_at or activity.occurred_at])


def feed_ics(
    *,
    name: str,
    zone: zoneinfo.ZoneInfo,
    appointments: Sequence[Activity],
    tasks: Sequence[Activity],
) -> bytes:
    """A subscribable calendar: the appointments as VEVENTs and the tasks as VTODOs."""
    calendar = new_calendar(name=name)
    calendar.add("x-wr-timezone", zone.key)
    stamp = timezone.now()
    records = record_addresses(row for a in appointments for row in a.attendees.all())
    moments: list[datetime.datetime] = []
    for activity in appointments:
        calendar.add_component(appointment_event(activity, zone=zone, stamp=stamp, records=records))
        moments.append(activity.starts_at or activity.occurred_at)
    for activity in tasks:
        calendar.add_component(task_todo(activity, zone=zone, stamp=stamp))
        moments.append(activity.due_at or activity.occurred_at)
    return _finish(calendar, moments)


# --- import ---------------------------------------------------------------------------------


@dataclass
class ImportProblem:
    """One event that was not imported, and why (numbered from 1 in file order)."""

    number: int
    summary: str
    uid: str
    messages: list[str]


@dataclass
class ImportResult:
    created: list[Activity] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# TZIDs that really mean UTC; icalendar reads any TZID it does not know as UTC too, and
# those are told apart from these.
_UTC_NAMES = frozenset({"UTC", "Z", "GMT", "ETC/UTC", "ETC/GMT", "UNIVERSAL", "ZULU"})


def _moment(
    component: icalendar.Component, name: str, zone: zoneinfo.ZoneInfo
) -> tuple[datetime.datetime, bool, str]:
    """Property ``name`` as an aware datetime, whether it was a whole day (a DATE), and the
    TZID it named if that time zone is unknown (the time is then read in ``zone``)."""
    prop = component[name]
    value = component.decoded(name)
    if isinstance(value, datetime.datetime):
        tzid = str(prop.params.get("TZID", "") or "")
        if value.tzinfo is None:
            # A "floating" time means the same wall-clock time anywhere: the user's zone. A
            # TZID icalendar could not resolve leaves the time floating as well.
            return value.replace(tzinfo=zone), False, tzid
        in_utc = getattr(value.tzinfo, "key", "") == "UTC" or value.tzinfo is datetime.UTC
        if tzid and tzid.upper() not in _UTC_NAMES and in_utc:
            return value.replace(tzinfo=zone), False, tzid
        return value, False, ""
    if isinstance(value, datetime.date):
        return datetime.datetime.combine(value, datetime.time(), tzinfo=zone), True, ""
    raise ValueError("not a date or a date-time")


def _event_fields(
    event: icalendar.Component, zone: zoneinfo.ZoneInfo
) -> tuple[dict[str, Any], list[str], list[str]]:
    """The appointment fields of one VEVENT, the reasons it cannot be imported, and notes
    on what was guessed."""
    problems: list[str] = []
    for name, message in getattr(event, "errors", []):
        problems.append(f"{name} is not valid ({message}).")
    if "DTSTART" not in event:
        problems.append("DTSTART is missing: the event has no start time.")
    if problems:
        return {}, problems, []
    unknown: set[str] = set()
    try:
        starts, all_day, tzid = _moment(event, "DTSTART", zone)
        unknown.add(tzid)
        ends: datetime.datetime | None = None
        if "DTEND" in event:
            ends, _, tzid = _moment(event, "DTEND", zone)
            unknown.add(tzid)
            if all_day:
                # DTEND of a whole-day event is the day after its last day.
                ends = max(starts, ends - datetime.timedelta(days=1))
        elif "DURATION" in event:
            duration = event.decoded("DURATION")
            if not isinstance(duration, datetime.timedelta):
                raise ValueError("DURATION is not a duration")
            ends = starts + duration
            if all_day:
                ends = max(starts, ends - datetime.timedelta(days=1))
    except (ValueError, TypeError, PatronError, icalendar.error.BrokenCalendarProperty) as exc:
        return {}, [f"The start or end cannot be read ({exc})."], []
    if ends is not None and ends < starts:
        return {}, ["The end (DTEND) is before the start (DTSTART); correct one of them."], []
    fields = {
        "subject": str(event.get("SUMMARY", "") or "").strip()[:300] or "Imported appointment",
        "description": str(event.get("DESCRIPTION", "") or ""),
        "location": str(event.get("LOCATION", "") or "")[:300],
        "starts_at": starts,
        "ends_at": ends,
        "all_day": all_day,
    }
    notes = [
        f"the time zone {name!r} is unknown, so its times were read in {zone.key}"
        for name in sorted(unknown - {""})
    ]
    return fields, [], notes


def _parse(data: bytes) -> list[icalendar.Calendar]:
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationFailed(
            "The file is too large.",
            errors={"file": [f"Upload at most {MAX_IMPORT_BYTES // (1024 * 1024)} MB of .ics."]},
        )
    if not data.strip():
        raise ValidationFailed(
            "The file is empty.", errors={"file": ["The file is empty; choose an .ics file."]}
        )
    if b"\x00" in data:
        raise ValidationFailed(
            "This is not an iCalendar file.",
            errors={"file": ["The file is binary; export your calendar as .ics and try again."]},
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if "BEGIN:VCALENDAR" not in text.upper():
        raise ValidationFailed(
            "This is not an iCalendar file.",
            errors={"file": ["The file has no BEGIN:VCALENDAR; export your calendar as .ics."]},
        )
    try:
        # Some programs export several VCALENDARs one after the other in one file.
        parsed = icalendar.Calendar.from_ical(text, multiple=True)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ValidationFailed(
            "The iCalendar file cannot be read.",
            errors={"file": [f"It is malformed: {exc}. Export it again and retry."]},
        ) from None
    calendars = parsed if isinstance(parsed, list) else [parsed]
    if not calendars:
        raise ValidationFailed(
            "The iCalendar file is incomplete.",
            errors={
                "file": ["It ends before END:VCALENDAR, so it may be cut off. Export it again."]
            },
        )
    if any(c.name != "VCALENDAR" for c in calendars):
        raise ValidationFailed(
            "This is not an iCalendar file.",
            errors={"file": ["The file does not start with a VCALENDAR."]},
        )
    return calendars


def _already_there(user: Any, fields: dict[str, Any]) -> bool:
    return Activity.objects.filter(
        owner=user,
        kind=ActivityKind.APPOINTMENT,
        subject=fields["subject"],
        starts_at=fields["starts_at"],
    ).exists()


def ics_import(*, user: Any, data: bytes, via: str = Via.IMPORT) -> ImportResult:
    """Create appointments owned by ``user`` from the VEVENTs of an .ics file.

    A malformed file is refused as a whole (``ValidationFailed`` naming ``file``); an event
    that cannot be imported is reported with its number and the others are still created.
    Importing the same file again creates nothing new.
    """
    from patron.activities.reminders import reminders_set
    from patron.activities.services import activity_create

    if not user.access_profile().may(Activity.object_type(), Action.CREATE):
        raise PermissionDenied("Your role may not create activities, so it cannot import them.")
    calendars = _parse(data)
    zone = zone_of(user)
    events = [event for calendar in calendars for event in calendar.walk("VEVENT")]
    if not events:
        raise ValidationFailed(
            "The file has no events.",
            errors={"file": ["The calendar has no VEVENT to import."]},
        )
    if len(events) > MAX_IMPORT_EVENTS:
        raise ValidationFailed(
            "The file has too many events.",
            errors={"file": [f"Split it into files of at most {MAX_IMPORT_EVENTS} events."]},
        )
    result = ImportResult()
    repeating = 0
    for number, event in enumerate(events, start=1):
        summary = str(event.get("SUMMARY", "") or "")
        uid = str(event.get("UID", "") or "")
        fields, problems, notes = _event_fields(event, zone)
        if problems:
            result.problems.append(ImportProblem(number, summary, uid, problems))
            continue
        result.notes += [f"Event {number} ({fields['subject']}): {note}." for note in notes]
        if _already_there(user, fields):
            result.notes.append(
                f"Event {number} ({fields['subject']}) is already in your calendar."
            )
            continue
        try:
            activity = activity_create(user=user, kind=ActivityKind.APPOINTMENT, via=via, **fields)
        except ValidationFailed as exc:
            messages = [m for field_messages in exc.errors.values() for m in field_messages]
            result.problems.append(ImportProblem(number, summary, uid, messages or [exc.detail]))
            continue
        minutes = _alarm_minutes(event)
        if minutes:
            reminders_set(activity=activity, minutes=minutes)
        if "RRULE" in event:
            repeating += 1
        result.created.append(activity)
    if repeating:
        result.notes.append(
            f"{repeating} repeating event(s) were imported as their first occurrence only."
        )
    return result


def _alarm_minutes(event: icalendar.Component) -> list[int]:
    """Minutes-before of the event's alarms that trigger a fixed time before its start."""
    minutes: list[int] = []
    for alarm in event.walk("VALARM"):
        if "TRIGGER" not in alarm:
            continue
        try:
            trigger = alarm.decoded("TRIGGER")
        except (ValueError, icalendar.error.BrokenCalendarProperty):
            continue
        related = str(alarm["TRIGGER"].params.get("RELATED", "START")).upper()
        if isinstance(trigger, datetime.timedelta) and related == "START":
            before = -int(trigger.total_seconds() // 60)
            if 0 <= before <= 60 * 24 * 28 and before not in minutes:
                minutes.append(before)
    return minutes
