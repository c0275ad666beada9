"""Amounts in the organisation's currency, from the exchange-rate table."""

from __future__ import annotations

import datetime
from decimal import Decimal

from patron.core.exceptions import ValidationFailed
from patron.core.models import ExchangeRate
from patron.core.org import org_settings

CENT = Decimal("0.01")


def rate_on(currency: str, on: datetime.date) -> Decimal | None:
    """Units of the organisation's currency one ``currency`` is worth on ``on``; None when the
    table has no rate in force (the organisation's own currency is always 1)."""
    currency = currency.upper()
    if currency == org_settings().default_currency.upper():
        return Decimal(1)
    row = (
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=on)
        .order_by("-valid_from")
        .values_list("rate", flat=True)
        .first()
    )
    return row


def to_org_currency(
    amount: Decimal | None, currency: str, on: datetime.date, *, field: str = "currency"
) -> Decimal | None:
    """``amount`` converted at the rate in force on ``on``; a missing rate is a field error
    that says how to fix it."""
    if amount is None:
        return None
    rate = rate_on(currency, on)
    if rate is None:
        org_currency = org_settings().default_currency
        raise ValidationFailed(
            f"There is no exchange rate from {currency} to {org_currency} for {on}.",
            errors={
                field: [
                    f"No exchange rate for {currency} on {on}: an administrator adds one under "
                    f"Admin > Exchange rates, or use {org_currency}."
                ]
            },
        )
    return (amount * rate).quantize(CENT)
