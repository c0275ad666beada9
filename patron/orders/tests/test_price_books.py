"""Price books: administrators manage books and list prices (pages and API); one standard
book per currency; prices are money amounts of 0 or more."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from patron.core.api.testing import assert_problem
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.testing import assert_max_queries
from patron.orders.models import PriceBook, PriceBookEntry
from patron.orders.pricebook_services import (
    price_book_create,
    price_book_entry_set,
    price_book_update,
)
from patron.orders.services import product_create
from patron.orders.tests.conftest import api_client, login

pytestmark = pytest.mark.django_db

JSON = "application/json"


def test_only_one_standard_price_book_per_currency(admin):
    price_book_create(user=admin, name="Standard", currency="usd", is_standard=True)
    with pytest.raises(ValidationFailed) as error:
        price_book_create(user=admin, name="Other", currency="USD", is_standard=True)
    assert "already the standard price book for USD" in error.value.errors["is_standard"][0]
    euro = price_book_create(user=admin, name="Euro", currency="EUR", is_standard=True)
    assert euro.is_standard
    assert PriceBook.objects.get(name="Standard").currency == "USD"


def test_a_price_book_needs_a_name_and_a_three_letter_currency(admin):
    with pytest.raises(ValidationFailed) as error:
        price_book_create(user=admin, name=" ", currency="EURO")
    assert set(error.value.errors) == {"name", "currency"}
    assert not PriceBook.objects.exists()


def test_only_administrators_manage_price_books(rep, widget):
    with pytest.raises(PermissionDenied):
        price_book_create(user=rep, name="Mine", currency="USD")
    book = PriceBook.objects.create(name="Standard", currency="USD")
    with pytest.raises(PermissionDenied):
        price_book_update(user=rep, price_book=book, name="Renamed")
    with pytest.raises(PermissionDenied):
        price_book_entry_set(user=rep, price_book=book, product_id=widget.pk, list_price="1")


def test_setting_a_price_twice_changes_the_one_entry(admin, usd_book, widget):
    price_book_entry_set(user=admin, price_book=usd_book, product_id=widget.pk, list_price="100")
    entry = price_book_entry_set(
        user=admin, price_book=usd_book, product_id=widget.pk, list_price="95.50", active=False
    )
    assert PriceBookEntry.objects.get() == entry
    assert (entry.list_price, entry.active) == (Decimal("95.50"), False)


@pytest.mark.parametrize("price", ["-1", "abc", "1.234"])
def test_a_list_price_is_a_money_amount_of_zero_or_more(admin, usd_book, widget, price):
    with pytest.raises(ValidationFailed) as error:
        price_book_entry_set(
            user=admin, price_book=usd_book, product_id=widget.pk, list_price=price
        )
    assert "list_price" in error.value.errors
    assert not PriceBookEntry.objects.exists()


def test_admin_pages_create_a_book_and_set_prices_keeping_bad_input(admin, widget):
    client = login(admin)
    response = client.post(
        "/price-books/new/",
        {"name": "Standard", "currency": "GBP", "is_standard": "on", "active": "on"},
    )
    assert response.status_code == 302, response.content
    book = PriceBook.objects.get()
    assert (book.currency, book.is_standard) == ("GBP", True)
    response = client.post(
        f"/price-books/{book.pk}/prices/", {"product": widget.pk, "list_price": "-5"}
    )
    assert response.status_code == 422
    assert "list_price" in response.context["entry_form"].errors
    assert 'value="-5"' in response.content.decode()
    response = client.post(
        f"/price-books/{book.pk}/prices/",
        {"product": widget.pk, "list_price": "42", "active": "on"},
    )
    assert response.status_code == 302
    page = client.get(f"/price-books/{book.pk}/").content.decode()
    assert "42.00 GBP" in page
    entry = PriceBookEntry.objects.get()
    client.post(f"/price-books/{book.pk}/prices/{entry.pk}/remove/")
    assert not PriceBookEntry.objects.exists()


def test_price_book_pages_are_for_administrators_only(rep, order_roles):
    book = PriceBook.objects.create(name="Standard", currency="USD")
    client = login(rep)
    assert client.get("/price-books/").status_code == 403
    assert client.get(f"/price-books/{book.pk}/").status_code == 403
    assert client.post("/price-books/new/", {"name": "X", "currency": "USD"}).status_code == 403
    assert PriceBook.objects.count() == 1


def test_price_book_list_query_count_does_not_grow_with_books(admin, rep, order_roles):
    client = login(admin)
    PriceBook.objects.create(name="Book 0", currency="USD")
    client.get("/price-books/")
    product = product_create(user=rep, sku="P-1", name="Part")
    with assert_max_queries(30) as few:
        client.get("/price-books/")
    for i in range(1, 10):
        book = PriceBook.objects.create(name=f"Book {i}", currency="EUR")
        PriceBookEntry.objects.create(price_book=book, product=product, list_price=Decimal(i))
    with assert_max_queries(len(few.captured_queries)):
        response = client.get("/price-books/")
    assert len(response.context["books"]) == 10


def test_api_lists_creates_and_updates_books_and_upserts_entries(admin, rep, widget):
    api = api_client(admin)
    response = api.post(
        "/api/v1/price-books",
        json.dumps({"name": "Standard", "currency": "USD", "is_standard": True}),
        content_type=JSON,
    )
    assert response.status_code == 201, response.content
    book_id = response.json()["id"]
    assert_problem(
        api.post(
            "/api/v1/price-books",
            json.dumps({"name": "Second", "currency": "USD", "is_standard": True}),
            content_type=JSON,
        ),
        422,
        "is_standard",
    )
    response = api.patch(
        f"/api/v1/price-books/{book_id}", json.dumps({"segment": "SMB"}), content_type=JSON
    )
    assert response.json()["segment"] == "SMB"
    entries = f"/api/v1/price-books/{book_id}/entries"
    assert_problem(
        api.put(entries, json.dumps({"product": widget.pk, "list_price": "-1"}), content_type=JSON),
        422,
        "list_price",
    )
    response = api.put(
        entries, json.dumps({"product": widget.pk, "list_price": "10.00"}), content_type=JSON
    )
    assert response.status_code == 200, response.content
    api.put(entries, json.dumps({"product": widget.pk, "list_price": "12.00"}), content_type=JSON)
    listed = api.get(entries).json()
    assert [(e["sku"], e["list_price"]) for e in listed] == [("WID-1", "12.00")]
    reader = api_client(rep, "sales:read")
    assert [b["name"] for b in reader.get("/api/v1/price-books").json()] == ["Standard"]
    writer = api_client(rep)
    assert_problem(
        writer.put(
            entries, json.dumps({"product": widget.pk, "list_price": "1"}), content_type=JSON
        ),
        403,
    )
    assert writer.delete(f"{entries}/{listed[0]['id']}").status_code == 403
    assert api.delete(f"{entries}/{listed[0]['id']}").status_code == 204
    assert api.get(entries).json() == []
