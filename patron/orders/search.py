"""How products appear in global search (see patron.core.search)."""

from __future__ import annotations

from patron.core import search
from patron.orders.models import Product


def describe_product(product: Product) -> tuple[str, str, str]:
    status = "" if product.active else "inactive"
    subtitle = " · ".join(p for p in (product.sku, product.family, status) if p)
    text = " ".join(p for p in (product.name, product.sku, product.family) if p)
    return product.name, subtitle, text


def register_search() -> None:
    search.register(Product, describe_product, url=lambda pk: f"/products/{pk}/", label="Products")
