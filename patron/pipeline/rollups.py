"""Pipeline figures on account pages, rolled up the account hierarchy (contacts.rollups):
open pipeline and won revenue, both in the organisation's currency, each one SQL aggregate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet

from patron.contacts.rollups import register_rollup
from patron.pipeline.models import Opportunity


def open_opportunities(account_ids: Sequence[int]) -> QuerySet[Any]:
    return Opportunity.objects.filter(account_id__in=account_ids, is_closed=False)


def won_opportunities(account_ids: Sequence[int]) -> QuerySet[Any]:
    return Opportunity.objects.filter(account_id__in=account_ids, is_won=True)


def register_pipeline_rollups() -> None:
    register_rollup(
        "open_pipeline", "Open pipeline", open_opportunities, sum_field="amount_org", order=30
    )
    register_rollup(
        "won_revenue", "Won revenue", won_opportunities, sum_field="amount_org", order=31
    )
