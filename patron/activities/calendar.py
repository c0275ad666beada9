"""Calendars: what falls in a period for me or my team, and the secret iCalendar feed.

Reads go through ``Activity.objects.visible_to`` so a calendar never shows an appointment
its viewer may not see; each period is one query however many entries it has.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from patron.activities.choices import ActivityKind, TaskStatus
from patron.activities.ics import feed_ics, with_calendar_parts, zone_of
from patron.activities.models import Activity, ActivityAttendee, CalendarFeed
from patron.core.visibility import Principal

FEED_PAST = datetime.timedelta(days=90)
FEED_FUTURE = datetime.timedelta(days=365)
# How often the feed's "last fetched" time is written (calendar programs poll often).
FEED_TOUCH_EVERY = datetime.timedelta(hours=1)


# --- who ----------------------------------------------------------------------------------


def team_members(*, user: Any) -> QuerySet[Any]:
    """``user``, the members of their teams and the users in roles below theirs (everyone
    active, for an administrator)."""
    users = get_user_model()._default_manager.filter(is_active=True)
    profile = user.access_profile()
    if profile.is_admin:
        return users.order_by("full_name", "email")
    condition = Q(pk=user.pk)
    if profile.team_ids:
        condition |= Q(teams__in=profile.team_ids)
    if profile.role_path:
        condition |= Q(role__path__startswith=profile.role_path) & ~Q(role_id=profile.role_id)
    return users.filter(pk__in=users.filter(condition).values("pk")).order_by("full_name", "email")


# --- what ---------------------------------------------------------------------------------


def _involving(user_ids: Any) -> Q:
    attending = ActivityAttendee.objects.filter(user_id__in=user_ids).values("activity_id")
    return (
        Q(kind=ActivityKind.APPOINTMENT, owner_id__in=user_ids)
        | Q(kind=ActivityKind.APPOINTMENT, pk__in=attending)
        | Q(kind=ActivityKind.TASK, assignee_id__in=user_ids)
    )


def _in_period(start: datetime.datetime, end: datetime.datetime) -> Q:
    """Appointments overlapping [start, end) and tasks due in it."""
    appointments = Q(kind=ActivityKind.APPOINTMENT, starts_at__lt=end) & (
        Q(ends_at__gte=start) | Q(ends_at__isnull=True, starts_at__gte=start)
    )
    tasks = Q(kind=ActivityKind.TASK, due_at__gte=start, due_at__lt=end)
    return appointments | tasks


def calendar_activities(
    *, user: Principal, people: Any, start: datetime.datetime, end: datetime.datetime
) -> QuerySet[Activity]:
    """Appointments and dated tasks of ``people`` (user ids or a query of them) in
    [start, end) that ``user`` may see, in time order (one query)."""
    return (
        Activity.objects.visible_to(user)
        .filter(_involving(people), _in_period(start, end))
        .select_related("owner", "assignee")
        .order_by("occurred_at", "pk")
    )


@dataclass(frozen=True)
class Entry:
    """One activity on one day of a calendar, in the viewer's time zone."""

    activity: Activity
    starts: datetime.datetime
    ends: datetime.datetime | None
    all_day: bool
    continued: bool  # began on an earlier day

    @property
    def is_task(self) -> bool:
        return self.activity.kind == ActivityKind.TASK

    @property
    def is_done(self) -> bool:
        return self.activity.status in (TaskStatus.DONE, TaskStatus.CANCELLED)


def entries_by_day(
    activities: list[Activity],
    *,
    zone: zoneinfo.ZoneInfo,
    first: datetime.date,
    last: datetime.date,
) -> dict[datetime.date, list[Entry]]:
    """Each day from ``first`` to ``last`` with its entries; an appointment spanning several
    days appears on each of them."""
    days: dict[datetime.date, list[Entry]] = {}
    day = first
    while day <= last:
        days[day] = []
        day += datetime.timedelta(days=1)
    for activity in activities:
        if activity.kind == ActivityKind.TASK:
            if activity.due_at is None:
                continue
            due = activity.due_at.astimezone(zone)
            if due.date() in days:
                days[due.date()].append(Entry(activity, due, None, False, False))
            continue
        if activity.starts_at is None:
            continue
        starts = activity.starts_at.astimezone(zone)
        ends = activity.ends_at.astimezone(zone) if activity.ends_at else None
        last_day = (ends or starts).date()
        if (
            ends is not None
            and not activity.all_day
            and ends > starts
            and ends.time() == datetime.time()
        ):
            # Ending at midnight does not reach into the next day.
            last_day -= datetime.timedelta(days=1)
        day = max(starts.date(), first)
        while day <= min(last_day, last):
            days[day].append(Entry(activity, starts, ends, activity.all_day, day > starts.date()))
            day += datetime.timedelta(days=1)
    for entries in days.values():
        entries.sort(key=lambda e: (not (e.all_day or e.continued), e.starts, e.activity.pk))
    return days


# --- the feed -----------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def calendar_feed_reset(*, user: Any) -> str:
    """Create ``user``'s feed secret, or replace it (the old URL stops working at once).

    Only a digest is stored: the secret is returned this once, to be shown to the user.
    """
    token = secrets.token_urlsafe(32)
    CalendarFeed.objects.update_or_create(
        user=user, defaults={"token_digest": _digest(token), "last_fetched_at": None}
    )
    return token


def calendar_feed_delete(*, user: Any) -> None:
    CalendarFeed.objects.filter(user=user).delete()


def calendar_feed_of(*, user: Any) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user).first()


def calendar_feed_user(*, token: str) -> Any | None:
    """The active user whose feed secret is ``token``, else None."""
    if not token or len(token) > 200:
        return None
    digest = _digest(token)
    feed = CalendarFeed.objects.select_related("user").filter(token_digest=digest).first()
    # The lookup is by digest, so its timing says nothing about the secret; the comparison
    # is constant-time all the same.
    if feed is None or not hmac.compare_digest(feed.token_digest, digest):
        return None
    if not feed.user.is_active:
        return None
    now = timezone.now()
    if feed.last_fetched_at is None or now - feed.last_fetched_at > FEED_TOUCH_EVERY:
        CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=now)
    return feed.user


def feed_document(*, user: Any) -> bytes:
    """``user``'s calendar from 90 days back to a year ahead: the appointments they own or
    attend and the tasks assigned to them, as iCalendar."""
    now = timezone.now()
    start, end = now - FEED_PAST, now + FEED_FUTURE
    mine = [user.pk]
    rows = list(
        with_calendar_parts(
            Activity.objects.visible_to(user)
            .filter(_involving(mine), _in_period(start, end))
            .order_by("occurred_at", "pk")
        )
    )
    appointments = [a for a in rows if a.kind == ActivityKind.APPOINTMENT]
    tasks = [a for a in rows if a.kind == ActivityKind.TASK]
    name = f"Patron: {user.get_full_name() or user.email}"
    return feed_ics(name=name, zone=zone_of(user), appointments=appointments, tasks=tasks)
