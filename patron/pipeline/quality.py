"""Data-quality checks for opportunities (registered from ``PipelineConfig.ready``)."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from patron.core.quality import INVALID, MISSING, QualityCheck, register_quality_check
from patron.pipeline.models import Opportunity


def _past_close_date() -> Q:
    return Q(is_closed=False, close_date__lt=timezone.localdate())


def register_quality() -> None:
    for check in (
        QualityCheck(
            key="opportunity_no_amount",
            model=Opportunity,
            label="Opportunities without an amount",
            kind=MISSING,
            condition=lambda: Q(amount__isnull=True),
            fields=("amount",),
            hint="Add the expected amount on each opportunity.",
            order=10,
        ),
        QualityCheck(
            key="opportunity_past_close_date",
            model=Opportunity,
            label="Open opportunities with a close date in the past",
            kind=INVALID,
            condition=_past_close_date,
            fields=("close_date",),
            hint="Select them and use Set close date in the bulk bar, or close them.",
            order=20,
        ),
        QualityCheck(
            key="opportunity_negative_amount",
            model=Opportunity,
            label="Opportunities with a negative amount",
            kind=INVALID,
            condition=lambda: Q(amount__lt=0),
            fields=("amount",),
            order=30,
        ),
    ):
        register_quality_check(check)
