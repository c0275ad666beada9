"""How products appear in global search (see patron.core.search)."""

from __future__ import annotations

from patron.core import search
from patron.orders.models import Product, Quote


def describe_product(product: Product) -> tuple[str, str, str]:
    status = "" if product.active else "inactive"
    subtitle = " · ".join(p for p in (product.sku, product.family, status) if p)
    text = " ".join(p for p in (product.name, product.sku, product.family) if p)
    return product.name, subtitle, text


def describe_quote(quote: Quote) -> tuple[str, str, str]:
    account = quote.opportunity.account
    subtitle = " · ".join(
        p for p in (quote.get_status_display(), str(account) if account else "") if p
    )
    text = " ".join(p for p in (quote.number, quote.name, str(account or "")) if p)
    return f"{quote.number} {quote.name}", subtitle, text


def register_search() -> None:
    search.register(Product, describe_product, url=lambda pk: f"/products/{pk}/", label="Products")
    search.register(
        Quote,
        describe_quote,
        url=lambda pk: f"/quotes/{pk}/",
        label="Quotes",
        prefetch=("opportunity__account",),
    )
