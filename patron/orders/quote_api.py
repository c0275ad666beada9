"""Quotes in /api/v1/: the standard record routes, lines, approval, sending, syncing the
opportunity's amount, the total cost of ownership and the PDF (thin handlers)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.core.api.auth import request_user
from patron.core.api.openapi import custom_field_schema
from patron.core.api.problems import problem_responses
from patron.core.api.records import hidden_fields, record_data
from patron.core.api.resources import RecordResource, add_record_routes
from patron.core.choices import Action, Via
from patron.core.exceptions import ValidationFailed
from patron.orders import quote_selectors as selectors
from patron.orders import quote_services as services
from patron.orders.choices import QuoteStatus, TcoCategory, TcoRecurrence
from patron.orders.models import Quote, QuoteLine, TcoItem
from patron.orders.quote_filters import QUOTE_SORTS, QuoteFilter
from patron.orders.quote_pdf import pdf_filename, quote_pdf
from patron.orders.tco import cost_items, tco_table
from patron.users.api import api_auth

router = Router(tags=["quotes"], auth=api_auth("sales"))


class QuoteOut(Schema):
    id: int
    version: int
    opportunity: int
    number: str = Field(description="Given on creation, e.g. Q-00042.")
    name: str
    status: QuoteStatus
    currency: str = Field(description="The opportunity's currency when the quote was made.")
    valid_until: datetime.date
    terms: str
    subtotal: Decimal = Field(description="Sum of quantity x unit price, before discounts.")
    discount_total: Decimal
    tax_total: Decimal
    total: Decimal = Field(description="Subtotal less discounts plus taxes.")
    max_discount_percent: Decimal = Field(
        description="Above the administrator's threshold the quote needs approval."
    )
    approval_requested_at: datetime.datetime | None
    approver: int | None = Field(description="Who approved or rejected it.")
    decided_at: datetime.datetime | None
    decision_note: str
    sent_at: datetime.datetime | None
    customer_responded_at: datetime.datetime | None
    customer_name: str
    customer_comment: str
    synced_to_opportunity_at: datetime.datetime | None
    tco_years: int | None
    tco_in_pdf: bool
    owner: int
    team: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    custom: dict[str, Any] = Field(json_schema_extra=custom_field_schema("orders.quote"))


class QuoteInput(Schema):
    """Fields to set; on PATCH only the fields sent change (draft or rejected quotes only).
    On POST, ``opportunity`` is required and its line items are copied."""

    model_config = ConfigDict(extra="forbid")

    opportunity: int | None = Field(None, description="Only on POST: the opportunity's id.")
    name: str | None = Field(None, description="Default: “Quote for <opportunity>”.")
    valid_until: datetime.date | None = Field(
        None, description="Default: today plus the policy's validity days."
    )
    terms: str | None = Field(None, description="Default: the policy's terms.")
    tco_years: int | None = Field(None, description="TCO life span, 1 to 30 years.")
    tco_in_pdf: bool | None = None
    owner: int | None = Field(None, description="The id of the owning user (default: you).")
    team: int | None = None
    custom: dict[str, Any] | None = Field(
        None, json_schema_extra=custom_field_schema("orders.quote")
    )


_FIELDS = tuple(n for n in QuoteOut.model_fields if n not in {"id", "version", "custom"})


def _update(
    *,
    user: Any,
    quote: Quote,
    expected_version: int | None = None,
    via: str = Via.API,
    **fields: Any,
) -> Quote:
    if "opportunity" in fields:
        raise ValidationFailed(
            "A quote stays with its opportunity.",
            errors={"opportunity": ["Create a new quote from the other opportunity instead."]},
        )
    return services.quote_update(
        user=user, quote=quote, expected_version=expected_version, via=via, **fields
    )


add_record_routes(
    router,
    RecordResource(
        prefix="/quotes",
        noun="quote",
        plural="quotes",
        model=Quote,
        out_schema=QuoteOut,
        in_schema=QuoteInput,
        fields=_FIELDS,
        list_selector=selectors.quote_list,
        get=selectors.quote_get,
        create=services.quote_create,
        update=_update,
        delete=services.quote_delete,
        filterset=QuoteFilter,
        sorts=QUOTE_SORTS,
        default_sort="-created",
    ),
)


def _quote(user: Any, quote: Quote) -> dict[str, Any]:
    return record_data(quote, _FIELDS, hidden_fields(user, Quote))


# --- lines -----------------------------------------------------------------------------------


class QuoteLineOut(Schema):
    id: int
    quote: int
    product: int | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    tax_percent: Decimal
    line_total: Decimal = Field(
        description="quantity x unit_price x (1 - discount_percent / 100), rounded to cents."
    )
    position: int


class QuoteLineInput(Schema):
    model_config = ConfigDict(extra="forbid")

    product: int | None = Field(None, description="Optional: a product you can see.")
    description: str = Field("", description="Default: the product's name.")
    quantity: Decimal = Field(Decimal("1"), description="Above 0.")
    unit_price: Decimal = Field(description="0 or more.")
    discount_percent: Decimal = Field(Decimal("0"), description="0 to 100.")
    tax_percent: Decimal = Field(Decimal("0"), description="0 to 100.")


class QuoteLinePatch(Schema):
    """Fields to change; the ones left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    product: int | None = None
    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    discount_percent: Decimal | None = None
    tax_percent: Decimal | None = None


def _line(line: QuoteLine) -> dict[str, Any]:
    return {
        "id": line.pk,
        "quote": line.quote_id,
        "product": line.product_id,
        "description": line.description,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "discount_percent": line.discount_percent,
        "tax_percent": line.tax_percent,
        "line_total": line.line_total,
        "position": line.position,
    }


_LINES = "/quotes/{int:record_id}/lines"
_LINES_DOC = (
    "Only draft or rejected quotes change, by users who may edit them; the quote's totals are "
    "recomputed. A quantity of 0 or less, a negative price, or a discount or tax outside "
    "0-100 % is a 422 naming the field; nothing is saved."
)


@router.get(
    _LINES,
    response={200: list[QuoteLineOut], **problem_responses(401, 403, 404)},
    summary="List a quote's lines",
    operation_id="quote_line_list",
)
def lines_index(request: HttpRequest, record_id: int) -> list[dict[str, Any]]:
    quote = selectors.quote_get(user=request_user(request), pk=record_id)
    return [_line(line) for line in selectors.quote_lines(quote=quote)]


@router.post(
    _LINES,
    response={201: QuoteLineOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Add a line to a quote",
    description=_LINES_DOC,
    operation_id="quote_line_create",
)
def lines_add(request: HttpRequest, record_id: int, payload: QuoteLineInput) -> Status[Any]:
    user = request_user(request)
    quote = selectors.quote_get(user=user, pk=record_id, action=Action.UPDATE)
    line = services.quote_line_add(user=user, quote=quote, via=Via.API, **payload.model_dump())
    return Status(201, _line(line))


@router.patch(
    f"{_LINES}/{{int:line_id}}",
    response={200: QuoteLineOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Change a line of a quote",
    description=_LINES_DOC,
    operation_id="quote_line_update",
)
def lines_change(
    request: HttpRequest, record_id: int, line_id: int, payload: QuoteLinePatch
) -> dict[str, Any]:
    user = request_user(request)
    quote = selectors.quote_get(user=user, pk=record_id, action=Action.UPDATE)
    line = selectors.quote_line_get(quote=quote, pk=line_id)
    sent = payload.model_dump(include=payload.model_fields_set)
    line = services.quote_line_update(user=user, line=line, via=Via.API, **sent)
    return _line(line)


@router.delete(
    f"{_LINES}/{{int:line_id}}",
    response={204: None, **problem_responses(401, 403, 404, 422)},
    summary="Remove a line from a quote",
    description=_LINES_DOC,
    operation_id="quote_line_delete",
)
def lines_remove(request: HttpRequest, record_id: int, line_id: int) -> HttpResponse:
    user = request_user(request)
    quote = selectors.quote_get(user=user, pk=record_id, action=Action.UPDATE)
    services.quote_line_remove(
        user=user, line=selectors.quote_line_get(quote=quote, pk=line_id), via=Via.API
    )
    return HttpResponse(status=204)


# --- approval, sending, syncing --------------------------------------------------------------


class DecisionInput(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", description="Why; the owner sees it.")


class SentOut(Schema):
    quote: QuoteOut
    customer_url: str = Field(
        description="The customer's link to accept or decline. Returned only here, once: only a "
        "digest is stored. Sending again makes a new link and the old one stops working."
    )


_STEP_ERRORS = problem_responses(401, 403, 404, 422)


@router.post(
    "/quotes/{int:record_id}/submit",
    response={200: QuoteOut, **_STEP_ERRORS},
    summary="Submit a quote for approval",
    description="Only when a line's discount is above the policy's threshold; the owner's "
    "managers (active users in the parent role of the owner's role) are notified.",
    operation_id="quote_submit",
)
def quote_submit(request: HttpRequest, record_id: int) -> dict[str, Any]:
    user = request_user(request)
    quote = selectors.quote_get(user=user, pk=record_id)
    return _quote(user, services.quote_submit_for_approval(user=user, quote=quote, via=Via.API))


@router.post(
    "/quotes/{int:record_id}/approve",
    response={200: QuoteOut, **_STEP_ERRORS},
    summary="Approve a quote",
    description="Only the owner's managers may; the quote must be waiting for approval.",
    operation_id="quote_approve",
)
def quote_approve(request: HttpRequest, record_id: int, payload: DecisionInput) -> dict[str, Any]:
    user = request_user(request)
    quote = selectors.quote_get(user=user, pk=record_id)
    return _quote(
        user, services.quote_approve(user=user, quote=quote, note=payload.note, via=Via.API)
    )


@router.post(
    "/quotes/{int:record_id}/reject",
    response={200: QuoteOut, **_STEP_ERRORS},
    summary="Reject a quote",
    description="Only the owner's managers may; the owner may then change it and submit again.",
    operation_id="quote_reject",
)
def quote_reject(request: HttpRequest, record_id: int, payload: DecisionInput) -> dict[str, Any]:
    user = request_user(request)
    quote = selectors.quote_get(user=user, pk=record_id)
    return _quote(
        user, services.quote_reject(user=user, quote=quote, note=payload.note, via=Via.API)
    )


@router.post(
    "/quotes/{int:record_id}/send",
    response={200: SentOut, **_STEP_ERRORS},
    summary="Send a quote to the customer",
    description="Needs approval first when a discount is above the threshold. Returns the "
    "customer's link once.",
    operation_id="quote_send",
)
def quote_send(request: HttpRequest, record_id: int) -> dict[str, Any]:
    user = request_user(request)
    quote = selectors.quote_get(user=user, pk=record_id, action=Action.UPDATE)
    quote, token = services.quote_send(user=user, quote=quote, via=Via.API)
    url = request.build_absolute_uri(reverse("orders:quote_public", args=[token]))
    return {"quote": _quote(user, quote), "customer_url": url}


@router.post(
    "/quotes/{int:record_id}/sync",
    response={200: QuoteOut, **_STEP_ERRORS},
    summary="Set the opportunity's amount to the quote's total",
    description="Needs edit access to the opportunity; its currency becomes the quote's.",
    operation_id="quote_sync",
)
def quote_sync(request: HttpRequest, record_id: int) -> dict[str, Any]:
    user = request_user(request)
    quote = selectors.quote_get(user=user, pk=record_id)
    return _quote(user, services.quote_sync_to_opportunity(user=user, quote=quote, via=Via.API))


# --- total cost of ownership -----------------------------------------------------------------


class TcoItemOut(Schema):
    id: int
    category: TcoCategory
    description: str
    amount: Decimal
    recurrence: TcoRecurrence
    start_year: int
    end_year: int | None
    yearly_increase_percent: Decimal


class TcoItemInput(Schema):
    model_config = ConfigDict(extra="forbid")

    category: TcoCategory
    description: str = ""
    amount: Decimal = Field(description="0 or more; per month for monthly costs.")
    recurrence: TcoRecurrence
    start_year: int = Field(1, description="1 to 30; a one-time cost falls in this year.")
    end_year: int | None = Field(None, description="Default: the life span's last year.")
    yearly_increase_percent: Decimal = Field(
        Decimal("0"), description="0 to 100, compounded each year after the first."
    )


class TcoCategoryOut(Schema):
    category: TcoCategory
    label: str
    costs: list[Decimal]


class TcoOut(Schema):
    years: list[int] = Field(description="1 to tco_years; empty when no life span is set.")
    currency: str
    items: list[TcoItemOut]
    categories: list[TcoCategoryOut]
    yearly_totals: list[Decimal]
    cumulative: list[Decimal]
    total: Decimal


def _item(item: TcoItem) -> dict[str, Any]:
    return {
        "id": item.pk,
        "category": item.category,
        "description": item.description,
        "amount": item.amount,
        "recurrence": item.recurrence,
        "start_year": item.start_year,
        "end_year": item.end_year,
        "yearly_increase_percent": item.yearly_increase_percent,
    }


@router.get(
    "/quotes/{int:record_id}/tco",
    response={200: TcoOut, **problem_responses(401, 403, 404)},
    summary="A quote's total cost of ownership",
    description="Per category and year, yearly and cumulative totals over tco_years.",
    operation_id="quote_tco",
)
def quote_tco(request: HttpRequest, record_id: int) -> dict[str, Any]:
    quote = selectors.quote_get(user=request_user(request), pk=record_id)
    items = selectors.tco_items(quote=quote)
    table = tco_table(cost_items(items), quote.tco_years or 0)
    return {
        "years": table.years,
        "currency": quote.currency,
        "items": [_item(item) for item in items],
        "categories": [
            {"category": key, "label": label, "costs": costs} for key, label, costs in table.rows
        ],
        "yearly_totals": table.yearly_totals,
        "cumulative": table.cumulative,
        "total": table.total,
    }


@router.post(
    "/quotes/{int:record_id}/tco/items",
    response={201: TcoItemOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Add a cost to a quote's total cost of ownership",
    description="Draft or rejected quotes only. The life span defaults to 3 years.",
    operation_id="quote_tco_item_create",
)
def tco_add(request: HttpRequest, record_id: int, payload: TcoItemInput) -> Status[Any]:
    user = request_user(request)
    quote = selectors.quote_get(user=user, pk=record_id, action=Action.UPDATE)
    item = services.tco_item_add(user=user, quote=quote, via=Via.API, **payload.model_dump())
    return Status(201, _item(item))


@router.delete(
    "/quotes/{int:record_id}/tco/items/{int:item_id}",
    response={204: None, **problem_responses(401, 403, 404, 422)},
    summary="Remove a cost from a quote's total cost of ownership",
    operation_id="quote_tco_item_delete",
)
def tco_remove(request: HttpRequest, record_id: int, item_id: int) -> HttpResponse:
    user = request_user(request)
    quote = selectors.quote_get(user=user, pk=record_id, action=Action.UPDATE)
    services.tco_item_remove(user=user, item=selectors.tco_item_get(quote=quote, pk=item_id))
    return HttpResponse(status=204)


# --- PDF -------------------------------------------------------------------------------------


@router.get(
    "/quotes/{int:record_id}/pdf",
    response={200: None, **problem_responses(401, 403, 404, 503)},
    summary="A quote as PDF",
    description="application/pdf. 503 when the server lacks WeasyPrint's system libraries.",
    operation_id="quote_pdf",
)
def quote_pdf_file(request: HttpRequest, record_id: int) -> HttpResponse:
    quote = selectors.quote_get(user=request_user(request), pk=record_id)
    response = HttpResponse(quote_pdf(quote), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{pdf_filename(quote)}"'
    return response
