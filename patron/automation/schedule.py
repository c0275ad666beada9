"""Cron expressions for schedule triggers (five fields, evaluated in UTC).

``minute hour day-of-month month day-of-week`` with ``*``, lists (``1,15``), ranges
(``1-5``), steps (``*/15``, ``0-30/10``) and the names jan..dec and sun..sat. As in cron, when
both day fields are restricted a day matching either one fires. Parsing happens when a
workflow is saved, so a bad expression is a save error, never a run-time crash.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (name, low, high, names starting at low)
FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DAYS),
)
# A schedule that matches nothing within this many days (e.g. 30 February) is refused.
SEARCH_DAYS = 366 * 5


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    def day_matches(self, day: datetime.date) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays

    def next_after(self, moment: datetime.datetime) -> datetime.datetime:
        """The first matching minute strictly after ``moment`` (an aware datetime)."""
        start = moment.astimezone(datetime.UTC).replace(second=0, microsecond=0)
        start += datetime.timedelta(minutes=1)
        day = start.date()
        for offset in range(SEARCH_DAYS):
            current = day + datetime.timedelta(days=offset)
            if not self.day_matches(current):
                continue
            for hour in sorted(self.hours):
                for minute in sorted(self.minutes):
                    candidate = datetime.datetime(
                        current.year, current.month, current.day, hour, minute, tzinfo=datetime.UTC
                    )
                    if candidate >= start:
                        return candidate
        raise CronError("The schedule never fires.")


def _value(token: str, low: int, high: int, names: list[str] | None, what: str) -> int:
    lowered = token.lower()
    if names is not None and lowered in names:
        return names.index(lowered) + (1 if what == "month" else 0)
    if not lowered.isdigit():
        raise CronError(f"{what}: {token!r} is not a number.")
    number = int(lowered)
    if not low <= number <= high:
        raise CronError(f"{what}: {number} is outside {low}-{high}.")
    return number


def _field(text: str, low: int, high: int, names: list[str] | None, what: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"{what}: empty list item.")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{what}: step {step_text!r} must be a positive number.")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            left, _, right = base.partition("-")
            first = _value(left, low, high, names, what)
            last = _value(right, low, high, names, what)
            if first > last:
                raise CronError(f"{what}: range {base!r} runs backwards.")
        else:
            first = _value(base, low, high, names, what)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


def parse_cron(expression: str) -> Cron:
    """The parsed expression; CronError says what is wrong."""
    parts = (expression or "").split()
    if len(parts) != 5:
        raise CronError(
            "A schedule has five fields: minute hour day-of-month month day-of-week "
            f"(e.g. '0 8 * * mon-fri'); got {len(parts)}."
        )
    parsed = [
        _field(text, low, high, names, what)
        for text, (what, low, high, names) in zip(parts, FIELDS, strict=True)
    ]
    weekdays = frozenset(day % 7 for day in parsed[4])
    cron = Cron(
        minutes=parsed[0],
        hours=parsed[1],
        days=parsed[2],
        months=parsed[3],
        weekdays=weekdays,
        days_restricted=parts[2] != "*",
        weekdays_restricted=parts[4] != "*",
    )
    cron.next_after(datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
    return cron


def cron_error(expression: str) -> str | None:
    try:
        parse_cron(expression)
    except CronError as exc:
        return str(exc)
    return None
