"""Price book pages for administrators: the books, and the list prices in each."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from patron.core.exceptions import ValidationFailed
from patron.core.views import handles_domain_errors
from patron.orders import pricebook_selectors as selectors
from patron.orders import pricebook_services as services
from patron.orders.forms import PriceBookEntryForm, PriceBookForm
from patron.orders.models import PriceBook, Product
from patron.users.admin_views import admin_required
from patron.users.models import User

# The add-a-price form lists this many products by name.
PRODUCT_CHOICE_LIMIT = 500


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # guarded by admin_required
    return user


def _book_values(form: PriceBookForm) -> dict[str, Any]:
    return dict(form.cleaned_data)


def _add_errors(form: Any, error: ValidationFailed) -> None:
    for name, msgs in error.errors.items():
        for message in msgs:
            form.add_error(name if name in form.fields else None, message)
    if not error.errors:
        form.add_error(None, error.detail)


@admin_required
def price_book_list(request: HttpRequest) -> HttpResponse:
    return render(request, "orders/price_book_list.html", {"books": selectors.price_book_list()})


@admin_required
@handles_domain_errors
def price_book_create(request: HttpRequest) -> HttpResponse:
    form = PriceBookForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                book = services.price_book_create(user=_user(request), **_book_values(form))
            except ValidationFailed as error:
                _add_errors(form, error)
            else:
                messages.success(request, f"Created the price book {book}.")
                return redirect("orders:price_book_detail", pk=book.pk)
        status = 422
    return render(
        request, "orders/price_book_form.html", {"form": form, "book": None}, status=status
    )


def _book_form(book: PriceBook, data: Any = None) -> PriceBookForm:
    fields = ("name", "currency", "segment", "is_standard", "active", "description")
    return PriceBookForm(data, initial={name: getattr(book, name) for name in fields})


def _detail_context(book: PriceBook, entry_form: PriceBookEntryForm) -> dict[str, Any]:
    return {
        "book": book,
        "entries": selectors.price_book_entry_list(price_book=book),
        "entry_form": entry_form,
        "products": list(
            Product.objects.only("id", "name", "sku").order_by("name", "id")[:PRODUCT_CHOICE_LIMIT]
        ),
    }


@admin_required
@handles_domain_errors
def price_book_detail(request: HttpRequest, pk: int) -> HttpResponse:
    book = selectors.price_book_get(pk=pk)
    form = _book_form(book, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.price_book_update(
                    user=_user(request), price_book=book, **_book_values(form)
                )
            except ValidationFailed as error:
                _add_errors(form, error)
            else:
                messages.success(request, f"Saved the price book {book}.")
                return redirect("orders:price_book_detail", pk=book.pk)
        status = 422
        book.refresh_from_db()
    context = {**_detail_context(book, PriceBookEntryForm()), "form": form}
    return render(request, "orders/price_book_detail.html", context, status=status)


@admin_required
@require_POST
@handles_domain_errors
def price_book_entry_set(request: HttpRequest, pk: int) -> HttpResponse:
    book = selectors.price_book_get(pk=pk)
    entry_form = PriceBookEntryForm(request.POST)
    if entry_form.is_valid():
        try:
            entry = services.price_book_entry_set(
                user=_user(request),
                price_book=book,
                product_id=entry_form.cleaned_data["product"],
                list_price=entry_form.cleaned_data["list_price"],
                active=entry_form.cleaned_data["active"],
            )
        except ValidationFailed as error:
            _add_errors(entry_form, error)
        else:
            messages.success(
                request, f"{entry.product} now lists at {entry.list_price} {book.currency}."
            )
            return redirect("orders:price_book_detail", pk=book.pk)
    context = {**_detail_context(book, entry_form), "form": _book_form(book)}
    return render(request, "orders/price_book_detail.html", context, status=422)


@admin_required
@require_POST
@handles_domain_errors
def price_book_entry_remove(request: HttpRequest, pk: int, entry_pk: int) -> HttpResponse:
    book = selectors.price_book_get(pk=pk)
    entry = selectors.price_book_entry_get(price_book=book, pk=entry_pk)
    services.price_book_entry_remove(user=_user(request), entry=entry)
    messages.success(request, f"Removed {entry.product} from {book}.")
    return redirect("orders:price_book_detail", pk=book.pk)
