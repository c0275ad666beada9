"""Quotes on the 360° timeline of their opportunity, its account and themselves.

A quote has no event table: its own timestamps are the events (created, sent, answered by the
customer). One query finds a page of (time, entry id) across the three kinds, a union of the
quote rows each kind concerns, and one more loads those quotes. An entry's id is
``quote id x 4 + kind`` so ids are unique within the source, as the cursor needs.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q, QuerySet

from patron.contacts.models import Account
from patron.core.models import BusinessRecord
from patron.core.record_pages import record_detail_url
from patron.core.timeline import (
    Before,
    Target,
    TimelineEntry,
    TimelineKind,
    TimelineSource,
    register_timeline_scope,
    register_timeline_source,
)
from patron.core.visibility import Principal
from patron.orders.choices import QuoteStatus
from patron.orders.models import Quote
from patron.pipeline.models import Opportunity

SOURCE_KEY = "quotes"
DEPARTMENT = "sales"
CREATED = TimelineKind("quote_created", "Quote created", DEPARTMENT, "▤")
SENT = TimelineKind("quote_sent", "Quote sent", DEPARTMENT, "✉")
ACCEPTED = TimelineKind("quote_accepted", "Quote accepted", DEPARTMENT, "✓")
DECLINED = TimelineKind("quote_declined", "Quote declined", DEPARTMENT, "✕")
KINDS = (CREATED, SENT, ACCEPTED, DECLINED)
_SLOTS = 4


def _targets_q(targets: list[Target]) -> Q:
    condition = Q(pk__in=[])
    for target in targets:
        if target.object_type == Account.object_type():
            condition |= Q(opportunity__account_id__in=target.ids)
        elif target.object_type == Opportunity.object_type():
            condition |= Q(opportunity_id__in=target.ids)
        elif target.object_type == Quote.object_type():
            condition |= Q(pk__in=target.ids)
    return condition


def _kind_rows(base: QuerySet[Quote], slot: int, kind: TimelineKind) -> QuerySet[Any]:
    at_field = {CREATED: "created_at", SENT: "sent_at"}.get(kind, "customer_responded_at")
    rows = base.filter(**{f"{at_field}__isnull": False})
    if kind == ACCEPTED:
        rows = rows.filter(status=QuoteStatus.ACCEPTED)
    elif kind == DECLINED:
        rows = rows.filter(status=QuoteStatus.DECLINED)
    return rows.annotate(at=F(at_field), entry_id=F("id") * _SLOTS + slot)


def _title(kind: TimelineKind, quote: Quote) -> str:
    name = f"Quote {quote.number} “{quote.name}”"
    if kind == CREATED:
        return f"{name} created"
    if kind == SENT:
        return f"{name} sent to the customer"
    verb = "accepted" if kind == ACCEPTED else "declined"
    return f"{name} {verb} by {quote.customer_name}"


def quotes_fetch(
    user: Principal,
    targets: list[Target],
    before: Before | None,
    limit: int,
    kinds: frozenset[str],
) -> list[TimelineEntry]:
    """Quote events of quotes ``user`` may see about the targets, newest first."""
    base = Quote.objects.visible_to(user).filter(_targets_q(targets))
    parts = []
    for slot, kind in enumerate(KINDS):
        if kind.key not in kinds:
            continue
        rows = _kind_rows(base, slot, kind)
        if before is not None:
            rows = rows.filter(before.q("at", "entry_id"))
        parts.append(rows.values("at", "entry_id"))
    if not parts:
        return []
    union = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    page = list(union.order_by("-at", "-entry_id")[:limit])
    quotes = Quote.objects.select_related("owner").in_bulk(
        {row["entry_id"] // _SLOTS for row in page}
    )
    entries = []
    for row in page:
        quote = quotes[row["entry_id"] // _SLOTS]
        kind = KINDS[row["entry_id"] % _SLOTS]
        actor = quote.customer_name if kind in (ACCEPTED, DECLINED) else str(quote.owner)
        entries.append(
            TimelineEntry(
                at=row["at"],
                kind=kind.key,
                department=DEPARTMENT,
                title=_title(kind, quote),
                summary=f"{quote.total:,.2f} {quote.currency}",
                url=record_detail_url(Quote.object_type(), quote.pk),
                actor=actor,
                source=SOURCE_KEY,
                id=row["entry_id"],
                icon=kind.icon,
                badge=kind.label,
            )
        )
    return entries


def quote_scope(user: Principal, record: BusinessRecord) -> list[Target]:
    return [Target(Quote.object_type(), [record.pk])]


def register_quote_timeline() -> None:
    register_timeline_source(TimelineSource(SOURCE_KEY, KINDS, quotes_fetch))
    register_timeline_scope(Quote.object_type(), quote_scope)
