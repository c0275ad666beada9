"""The write path for quotes: lines and totals, approval, the customer's link, TCO items.

A quote is a business record (change log, versions, recycle bin) made from an opportunity.
Its content (fields, lines, TCO) changes only while it is a draft or was rejected; a change
to a rejected quote makes it a draft again. Totals are recomputed in Decimal on every line
change: line total = quantity x unit price x (1 - discount), tax per line on its total.

Approval: a quote whose highest line discount is above the policy's threshold must be
approved before it is sent. When a backend is registered (quote_approval.py; automation's
approval engine registers one, running the "Quote discount" process) it picks the approvers
and decides when the approval ends; otherwise the approvers are the owner's managers (every
active user whose role is the parent of the owner's role), all notified, and the first to
decide is recorded as ``Quote.approver``.

The customer's link carries a random secret; only its SHA-256 digest is stored, so the
link is shown once, when the quote is sent.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from patron.core import records, search
from patron.core.choices import Action, Via
from patron.core.custom_fields import clean_custom_values
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.notifications import notification_send
from patron.core.org import org_settings
from patron.core.visibility import Principal, can_access
from patron.orders.choices import QuoteStatus, TcoCategory, TcoRecurrence
from patron.orders.models import (
    OpportunityLineItem,
    Product,
    Quote,
    QuoteLine,
    QuotePolicy,
    TcoItem,
)
from patron.orders.quote_approval import quote_approval_backend
from patron.orders.tco import MAX_YEARS
from patron.pipeline.models import Opportunity
from patron.pipeline.services import opportunity_update
from patron.users.models import User
from patron.users.selectors import managers_of

CENT = Decimal("0.01")
HUNDRED = Decimal("100")
MAX_QUANTITY = Decimal("999999999999.99")
MAX_AMOUNT = Decimal("9999999999999999.99")
EDITABLE = (QuoteStatus.DRAFT, QuoteStatus.REJECTED)
QUOTE_FIELDS = frozenset(
    {"name", "valid_until", "terms", "owner", "team", "tco_years", "tco_in_pdf", "custom"}
)
LINE_FIELDS = frozenset(
    {"product", "description", "quantity", "unit_price", "discount_percent", "tax_percent"}
)
TCO_FIELDS = frozenset(
    {
        "category",
        "description",
        "amount",
        "recurrence",
        "start_year",
        "end_year",
        "yearly_increase_percent",
    }
)
_FIX = "Please correct the highlighted fields."
NOTIFY_KIND = "quote"


# --- policy ----------------------------------------------------------------------------------


def quote_policy() -> QuotePolicy:
    """The quote rules (the single row, created with defaults on first use)."""
    policy, _ = QuotePolicy.objects.get_or_create(pk=1)
    return policy


def quote_policy_update(
    *,
    user: Principal,
    approval_discount_percent: Any,
    default_validity_days: Any,
    default_terms: str,
) -> QuotePolicy:
    if not getattr(user, "is_admin", False):
        raise PermissionDenied("Only administrators may change the quote rules.")
    errors: dict[str, list[str]] = {}
    threshold = _percent(approval_discount_percent, "approval_discount_percent", errors)
    days = _whole(default_validity_days, "default_validity_days", errors, low=1, high=365)
    if errors:
        raise ValidationFailed(_FIX, errors=errors)
    with transaction.atomic():
        policy, _ = QuotePolicy.objects.select_for_update().get_or_create(pk=1)
        policy.approval_discount_percent = threshold or Decimal("0")
        policy.default_validity_days = days or 30
        policy.default_terms = default_terms.strip()
        policy.updated_at = timezone.now()
        policy.save()
    return policy


# --- input cleaning --------------------------------------------------------------------------


def _number(value: Any, field: str, errors: dict[str, list[str]], example: str) -> Decimal | None:
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        number = Decimal("NaN")
    if not number.is_finite():
        errors[field] = [f"Enter a number such as {example}."]
        return None
    if number != number.quantize(CENT, rounding=ROUND_HALF_UP):
        errors[field] = ["Use at most two decimals."]
        return None
    return number


def _percent(value: Any, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    number = _number(value, field, errors, "10 or 12.5")
    if number is not None and not Decimal("0") <= number <= HUNDRED:
        errors[field] = ["Enter a percentage between 0 and 100."]
        return None
    return number


def _whole(
    value: Any, field: str, errors: dict[str, list[str]], *, low: int, high: int
) -> int | None:
    text = str(value).strip()
    if not text.isdigit() or not low <= int(text) <= high:
        errors[field] = [f"Enter a whole number from {low} to {high}."]
        return None
    return int(text)


def _require_editable(quote: Quote) -> None:
    if quote.status not in EDITABLE:
        raise ValidationFailed(
            f"This quote is {quote.get_status_display().lower()}; only draft or rejected "
            "quotes can be changed. Create a new quote from the opportunity instead.",
            errors={"status": ["Only draft or rejected quotes can be changed."]},
        )


def _require(user: Principal, quote: Quote, action: str, verb: str) -> None:
    if not can_access(user, quote, action):
        raise PermissionDenied(
            f"You may not {verb} this quote; ask its owner to share it with edit access."
        )


# --- totals ----------------------------------------------------------------------------------


def line_total(quantity: Decimal, unit_price: Decimal, discount_percent: Decimal) -> Decimal:
    """quantity x unit price x (1 - discount / 100), rounded half up to cents."""
    gross = quantity * unit_price * (HUNDRED - discount_percent) / HUNDRED
    return gross.quantize(CENT, rounding=ROUND_HALF_UP)


def quote_totals(lines: list[QuoteLine]) -> dict[str, Decimal]:
    """Subtotal (before discounts), discount, tax and grand total of ``lines``."""
    subtotal = Decimal("0.00")
    net = Decimal("0.00")
    tax = Decimal("0.00")
    for line in lines:
        subtotal += (line.quantity * line.unit_price).quantize(CENT, rounding=ROUND_HALF_UP)
        net += line.line_total
        tax += (line.line_total * line.tax_percent / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)
    return {
        "subtotal": subtotal,
        "discount_total": subtotal - net,
        "tax_total": tax,
        "total": net + tax,
        "max_discount_percent": max(
            (line.discount_percent for line in lines), default=Decimal("0")
        ),
    }


def _recompute(user: Principal, quote: Quote, via: str) -> Quote:
    # Locked and fresh: two line edits at once must not write totals from stale rows.
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    lines = list(QuoteLine.objects.filter(quote=quote))
    changes: dict[str, Any] = dict(quote_totals(lines))
    if quote.status == QuoteStatus.REJECTED:
        changes["status"] = QuoteStatus.DRAFT
    return records.record_update(quote, changes=changes, actor=user, via=via)


def approval_required(quote: Quote, policy: QuotePolicy | None = None) -> bool:
    """Whether a line's discount is above the administrator's threshold."""
    policy = policy or quote_policy()
    return quote.max_discount_percent > policy.approval_discount_percent


def quote_approvers(quote: Quote) -> list[User]:
    """Who may decide on ``quote`` now: the backend's approvers, else the owner's managers."""
    backend = quote_approval_backend()
    if backend is not None:
        return backend.approvers(quote)
    return managers_of(quote.owner_id)


# --- quotes ----------------------------------------------------------------------------------


def _clean(fields: dict[str, Any], *, instance: Quote) -> dict[str, Any]:
    unknown = set(fields) - QUOTE_FIELDS
    if unknown:
        raise ValidationFailed(
            "Unknown fields.", errors={name: ["This field does not exist."] for name in unknown}
        )
    errors: dict[str, list[str]] = {}
    cleaned = dict(fields)
    if "name" in cleaned:
        cleaned["name"] = str(cleaned["name"] or "").strip()
        if not cleaned["name"]:
            errors["name"] = ["Give the quote a name."]
        elif len(cleaned["name"]) > 255:
            errors["name"] = ["Use at most 255 characters."]
    if "terms" in cleaned:
        cleaned["terms"] = str(cleaned["terms"] or "").strip()
    if "valid_until" in cleaned:
        value = cleaned["valid_until"]
        if isinstance(value, str):
            try:
                value = datetime.date.fromisoformat(value)
            except ValueError:
                value = None
        if not isinstance(value, datetime.date):
            errors["valid_until"] = ["Enter a date such as 2026-12-31."]
        else:
            cleaned["valid_until"] = value
    if "tco_years" in cleaned and cleaned["tco_years"] not in (None, ""):
        years = _whole(cleaned["tco_years"], "tco_years", errors, low=1, high=MAX_YEARS)
        cleaned["tco_years"] = years
    elif "tco_years" in cleaned:
        cleaned["tco_years"] = None
    if "tco_in_pdf" in cleaned:
        cleaned["tco_in_pdf"] = bool(cleaned["tco_in_pdf"])
    if "custom" in cleaned:
        merged, custom_errors = clean_custom_values(
            Quote.object_type(), cleaned["custom"] or {}, existing=instance.custom
        )
        cleaned["custom"] = merged
        errors.update(custom_errors)
    if errors:
        raise ValidationFailed(_FIX, errors=errors)
    return cleaned


def quote_create_from_opportunity(
    *,
    user: Principal,
    opportunity: Opportunity,
    name: str = "",
    copy_lines: bool = True,
    via: str = Via.UI,
    **fields: Any,
) -> Quote:
    """A draft quote for ``opportunity``: its next number, currency, validity and terms from
    the policy, and (``copy_lines``) a copy of the opportunity's line items."""
    if not user.access_profile().may(Quote.object_type(), Action.CREATE):
        raise PermissionDenied("Your role may not create quotes.")
    if not can_access(user, opportunity, Action.READ):
        raise ValidationFailed(
            "That opportunity does not exist or you may not see it.",
            errors={"opportunity": ["Choose an opportunity you can see."]},
        )
    if fields.get("owner") is None:
        fields["owner"] = user
    cleaned = _clean({"name": name or f"Quote for {opportunity.name}", **fields}, instance=Quote())
    with transaction.atomic():
        policy, _ = QuotePolicy.objects.select_for_update().get_or_create(pk=1)
        number = f"Q-{policy.next_number:05d}"
        policy.next_number += 1
        policy.save(update_fields=["next_number"])
        quote = Quote(
            opportunity=opportunity,
            number=number,
            currency=opportunity.currency or org_settings().default_currency,
            valid_until=timezone.localdate()
            + datetime.timedelta(days=policy.default_validity_days),
            terms=policy.default_terms,
        )
        for field_name, value in cleaned.items():
            setattr(quote, field_name, value)
        quote = records.record_create(quote, actor=user, via=via)
        if copy_lines:
            source = OpportunityLineItem.objects.filter(opportunity=opportunity).order_by(
                "position", "id"
            )
            QuoteLine.objects.bulk_create(
                QuoteLine(
                    quote=quote,
                    product_id=item.product_id,
                    description=item.description,
                    quantity=item.quantity,
                    unit_price=item.unit_price,
                    discount_percent=item.discount_percent,
                    line_total=item.line_total,
                    position=position,
                )
                for position, item in enumerate(source)
            )
            lines = list(QuoteLine.objects.filter(quote=quote))
            for name_, value in quote_totals(lines).items():
                setattr(quote, name_, value)
            quote.save(
                update_fields=[
                    "subtotal",
                    "discount_total",
                    "tax_total",
                    "total",
                    "max_discount_percent",
                ]
            )
        search.index_record(quote)
    return quote


def quote_create(*, user: Principal, via: str = Via.UI, **fields: Any) -> Quote:
    """The generic create (API, record pages): ``opportunity`` plus quote fields; the
    opportunity's line items are copied."""
    opportunity = fields.pop("opportunity", None)
    if not isinstance(opportunity, Opportunity):
        raise ValidationFailed(
            "A quote is made from an opportunity.",
            errors={"opportunity": ["Choose the opportunity this quote is for."]},
        )
    return quote_create_from_opportunity(user=user, opportunity=opportunity, via=via, **fields)


def quote_update(
    *,
    user: Principal,
    quote: Quote,
    expected_version: int | None = None,
    via: str = Via.UI,
    **fields: Any,
) -> Quote:
    _require(user, quote, Action.UPDATE, "change")
    if "owner" in fields and fields["owner"] is None:
        del fields["owner"]
    # Reassigning or filing a sent quote is housekeeping, not a change of its content.
    if set(fields) - {"owner", "team"}:
        _require_editable(quote)
    cleaned = _clean(fields, instance=quote)
    with transaction.atomic():
        quote = records.record_update(
            quote, changes=cleaned, actor=user, via=via, expected_version=expected_version
        )
        search.index_record(quote)
    return quote


def quote_delete(*, user: Principal, quote: Quote, via: str = Via.UI) -> Quote:
    _require(user, quote, Action.DELETE, "delete")
    with transaction.atomic():
        records.record_soft_delete(quote, actor=user, via=via)
        search.unindex_record(quote)
    return quote


def quote_restore(*, user: Principal, quote: Quote, via: str = Via.UI) -> Quote:
    with transaction.atomic():
        records.record_restore(quote, actor=user, via=via)
        search.index_record(quote)
    return quote


# --- lines -----------------------------------------------------------------------------------


def _clean_line(user: Principal, fields: dict[str, Any], line: QuoteLine) -> dict[str, Any]:
    unknown = set(fields) - LINE_FIELDS
    if unknown:
        raise ValidationFailed(
            "Unknown fields.", errors={name: ["This field does not exist."] for name in unknown}
        )
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    product = fields.get("product")
    if product not in (None, ""):
        pk = str(product.pk if isinstance(product, Product) else product)
        found = (
            Product.objects.visible_to(user).filter(pk=int(pk)).first() if pk.isdigit() else None
        )
        if found is None:
            errors["product"] = [f"No product with id {pk} that you can see."]
        else:
            cleaned["product"] = found
    elif "product" in fields:
        cleaned["product"] = None
    if "description" in fields:
        cleaned["description"] = str(fields["description"] or "").strip()
        if len(cleaned["description"]) > 500:
            errors["description"] = ["Use at most 500 characters."]
    creating = not line.pk
    if fields.get("quantity") not in (None, ""):
        quantity = _number(fields["quantity"], "quantity", errors, "1 or 2.5")
        if quantity is not None:
            if quantity <= 0:
                errors["quantity"] = ["Enter a quantity above 0; remove the line instead."]
            elif quantity > MAX_QUANTITY:
                errors["quantity"] = ["Use at most 12 digits before the point."]
            else:
                cleaned["quantity"] = quantity
    elif "quantity" in fields or creating:
        errors["quantity"] = ["Enter a quantity above 0."]
    if fields.get("unit_price") not in (None, ""):
        price = _number(fields["unit_price"], "unit_price", errors, "99.90")
        if price is not None:
            if price < 0 or price > MAX_AMOUNT:
                errors["unit_price"] = ["Enter a unit price of 0 or more."]
            else:
                cleaned["unit_price"] = price
    elif "unit_price" in fields or creating:
        errors["unit_price"] = ["Enter a unit price of 0 or more."]
    for name in ("discount_percent", "tax_percent"):
        if fields.get(name) not in (None, ""):
            percent = _percent(fields[name], name, errors)
            if percent is not None:
                cleaned[name] = percent
    if errors:
        raise ValidationFailed(_FIX, errors=errors)
    chosen = cleaned.get("product") or (line.product if line.product_id else None)
    if not cleaned.get("description", line.description):
        if chosen is None:
            raise ValidationFailed(
                _FIX, errors={"description": ["Describe the line or choose a product."]}
            )
        cleaned["description"] = chosen.name
    return cleaned


def quote_line_add(*, user: Principal, quote: Quote, via: str = Via.UI, **fields: Any) -> QuoteLine:
    _require(user, quote, Action.UPDATE, "change")
    _require_editable(quote)
    line = QuoteLine(quote=quote)
    for name, value in _clean_line(user, fields, line).items():
        setattr(line, name, value)
    line.line_total = line_total(line.quantity, line.unit_price, line.discount_percent)
    with transaction.atomic():
        last = QuoteLine.objects.filter(quote=quote).aggregate(last=Max("position"))["last"]
        line.position = 0 if last is None else last + 1
        line.save(force_insert=True)
        _recompute(user, quote, via)
    return line


def quote_line_update(
    *, user: Principal, line: QuoteLine, via: str = Via.UI, **fields: Any
) -> QuoteLine:
    quote = line.quote
    _require(user, quote, Action.UPDATE, "change")
    _require_editable(quote)
    for name, value in _clean_line(user, fields, line).items():
        setattr(line, name, value)
    line.line_total = line_total(line.quantity, line.unit_price, line.discount_percent)
    with transaction.atomic():
        line.save()
        _recompute(user, quote, via)
    return line


def quote_line_remove(*, user: Principal, line: QuoteLine, via: str = Via.UI) -> None:
    quote = line.quote
    _require(user, quote, Action.UPDATE, "change")
    _require_editable(quote)
    with transaction.atomic():
        line.delete()
        _recompute(user, quote, via)


# --- approval --------------------------------------------------------------------------------


def _detail_url(quote: Quote) -> str:
    return reverse("orders:quote_detail", args=[quote.pk])


def quote_submit_for_approval(*, user: Principal, quote: Quote, via: str = Via.UI) -> Quote:
    _require(user, quote, Action.UPDATE, "submit")
    _require_editable(quote)
    policy = quote_policy()
    if not approval_required(quote, policy):
        raise ValidationFailed(
            f"No line is discounted above {policy.approval_discount_percent} %, so this quote "
            "needs no approval: send it to the customer."
        )
    backend = quote_approval_backend()
    approvers = [] if backend is not None else quote_approvers(quote)
    if backend is None and not approvers:
        raise ValidationFailed(
            "Nobody can approve this quote: its owner's role has no parent role with an active "
            "user. Ask an administrator to set up the role hierarchy."
        )
    with transaction.atomic():
        quote = records.record_update(
            quote,
            changes={
                "status": QuoteStatus.PENDING_APPROVAL,
                "approval_requested_at": timezone.now(),
                "approver": None,
                "decided_at": None,
                "decision_note": "",
            },
            actor=user,
            via=via,
        )
        if backend is not None:
            backend.submit(user=user, quote=quote, via=via)
        for approver in approvers:
            notification_send(
                user=approver,
                kind=NOTIFY_KIND,
                title=f"Approve quote {quote.number}: {quote.max_discount_percent} % discount",
                body=f"{user} asks you to approve “{quote.name}” ({quote.total} {quote.currency}).",
                url=_detail_url(quote),
            )
    return quote


def quote_record_decision(
    *, quote: Quote, approve: bool, approver: Any, note: str, via: str = Via.UI
) -> Quote:
    """Set a pending quote approved or rejected and tell its owner (the backend's outcome)."""
    status = QuoteStatus.APPROVED if approve else QuoteStatus.REJECTED
    quote = records.record_update(
        quote,
        changes={
            "status": status,
            "approver": approver,
            "decided_at": timezone.now(),
            "decision_note": note.strip(),
        },
        actor=approver,
        via=via,
    )
    verb = "approved" if approve else "rejected"
    notification_send(
        user=quote.owner,
        kind=NOTIFY_KIND,
        title=f"Quote {quote.number} was {verb}",
        body=note.strip(),
        url=_detail_url(quote),
    )
    return quote


def quote_record_recall(*, quote: Quote, actor: Any, via: str = Via.UI) -> Quote:
    """A recalled approval request puts a waiting quote back to draft."""
    return records.record_update(
        quote,
        changes={"status": QuoteStatus.DRAFT, "approval_requested_at": None},
        actor=actor,
        via=via,
    )


def _decide(user: Principal, quote: Quote, *, approve: bool, note: str, via: str) -> Quote:
    if quote.status != QuoteStatus.PENDING_APPROVAL:
        raise ValidationFailed(
            "This quote is not waiting for approval.",
            errors={"status": [f"The quote is {quote.get_status_display().lower()}."]},
        )
    backend = quote_approval_backend()
    if backend is not None:
        backend.decide(user=user, quote=quote, approve=approve, note=note, via=via)
        return Quote.objects.get(pk=quote.pk)
    if getattr(user, "pk", None) not in {approver.pk for approver in quote_approvers(quote)}:
        raise PermissionDenied(
            "Only the owner's manager (a user in the parent role of the owner's role) may "
            "approve or reject this quote."
        )
    with transaction.atomic():
        return quote_record_decision(
            quote=quote, approve=approve, approver=user, note=note, via=via
        )


def quote_approve(*, user: Principal, quote: Quote, note: str = "", via: str = Via.UI) -> Quote:
    return _decide(user, quote, approve=True, note=note, via=via)


def quote_reject(*, user: Principal, quote: Quote, note: str = "", via: str = Via.UI) -> Quote:
    return _decide(user, quote, approve=False, note=note, via=via)


# --- sending and the customer's answer -------------------------------------------------------


def is_expired(quote: Quote) -> bool:
    """Whether the quote's validity date has passed (it is valid through that day)."""
    return quote.valid_until < timezone.localdate()


EXPIRY_BATCH = 500


def quotes_expire(*, today: datetime.date | None = None) -> int:
    """Mark sent quotes whose validity date has passed as expired (the scheduler runs it
    daily; running it twice changes nothing). Returns how many were marked."""
    today = today or timezone.localdate()
    expired = 0
    while True:
        batch = list(
            Quote.objects.filter(status=QuoteStatus.SENT, valid_until__lt=today).order_by("pk")[
                :EXPIRY_BATCH
            ]
        )
        for quote in batch:
            with transaction.atomic():
                records.record_update(
                    quote, changes={"status": QuoteStatus.EXPIRED}, actor=None, via=Via.SYSTEM
                )
                search.index_record(quote)
        expired += len(batch)
        if len(batch) < EXPIRY_BATCH:
            return expired


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def quote_send(*, user: Principal, quote: Quote, via: str = Via.UI) -> tuple[Quote, str]:
    """Mark the quote sent and make its customer link; returns the link's secret (once)."""
    _require(user, quote, Action.UPDATE, "send")
    policy = quote_policy()
    if quote.status == QuoteStatus.PENDING_APPROVAL:
        raise ValidationFailed(
            "This quote is waiting for approval; it can be sent once approved.",
            errors={"status": ["Waiting for approval."]},
        )
    if quote.status == QuoteStatus.DRAFT and approval_required(quote, policy):
        raise ValidationFailed(
            f"A line is discounted above {policy.approval_discount_percent} %: submit the quote "
            "for approval first.",
            errors={"status": ["Needs approval before sending."]},
        )
    if quote.status not in (QuoteStatus.DRAFT, QuoteStatus.APPROVED, QuoteStatus.SENT):
        raise ValidationFailed(
            f"A {quote.get_status_display().lower()} quote cannot be sent.",
            errors={"status": [f"The quote is {quote.get_status_display().lower()}."]},
        )
    if not QuoteLine.objects.filter(quote=quote).exists():
        raise ValidationFailed(
            "Add at least one line before sending the quote.",
            errors={"lines": ["The quote has no lines."]},
        )
    if is_expired(quote):
        raise ValidationFailed(
            "The quote's validity date has passed; create a new quote to send.",
            errors={"valid_until": ["This date has passed."]},
        )
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        quote = records.record_update(
            quote,
            changes={"status": QuoteStatus.SENT, "sent_at": timezone.now()},
            actor=user,
            via=via,
        )
        # Not through record_update: the digest has no place in the change log.
        Quote.all_objects.filter(pk=quote.pk).update(acceptance_token_digest=token_digest(token))
        quote.acceptance_token_digest = token_digest(token)
    return quote, token


def quote_for_token(*, token: str) -> Quote:
    """The sent quote behind a customer link (a wrong or revoked link is not found)."""
    quote = (
        Quote.objects.select_related("opportunity__account", "owner")
        .filter(acceptance_token_digest=token_digest(token))
        .first()
        if token
        else None
    )
    if quote is None:
        raise RecordNotFound("This quote link is not valid. Ask your contact for a new one.")
    return quote


def quote_customer_respond(*, token: str, accept: bool, name: str, comment: str = "") -> Quote:
    """The customer accepts or declines through the link: once, while the quote is valid."""
    with transaction.atomic():
        found = quote_for_token(token=token)
        quote = Quote.objects.select_for_update().get(pk=found.pk)
        if quote.status != QuoteStatus.SENT:
            raise ValidationFailed(
                "This quote has already been answered.",
                errors={"__all__": [f"The quote is {quote.get_status_display().lower()}."]},
            )
        if is_expired(quote):
            raise ValidationFailed(
                f"This quote expired on {quote.valid_until:%d %B %Y}; ask your contact for a "
                "new one.",
                errors={"__all__": ["The quote has expired."]},
            )
        name = name.strip()
        if not name:
            raise ValidationFailed(_FIX, errors={"name": ["Enter your name."]})
        if len(name) > 200:
            raise ValidationFailed(_FIX, errors={"name": ["Use at most 200 characters."]})
        quote = records.record_update(
            quote,
            changes={
                "status": QuoteStatus.ACCEPTED if accept else QuoteStatus.DECLINED,
                "customer_responded_at": timezone.now(),
                "customer_name": name,
                "customer_comment": comment.strip(),
            },
            actor=None,
            via=Via.UI,
        )
        notification_send(
            user=quote.owner,
            kind=NOTIFY_KIND,
            title=f"{name} {'accepted' if accept else 'declined'} quote {quote.number}",
            body=comment.strip(),
            url=_detail_url(quote),
        )
    return quote


def quote_sync_to_opportunity(*, user: Principal, quote: Quote, via: str = Via.UI) -> Quote:
    """Set the opportunity's amount (and currency) to the quote's total, through the
    opportunity service (logged, converted to the org currency)."""
    opportunity = Opportunity.objects.get(pk=quote.opportunity_id)
    if not can_access(user, opportunity, Action.UPDATE):
        raise PermissionDenied(
            "Only users who may edit the opportunity may change its amount; ask its owner."
        )
    with transaction.atomic():
        changes: dict[str, Any] = {"amount": quote.total}
        if opportunity.currency != quote.currency:
            changes["currency"] = quote.currency
        opportunity_update(user=user, opportunity=opportunity, via=via, **changes)
        Quote.all_objects.filter(pk=quote.pk).update(synced_to_opportunity_at=timezone.now())
        quote.refresh_from_db()
    return quote


# --- TCO items -------------------------------------------------------------------------------


def _clean_tco(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - TCO_FIELDS
    if unknown:
        raise ValidationFailed(
            "Unknown fields.", errors={name: ["This field does not exist."] for name in unknown}
        )
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    if fields.get("category") not in TcoCategory.values:
        errors["category"] = ["Choose a category: " + ", ".join(TcoCategory.values) + "."]
    else:
        cleaned["category"] = fields["category"]
    if fields.get("recurrence") not in TcoRecurrence.values:
        errors["recurrence"] = ["Choose one-time, yearly or monthly."]
    else:
        cleaned["recurrence"] = fields["recurrence"]
    amount = _number(fields.get("amount", ""), "amount", errors, "1200")
    if amount is not None:
        if amount < 0 or amount > MAX_AMOUNT:
            errors["amount"] = ["Enter an amount of 0 or more."]
        else:
            cleaned["amount"] = amount
    start = _whole(fields.get("start_year") or 1, "start_year", errors, low=1, high=MAX_YEARS)
    cleaned["start_year"] = start
    if fields.get("end_year") not in (None, ""):
        end = _whole(fields["end_year"], "end_year", errors, low=1, high=MAX_YEARS)
        if end is not None and start is not None and end < start:
            errors["end_year"] = ["The last year cannot come before the first."]
        cleaned["end_year"] = end
    else:
        cleaned["end_year"] = None
    growth = fields.get("yearly_increase_percent")
    if growth not in (None, ""):
        cleaned["yearly_increase_percent"] = _percent(growth, "yearly_increase_percent", errors)
    cleaned["description"] = str(fields.get("description") or "").strip()[:255]
    if errors:
        raise ValidationFailed(_FIX, errors=errors)
    return cleaned


def tco_item_add(*, user: Principal, quote: Quote, via: str = Via.UI, **fields: Any) -> TcoItem:
    _require(user, quote, Action.UPDATE, "change")
    _require_editable(quote)
    item = TcoItem(quote=quote, **_clean_tco(fields))
    with transaction.atomic():
        last = TcoItem.objects.filter(quote=quote).aggregate(last=Max("position"))["last"]
        item.position = 0 if last is None else last + 1
        item.save(force_insert=True)
        if quote.tco_years is None:
            records.record_update(quote, changes={"tco_years": 3}, actor=user, via=via)
    return item


def tco_item_remove(*, user: Principal, item: TcoItem) -> None:
    quote = item.quote
    _require(user, quote, Action.UPDATE, "change")
    _require_editable(quote)
    item.delete()
