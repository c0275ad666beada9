"""The read path for price books and their entries (configuration: no record visibility of
their own, but an entry names a product, which has)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from patron.core.exceptions import RecordNotFound
from patron.core.visibility import Principal
from patron.orders.models import PriceBook, PriceBookEntry, Product


def price_book_list() -> list[PriceBook]:
    """Every price book with its number of prices, by name and currency (one query)."""
    return list(
        PriceBook.objects.annotate(entry_count=Count("entries")).order_by("name", "currency")
    )


def price_book_get(*, pk: Any) -> PriceBook:
    try:
        return PriceBook.objects.get(pk=pk)
    except (PriceBook.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"No price book with id {pk}.") from None


def price_book_entry_list(
    *, price_book: PriceBook, user: Principal | None = None
) -> list[PriceBookEntry]:
    """The book's prices by product name (one query). With ``user``, only the products they
    may see: anyone reads a price book, but a private product's name and SKU are not theirs."""
    entries = PriceBookEntry.objects.filter(price_book=price_book)
    if user is not None:
        entries = entries.filter(product__in=Product.objects.visible_to(user).values("pk"))
    return list(entries.select_related("product").order_by("product__name", "id"))


def price_book_entry_get(*, price_book: PriceBook, pk: Any) -> PriceBookEntry:
    try:
        entry = PriceBookEntry.objects.select_related("product").get(price_book=price_book, pk=pk)
    except (PriceBookEntry.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"This price book has no price with id {pk}.") from None
    entry.price_book = price_book
    return entry
