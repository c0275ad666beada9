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

Figure = Decimal | int
RollupCompute = Callable[[Sequence[int]], Figure]


@dataclass(frozen=True)
class Rollup:
    key: str
    label: str
    compute: RollupCompute
    order: int = 100


@dataclass(frozen=True)
class RollupFigure:
    key: str
    label: str
    account: Figure
    subtree: Figure


_rollups: dict[str, Rollup] = {}


def register_rollup(key: str, label: str, compute: RollupCompute, *, order: int = 100) -> None:
    """Add a figure; ``compute(account_ids)`` returns its total over those accounts."""
    _rollups[key] = Rollup(key=key, label=label, compute=compute, order=order)


def registered_rollups() -> list[Rollup]:
    return sorted(_rollups.values(), key=lambda rollup: (rollup.order, rollup.key))


def rollup_figures(*, account_id: int, subtree_ids: Sequence[int]) -> list[RollupFigure]:
    """Every registered figure for one account and for its subtree (two queries each)."""
    return [
        RollupFigure(
            key=rollup.key,
            label=rollup.label,
            account=rollup.compute([account_id]),
            subtree=rollup.compute(subtree_ids),
        )
        for rollup in registered_rollups()
    ]


def _contact_count(account_ids: Sequence[int]) -> int:
    from patron.contacts.models import Contact

    return Contact.objects.filter(account_id__in=account_ids, deleted_at__isnull=True).count()


def _child_account_count(account_ids: Sequence[int]) -> int:
    from patron.contacts.models import Account

    return Account.objects.filter(parent_id__in=account_ids, deleted_at__isnull=True).count()


def register_contact_rollups() -> None:
    """The figures ``contacts`` itself can compute (from ContactsConfig.ready)."""
    register_rollup("contacts", "Contacts", _contact_count, order=10)
    register_rollup("child_accounts", "Child accounts", _child_account_count, order=20)
