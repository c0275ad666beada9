"""The read path for quotes, their lines and TCO items."""

from __future__ import annotations

from typing import Any

from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, RecordNotFound
from patron.core.querysets import RecordQuerySet
from patron.core.visibility import Principal, can_access
from patron.orders.models import Quote, QuoteLine, TcoItem
from patron.pipeline.models import Opportunity


def quote_list(*, user: Principal) -> RecordQuerySet[Quote]:
    return Quote.objects.visible_to(user).select_related("owner", "opportunity")


def quote_get(*, user: Principal, pk: Any, action: str = Action.READ) -> Quote:
    try:
        quote = Quote.objects.select_related(
            "owner", "owner__role", "team", "opportunity", "opportunity__account", "approver"
        ).get(pk=pk)
    except (Quote.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"No quote with id {pk}.") from None
    if not can_access(user, quote, Action.READ):
        # Records a user may not read are reported as missing, so ids reveal nothing.
        raise RecordNotFound(f"No quote with id {pk}.")
    if action != Action.READ and not can_access(user, quote, action):
        raise PermissionDenied(
            f"You may not {action} this quote; ask its owner to share it with edit access."
        )
    return quote


def quote_lines(*, quote: Quote) -> list[QuoteLine]:
    """The quote's lines in order, with their products (one query)."""
    return list(
        QuoteLine.objects.filter(quote=quote).select_related("product").order_by("position", "id")
    )


def quote_line_get(*, quote: Quote, pk: Any) -> QuoteLine:
    try:
        line = QuoteLine.objects.select_related("product").get(quote=quote, pk=pk)
    except (QuoteLine.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"This quote has no line with id {pk}.") from None
    line.quote = quote
    return line


def tco_items(*, quote: Quote) -> list[TcoItem]:
    return list(TcoItem.objects.filter(quote=quote).order_by("position", "id"))


def tco_item_get(*, quote: Quote, pk: Any) -> TcoItem:
    try:
        item = TcoItem.objects.get(quote=quote, pk=pk)
    except (TcoItem.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"This quote has no cost item with id {pk}.") from None
    item.quote = quote
    return item


def opportunity_quotes(*, user: Principal, opportunity: Opportunity) -> list[Quote]:
    """The quotes of ``opportunity`` that ``user`` may see, newest first."""
    return list(
        Quote.objects.visible_to(user)
        .filter(opportunity=opportunity)
        .order_by("-created_at", "-id")
        .only("id", "number", "name", "status", "total", "currency", "valid_until", "created_at")
    )
