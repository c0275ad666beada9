"""Data-quality checks for activities (registered from ``ActivitiesConfig.ready``)."""

from __future__ import annotations

from django.db.models import F, Q
from django.utils import timezone

from patron.activities.choices import ActivityKind, TaskStatus
from patron.activities.models import Activity
from patron.core.quality import INVALID, MISSING, QualityCheck, register_quality_check

OPEN = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)


def _overdue() -> Q:
    return Q(kind=ActivityKind.TASK, status__in=OPEN, due_at__lt=timezone.now())


def register_quality() -> None:
    for check in (
        QualityCheck(
            key="task_no_due_date",
            model=Activity,
            label="Open tasks without a due date",
            kind=MISSING,
            condition=lambda: Q(kind=ActivityKind.TASK, status__in=OPEN, due_at__isnull=True),
            fields=("due_at",),
            hint="Give each task a due date, or mark it done.",
            order=10,
        ),
        QualityCheck(
            key="task_overdue",
            model=Activity,
            label="Open tasks past their due date",
            kind=INVALID,
            condition=_overdue,
            fields=("due_at", "status"),
            hint="Select them and use Set status in the bulk bar, or move the due date.",
            order=20,
        ),
        QualityCheck(
            key="appointment_ends_before_start",
            model=Activity,
            label="Appointments that end before they start",
            kind=INVALID,
            condition=lambda: Q(kind=ActivityKind.APPOINTMENT, ends_at__lt=F("starts_at")),
            fields=("starts_at", "ends_at"),
            order=30,
        ),
    ):
        register_quality_check(check)
