"""The periodic-task scheduler (`patron scheduler`, Celery beat), safe to start twice.

One scheduler should run, but a second one started by mistake (on another machine, say)
must not send every periodic task twice. Before sending a due task, a scheduler claims it
in ``ScheduledSend``: the claim succeeds only when the task is due counted from the last
time *any* scheduler sent it, so each period's tick is sent once, by whichever scheduler
comes first, and a lone scheduler loses nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery.beat import PersistentScheduler, ScheduleEntry
from celery.schedules import BaseSchedule, schedule
from django.db import DatabaseError, close_old_connections, transaction

from patron.core.models import ScheduledSend

logger = logging.getLogger(__name__)

# A scheduler stamps its claim a moment after its own clock started the entry's next
# period, so an interval counts from slightly earlier, or a lone scheduler's next tick
# (exactly one interval later) would be refused.
_STAMP_SLACK = timedelta(seconds=1)


def _due(when: BaseSchedule, last_sent_at: datetime) -> bool:
    if isinstance(when, schedule):
        last_sent_at -= min(_STAMP_SLACK, timedelta(seconds=when.seconds / 10))
    return bool(when.is_due(last_sent_at)[0])


def scheduled_send_claim(*, name: str, when: BaseSchedule) -> bool:
    """Claim the current period of periodic task ``name``; False when another scheduler
    has sent it in this period already."""
    now = when.now()
    with transaction.atomic():
        row = ScheduledSend.objects.select_for_update().filter(name=name).first()
        if row is None:
            # A scheduler creating the row at this same moment makes this one's insert fail.
            _, created = ScheduledSend.objects.get_or_create(
                name=name, defaults={"last_sent_at": now}
            )
            return created
        if not _due(when, row.last_sent_at):
            return False
        row.last_sent_at = now
        row.save(update_fields=["last_sent_at"])
        return True


class OncePerPeriodScheduler(PersistentScheduler):
    """Celery beat's file-backed scheduler, sending each due task only after claiming it."""

    def apply_entry(self, entry: ScheduleEntry, producer: Any = None) -> None:
        if entry.name is None or entry.schedule is None:
            super().apply_entry(entry, producer=producer)
            return
        # A long-running process: drop a connection the database closed meanwhile.
        close_old_connections()
        try:
            claimed = scheduled_send_claim(name=entry.name, when=entry.schedule)
        except DatabaseError as exc:
            # Tasks are idempotent; a tick sent twice beats one lost with the database.
            logger.warning(
                "Scheduler: sending %s unclaimed, the database failed: %s", entry.name, exc
            )
            claimed = True
        if not claimed:
            logger.info(
                "Scheduler: not sending %s, another scheduler sent it this period", entry.name
            )
            return
        super().apply_entry(entry, producer=producer)
