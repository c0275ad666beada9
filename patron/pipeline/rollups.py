"""Pipeline figures on account pages, rolled up the account hierarchy (contacts.rollups):
open pipeline and won revenue, both in the organisation's currency, each one SQL aggregate.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db.models import Sum

from patron.contacts.rollups import register_rollup
from patron.pipeline.models import Opportunity


def _amount_total(account_ids: Sequence[int], *, won: bool | None) -> Decimal:
    opportunities = Opportunity.objects.filter(account_id__in=account_ids)
    if won is None:
        opportunities = opportunities.filter(is_closed=False)
    else:
        opportunities = opportunities.filter(is_won=True)
    total: Decimal | None = opportunities.aggregate(total=Sum("amount_org"))["total"]
    return total if total is not None else Decimal("0.00")


def open_pipeline(account_ids: Sequence[int]) -> Decimal:
    return _amount_total(account_ids, won=None)


def won_revenue(account_ids: Sequence[int]) -> Decimal:
    return _amount_total(account_ids, won=True)


def register_pipeline_rollups() -> None:
    register_rollup("open_pipeline", "Open pipeline", open_pipeline, order=30)
    register_rollup("won_revenue", "Won revenue", won_revenue, order=31)
