"""The write path for products and opportunity line items.

Products are business records (change log, versions, recycle bin). A SKU is unique whatever
its case, so "ab-1" and "AB-1" cannot both exist; a recurring product is billed per period,
so it needs one, and a one-time product must not have one.

Line items belong to an opportunity: whoever may edit the opportunity may change them. The
opportunity's amount follows its lines only when asked ("use line items for the amount"),
and then through the opportunity service, so the change log and derived columns stay right.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Max, Sum

from patron.core import records, search
from patron.core.choices import Action, Via
from patron.core.custom_fields import clean_custom_values
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.org import org_settings
from patron.core.visibility import Principal, can_access
from patron.orders.choices import BillingType, RecurringPeriod
from patron.orders.models import OpportunityLineItem, PriceBookEntry, Product
from patron.orders.pricebook_services import as_price
from patron.pipeline.models import Opportunity
from patron.pipeline.services import opportunity_update

PRODUCT_FIELDS = frozenset(
    f.name for f in Product._meta.concrete_fields if f.name not in Product.UNTRACKED_FIELDS
) | {"owner", "team"}
_TEXT_LIMITS = {"sku": 64, "name": 255, "family": 100, "unit": 30, "description": 0}


def _clean_text(cleaned: dict[str, Any], errors: dict[str, list[str]]) -> None:
    for name, limit in _TEXT_LIMITS.items():
        if name not in cleaned:
            continue
        cleaned[name] = str(cleaned[name] or "").strip()
        if limit and len(cleaned[name]) > limit:
            errors[name] = [f"Use at most {limit} characters."]


def _clean_billing(
    cleaned: dict[str, Any], instance: Product, errors: dict[str, list[str]]
) -> None:
    billing = cleaned.get("billing", instance.billing) or BillingType.ONE_TIME
    period = cleaned.get("recurring_period", instance.recurring_period) or ""
    if billing not in BillingType.values:
        errors["billing"] = ["Choose one-time or recurring."]
        return
    if period and period not in RecurringPeriod.values:
        errors["recurring_period"] = ["Choose monthly, quarterly or yearly."]
        return
    if billing == BillingType.RECURRING and not period:
        errors["recurring_period"] = [
            "A recurring product is billed per period: choose monthly, quarterly or yearly."
        ]
    elif billing == BillingType.ONE_TIME and period:
        if "recurring_period" in cleaned:
            errors["recurring_period"] = [
                "A one-time product has no billing period: leave it empty or make the "
                "product recurring."
            ]
        else:
            # Switching to one-time drops the period the product had.
            period = ""
            cleaned["recurring_period"] = period
    if "billing" in cleaned:
        cleaned["billing"] = billing
    if "recurring_period" in cleaned:
        cleaned["recurring_period"] = period


def _clean(fields: dict[str, Any], *, instance: Product) -> dict[str, Any]:
    unknown = set(fields) - PRODUCT_FIELDS
    if unknown:
        raise ValidationFailed(
            "Unknown fields.", errors={name: ["This field does not exist."] for name in unknown}
        )
    errors: dict[str, list[str]] = {}
    cleaned = dict(fields)
    _clean_text(cleaned, errors)
    creating = not instance.pk
    if ("name" in cleaned or creating) and not cleaned.get("name", instance.name):
        errors["name"] = ["Enter the product's name."]
    if "sku" in cleaned or creating:
        sku = cleaned.get("sku", instance.sku)
        if not sku:
            errors.setdefault("sku", ["Enter the product's SKU (its stock-keeping code)."])
        elif "sku" not in errors:
            clash = Product.all_objects.filter(sku__iexact=sku).exclude(pk=instance.pk).first()
            if clash is not None:
                where = " (in the recycle bin)" if clash.deleted_at else ""
                errors["sku"] = [
                    f"SKU {clash.sku} is already used by “{clash.name}”{where}; choose another "
                    "SKU or edit that product."
                ]
    if "unit" in cleaned and not cleaned["unit"]:
        cleaned["unit"] = "each"
    if "active" in cleaned:
        cleaned["active"] = bool(cleaned["active"])
    _clean_billing(cleaned, instance, errors)
    if "custom" in cleaned:
        merged, custom_errors = clean_custom_values(
            Product.object_type(), cleaned["custom"] or {}, existing=instance.custom
        )
        cleaned["custom"] = merged
        errors.update(custom_errors)
    elif creating:
        _, custom_errors = clean_custom_values(Product.object_type(), {})
        errors.update(custom_errors)
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", errors=errors)
    return cleaned


def _require(user: Principal, product: Product, action: str, verb: str) -> None:
    if not can_access(user, product, action):
        raise PermissionDenied(
            f"You may not {verb} this product; ask a sales manager or an administrator."
        )


def product_create(*, user: Principal, via: str = Via.UI, **fields: Any) -> Product:
    if not user.access_profile().may(Product.object_type(), Action.CREATE):
        raise PermissionDenied("Your role may not create products.")
    if fields.get("owner") is None:
        fields["owner"] = user
    cleaned = _clean(fields, instance=Product())
    with transaction.atomic():
        product = records.record_create(Product(**cleaned), actor=user, via=via)
        search.index_record(product)
    return product


def product_update(
    *,
    user: Principal,
    product: Product,
    expected_version: int | None = None,
    via: str = Via.UI,
    **fields: Any,
) -> Product:
    _require(user, product, Action.UPDATE, "change")
    if "owner" in fields and fields["owner"] is None:
        del fields["owner"]
    cleaned = _clean(fields, instance=product)
    with transaction.atomic():
        product = records.record_update(
            product, changes=cleaned, actor=user, via=via, expected_version=expected_version
        )
        search.index_record(product)
    return product


def product_delete(*, user: Principal, product: Product, via: str = Via.UI) -> Product:
    """Move the product to the recycle bin; its prices and the lines that use it stay."""
    _require(user, product, Action.DELETE, "delete")
    with transaction.atomic():
        records.record_soft_delete(product, actor=user, via=via)
        search.unindex_record(product)
    return product


def product_restore(*, user: Principal, product: Product, via: str = Via.UI) -> Product:
    with transaction.atomic():
        records.record_restore(product, actor=user, via=via)
        search.index_record(product)
    return product


# --- opportunity line items ----------------------------------------------------------------

CENT = Decimal("0.01")
MAX_QUANTITY = Decimal("999999999999.99")
LINE_FIELDS = frozenset({"product", "description", "quantity", "unit_price", "discount_percent"})
_FIX = "Please correct the highlighted fields."


def _require_opportunity_edit(user: Principal, opportunity: Opportunity) -> None:
    if not can_access(user, opportunity, Action.UPDATE):
        raise PermissionDenied(
            "Only users who may edit this opportunity may change its products; ask its owner "
            "to share it with edit access."
        )


def _decimal(value: Any, field: str, errors: dict[str, list[str]], example: str) -> Decimal | None:
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        errors[field] = [f"Enter a number such as {example}."]
        return None
    if not number.is_finite():
        errors[field] = [f"Enter a number such as {example}."]
        return None
    return number


def line_total(quantity: Decimal, unit_price: Decimal, discount_percent: Decimal) -> Decimal:
    """quantity * unit price * (1 - discount / 100), rounded half up to cents."""
    gross = quantity * unit_price * (Decimal(100) - discount_percent) / Decimal(100)
    return gross.quantize(CENT, rounding=ROUND_HALF_UP)


def list_price_for(product: Product, currency: str) -> Decimal | None:
    """``product``'s list price in ``currency``: the standard book's first, then any other
    active book's (by name); None when no active book in that currency prices it."""
    entry = (
        PriceBookEntry.objects.filter(
            product=product, active=True, price_book__active=True, price_book__currency=currency
        )
        .order_by("-price_book__is_standard", "price_book__name", "price_book_id")
        .only("list_price")
        .first()
    )
    return entry.list_price if entry is not None else None


def _visible_product(user: Principal, product_id: Any) -> Product:
    product = None
    if isinstance(product_id, Product):
        product_id = product_id.pk
    if isinstance(product_id, int) or (isinstance(product_id, str) and product_id.isdigit()):
        product = Product.objects.visible_to(user).filter(pk=int(product_id)).first()
    if product is None:
        raise ValidationFailed(
            "That product does not exist or you may not see it.",
            errors={"product": [f"No product with id {product_id} that you can see."]},
        )
    if not product.active:
        raise ValidationFailed(
            _FIX,
            errors={"product": [f"“{product.name}” is no longer sold; choose an active product."]},
        )
    return product


def _clean_line(
    user: Principal,
    opportunity: Opportunity,
    fields: dict[str, Any],
    line: OpportunityLineItem,
) -> dict[str, Any]:
    unknown = set(fields) - LINE_FIELDS
    if unknown:
        raise ValidationFailed(
            "Unknown fields.", errors={name: ["This field does not exist."] for name in unknown}
        )
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    if "product" in fields and fields["product"] not in (None, ""):
        cleaned["product"] = _visible_product(user, fields["product"])
    elif not line.pk:
        errors["product"] = ["Choose a product."]
    if "description" in fields:
        cleaned["description"] = str(fields["description"] or "").strip()
        if len(cleaned["description"]) > 500:
            errors["description"] = ["Use at most 500 characters."]
    if fields.get("quantity") not in (None, ""):
        quantity = _decimal(fields["quantity"], "quantity", errors, "1 or 2.5")
        if quantity is not None:
            if quantity <= 0:
                errors["quantity"] = ["Enter a quantity above 0; remove the line instead."]
            elif quantity > MAX_QUANTITY or quantity != quantity.quantize(CENT):
                errors["quantity"] = ["Use at most two decimals and 12 digits before the point."]
            else:
                cleaned["quantity"] = quantity
    elif "quantity" in fields and line.pk:
        errors["quantity"] = ["Enter a quantity above 0."]
    if fields.get("discount_percent") not in (None, ""):
        discount = _decimal(fields["discount_percent"], "discount_percent", errors, "10 or 12.5")
        if discount is not None:
            if discount < 0 or discount > 100:
                errors["discount_percent"] = ["Enter a discount between 0 and 100 %."]
            elif discount != discount.quantize(CENT):
                errors["discount_percent"] = ["Use at most two decimals."]
            else:
                cleaned["discount_percent"] = discount
    if fields.get("unit_price") not in (None, ""):
        try:
            cleaned["unit_price"] = as_price(fields["unit_price"], "unit_price")
        except ValidationFailed as error:
            errors.update(error.errors)
    else:
        product = cleaned.get("product") or (line.product if line.pk else None)
        # A new product, or a price left blank, takes the list price of the deal's currency.
        if product is not None and (
            not line.pk or "unit_price" in fields or product.pk != line.product_id
        ):
            currency = opportunity.currency or org_settings().default_currency
            price = list_price_for(product, currency)
            if price is None:
                errors["unit_price"] = [
                    f"“{product.name}” has no list price in {currency}; enter a unit price or "
                    "ask an administrator to add one to a price book."
                ]
            else:
                cleaned["unit_price"] = price
    if errors:
        raise ValidationFailed(_FIX, errors=errors)
    if "product" in cleaned and not cleaned.get("description") and not line.description:
        cleaned["description"] = cleaned["product"].name
    return cleaned


def _log_lines(user: Principal, opportunity: Opportunity, via: str, what: str) -> None:
    records.log_change(
        opportunity, actor=user, via=via, action="update", changes={"line_items": [None, what]}
    )


def _describe(line: OpportunityLineItem) -> str:
    return f"{line.quantity.normalize():f} x {line.description or line.product}"


def line_items_total(*, opportunity: Opportunity) -> Decimal:
    total = OpportunityLineItem.objects.filter(opportunity=opportunity).aggregate(
        total=Sum("line_total")
    )["total"]
    return (total or Decimal("0")).quantize(CENT)


def line_items_sync_amount(
    *, user: Principal, opportunity: Opportunity, via: str = Via.UI
) -> Opportunity:
    """Set the opportunity's amount to the sum of its line totals (the opportunity service
    writes it, so it is logged, converted to the org currency and leaves the stage alone)."""
    _require_opportunity_edit(user, opportunity)
    total = line_items_total(opportunity=opportunity)
    if opportunity.amount == total:
        return opportunity
    return opportunity_update(user=user, opportunity=opportunity, amount=total, via=via)


def line_item_add(
    *,
    user: Principal,
    opportunity: Opportunity,
    use_for_amount: bool = False,
    via: str = Via.UI,
    **fields: Any,
) -> OpportunityLineItem:
    _require_opportunity_edit(user, opportunity)
    line = OpportunityLineItem(opportunity=opportunity)
    cleaned = _clean_line(user, opportunity, fields, line)
    for name, value in cleaned.items():
        setattr(line, name, value)
    line.line_total = line_total(line.quantity, line.unit_price, line.discount_percent)
    with transaction.atomic():
        last = OpportunityLineItem.objects.filter(opportunity=opportunity).aggregate(
            last=Max("position")
        )["last"]
        line.position = 0 if last is None else last + 1
        line.save(force_insert=True)
        _log_lines(user, opportunity, via, f"Added {_describe(line)}")
        if use_for_amount:
            line_items_sync_amount(user=user, opportunity=opportunity, via=via)
    return line


def line_item_update(
    *,
    user: Principal,
    line: OpportunityLineItem,
    use_for_amount: bool = False,
    via: str = Via.UI,
    **fields: Any,
) -> OpportunityLineItem:
    opportunity = line.opportunity
    _require_opportunity_edit(user, opportunity)
    cleaned = _clean_line(user, opportunity, fields, line)
    for name, value in cleaned.items():
        setattr(line, name, value)
    line.line_total = line_total(line.quantity, line.unit_price, line.discount_percent)
    with transaction.atomic():
        line.save()
        _log_lines(user, opportunity, via, f"Changed {_describe(line)}")
        if use_for_amount:
            line_items_sync_amount(user=user, opportunity=opportunity, via=via)
    return line


def line_item_remove(
    *,
    user: Principal,
    line: OpportunityLineItem,
    use_for_amount: bool = False,
    via: str = Via.UI,
) -> None:
    opportunity = line.opportunity
    _require_opportunity_edit(user, opportunity)
    with transaction.atomic():
        line.delete()
        _log_lines(user, opportunity, via, f"Removed {_describe(line)}")
        if use_for_amount:
            line_items_sync_amount(user=user, opportunity=opportunity, via=via)
