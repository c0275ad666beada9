"""Quote pages (the shared record pages, core.record_pages), the actions on a quote's page
(lines, approval, sending, syncing, TCO), its PDF, the customer's public page, the Quotes card
on opportunity pages and the quote rules page of the admin area."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from patron.core.choices import Action
from patron.core.context_processors import NavItem, register_nav_item
from patron.core.exceptions import PatronError, RecordNotFound, ValidationFailed
from patron.core.exports import ExportSpec, owner_email, register_export, team_name
from patron.core.record_pages import (
    Column,
    DetailPanel,
    ObjectUI,
    RecordPages,
    ToolbarLink,
    register_detail_panel,
)
from patron.core.views import Recyclable, handles_domain_errors, register_recyclable, render_error
from patron.core.visibility import can_access
from patron.orders import quote_selectors as selectors
from patron.orders import quote_services as services
from patron.orders.choices import QuoteStatus
from patron.orders.models import Product, Quote
from patron.orders.quote_filters import QUOTE_SORTS, QuoteFilter
from patron.orders.quote_forms import (
    CustomerAnswerForm,
    DecisionForm,
    QuoteForm,
    QuoteLineForm,
    QuotePolicyForm,
    TcoItemForm,
)
from patron.orders.quote_pdf import PdfUnavailable, pdf_filename, quote_pdf
from patron.orders.tco import cost_items, tco_chart_svg, tco_table
from patron.pipeline.models import Opportunity
from patron.users.admin_views import admin_required
from patron.users.models import User

PRODUCT_CHOICE_LIMIT = 300
LINES_ANCHOR = "quote-lines-title"
TCO_ANCHOR = "quote-tco-title"


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


def _detail_related(user: User, record: Any, *, can_edit: bool) -> dict[str, Any]:
    quote = cast(Quote, record)
    policy = services.quote_policy()
    editable = can_edit and quote.status in services.EDITABLE
    context: dict[str, Any] = {
        "lines": selectors.quote_lines(quote=quote),
        "tco_items": selectors.tco_items(quote=quote),
        "policy": policy,
        "needs_approval": services.approval_required(quote, policy),
        "editable": editable,
        "may_approve": quote.status == QuoteStatus.PENDING_APPROVAL
        and user.pk in {u.pk for u in services.quote_approvers(quote)},
        "may_send": can_edit
        and (
            quote.status == QuoteStatus.APPROVED
            or (quote.status == QuoteStatus.DRAFT and not services.approval_required(quote, policy))
        ),
        "may_sync": can_access(user, quote.opportunity, Action.UPDATE)
        and quote.opportunity.amount != quote.total,
        "choices": _product_choices(user) if editable else [],
        "line_form": QuoteLineForm(auto_id="new-line-%s"),
        "tco_form": TcoItemForm(auto_id="new-tco-%s"),
        "decision_form": DecisionForm(auto_id="decision-%s"),
    }
    if quote.tco_years:
        table = tco_table(cost_items(context["tco_items"]), quote.tco_years)
        context["tco"] = table
        context["tco_chart"] = tco_chart_svg(table, currency=quote.currency)
    return context


QUOTES = ObjectUI(
    key="quote",
    model=Quote,
    label="Quote",
    label_plural="Quotes",
    filterset=QuoteFilter,
    sorts=QUOTE_SORTS,
    default_sort="-created",
    selector=selectors.quote_list,
    getter=selectors.quote_get,
    create=services.quote_create,
    update=services.quote_update,
    delete=services.quote_delete,
    form_class=QuoteForm,
    columns=(
        Column("number", "Number", sort="number"),
        Column("name", "Name"),
        Column("opportunity", "Opportunity", css="hide-sm"),
        Column("status", "Status"),
        Column("total", "Total", sort="total", cell="orders/partials/quote_total_cell.html"),
        Column("valid_until", "Valid until", sort="valid_until", css="hide-sm"),
        Column("owner", "Owner", css="hide-sm"),
    ),
    list_fields=(
        "id",
        "number",
        "name",
        "status",
        "total",
        "currency",
        "valid_until",
        "created_at",
        "opportunity",
        "opportunity__name",
        "owner",
        "owner__full_name",
        "owner__email",
    ),
    detail_sections=(
        ("Overview", ("number", "opportunity", "status", "valid_until", "currency")),
        ("Ownership", ("owner", "team")),
    ),
    record_arg="quote",
    namespace="orders",
    related=_detail_related,
    primary_filters=("q", "status", "mine"),
    detail_links=(ToolbarLink("quote-pdf", "PDF", "orders:quote_pdf"),),
)

quote_pages = RecordPages(QUOTES)

QUOTE_EXPORT = ExportSpec(
    model=Quote,
    plural="quotes",
    filterset=QuoteFilter,
    sorts=QUOTE_SORTS,
    related=("owner", "team"),
    columns=(
        ("id", "id"),
        ("number", "number"),
        ("name", "name"),
        ("opportunity_id", "opportunity_id"),
        ("status", "status"),
        ("currency", "currency"),
        ("subtotal", "subtotal"),
        ("discount_total", "discount_total"),
        ("tax_total", "tax_total"),
        ("total", "total"),
        ("valid_until", "valid_until"),
        ("sent_at", "sent_at"),
        ("customer_responded_at", "customer_responded_at"),
        ("owner", owner_email),
        ("team", team_name),
        ("created_at", "created_at"),
        ("updated_at", "updated_at"),
    ),
)


# --- actions on the quote page ---------------------------------------------------------------


def _back(quote: Quote, anchor: str = "") -> HttpResponse:
    url = reverse("orders:quote_detail", args=[quote.pk])
    return redirect(f"{url}#{anchor}" if anchor else url)


def _explain(error: PatronError) -> str:
    """The error's message and its field messages, for a flash message."""
    labels = {"__all__": "", "status": "", "lines": ""}
    details = [
        f"{labels.get(name, name.replace('_', ' ').capitalize() + ': ')}{message}"
        for name, msgs in error.errors.items()
        for message in msgs
    ]
    return " ".join([error.detail, *details])


def _form_page(
    request: HttpRequest,
    *,
    quote: Quote,
    form: forms.Form,
    error: ValidationFailed,
    template: str,
    action: str,
) -> HttpResponse:
    """The submitted form again with what to fix (the quote page's forms are plain POSTs)."""
    for name, msgs in error.errors.items():
        for message in msgs:
            form.add_error(name if name in form.fields else None, message)
    if not error.errors:
        form.add_error(None, error.detail)
    context = {
        "quote": quote,
        "form": form,
        "action": action,
        "choices": _product_choices(_user(request)),
    }
    return render(request, template, context, status=422)


def _line_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    quote = selectors.quote_get(user=user, pk=pk, action=Action.UPDATE)
    form = QuoteLineForm(request.POST)
    form.is_valid()
    try:
        services.quote_line_add(user=user, quote=quote, **form.cleaned_data)
    except ValidationFailed as error:
        action = reverse("orders:quote_line_add", args=[quote.pk])
        return _form_page(
            request,
            quote=quote,
            form=QuoteLineForm(request.POST),
            error=error,
            template="orders/quote_line_form.html",
            action=action,
        )
    messages.success(request, "Added the line; the totals are updated.")
    return _back(quote, LINES_ANCHOR)


def _line_update(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    user = _user(request)
    quote = selectors.quote_get(user=user, pk=pk, action=Action.UPDATE)
    line = selectors.quote_line_get(quote=quote, pk=line_pk)
    form = QuoteLineForm(request.POST)
    form.is_valid()
    try:
        services.quote_line_update(user=user, line=line, **form.cleaned_data)
    except ValidationFailed as error:
        action = reverse("orders:quote_line_update", args=[quote.pk, line.pk])
        return _form_page(
            request,
            quote=quote,
            form=QuoteLineForm(request.POST),
            error=error,
            template="orders/quote_line_form.html",
            action=action,
        )
    messages.success(request, f"Saved the line {line.description}.")
    return _back(quote, LINES_ANCHOR)


def _line_remove(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    user = _user(request)
    quote = selectors.quote_get(user=user, pk=pk, action=Action.UPDATE)
    line = selectors.quote_line_get(quote=quote, pk=line_pk)
    try:
        services.quote_line_remove(user=user, line=line)
    except ValidationFailed as error:
        messages.error(request, _explain(error))
    else:
        messages.success(request, f"Removed {line.description}.")
    return _back(quote, LINES_ANCHOR)


def _step(
    request: HttpRequest, pk: int, run: Callable[[User, Quote, str], Quote], done: str
) -> HttpResponse:
    """Run an approval or sync step; its refusal becomes a message on the quote page."""
    user = _user(request)
    quote = selectors.quote_get(user=user, pk=pk)
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        run(user, quote, note)
    except ValidationFailed as error:
        messages.error(request, _explain(error))
    else:
        messages.success(request, done)
    return _back(quote)


def _submit(request: HttpRequest, pk: int) -> HttpResponse:
    return _step(
        request,
        pk,
        lambda user, quote, note: services.quote_submit_for_approval(user=user, quote=quote),
        "Submitted for approval; the owner's manager has been notified.",
    )


def _approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _step(
        request,
        pk,
        lambda user, quote, note: services.quote_approve(user=user, quote=quote, note=note),
        "Approved; the owner can now send the quote.",
    )


def _reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _step(
        request,
        pk,
        lambda user, quote, note: services.quote_reject(user=user, quote=quote, note=note),
        "Rejected; the owner has been told and may change the quote.",
    )


def _sync(request: HttpRequest, pk: int) -> HttpResponse:
    return _step(
        request,
        pk,
        lambda user, quote, note: services.quote_sync_to_opportunity(user=user, quote=quote),
        "The opportunity's amount is now the quote's total.",
    )


def customer_url(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("orders:quote_public", args=[token]))


def _send(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    quote = selectors.quote_get(user=user, pk=pk, action=Action.UPDATE)
    try:
        quote, token = services.quote_send(user=user, quote=quote)
    except ValidationFailed as error:
        messages.error(request, _explain(error))
        return _back(quote)
    # Shown on this response only: the link's secret is not stored.
    context = {"quote": quote, "customer_url": customer_url(request, token)}
    return render(request, "orders/quote_sent.html", context)


def _tco_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    quote = selectors.quote_get(user=user, pk=pk, action=Action.UPDATE)
    form = TcoItemForm(request.POST)
    values = {name: request.POST.get(name, "") for name in form.fields}
    try:
        services.tco_item_add(user=user, quote=quote, **values)
    except ValidationFailed as error:
        return _form_page(
            request,
            quote=quote,
            form=form,
            error=error,
            template="orders/quote_tco_form.html",
            action=reverse("orders:quote_tco_add", args=[quote.pk]),
        )
    messages.success(request, "Added the cost to the total cost of ownership.")
    return _back(quote, TCO_ANCHOR)


def _tco_remove(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    user = _user(request)
    quote = selectors.quote_get(user=user, pk=pk, action=Action.UPDATE)
    item = selectors.tco_item_get(quote=quote, pk=item_pk)
    try:
        services.tco_item_remove(user=user, item=item)
    except ValidationFailed as error:
        messages.error(request, _explain(error))
    else:
        messages.success(request, "Removed the cost.")
    return _back(quote, TCO_ANCHOR)


def _tco_settings(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    quote = selectors.quote_get(user=user, pk=pk, action=Action.UPDATE)
    try:
        services.quote_update(
            user=user,
            quote=quote,
            tco_years=request.POST.get("tco_years", ""),
            tco_in_pdf=request.POST.get("tco_in_pdf") == "on",
        )
    except ValidationFailed as error:
        messages.error(request, _explain(error))
    else:
        messages.success(request, "Saved the life span.")
    return _back(quote, TCO_ANCHOR)


def _pdf(request: HttpRequest, pk: int) -> HttpResponse:
    quote = selectors.quote_get(user=_user(request), pk=pk)
    try:
        content = quote_pdf(quote)
    except PdfUnavailable as error:
        return render_error(request, 503, error.detail)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{pdf_filename(quote)}"'
    return response


def _post_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    return login_required(require_POST(handles_domain_errors(view)))


quote_line_add = _post_view(_line_add)
quote_line_update = _post_view(_line_update)
quote_line_remove = _post_view(_line_remove)
quote_submit = _post_view(_submit)
quote_approve = _post_view(_approve)
quote_reject = _post_view(_reject)
quote_send = _post_view(_send)
quote_sync = _post_view(_sync)
quote_tco_add = _post_view(_tco_add)
quote_tco_remove = _post_view(_tco_remove)
quote_tco_settings = _post_view(_tco_settings)
quote_pdf_view = login_required(handles_domain_errors(_pdf))


# --- the customer's page ---------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def quote_public(request: HttpRequest, token: str) -> HttpResponse:
    """The quote behind a customer link: its summary and Accept / Decline (no sign-in)."""
    try:
        quote = services.quote_for_token(token=token)
    except RecordNotFound as error:
        return render(request, "orders/quote_public.html", {"missing": error.detail}, status=404)
    form = CustomerAnswerForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            quote = services.quote_customer_respond(
                token=token,
                accept=request.POST.get("answer") == "accept",
                name=form.cleaned_data["name"],
                comment=form.cleaned_data["comment"],
            )
        except ValidationFailed as error:
            for name, msgs in error.errors.items():
                for message in msgs:
                    form.add_error(name if name in form.fields else None, message)
            if not error.errors:
                form.add_error(None, error.detail)
            status = 422
    elif request.method == "POST":
        status = 422
    context = {
        "quote": quote,
        "lines": selectors.quote_lines(quote=quote),
        "form": form,
        "answered": quote.status in (QuoteStatus.ACCEPTED, QuoteStatus.DECLINED),
        "expired": quote.status == QuoteStatus.SENT and services.is_expired(quote),
        "open": quote.status == QuoteStatus.SENT and not services.is_expired(quote),
    }
    response = render(request, "orders/quote_public.html", context, status=status)
    # The link is a secret: keep it out of other sites' referrers and out of caches ("no-referrer"
    # would also blank the Origin of the page's own POST, which CSRF checking refuses).
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "no-store"
    return response


# --- the Quotes card on opportunity pages ----------------------------------------------------


def _card(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    if not isinstance(record, Opportunity):
        return None
    user = _user(request)
    if not user.access_profile().may(Quote.object_type(), Action.READ):
        return None
    return {
        "opportunity": record,
        "quotes": selectors.opportunity_quotes(user=user, opportunity=record),
        "may_create": user.access_profile().may(Quote.object_type(), Action.CREATE),
    }


# --- the quote rules (admin area) ------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def quote_policy_edit(request: HttpRequest) -> HttpResponse:
    policy = services.quote_policy()
    initial = {
        "approval_discount_percent": policy.approval_discount_percent,
        "default_validity_days": policy.default_validity_days,
        "default_terms": policy.default_terms,
    }
    form = QuotePolicyForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.quote_policy_update(user=_user(request), **form.cleaned_data)
            except ValidationFailed as error:
                for name, msgs in error.errors.items():
                    for message in msgs:
                        form.add_error(name if name in form.fields else None, message)
            else:
                messages.success(request, "Saved the quote rules.")
                return redirect("orders:quote_policy")
        status = 422
    return render(request, "orders/quote_policy.html", {"form": form}, status=status)


def register_quotes_ui() -> None:
    """Navigation, recycle bin, CSV export and the opportunity card (from AppConfig.ready)."""
    register_nav_item(
        NavItem(
            area="Sales",
            label="Quotes",
            url_name="orders:quote_list",
            object_type=Quote.object_type(),
            order=65,
        )
    )
    register_nav_item(
        NavItem(
            area="Admin",
            label="Quote rules",
            url_name="orders:quote_policy",
            admin_only=True,
            order=61,
        )
    )
    register_recyclable(
        Recyclable(
            model=Quote,
            label="Quote",
            detail_url_name="orders:quote_detail",
            restore=lambda user, record: services.quote_restore(user=user, quote=record),
        )
    )
    register_export(QUOTE_EXPORT)
    register_detail_panel(
        DetailPanel(
            key="orders.opportunity_quotes",
            template="orders/partials/opportunity_quotes.html",
            context=_card,
            object_types=frozenset({Opportunity.object_type()}),
            order=31,
        )
    )
