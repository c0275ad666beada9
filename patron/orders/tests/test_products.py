"""Products: the services (SKU, billing period, access), pages, bulk edit, export, search,
the API and the visibility of every page and endpoint that shows one."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patron.core.api.testing import assert_problem
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.exports import export_csv_run
from patron.core.models import ChangeLogEntry, Job
from patron.core.search import search
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix
from patron.orders.models import PriceBook, PriceBookEntry, Product
from patron.orders.services import (
    product_create,
    product_delete,
    product_restore,
    product_update,
)
from patron.orders.tests.conftest import api_client, login

pytestmark = pytest.mark.django_db

MARKER = "Quasarix"
QUERY = MARKER[:5]


# --- services ---------------------------------------------------------------------------------


def test_sku_is_unique_whatever_its_case_with_an_error_naming_the_holder(rep, widget):
    with pytest.raises(ValidationFailed) as error:
        product_create(user=rep, sku="wid-1", name="Copy")
    assert "Widget Pro" in error.value.errors["sku"][0]
    assert Product.objects.count() == 1


def test_sku_held_by_a_product_in_the_recycle_bin_says_so(rep, widget):
    product_delete(user=rep, product=widget)
    with pytest.raises(ValidationFailed) as error:
        product_create(user=rep, sku="WID-1", name="Copy")
    assert "recycle bin" in error.value.errors["sku"][0]


def test_a_product_needs_a_sku_and_a_name(rep, order_roles):
    with pytest.raises(ValidationFailed) as error:
        product_create(user=rep, sku=" ", name="")
    assert set(error.value.errors) == {"sku", "name"}


def test_a_recurring_product_needs_a_period_and_a_one_time_product_must_not_have_one(
    rep, order_roles
):
    with pytest.raises(ValidationFailed) as error:
        product_create(user=rep, sku="SUB-1", name="Support", billing="recurring")
    assert "monthly, quarterly or yearly" in error.value.errors["recurring_period"][0]
    with pytest.raises(ValidationFailed) as error:
        product_create(user=rep, sku="ONE-1", name="Setup", recurring_period="month")
    assert "one-time" in error.value.errors["recurring_period"][0]
    product = product_create(
        user=rep, sku="SUB-1", name="Support", billing="recurring", recurring_period="year"
    )
    assert (product.billing, product.recurring_period) == ("recurring", "year")


def test_switching_a_recurring_product_to_one_time_drops_its_period(rep, order_roles):
    product = product_create(
        user=rep, sku="SUB-2", name="Hosting", billing="recurring", recurring_period="month"
    )
    product = product_update(user=rep, product=product, billing="one_time")
    product.refresh_from_db()
    assert (product.billing, product.recurring_period) == ("one_time", "")


def test_changes_are_logged_and_a_deleted_product_can_be_restored(rep, widget):
    product_update(user=rep, product=widget, name="Widget Max")
    entry = ChangeLogEntry.objects.filter(object_id=widget.pk, action="update").get()
    assert entry.changes["name"] == ["Widget Pro", "Widget Max"]
    product_delete(user=rep, product=widget)
    assert not Product.objects.filter(pk=widget.pk).exists()
    product_restore(user=rep, product=widget)
    assert Product.objects.filter(pk=widget.pk).exists()


def test_someone_who_may_not_edit_the_product_cannot_change_it(widget, other_rep):
    with pytest.raises(PermissionDenied):
        product_update(user=other_rep, product=widget, name="Mine now")


# --- pages ------------------------------------------------------------------------------------


def test_create_a_product_from_the_form_and_see_its_prices_in_every_book(rep, order_roles):
    client = login(rep)
    response = client.post(
        "/products/new/",
        {"sku": "QX-1", "name": f"{MARKER} Engine", "unit": "seat", "billing": "one_time"},
    )
    assert response.status_code == 302, response.content
    product = Product.objects.get(sku="QX-1")
    usd = PriceBook.objects.create(name="Standard", currency="USD", is_standard=True)
    eur = PriceBook.objects.create(name="Public sector", currency="EUR", segment="Public")
    PriceBookEntry.objects.create(price_book=usd, product=product, list_price=Decimal("99.50"))
    PriceBookEntry.objects.create(price_book=eur, product=product, list_price=Decimal("89.00"))
    page = client.get(f"/products/{product.pk}/").content.decode()
    for text in ("99.50 USD", "89.00 EUR", "Public sector", "Standard"):
        assert text in page


def test_the_form_keeps_input_and_says_what_to_fix(rep, widget):
    response = login(rep).post(
        "/products/new/", {"sku": "wid-1", "name": "Clone", "billing": "recurring"}
    )
    assert response.status_code == 422
    assert response.context["form"].errors.keys() >= {"sku", "recurring_period"}
    assert 'value="Clone"' in response.content.decode()
    assert Product.objects.count() == 1


def test_list_filters_by_family_billing_and_active(rep, widget):
    product_create(
        user=rep,
        sku="SUP-1",
        name="Support plan",
        family="Services",
        billing="recurring",
        recurring_period="year",
        active=False,
    )
    client = login(rep)

    def names(query: str) -> list[str]:
        return [row.name for row in client.get(f"/products/?{query}").context["page"].rows]

    assert names("family=Hardware") == ["Widget Pro"]
    assert names("billing=recurring") == ["Support plan"]
    assert names("active=false") == ["Support plan"]
    assert names("q=wid-") == ["Widget Pro"]


def test_product_list_queries_do_not_grow_with_rows(rep, widget):
    client = login(rep)
    with CaptureQueriesContext(connection) as few:
        client.get("/products/")
    for i in range(15):
        product_create(user=rep, sku=f"P-{i}", name=f"Part {i:02d}")
    with assert_max_queries(len(few.captured_queries)):
        response = client.get("/products/")
    assert len(response.context["page"].rows) == 16


def test_bulk_edit_sets_active_and_family(rep, widget):
    other = product_create(user=rep, sku="GAD-1", name="Gadget")
    response = login(rep).post(
        "/products/bulk/",
        {"ids": [widget.pk, other.pk], "action": "edit", "active": "false", "family": "Legacy"},
    )
    assert response.status_code == 302
    rows = set(Product.objects.values_list("family", "active"))
    assert rows == {("Legacy", False)}


def test_export_and_search_find_the_product(rep, order_roles):
    product_create(user=rep, sku="QX-9", name=f"{MARKER} Drive", family="Storage")
    client = login(rep)
    client.post("/products/export/")
    job = Job.objects.filter(created_by=rep).latest("id")
    export_csv_run(job_id=job.pk)
    body = client.get(f"/ui/jobs/{job.pk}/download/").getvalue().decode()
    assert "QX-9" in body
    assert "Storage" in body
    hits = search(rep, "QX-9")
    assert any(hit.title == f"{MARKER} Drive" for hit in hits)


def test_products_appear_in_the_sales_navigation(rep, order_roles):
    page = login(rep).get("/products/").content.decode()
    assert 'href="/products/"' in page


# --- API --------------------------------------------------------------------------------------


def test_api_creates_and_changes_a_product_with_field_errors_on_bad_input(rep, order_roles):
    api = api_client(rep)
    response = api.post(
        "/api/v1/products",
        json.dumps({"sku": "API-1", "name": "Api thing", "billing": "recurring"}),
        content_type="application/json",
    )
    assert_problem(response, 422, "recurring_period")
    response = api.post(
        "/api/v1/products",
        json.dumps(
            {
                "sku": "API-1",
                "name": "Api thing",
                "billing": "recurring",
                "recurring_period": "month",
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    response = api.patch(
        f"/api/v1/products/{pk}", json.dumps({"active": False}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    listed = api.get("/api/v1/products?active=false").json()
    assert [row["sku"] for row in listed["items"]] == ["API-1"]


def test_visibility_matrix_for_product_pages_and_endpoints(rep, other_rep, order_roles):
    product = product_create(user=rep, sku="VIS-1", name=f"{MARKER} Secret")
    endpoints = [
        Endpoint("product list page", "/products/", "list"),
        Endpoint("product list page, filtered", f"/products/?q={QUERY}", "list"),
        Endpoint("product detail page", f"/products/{product.pk}/", "detail"),
        Endpoint("product edit page", f"/products/{product.pk}/edit/", "detail"),
        Endpoint("search page", f"/search/?q={QUERY}", "search"),
        Endpoint("API product list", "/api/v1/products", "list"),
        Endpoint("API product", f"/api/v1/products/{product.pk}", "detail"),
    ]
    check_visibility_matrix(endpoints, marker=MARKER, allowed=rep, denied=other_rep)
