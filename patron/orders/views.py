"""Product pages (the shared record pages, core.record_pages), the Products card on
opportunity pages and the plain POST forms behind it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from patron.core.choices import Action
from patron.core.context_processors import NavItem, register_nav_item
from patron.core.exceptions import ValidationFailed
from patron.core.exports import ExportSpec, owner_email, register_export, team_name
from patron.core.record_pages import (
    Column,
    DetailPanel,
    ObjectUI,
    RecordPages,
    record_detail_url,
    register_detail_panel,
)
from patron.core.views import Recyclable, handles_domain_errors, register_recyclable
from patron.core.visibility import can_access
from patron.orders import selectors, services
from patron.orders.filters import PRODUCT_SORTS, ProductFilter
from patron.orders.forms import LineItemForm, ProductBulkEditForm, ProductForm
from patron.orders.models import OpportunityLineItem, Product
from patron.pipeline.models import Opportunity
from patron.pipeline.selectors import opportunity_get
from patron.users.models import User

# The line form lists this many active products by name.
PRODUCT_CHOICE_LIMIT = 300
CARD_ANCHOR = "products-title"


def _detail_related(user: User, record: Any, *, can_edit: bool) -> dict[str, Any]:
    return {"prices": selectors.product_prices(product=record)}


PRODUCTS = ObjectUI(
    key="product",
    model=Product,
    label="Product",
    label_plural="Products",
    filterset=ProductFilter,
    sorts=PRODUCT_SORTS,
    default_sort="name",
    selector=selectors.product_list,
    getter=selectors.product_get,
    create=services.product_create,
    update=services.product_update,
    delete=services.product_delete,
    form_class=ProductForm,
    columns=(
        Column("name", "Name", sort="name"),
        Column("sku", "SKU", sort="sku"),
        Column("family", "Family", css="hide-sm"),
        Column("billing", "Billing", css="hide-sm"),
        Column("unit", "Unit", css="hide-sm"),
        Column("active", "Active"),
    ),
    list_fields=(
        "id",
        "sku",
        "name",
        "family",
        "billing",
        "recurring_period",
        "unit",
        "active",
        "created_at",
        "owner",
        "owner__full_name",
        "owner__email",
    ),
    detail_sections=(
        ("Overview", ("sku", "family", "unit", "billing", "recurring_period", "active")),
        ("Ownership", ("owner", "team")),
    ),
    bulk_form_class=ProductBulkEditForm,
    record_arg="product",
    namespace="orders",
    related=_detail_related,
    primary_filters=("q", "family", "billing", "active"),
)

product_pages = RecordPages(PRODUCTS)

PRODUCT_EXPORT = ExportSpec(
    model=Product,
    plural="products",
    filterset=ProductFilter,
    sorts=PRODUCT_SORTS,
    related=("owner", "team"),
    columns=(
        ("id", "id"),
        ("sku", "sku"),
        ("name", "name"),
        ("family", "family"),
        ("unit", "unit"),
        ("billing", "billing"),
        ("recurring_period", "recurring_period"),
        ("active", "active"),
        ("description", "description"),
        ("owner", owner_email),
        ("team", team_name),
        ("created_at", "created_at"),
        ("updated_at", "updated_at"),
    ),
)


# --- the Products card on opportunity pages --------------------------------------------------


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _product_choices(user: User) -> list[Product]:
    rows = (
        Product.objects.visible_to(user)
        .filter(active=True)
        .only("id", "name", "sku")
        .order_by("name", "id")[:PRODUCT_CHOICE_LIMIT]
    )
    return list(rows)


def _card(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    if not isinstance(record, Opportunity):
        return None
    user = _user(request)
    lines = selectors.line_item_list(opportunity=record)
    may_edit = can_access(user, record, Action.UPDATE)
    total = sum((line.line_total for line in lines), start=Decimal("0.00"))
    return {
        "opportunity": record,
        "lines": lines,
        "total": total,
        "in_sync": record.amount == total,
        "may_edit": may_edit,
        "choices": _product_choices(user) if may_edit else [],
    }


def _back(opportunity: Opportunity) -> HttpResponse:
    url = record_detail_url(Opportunity.object_type(), opportunity.pk)
    return redirect(f"{url or '/'}#{CARD_ANCHOR}")


def _form_page(
    request: HttpRequest,
    *,
    opportunity: Opportunity,
    form: LineItemForm,
    line: OpportunityLineItem | None,
) -> HttpResponse:
    """The line form again with the input and what to fix (the card is a plain POST form)."""
    action = (
        reverse("orders:line_item_update", args=[opportunity.pk, line.pk])
        if line is not None
        else reverse("orders:line_item_add", args=[opportunity.pk])
    )
    context = {
        "opportunity": opportunity,
        "opportunity_url": record_detail_url(Opportunity.object_type(), opportunity.pk),
        "form": form,
        "line": line,
        "action": action,
        "choices": _product_choices(_user(request)),
    }
    return render(request, "orders/line_item_form.html", context, status=422)


def _line_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    opportunity = opportunity_get(user=user, pk=pk, action=Action.UPDATE)
    form = LineItemForm(request.POST)
    if not form.is_valid():
        return _form_page(request, opportunity=opportunity, form=form, line=None)
    try:
        line = services.line_item_add(
            user=user,
            opportunity=opportunity,
            use_for_amount=form.cleaned_data["use_for_amount"],
            **form.service_fields(),
        )
    except ValidationFailed as error:
        _add_errors(form, error)
        return _form_page(request, opportunity=opportunity, form=form, line=None)
    messages.success(request, f"Added {line.description} to {opportunity}.")
    return _back(opportunity)


def _line_update(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    user = _user(request)
    opportunity = opportunity_get(user=user, pk=pk, action=Action.UPDATE)
    line = selectors.line_item_get(opportunity=opportunity, pk=line_pk)
    form = LineItemForm(request.POST)
    if not form.is_valid():
        return _form_page(request, opportunity=opportunity, form=form, line=line)
    try:
        services.line_item_update(
            user=user,
            line=line,
            use_for_amount=form.cleaned_data["use_for_amount"],
            **form.service_fields(),
        )
    except ValidationFailed as error:
        _add_errors(form, error)
        return _form_page(request, opportunity=opportunity, form=form, line=line)
    messages.success(request, f"Saved the line {line.description}.")
    return _back(opportunity)


def _line_remove(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    user = _user(request)
    opportunity = opportunity_get(user=user, pk=pk, action=Action.UPDATE)
    line = selectors.line_item_get(opportunity=opportunity, pk=line_pk)
    services.line_item_remove(
        user=user, line=line, use_for_amount=request.POST.get("use_for_amount") == "on"
    )
    messages.success(request, f"Removed {line.description} from {opportunity}.")
    return _back(opportunity)


def _sync_amount(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    opportunity = opportunity_get(user=user, pk=pk, action=Action.UPDATE)
    try:
        opportunity = services.line_items_sync_amount(user=user, opportunity=opportunity)
    except ValidationFailed as error:
        details = " ".join(m for msgs in error.errors.values() for m in msgs)
        messages.error(request, f"The amount was not changed. {details or error.detail}")
    else:
        messages.success(request, f"The amount of {opportunity} is now the lines' total.")
    return _back(opportunity)


def _add_errors(form: LineItemForm, error: ValidationFailed) -> None:
    for name, msgs in error.errors.items():
        for message in msgs:
            form.add_error(name if name in form.fields else None, message)
    if not error.errors:
        form.add_error(None, error.detail)


def _post_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    return login_required(require_POST(handles_domain_errors(view)))


line_item_add = _post_view(_line_add)
line_item_update = _post_view(_line_update)
line_item_remove = _post_view(_line_remove)
line_items_sync_amount = _post_view(_sync_amount)


def register_orders_ui() -> None:
    """Navigation, recycle bin, CSV export and the opportunity card (from AppConfig.ready)."""
    register_nav_item(
        NavItem(
            area="Sales",
            label="Products",
            url_name="orders:product_list",
            object_type=Product.object_type(),
            create_url_name="orders:product_create",
            order=60,
        )
    )
    register_nav_item(
        NavItem(
            area="Admin",
            label="Price books",
            url_name="orders:price_book_list",
            admin_only=True,
            order=60,
        )
    )
    register_recyclable(
        Recyclable(
            model=Product,
            label="Product",
            detail_url_name="orders:product_detail",
            restore=lambda user, record: services.product_restore(user=user, product=record),
        )
    )
    register_export(PRODUCT_EXPORT)
    register_detail_panel(
        DetailPanel(
            key="orders.opportunity_line_items",
            template="orders/partials/opportunity_line_items.html",
            context=_card,
            object_types=frozenset({Opportunity.object_type()}),
            order=30,
        )
    )
