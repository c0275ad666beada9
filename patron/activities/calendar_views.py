"""Calendar pages: my calendar and my team's (day, week, month), the ICS import form, the
subscription URL, and the secret feed itself (no login: the URL is the credential)."""

from __future__ import annotations

import calendar as month_names
import datetime
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST, require_safe

from patron.activities.calendar import (
    Entry,
    calendar_activities,
    calendar_feed_delete,
    calendar_feed_of,
    calendar_feed_reset,
    calendar_feed_user,
    entries_by_day,
    feed_document,
    team_members,
)
from patron.activities.choices import ReminderChannel
from patron.activities.ics import (
    CONTENT_TYPE,
    MAX_IMPORT_BYTES,
    ImportResult,
    ics_import,
    zone_of,
)
from patron.activities.models import ActivityReminder
from patron.activities.reminders import reminder_anchor, reminders_set
from patron.activities.selectors import activity_get
from patron.core.choices import Action
from patron.core.context_processors import NavItem, register_nav_item
from patron.core.exceptions import ValidationFailed
from patron.core.record_pages import (
    DetailPanel,
    object_ui,
    record_detail_url,
    register_detail_panel,
)
from patron.core.views import handles_domain_errors, principal
from patron.core.visibility import can_access_cached

VIEWS = ("day", "week", "month")
ACTIVITY = "activities.activity"


def register_calendar_ui() -> None:
    register_nav_item(
        NavItem(
            area="Sales", label="Calendar", url_name="calendar:mine", object_type=ACTIVITY, order=60
        )
    )
    register_detail_panel(
        DetailPanel(
            key="activities.reminders",
            template="activities/partials/reminders_panel.html",
            context=reminders_panel,
            object_types=frozenset({ACTIVITY}),
            order=20,
            column="side",
        )
    )


# Offered as ticks in the reminders card (minutes before); other values set through the
# API are shown too.
PRESET_MINUTES = (0, 5, 10, 15, 30, 60, 120, 1440, 2880, 10080)


def minutes_label(minutes: int) -> str:
    if minutes == 0:
        return "At the time"
    for size, unit in ((10080, "week"), (1440, "day"), (60, "hour")):
        if minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'s' if count != 1 else ''} before"
    return f"{minutes} minutes before"


def reminders_panel(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    """The reminders card of an appointment or a dated task (None for other activities)."""
    if reminder_anchor(record) is None:
        return None
    rows = list(ActivityReminder.objects.filter(activity=record).order_by("minutes_before"))
    chosen = {row.minutes_before for row in rows}
    options = [
        {"minutes": m, "label": minutes_label(m), "checked": m in chosen}
        for m in sorted(set(PRESET_MINUTES) | chosen)
    ]
    return {
        "activity": record,
        "reminders": [(row, minutes_label(row.minutes_before)) for row in rows],
        "options": options,
        "channel": rows[0].channel if rows else ReminderChannel.IN_APP,
        "channels": ReminderChannel.choices,
        "may_change": can_access_cached(principal(request), record, Action.UPDATE),
    }


@dataclass(frozen=True)
class Shown:
    """An entry and the page it links to ("" while activities have no detail pages)."""

    entry: Entry
    url: str


@dataclass(frozen=True)
class Day:
    date: datetime.date
    entries: list[Shown]
    in_month: bool
    is_today: bool
    new_url: str


@dataclass(frozen=True)
class Period:
    view: str
    anchor: datetime.date
    first: datetime.date
    last: datetime.date
    title: str
    prev: datetime.date
    next: datetime.date


def _period(view: str, anchor: datetime.date) -> Period:
    if view == "day":
        return Period(
            view,
            anchor,
            anchor,
            anchor,
            anchor.strftime("%A %d %B %Y"),
            anchor - datetime.timedelta(days=1),
            anchor + datetime.timedelta(days=1),
        )
    if view == "week":
        monday = anchor - datetime.timedelta(days=anchor.weekday())
        sunday = monday + datetime.timedelta(days=6)
        return Period(
            view,
            anchor,
            monday,
            sunday,
            f"Week of {monday.strftime('%d %B %Y')}",
            anchor - datetime.timedelta(days=7),
            anchor + datetime.timedelta(days=7),
        )
    first_of_month = anchor.replace(day=1)
    days_in_month = month_names.monthrange(anchor.year, anchor.month)[1]
    last_of_month = first_of_month.replace(day=days_in_month)
    grid_first = first_of_month - datetime.timedelta(days=first_of_month.weekday())
    grid_last = last_of_month + datetime.timedelta(days=6 - last_of_month.weekday())
    prev_month = first_of_month - datetime.timedelta(days=1)
    next_month = last_of_month + datetime.timedelta(days=1)
    return Period(
        view,
        anchor,
        grid_first,
        grid_last,
        first_of_month.strftime("%B %Y"),
        prev_month.replace(day=min(anchor.day, prev_month.day)),
        next_month.replace(
            day=min(anchor.day, month_names.monthrange(next_month.year, next_month.month)[1])
        ),
    )


def _anchor(request: HttpRequest, today: datetime.date) -> datetime.date:
    try:
        return datetime.date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        # A missing or malformed date shows today rather than an error.
        return today


def _new_appointment_url(create_base: str, day: datetime.date, zone: Any) -> str:
    if not create_base:
        return ""
    starts = datetime.datetime.combine(day, datetime.time(9), tzinfo=zone)
    return f"{create_base}?{urlencode({'kind': 'appointment', 'starts_at': starts.isoformat()})}"


def _calendar_page(request: HttpRequest, *, scope: str) -> HttpResponse:
    user = principal(request)
    zone = zone_of(user)
    today = datetime.datetime.now(zone).date()
    view = request.GET.get("view", "month")
    if view not in VIEWS:
        view = "month"
    period = _period(view, _anchor(request, today))
    start = datetime.datetime.combine(period.first, datetime.time(), tzinfo=zone)
    end = datetime.datetime.combine(
        period.last + datetime.timedelta(days=1), datetime.time(), tzinfo=zone
    )
    member_count = 1
    people: Any = [user.pk]
    if scope == "team":
        members = team_members(user=user)
        member_count = members.count()
        people = members.values("pk")
    rows = list(calendar_activities(user=user, people=people, start=start, end=end))
    by_day = entries_by_day(rows, zone=zone, first=period.first, last=period.last)
    ui = object_ui(ACTIVITY)
    may_create = ui is not None and user.access_profile().may(ACTIVITY, "create")
    create_base = ui.url("create") if ui is not None and may_create else ""
    urls = {row.pk: record_detail_url(ACTIVITY, row.pk) or "" for row in rows}
    days = [
        Day(
            date,
            [Shown(entry, urls[entry.activity.pk]) for entry in entries],
            view != "month" or date.month == period.anchor.month,
            date == today,
            _new_appointment_url(create_base, date, zone),
        )
        for date, entries in by_day.items()
    ]
    context = {
        "scope": scope,
        "show_owner": scope == "team",
        "period": period,
        "days": days,
        "weeks": [days[i : i + 7] for i in range(0, len(days), 7)] if view == "month" else [],
        "weekday_names": [month_names.day_name[i] for i in range(7)],
        "today": today,
        "zone": zone.key,
        "member_count": member_count,
        "entry_count": len(rows),
        "new_url": _new_appointment_url(
            create_base, period.anchor if view == "day" else today, zone
        ),
        "page_url": reverse("calendar:team" if scope == "team" else "calendar:mine"),
        "feed": calendar_feed_of(user=user) if scope == "mine" else None,
    }
    return render(request, "activities/calendar_page.html", context)


@login_required
@require_GET
def my_calendar(request: HttpRequest) -> HttpResponse:
    return _calendar_page(request, scope="mine")


@login_required
@require_GET
def team_calendar(request: HttpRequest) -> HttpResponse:
    return _calendar_page(request, scope="team")


@login_required
@require_POST
def feed_reset(request: HttpRequest) -> HttpResponse:
    """Create or replace the subscription secret and show its URL this once."""
    token = calendar_feed_reset(user=request.user)
    url = request.build_absolute_uri(reverse("calendar:feed", args=[token]))
    return render(request, "activities/calendar_feed.html", {"feed_url": url})


@login_required
@require_POST
@handles_domain_errors
def reminders_update(request: HttpRequest, pk: int) -> HttpResponse:
    """Replace an activity's reminders with the ticked ones, then return to its page."""
    user = principal(request)
    activity = activity_get(user=user, pk=pk, action=Action.UPDATE)
    chosen = [int(v) for v in request.POST.getlist("minutes") if v.isdigit()]
    try:
        reminders_set(
            activity=activity,
            minutes=chosen,
            channel=request.POST.get("channel") or ReminderChannel.IN_APP,
        )
    except ValidationFailed as exc:
        problems = [m for messages_ in exc.errors.values() for m in messages_]
        messages.error(request, " ".join(problems) or exc.detail)
    else:
        messages.success(
            request, f"Reminders saved ({len(chosen)})." if chosen else "Reminders removed."
        )
    return redirect(record_detail_url(ACTIVITY, activity.pk) or reverse("calendar:mine"))


@login_required
@require_POST
def feed_delete(request: HttpRequest) -> HttpResponse:
    """Turn the subscription off: its address stops working."""
    calendar_feed_delete(user=request.user)
    messages.success(request, "Calendar subscription turned off; its address no longer works.")
    return redirect("calendar:mine")


@require_safe
def feed(request: HttpRequest, token: str) -> HttpResponse:
    user = calendar_feed_user(token=token)
    if user is None:
        raise Http404("No calendar at this address; create a new subscription URL in Patron.")
    response = HttpResponse(feed_document(user=user), content_type=CONTENT_TYPE)
    response["Content-Disposition"] = 'inline; filename="patron.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


@login_required
@require_POST
@handles_domain_errors
def import_ics(request: HttpRequest) -> HttpResponse:
    """Create appointments from an uploaded .ics file; show what was and was not imported."""
    upload = request.FILES.get("file")
    result: ImportResult | None = None
    error: ValidationFailed | None = None
    if upload is None:
        error = ValidationFailed(
            "No file was uploaded.", errors={"file": ["Choose an .ics file to import."]}
        )
    elif upload.size is not None and upload.size > MAX_IMPORT_BYTES:
        error = ValidationFailed(
            "The file is too large.",
            errors={"file": [f"Upload at most {MAX_IMPORT_BYTES // 1_048_576} MB of .ics."]},
        )
    else:
        try:
            result = ics_import(user=principal(request), data=upload.read())
        except ValidationFailed as exc:
            error = exc
    created = [
        Shown(
            Entry(row, row.starts_at or row.occurred_at, row.ends_at, row.all_day, False),
            record_detail_url(ACTIVITY, row.pk) or "",
        )
        for row in (result.created if result else [])
    ]
    context = {
        "result": result,
        "created": created,
        "error": error,
        "zone": zone_of(request.user).key,
    }
    return render(request, "activities/calendar_import.html", context, status=422 if error else 200)
