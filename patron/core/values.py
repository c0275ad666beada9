"""Value types: phone (E.164), email (validated, lower-cased for matching), money."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import phonenumbers
from email_validator import EmailNotValidError, validate_email


def normalize_phone(raw: str, region: str | None = None) -> str:
    """E.164 form of ``raw`` or ValueError saying what is wrong.

    Numbers without a country code are read in ``region`` (the org's or record's country).
    """
    text = (raw or "").strip()
    if not text:
        raise ValueError("Enter a phone number.")
    try:
        number = phonenumbers.parse(text, (region or "US").upper())
    except phonenumbers.NumberParseException:
        raise ValueError(
            f"{text!r} is not a phone number; write it with its country code, "
            "e.g. +44 20 7946 0958."
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"{text!r} has the wrong number of digits for a phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """International format for display; the stored value if it cannot be parsed."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def normalize_email(raw: str) -> str:
    """Validated, lower-cased email (deliverability is not checked: no network)."""
    text = (raw or "").strip()
    if not text:
        raise ValueError("Enter an email address.")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{text!r} is not a valid email address: {exc}") from None
    return result.normalized.lower()


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower() if "@" in email else ""


def normalize_domain(raw: str) -> str:
    """``https://www.Example.com/path`` -> ``example.com``."""
    text = (raw or "").strip().lower()
    text = re.sub(r"^[a-z]+://", "", text).split("/", 1)[0].split(":", 1)[0]
    return text.removeprefix("www.")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def parse(cls, amount: object, currency: str) -> Money:
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            raise ValueError(f"{amount!r} is not an amount of money.") from None
        if not value.is_finite():
            raise ValueError("An amount of money must be a finite number.")
        if not (len(currency) == 3 and currency.isalpha()):
            raise ValueError(f"{currency!r} is not a three-letter currency code.")
        return cls(value.quantize(Decimal("0.01")), currency.upper())

    def __str__(self) -> str:
        return f"{self.amount:,.2f} {self.currency}"
