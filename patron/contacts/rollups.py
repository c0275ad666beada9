"""Figures rolled up an account hierarchy: each account shows them for itself and for its
whole subtree (itself and every descendant).

Apps above ``contacts`` (pipeline, support, orders) register what they add, such as open
pipeline or open cases, from their ``AppConfig.ready``; ``contacts`` never imports them.
A roll-up counts every record under the accounts, including ones the viewer cannot open.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

Figure = Decimal | int
# rows(account_ids) -> the records of those accounts that the figure counts or sums.
RollupRows = Callable[[Sequence[int]], QuerySet[Any]]


@dataclass(frozen=True)
class Rollup:
    key: str
    label: str
    rows: RollupRows
    # The column naming the record's account, and the summed column (None counts rows).
    account_field: str
    sum_field: str | None
    order: int = 100


@dataclass(frozen=True)
class RollupFigure:
    key: str
    label: str
    account: Figure
    subtree: Figure


_rollups: dict[str, Rollup] = {}


def register_rollup(
    key: str,
    label: str,
    rows: RollupRows,
    *,
    account_field: str = "account_id",
    sum_field: str | None = None,
    order: int = 100,
) -> None:
    """Add a figure: the count (or the sum of ``sum_field``) of ``rows(account_ids)``."""
    _rollups[key] = Rollup(
        key=key,
        label=label,
        rows=rows,
        account_field=account_field,
        sum_field=sum_field,
        order=order,
    )


def registered_rollups() -> list[Rollup]:
    return sorted(_rollups.values(), key=lambda rollup: (rollup.order, rollup.key))


def _figure(rollup: Rollup, account_id: int, subtree_ids: Sequence[int]) -> RollupFigure:
    """The account's and the subtree's figure from one aggregate query."""
    own = Q(**{rollup.account_field: account_id})
    if rollup.sum_field is None:
        totals = rollup.rows(subtree_ids).aggregate(
            account=Count("pk", filter=own), subtree=Count("pk")
        )
        empty: Figure = 0
    else:
        totals = rollup.rows(subtree_ids).aggregate(
            account=Sum(rollup.sum_field, filter=own), subtree=Sum(rollup.sum_field)
        )
        empty = Decimal("0.00")
    return RollupFigure(
        key=rollup.key,
        label=rollup.label,
        account=totals["account"] if totals["account"] is not None else empty,
        subtree=totals["subtree"] if totals["subtree"] is not None else empty,
    )


def rollup_figures(*, account_id: int, subtree_ids: Sequence[int]) -> list[RollupFigure]:
    """Every registered figure for one account and for its subtree (one query each)."""
    return [_figure(rollup, account_id, subtree_ids) for rollup in registered_rollups()]


def _contacts(account_ids: Sequence[int]) -> QuerySet[Any]:
    from patron.contacts.models import Contact

    return Contact.objects.filter(account_id__in=account_ids)


def _child_accounts(account_ids: Sequence[int]) -> QuerySet[Any]:
    from patron.contacts.models import Account

    return Account.objects.filter(parent_id__in=account_ids)


def register_contact_rollups() -> None:
    """The figures ``contacts`` itself can compute (from ContactsConfig.ready)."""
    register_rollup("contacts", "Contacts", _contacts, order=10)
    register_rollup(
        "child_accounts", "Child accounts", _child_accounts, account_field="parent_id", order=20
    )
