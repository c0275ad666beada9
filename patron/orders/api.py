"""Products, price books and opportunity line items in /api/v1/ (thin handlers: selectors
in, services out)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.core.api.auth import request_user
from patron.core.api.openapi import custom_field_schema
from patron.core.api.problems import problem_responses
from patron.core.api.resources import RecordResource, add_record_routes
from patron.core.choices import Action, Via
from patron.core.exceptions import PermissionDenied
from patron.orders import pricebook_selectors, pricebook_services, selectors, services
from patron.orders.choices import BillingType, RecurringPeriod
from patron.orders.filters import PRODUCT_SORTS, ProductFilter
from patron.orders.models import OpportunityLineItem, PriceBook, PriceBookEntry, Product
from patron.pipeline.selectors import opportunity_get
from patron.users.api import api_auth

router = Router(tags=["products"], auth=api_auth("sales"))


# --- products --------------------------------------------------------------------------------


class ProductOut(Schema):
    id: int
    version: int
    sku: str = Field(description="Unique whatever its case.")
    name: str
    family: str
    description: str
    unit: str
    billing: BillingType
    recurring_period: RecurringPeriod | str = Field(
        description="month, quarter or year for recurring products; empty for one-time ones."
    )
    active: bool = Field(description="Inactive products cannot be added to opportunities.")
    owner: int
    team: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    custom: dict[str, Any] = Field(json_schema_extra=custom_field_schema("orders.product"))


class ProductInput(Schema):
    """Fields to set; on PATCH only the fields sent change. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    sku: str | None = None
    name: str | None = None
    family: str | None = None
    description: str | None = None
    unit: str | None = Field(None, description="e.g. each, seat, hour (default each).")
    billing: BillingType | None = None
    recurring_period: str | None = Field(
        None, description="Required for recurring products (month, quarter, year)."
    )
    active: bool | None = None
    owner: int | None = Field(None, description="The id of the owning user (default: you).")
    team: int | None = None
    custom: dict[str, Any] | None = Field(
        None, json_schema_extra=custom_field_schema("orders.product")
    )


add_record_routes(
    router,
    RecordResource(
        prefix="/products",
        noun="product",
        plural="products",
        model=Product,
        out_schema=ProductOut,
        in_schema=ProductInput,
        fields=tuple(n for n in ProductOut.model_fields if n not in {"id", "version", "custom"}),
        list_selector=selectors.product_list,
        get=selectors.product_get,
        create=services.product_create,
        update=services.product_update,
        delete=services.product_delete,
        filterset=ProductFilter,
        sorts=PRODUCT_SORTS,
    ),
)


# --- price books -----------------------------------------------------------------------------


class PriceBookOut(Schema):
    id: int
    name: str
    currency: str
    segment: str
    is_standard: bool = Field(description="At most one standard book per currency.")
    active: bool
    description: str


class PriceBookInput(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    currency: str = Field(description="Three letters, e.g. EUR.")
    segment: str = ""
    is_standard: bool = False
    active: bool = True
    description: str = ""


class PriceBookPatch(Schema):
    """Fields to change; the ones left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    currency: str | None = None
    segment: str | None = None
    is_standard: bool | None = None
    active: bool | None = None
    description: str | None = None


class PriceBookEntryOut(Schema):
    id: int
    price_book: int
    product: int
    product_name: str
    sku: str
    list_price: Decimal
    active: bool


class PriceBookEntryInput(Schema):
    model_config = ConfigDict(extra="forbid")

    product: int = Field(description="The id of the product.")
    list_price: Decimal = Field(description="0 or more, at most two decimals.")
    active: bool = True


def _book(book: PriceBook) -> dict[str, Any]:
    return {
        "id": book.pk,
        "name": book.name,
        "currency": book.currency,
        "segment": book.segment,
        "is_standard": book.is_standard,
        "active": book.active,
        "description": book.description,
    }


def _entry(entry: PriceBookEntry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "price_book": entry.price_book_id,
        "product": entry.product_id,
        "product_name": entry.product.name,
        "sku": entry.product.sku,
        "list_price": entry.list_price,
        "active": entry.active,
    }


_ADMIN_DOC = "Anyone with sales access reads price books; only administrators change them."


@router.get(
    "/price-books",
    response={200: list[PriceBookOut], **problem_responses(401, 403)},
    summary="List price books",
    description=f"By name and currency. {_ADMIN_DOC}",
    operation_id="price_book_list",
)
def price_books_index(request: HttpRequest) -> list[dict[str, Any]]:
    request_user(request)
    return [_book(book) for book in pricebook_selectors.price_book_list()]


@router.post(
    "/price-books",
    response={201: PriceBookOut, **problem_responses(400, 401, 403, 422)},
    summary="Create a price book",
    description=f"{_ADMIN_DOC} A second standard book for a currency is a 422 on is_standard.",
    operation_id="price_book_create",
)
def price_books_create(request: HttpRequest, payload: PriceBookInput) -> Status[Any]:
    book = pricebook_services.price_book_create(user=request_user(request), **payload.model_dump())
    return Status(201, _book(book))


@router.patch(
    "/price-books/{int:book_id}",
    response={200: PriceBookOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Change a price book",
    description=_ADMIN_DOC,
    operation_id="price_book_update",
)
def price_books_update(request: HttpRequest, book_id: int, payload: PriceBookPatch) -> Any:
    user = request_user(request)
    book = pricebook_selectors.price_book_get(pk=book_id)
    sent = payload.model_dump(include=payload.model_fields_set)
    sent = {k: v for k, v in sent.items() if v is not None or k in {"segment", "description"}}
    book = pricebook_services.price_book_update(user=user, price_book=book, **sent)
    return _book(book)


@router.get(
    "/price-books/{int:book_id}/entries",
    response={200: list[PriceBookEntryOut], **problem_responses(401, 403, 404)},
    summary="List the prices in a price book",
    description="By product name.",
    operation_id="price_book_entry_list",
)
def entries_index(request: HttpRequest, book_id: int) -> list[dict[str, Any]]:
    user = request_user(request)
    book = pricebook_selectors.price_book_get(pk=book_id)
    entries = pricebook_selectors.price_book_entry_list(price_book=book, user=user)
    return [_entry(e) for e in entries]


@router.put(
    "/price-books/{int:book_id}/entries",
    response={200: PriceBookEntryOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Set a product's price in a price book",
    description=(
        f"Adds the product's entry or changes it (one entry per product). {_ADMIN_DOC} "
        "A negative price or an unknown product is a 422 naming the field."
    ),
    operation_id="price_book_entry_set",
)
def entries_set(request: HttpRequest, book_id: int, payload: PriceBookEntryInput) -> Any:
    user = request_user(request)
    book = pricebook_selectors.price_book_get(pk=book_id)
    entry = pricebook_services.price_book_entry_set(
        user=user,
        price_book=book,
        product_id=payload.product,
        list_price=payload.list_price,
        active=payload.active,
    )
    return _entry(entry)


@router.delete(
    "/price-books/{int:book_id}/entries/{int:entry_id}",
    response={204: None, **problem_responses(401, 403, 404)},
    summary="Remove a product's price from a price book",
    description=_ADMIN_DOC,
    operation_id="price_book_entry_delete",
)
def entries_remove(request: HttpRequest, book_id: int, entry_id: int) -> HttpResponse:
    user = request_user(request)
    if not getattr(user, "is_admin", False):
        raise PermissionDenied("Only administrators manage price books.")
    book = pricebook_selectors.price_book_get(pk=book_id)
    entry = pricebook_selectors.price_book_entry_get(price_book=book, pk=entry_id)
    pricebook_services.price_book_entry_remove(user=user, entry=entry)
    return HttpResponse(status=204)


# --- opportunity line items ------------------------------------------------------------------


class LineItemOut(Schema):
    id: int
    opportunity: int
    product: int | None
    product_name: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    line_total: Decimal = Field(
        description="quantity x unit_price x (1 - discount_percent / 100), rounded to cents."
    )
    position: int


class LineItemInput(Schema):
    model_config = ConfigDict(extra="forbid")

    product: int = Field(description="The id of an active product you can see.")
    description: str = Field("", description="Default: the product's name.")
    quantity: Decimal = Field(Decimal("1"), description="Above 0.")
    unit_price: Decimal | None = Field(
        None,
        description=(
            "0 or more. Default: the product's list price in the opportunity's currency "
            "(standard price book first)."
        ),
    )
    discount_percent: Decimal = Field(Decimal("0"), description="0 to 100.")
    use_for_amount: bool = Field(
        False, description="Also set the opportunity's amount to the sum of its line totals."
    )


class LineItemPatch(Schema):
    """Fields to change; the ones left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    product: int | None = None
    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = Field(None, description="null: the list price again.")
    discount_percent: Decimal | None = None
    use_for_amount: bool = False


def _line(line: OpportunityLineItem) -> dict[str, Any]:
    return {
        "id": line.pk,
        "opportunity": line.opportunity_id,
        "product": line.product_id,
        "product_name": line.product.name if line.product else "",
        "description": line.description,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "discount_percent": line.discount_percent,
        "line_total": line.line_total,
        "position": line.position,
    }


_LINES = "/opportunities/{int:record_id}/line-items"
_LINES_DOC = (
    "Only users who may edit the opportunity change its lines. A negative or zero quantity, a "
    "discount outside 0-100 % or a negative price is a 422 naming the field; nothing is saved."
)


@router.get(
    _LINES,
    response={200: list[LineItemOut], **problem_responses(401, 403, 404)},
    summary="List an opportunity's line items",
    description="In order.",
    operation_id="opportunity_line_item_list",
)
def lines_index(request: HttpRequest, record_id: int) -> list[dict[str, Any]]:
    opportunity = opportunity_get(user=request_user(request), pk=record_id)
    return [_line(line) for line in selectors.line_item_list(opportunity=opportunity)]


@router.post(
    _LINES,
    response={201: LineItemOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Add a product line to an opportunity",
    description=_LINES_DOC,
    operation_id="opportunity_line_item_create",
)
def lines_add(request: HttpRequest, record_id: int, payload: LineItemInput) -> Status[Any]:
    user = request_user(request)
    opportunity = opportunity_get(user=user, pk=record_id, action=Action.UPDATE)
    fields = payload.model_dump()
    line = services.line_item_add(
        user=user,
        opportunity=opportunity,
        use_for_amount=fields.pop("use_for_amount"),
        via=Via.API,
        **fields,
    )
    return Status(201, _line(line))


@router.patch(
    f"{_LINES}/{{int:line_id}}",
    response={200: LineItemOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Change a line of an opportunity",
    description=_LINES_DOC,
    operation_id="opportunity_line_item_update",
)
def lines_change(
    request: HttpRequest, record_id: int, line_id: int, payload: LineItemPatch
) -> dict[str, Any]:
    user = request_user(request)
    opportunity = opportunity_get(user=user, pk=record_id, action=Action.UPDATE)
    line = selectors.line_item_get(opportunity=opportunity, pk=line_id)
    sent = payload.model_dump(include=payload.model_fields_set)
    use_for_amount = bool(sent.pop("use_for_amount", False))
    for name in ("product", "quantity", "discount_percent"):
        if name in sent and sent[name] is None:
            del sent[name]
    if "description" in sent and sent["description"] is None:
        sent["description"] = ""
    line = services.line_item_update(
        user=user, line=line, use_for_amount=use_for_amount, via=Via.API, **sent
    )
    return _line(line)


@router.delete(
    f"{_LINES}/{{int:line_id}}",
    response={204: None, **problem_responses(401, 403, 404)},
    summary="Remove a line from an opportunity",
    description="Send ?use_for_amount=true to set the amount to the remaining lines' total.",
    operation_id="opportunity_line_item_delete",
)
def lines_remove(
    request: HttpRequest, record_id: int, line_id: int, use_for_amount: bool = False
) -> HttpResponse:
    user = request_user(request)
    opportunity = opportunity_get(user=user, pk=record_id, action=Action.UPDATE)
    line = selectors.line_item_get(opportunity=opportunity, pk=line_id)
    services.line_item_remove(user=user, line=line, use_for_amount=use_for_amount, via=Via.API)
    return HttpResponse(status=204)
