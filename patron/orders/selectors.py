"""The read path for products, their prices and opportunity line items."""

from __future__ import annotations

from typing import Any

from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, RecordNotFound
from patron.core.querysets import RecordQuerySet
from patron.core.visibility import Principal, can_access
from patron.orders.models import OpportunityLineItem, PriceBookEntry, Product
from patron.pipeline.models import Opportunity


def product_list(*, user: Principal) -> RecordQuerySet[Product]:
    return Product.objects.visible_to(user).select_related("owner")


def product_get(*, user: Principal, pk: Any, action: str = Action.READ) -> Product:
    try:
        product = Product.objects.select_related("owner", "owner__role", "team").get(pk=pk)
    except (Product.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"No product with id {pk}.") from None
    if not can_access(user, product, Action.READ):
        # Records a user may not read are reported as missing, so ids reveal nothing.
        raise RecordNotFound(f"No product with id {pk}.")
    if action != Action.READ and not can_access(user, product, action):
        raise PermissionDenied(
            f"You may not {action} this product; ask a sales manager or an administrator."
        )
    return product


def product_prices(*, product: Product) -> list[PriceBookEntry]:
    """The product's price in every price book, standard books first (one query)."""
    return list(
        PriceBookEntry.objects.filter(product=product)
        .select_related("price_book")
        .order_by("-price_book__is_standard", "price_book__currency", "price_book__name", "id")
    )


def line_item_list(*, opportunity: Opportunity) -> list[OpportunityLineItem]:
    """The opportunity's lines in order, with their products (one query)."""
    return list(
        OpportunityLineItem.objects.filter(opportunity=opportunity)
        .select_related("product")
        .order_by("position", "id")
    )


def line_item_get(*, opportunity: Opportunity, pk: Any) -> OpportunityLineItem:
    try:
        line = OpportunityLineItem.objects.select_related("product").get(
            opportunity=opportunity, pk=pk
        )
    except (OpportunityLineItem.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"This opportunity has no line with id {pk}.") from None
    line.opportunity = opportunity
    return line
