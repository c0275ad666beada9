"""Products and price book entries for imports (see patron.core.importing)."""

from __future__ import annotations

from typing import Any

from patron.core.importing import (
    BOOLEAN,
    CHOICE,
    DECIMAL,
    RELATED,
    TEXT,
    ImportField,
    ImportSpec,
    MatchKey,
    Resolver,
    register_import,
    register_resolver,
)


def _prepare_product(user: Any, values: dict[str, Any], existing: Any) -> dict[str, Any]:
    from patron.orders.models import Product
    from patron.orders.services import _clean

    return _clean(values, instance=existing or Product())


def _set_entry(user: Any, values: dict[str, Any]) -> Any:
    from patron.orders.pricebook_services import price_book_entry_set

    return price_book_entry_set(
        user=user,
        price_book=values["price_book"],
        product_id=values["product"].pk,
        list_price=values["list_price"],
        active=values.get("active", True) is not False,
    )


def _update_entry(user: Any, record: Any, values: dict[str, Any]) -> Any:
    return _set_entry(
        user,
        {
            "price_book": values.get("price_book", record.price_book),
            "product": values.get("product", record.product),
            "list_price": values.get("list_price", record.list_price),
            "active": values.get("active", record.active),
        },
    )


def register_imports() -> None:
    from patron.orders.choices import BillingType, RecurringPeriod
    from patron.orders.models import PriceBook, PriceBookEntry, Product

    register_resolver(
        Resolver(
            name="product",
            label="product",
            model=Product,
            lookups=(("sku", TEXT), ("name", TEXT)),
            case_insensitive=frozenset({"name"}),
        )
    )
    register_resolver(
        Resolver(
            name="price_book",
            label="price book",
            model=PriceBook,
            lookups=(("name", TEXT),),
            case_insensitive=frozenset({"name"}),
        )
    )
    register_import(
        ImportSpec(
            object_type=Product.object_type(),
            label="product",
            label_plural="products",
            model=Product,
            fields=(
                ImportField(
                    "sku",
                    "Product code (SKU)",
                    required=True,
                    max_length=64,
                    aliases=("productcode", "product code", "code", "product"),
                ),
                ImportField(
                    "name",
                    "Product name",
                    required=True,
                    max_length=255,
                    aliases=("product name", "name"),
                ),
                ImportField(
                    "family", "Family", max_length=100, aliases=("series", "product family")
                ),
                ImportField("description", "Description", TEXT),
                ImportField("unit", "Unit", max_length=30, aliases=("quantityunitofmeasure",)),
                ImportField("billing", "Billing", CHOICE, choices=tuple(BillingType.choices)),
                ImportField(
                    "recurring_period",
                    "Recurring period",
                    CHOICE,
                    choices=tuple(RecurringPeriod.choices),
                ),
                ImportField("active", "Active", BOOLEAN, aliases=("isactive",)),
                ImportField("owner", "Owner", RELATED, resolver="user"),
            ),
            match_keys=(
                MatchKey("sku", "Product code (SKU)", "sku", TEXT),
                MatchKey("name", "Product name", "name", TEXT, case_insensitive=True),
                MatchKey("id", "Patron id", "id", "integer"),
            ),
            presets={
                "salesforce": {
                    "ProductCode": "sku",
                    "Name": "name",
                    "Family": "family",
                    "Description": "description",
                    "IsActive": "active",
                    "QuantityUnitOfMeasure": "unit",
                }
            },
            prepare=_prepare_product,
        )
    )
    register_import(
        ImportSpec(
            object_type="orders.pricebookentry",
            label="price book entry",
            label_plural="price book entries",
            model=PriceBookEntry,
            fields=(
                ImportField(
                    "price_book",
                    "Price book",
                    RELATED,
                    required=True,
                    resolver="price_book",
                    aliases=("pricebook", "pricebook2id"),
                ),
                ImportField(
                    "product",
                    "Product",
                    RELATED,
                    required=True,
                    resolver="product",
                    aliases=("product2id", "productcode", "sku"),
                ),
                ImportField(
                    "list_price",
                    "List price",
                    DECIMAL,
                    required=True,
                    aliases=("unitprice", "sales_price", "price"),
                ),
                ImportField("active", "Active", BOOLEAN, aliases=("isactive",)),
            ),
            create_one=_set_entry,
            update_one=_update_entry,
            admin_only=True,
        )
    )
