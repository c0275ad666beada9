"""``/accounts/{id}/purchase-history``: the account's merged purchase history (read only)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from patron.contacts.purchase_history import (
    MAX_PURCHASE_HISTORY_LIMIT,
    PURCHASE_HISTORY_LIMIT,
    purchase_history,
)
from patron.contacts.selectors import account_get
from patron.core.api.auth import request_user
from patron.core.api.problems import problem_responses
from patron.users.api import api_auth

router = Router(tags=["contacts"], auth=api_auth("contacts"))


class PurchaseRowOut(Schema):
    source: str = Field(description="The key of the app that recorded it, e.g. orders.")
    source_label: str
    date: datetime.date
    description: str
    quantity: Decimal | None
    amount: Decimal | None
    currency: str
    url: str = Field(description="The page of the order, quote, ...; empty when none.")


class PurchaseHistoryParams(Schema):
    limit: int = Field(PURCHASE_HISTORY_LIMIT, ge=1, le=MAX_PURCHASE_HISTORY_LIMIT)


@router.get(
    "/accounts/{int:record_id}/purchase-history",
    response={200: list[PurchaseRowOut], **problem_responses(401, 403, 404, 422)},
    summary="List an account's purchase history",
    description=(
        "What the account bought, newest first, from every app that records purchases "
        "(orders, quotes, ...); only rows you may see. Empty until such an app records one."
    ),
    operation_id="account_purchase_history",
)
def account_purchase_history(
    request: HttpRequest, record_id: int, params: Query[PurchaseHistoryParams]
) -> list[dict[str, Any]]:
    user = request_user(request)
    account = account_get(user=user, pk=record_id)
    return [
        {
            "source": entry.source,
            "source_label": entry.source_label,
            "date": entry.row.date,
            "description": entry.row.description,
            "quantity": entry.row.quantity,
            "amount": entry.row.amount,
            "currency": entry.row.currency,
            "url": entry.row.url,
        }
        for entry in purchase_history(user=user, account=account, limit=params.limit)
    ]
