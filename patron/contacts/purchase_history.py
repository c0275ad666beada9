"""Purchase history on the account: a related list that higher apps (orders, quotes, ...)
fill through a registry, so contacts never imports them.

An app registers a ``PurchaseSource`` from its ``AppConfig.ready``; ``rows(user, account,
limit)`` returns at most ``limit`` of that account's rows the user may see, newest first.
``purchase_history`` merges every source newest first; the account page shows it as a card.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.http import HttpRequest

from patron.contacts.models import Account
from patron.core.record_pages import DetailPanel, register_detail_panel
from patron.core.views import principal
from patron.core.visibility import Principal

PURCHASE_HISTORY_LIMIT = 50
MAX_PURCHASE_HISTORY_LIMIT = 200
PANEL_LIMIT = 10


@dataclass(frozen=True)
class PurchaseRow:
    date: datetime.date
    description: str
    quantity: Decimal | None = None
    amount: Decimal | None = None
    currency: str = ""
    # The page of the order, quote, ... the row comes from ("" when it has none).
    url: str = ""


@dataclass(frozen=True)
class PurchaseSource:
    key: str
    label: str
    rows: Callable[[Principal, Account, int], list[PurchaseRow]]


@dataclass(frozen=True)
class PurchaseEntry:
    """A row of the merged history with the source it came from."""

    source: str
    source_label: str
    row: PurchaseRow


_sources: dict[str, PurchaseSource] = {}


def register_purchase_source(source: PurchaseSource) -> None:
    """Add ``source``'s rows to every account's purchase history (from ``AppConfig.ready``)."""
    _sources[source.key] = source


def purchase_sources() -> list[PurchaseSource]:
    return sorted(_sources.values(), key=lambda s: s.key)


def _by_day(row: PurchaseRow) -> PurchaseRow:
    # A source may hand in a datetime; dates and datetimes do not compare with each other.
    if isinstance(row.date, datetime.datetime):
        return replace(row, date=row.date.date())
    return row


def purchase_history(
    *, user: Principal, account: Account, limit: int = PURCHASE_HISTORY_LIMIT
) -> list[PurchaseEntry]:
    """The account's rows from every source, newest first, at most ``limit``."""
    limit = max(1, min(limit, MAX_PURCHASE_HISTORY_LIMIT))
    entries = [
        PurchaseEntry(source=source.key, source_label=source.label, row=_by_day(row))
        for source in purchase_sources()
        for row in source.rows(user, account, limit)[:limit]
    ]
    entries.sort(key=lambda e: (e.row.date, e.source), reverse=True)
    return entries[:limit]


def _panel_context(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    if not isinstance(record, Account):
        return None
    entries = purchase_history(user=principal(request), account=record, limit=PANEL_LIMIT + 1)
    return {
        "entries": entries[:PANEL_LIMIT],
        "more": len(entries) > PANEL_LIMIT,
        "sources": [s.label for s in purchase_sources()],
    }


def register_purchase_history_panel() -> None:
    """Show the purchase history card on account pages (from ``AppConfig.ready``)."""
    register_detail_panel(
        DetailPanel(
            key="contacts.purchase_history",
            template="contacts/partials/purchase_history.html",
            context=_panel_context,
            object_types=frozenset({Account.object_type()}),
            order=60,
        )
    )
