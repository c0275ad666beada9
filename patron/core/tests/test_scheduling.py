"""The scheduler claims each periodic task's period before sending it, so two schedulers
(started twice by mistake) send each tick once, and a lone scheduler loses none.

The tests use the database as a scheduler process does, without a test transaction around
each claim (the scheduler closes connections the database dropped, which an open
transaction forbids)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery import current_app
from celery.beat import ScheduleEntry
from celery.schedules import BaseSchedule, crontab, schedule
from django.db import connection

from patron.core.models import ScheduledSend
from patron.core.scheduling import OncePerPeriodScheduler, scheduled_send_claim
from patron.core.testing import run_together


class Clock:
    """The time both schedulers read (beat's schedules take a ``nowfun``)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, 0, 200_000, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Sent:
    def __init__(self) -> None:
        self.names: list[str] = []


def start_scheduler(tmp_path: Path, name: str, sent: Sent) -> OncePerPeriodScheduler:
    scheduler = OncePerPeriodScheduler(
        app=current_app, schedule_filename=str(tmp_path / name), lazy=True
    )

    def apply_async(entry: ScheduleEntry, producer: object = None, advance: bool = True) -> None:
        sent.names.append(f"{name}:{entry.name}")

    scheduler.apply_async = apply_async  # type: ignore[method-assign,assignment]
    return scheduler


def entry(name: str, when: BaseSchedule) -> ScheduleEntry:
    return ScheduleEntry(name=name, task="automation.tick", schedule=when, app=current_app)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_ticking_the_same_minute_send_once(tmp_path, clock):
    sent = Sent()
    first = start_scheduler(tmp_path, "a", sent)
    second = start_scheduler(tmp_path, "b", sent)
    tick = entry("automation-tick", schedule(timedelta(seconds=60), nowfun=clock))

    first.apply_entry(tick)
    clock.advance(seconds=20)
    second.apply_entry(tick)  # its own clock says due: it started 40 s after the first
    assert sent.names == ["a:automation-tick"]

    # The next minute each scheduler's tick comes again; whichever is first sends it.
    clock.advance(seconds=40)
    second.apply_entry(tick)
    clock.advance(seconds=0.5)
    first.apply_entry(tick)
    assert sent.names == ["a:automation-tick", "b:automation-tick"]


@pytest.mark.django_db(transaction=True)
def test_a_lone_scheduler_sends_every_period(tmp_path, clock):
    sent = Sent()
    only = start_scheduler(tmp_path, "a", sent)
    tick = entry("automation-tick", schedule(timedelta(seconds=60), nowfun=clock))
    for _ in range(3):
        only.apply_entry(tick)
        # Beat starts the next period on its own clock a moment before it stamps the claim.
        clock.advance(seconds=59.999)
    assert sent.names == ["a:automation-tick"] * 3


@pytest.mark.django_db(transaction=True)
def test_a_daily_task_is_sent_once_a_day_by_two_schedulers(tmp_path, clock):
    sent = Sent()
    first = start_scheduler(tmp_path, "a", sent)
    second = start_scheduler(tmp_path, "b", sent)
    clock.now = datetime(2026, 3, 2, 0, 15, 0, 10_000, tzinfo=UTC)
    nightly = entry("expire-quotes", crontab(minute=15, hour=0, nowfun=clock))

    first.apply_entry(nightly)
    clock.advance(seconds=2)
    second.apply_entry(nightly)
    clock.advance(days=1)
    second.apply_entry(nightly)
    first.apply_entry(nightly)
    assert sent.names == ["a:expire-quotes", "b:expire-quotes"]
    assert ScheduledSend.objects.get(name="expire-quotes").last_sent_at == clock.now


def test_the_celery_app_runs_the_claiming_scheduler():
    assert current_app.conf.beat_scheduler == "patron.core.scheduling:OncePerPeriodScheduler"


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="proves PostgreSQL's row locks; SQLite serialises every writer with BEGIN "
    "IMMEDIATE (and the in-memory test database cannot be shared between threads)",
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("row_exists", [False, True])
def test_schedulers_claiming_at_the_same_instant_send_once(clock, row_exists):
    when = schedule(timedelta(seconds=60), nowfun=clock)
    if row_exists:
        ScheduledSend.objects.create(name="tick", last_sent_at=clock.now - timedelta(minutes=1))
    claims = run_together(*[lambda: scheduled_send_claim(name="tick", when=when)] * 8)
    assert sorted(claims) == [False] * 7 + [True]
