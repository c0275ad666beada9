"""Working hours and away state, evaluated in the member's own time zone.

Hours are wall-clock times (``{"mon": [["09:00", "17:30"]]}``) in the user's time zone, so a
rep in Berlin is available 09:00-17:30 Berlin time in winter and in summer alike: the UTC
instant is converted with zoneinfo at the moment of the decision, never stored as an offset.
"""

from __future__ import annotations

import datetime
import itertools
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_LABELS: dict[str, str] = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
MAX_SPANS_PER_DAY = 6

WorkingHours = dict[str, list[list[str]]]


def zone(name: str) -> datetime.tzinfo:
    """The user's zone; an unknown name (never saved by the settings page) falls back to UTC."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def validate_working_hours(value: Any) -> tuple[WorkingHours, dict[str, list[str]]]:
    """Normalised hours and errors keyed ``working_hours.<day>``.

    An empty object means "always available"; a day left out means "not working that day".
    """
    if value in (None, "", {}):
        return {}, {}
    if not isinstance(value, Mapping):
        return {}, {"working_hours": ['Give an object: {"mon": [["09:00", "17:30"]], ...}.']}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(value) - set(DAYS))
    if unknown:
        errors["working_hours"] = [
            f"Unknown day(s): {', '.join(map(str, unknown))}; use {', '.join(DAYS)}."
        ]
    clean: WorkingHours = {}
    for day in DAYS:
        spans = value.get(day)
        if spans in (None, []):
            continue
        key = f"working_hours.{day}"
        if not isinstance(spans, list) or len(spans) > MAX_SPANS_PER_DAY:
            errors[key] = [f'Give up to {MAX_SPANS_PER_DAY} spans: [["09:00", "17:30"]].']
            continue
        day_spans: list[list[str]] = []
        for span in spans:
            if (
                not isinstance(span, list | tuple)
                or len(span) != 2
                or not all(isinstance(t, str) and _TIME.match(t) for t in span)
            ):
                errors[key] = [f"{DAY_LABELS[day]}: write each span as two times, 09:00 to 17:30."]
                break
            start, end = span
            if _minutes(start) >= _minutes(end):
                errors[key] = [f"{DAY_LABELS[day]}: {start} to {end} ends before it starts."]
                break
            day_spans.append([start, end])
        else:
            day_spans.sort()
            for first, second in itertools.pairwise(day_spans):
                if _minutes(second[0]) < _minutes(first[1]):
                    errors[key] = [f"{DAY_LABELS[day]}: the spans overlap."]
                    break
            clean[day] = day_spans
    return clean, errors


def is_working(hours: Mapping[str, Any], time_zone: str, at: datetime.datetime) -> bool:
    """Whether ``at`` (an aware instant) falls in the working hours, read in ``time_zone``."""
    if not hours:
        return True
    local = at.astimezone(zone(time_zone))
    minute = local.hour * 60 + local.minute
    for start, end in hours.get(DAYS[local.weekday()], []):
        if _minutes(start) <= minute < _minutes(end):
            return True
    return False


def is_away(
    *, is_away_flag: bool, away_until: datetime.datetime | None, at: datetime.datetime
) -> bool:
    """Away with no end date, or until a moment still in the future (then back by itself)."""
    if away_until is not None:
        return away_until > at
    return is_away_flag


def local_date(time_zone: str, at: datetime.datetime) -> datetime.date:
    """The calendar date in ``time_zone``: the day a daily capacity counts towards."""
    return at.astimezone(zone(time_zone)).date()
