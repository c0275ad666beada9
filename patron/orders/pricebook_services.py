"""Price books and their list prices: configuration that administrators manage.

A price book holds list prices in one currency, optionally for one segment. Each currency
has at most one standard book (active or not); line items take their price from it first.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from patron.core.exceptions import ValidationFailed
from patron.core.visibility import Principal, require_admin
from patron.orders.models import PriceBook, PriceBookEntry, Product

PRICE_BOOK_FIELDS = frozenset(
    {"name", "currency", "segment", "is_standard", "active", "description"}
)

ADMIN_ONLY = "Only administrators manage price books; ask one to change this price."
MAX_PRICE = Decimal("9999999999999999.99")


def _clean_book(fields: dict[str, Any], instance: PriceBook) -> dict[str, Any]:
    unknown = set(fields) - PRICE_BOOK_FIELDS
    if unknown:
        raise ValidationFailed(
            "Unknown fields.", errors={name: ["This field does not exist."] for name in unknown}
        )
    errors: dict[str, list[str]] = {}
    cleaned = dict(fields)
    for name in ("name", "segment", "description"):
        if name in cleaned:
            cleaned[name] = str(cleaned[name] or "").strip()
    for name in ("is_standard", "active"):
        if name in cleaned:
            cleaned[name] = bool(cleaned[name])
    name = cleaned.get("name", instance.name)
    if not name:
        errors["name"] = ["Enter the price book's name."]
    elif len(name) > 100:
        errors["name"] = ["Use at most 100 characters."]
    if len(cleaned.get("segment", "")) > 100:
        errors["segment"] = ["Use at most 100 characters."]
    if "currency" in cleaned or not instance.pk:
        currency = str(cleaned.get("currency") or "").strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            errors["currency"] = ["Enter a three-letter currency code such as EUR or USD."]
        cleaned["currency"] = currency
    currency = cleaned.get("currency", instance.currency)
    if not errors:
        same = PriceBook.objects.filter(name__iexact=name, currency=currency).exclude(
            pk=instance.pk
        )
        if same.exists():
            errors["name"] = [f"A price book “{name}” in {currency} already exists."]
        standard = cleaned.get("is_standard", instance.is_standard)
        if standard:
            other = (
                PriceBook.objects.filter(currency=currency, is_standard=True)
                .exclude(pk=instance.pk)
                .first()
            )
            if other is not None:
                errors["is_standard"] = [
                    f"“{other.name}” is already the standard price book for {currency}; "
                    "untick standard there first."
                ]
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", errors=errors)
    return cleaned


def price_book_create(*, user: Principal, **fields: Any) -> PriceBook:
    require_admin(user, ADMIN_ONLY)
    cleaned = _clean_book(fields, PriceBook())
    with transaction.atomic():
        return PriceBook.objects.create(**cleaned)


def price_book_update(*, user: Principal, price_book: PriceBook, **fields: Any) -> PriceBook:
    require_admin(user, ADMIN_ONLY)
    cleaned = _clean_book(fields, price_book)
    for name, value in cleaned.items():
        setattr(price_book, name, value)
    with transaction.atomic():
        price_book.save(update_fields=[*cleaned] or None)
    return price_book


def as_price(value: Any, field: str) -> Decimal:
    """``value`` as a money amount >= 0 with at most two decimals, else a field error."""
    try:
        price = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(
            "Please correct the highlighted fields.",
            errors={field: ["Enter a number such as 1200 or 49.90."]},
        ) from None
    if not price.is_finite() or price < 0:
        raise ValidationFailed(
            "Please correct the highlighted fields.",
            errors={field: ["Enter a price of 0 or more."]},
        )
    if price > MAX_PRICE or price != price.quantize(Decimal("0.01")):
        raise ValidationFailed(
            "Please correct the highlighted fields.",
            errors={field: ["Use at most two decimals and 16 digits before the point."]},
        )
    return price


def price_book_entry_set(
    *,
    user: Principal,
    price_book: PriceBook,
    product_id: Any,
    list_price: Any,
    active: bool = True,
) -> PriceBookEntry:
    """Set ``product``'s list price in ``price_book`` (adds the entry or changes it)."""
    require_admin(user, ADMIN_ONLY)
    product = None
    if isinstance(product_id, int) or (isinstance(product_id, str) and product_id.isdigit()):
        product = Product.objects.filter(pk=int(product_id)).first()
    if product is None:
        raise ValidationFailed(
            "That product does not exist.",
            errors={"product": [f"No product with id {product_id}; choose an existing product."]},
        )
    price = as_price(list_price, "list_price")
    with transaction.atomic():
        entry, _ = PriceBookEntry.objects.update_or_create(
            price_book=price_book,
            product=product,
            defaults={"list_price": price, "active": bool(active)},
        )
    entry.product = product
    entry.price_book = price_book
    return entry


def price_book_entry_remove(*, user: Principal, entry: PriceBookEntry) -> None:
    require_admin(user, ADMIN_ONLY)
    entry.delete()
