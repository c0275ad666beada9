"""Opportunity line items: validation, prices from the price books, totals, the amount kept
in step through the opportunity service, access, the Products card, the API, query counts
and won deals' lines in the account's purchase history."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from patron.contacts.purchase_history import purchase_history
from patron.contacts.services import account_create
from patron.core.api.testing import assert_problem
from patron.core.choices import OrgWideAccess
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import ChangeLogEntry
from patron.core.testing import (
    Endpoint,
    assert_max_queries,
    check_visibility_matrix,
    set_org_default,
)
from patron.orders import services as order_services
from patron.orders.models import OpportunityLineItem, PriceBook, PriceBookEntry
from patron.orders.selectors import line_item_list
from patron.orders.services import (
    line_item_add,
    line_item_remove,
    line_item_update,
    line_total,
    product_create,
)
from patron.orders.tests.conftest import api_client, login
from patron.orders.views import _card
from patron.pipeline import services as pipeline_services
from patron.pipeline.models import Opportunity, StageHistory
from patron.pipeline.services import opportunity_create, opportunity_move_stage

pytestmark = pytest.mark.django_db

JSON = "application/json"


def _lines(deal: Opportunity) -> str:
    return f"/api/v1/opportunities/{deal.pk}/line-items"


# --- validation and arithmetic ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", "-2"),
        ("quantity", "0"),
        ("quantity", "many"),
        ("discount_percent", "101"),
        ("discount_percent", "-5"),
        ("unit_price", "-10"),
    ],
)
def test_bad_quantities_discounts_and_prices_are_field_errors_and_save_nothing(
    rep, deal, widget_price, field, value
):
    fields = {"product": widget_price.product_id, "quantity": "1", field: value}
    with pytest.raises(ValidationFailed) as error:
        line_item_add(user=rep, opportunity=deal, **fields)
    assert list(error.value.errors) == [field]
    assert not OpportunityLineItem.objects.exists()


def test_line_total_is_quantity_times_price_less_discount_rounded_to_cents():
    assert line_total(Decimal("3"), Decimal("19.99"), Decimal("12.5")) == Decimal("52.47")
    assert line_total(Decimal("1"), Decimal("0.05"), Decimal("50")) == Decimal("0.03")
    assert line_total(Decimal("2"), Decimal("10"), Decimal("100")) == Decimal("0.00")


def test_unit_price_defaults_to_the_standard_books_list_price_in_the_deals_currency(
    rep, deal, widget, widget_price
):
    other = PriceBook.objects.create(name="Agency", currency="USD")
    PriceBookEntry.objects.create(price_book=other, product=widget, list_price=Decimal("80"))
    euro = PriceBook.objects.create(name="Euro", currency="EUR", is_standard=True)
    PriceBookEntry.objects.create(price_book=euro, product=widget, list_price=Decimal("110"))
    line = line_item_add(
        user=rep, opportunity=deal, product=widget.pk, quantity="3", discount_percent="10"
    )
    assert line.unit_price == Decimal("120.00")
    assert line.line_total == Decimal("324.00")
    assert line.description == "Widget Pro"


def test_without_a_standard_price_another_active_book_in_the_currency_prices_the_line(
    rep, deal, widget
):
    book = PriceBook.objects.create(name="Partners", currency="USD", segment="Partners")
    PriceBookEntry.objects.create(price_book=book, product=widget, list_price=Decimal("75"))
    line = line_item_add(user=rep, opportunity=deal, product=widget.pk)
    assert line.unit_price == Decimal("75.00")


def test_no_list_price_in_the_currency_asks_for_a_unit_price(rep, deal, widget):
    euro = PriceBook.objects.create(name="Euro", currency="EUR", is_standard=True)
    PriceBookEntry.objects.create(price_book=euro, product=widget, list_price=Decimal("110"))
    with pytest.raises(ValidationFailed) as error:
        line_item_add(user=rep, opportunity=deal, product=widget.pk)
    assert "no list price in USD" in error.value.errors["unit_price"][0]
    line = line_item_add(user=rep, opportunity=deal, product=widget.pk, unit_price="99")
    assert line.unit_price == Decimal("99")


def test_inactive_products_cannot_be_added(rep, deal, widget):
    order_services.product_update(user=rep, product=widget, active=False)
    with pytest.raises(ValidationFailed) as error:
        line_item_add(user=rep, opportunity=deal, product=widget.pk, unit_price="1")
    assert "no longer sold" in error.value.errors["product"][0]


def test_updating_a_line_recomputes_its_total_and_a_blank_price_takes_the_list_price(
    rep, deal, widget_price
):
    line = line_item_add(
        user=rep, opportunity=deal, product=widget_price.product_id, unit_price="50"
    )
    line = line_item_update(user=rep, line=line, quantity="4", discount_percent="25")
    assert line.line_total == Decimal("150.00")
    line = line_item_update(user=rep, line=line, unit_price=None)
    assert line.unit_price == Decimal("120.00")
    with pytest.raises(ValidationFailed) as error:
        line_item_update(user=rep, line=line, quantity="-1")
    assert "quantity" in error.value.errors
    line.refresh_from_db()
    assert line.quantity == Decimal("4")


# --- the amount follows the lines when asked ---------------------------------------------------


def test_use_for_amount_sets_the_amount_through_the_opportunity_service_without_a_stage_move(
    rep, deal, widget_price, monkeypatch
):
    calls = []
    real = pipeline_services.opportunity_update

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(order_services, "opportunity_update", spy)
    moves = StageHistory.objects.filter(opportunity=deal).count()
    line_item_add(user=rep, opportunity=deal, product=widget_price.product_id, quantity="2")
    deal.refresh_from_db()
    assert deal.amount == Decimal("1000.00")
    assert calls == []
    line = line_item_add(
        user=rep,
        opportunity=deal,
        product=widget_price.product_id,
        quantity="1",
        unit_price="60",
        use_for_amount=True,
    )
    deal.refresh_from_db()
    assert deal.amount == Decimal("300.00")
    assert [set(call) >= {"amount", "opportunity"} for call in calls] == [True]
    entry = ChangeLogEntry.objects.filter(
        object_id=deal.pk, action="update", changes__has_key="amount"
    ).get()
    assert entry.changes["amount"] == ["1000.00", "300.00"]
    assert "stage" not in entry.changes
    assert StageHistory.objects.filter(opportunity=deal).count() == moves
    line.opportunity = deal
    line_item_remove(user=rep, line=line, use_for_amount=True)
    deal.refresh_from_db()
    assert deal.amount == Decimal("240.00")
    assert deal.stage.name == "Prospecting"


def test_line_changes_are_written_to_the_opportunitys_change_log(rep, deal, widget_price):
    line_item_add(user=rep, opportunity=deal, product=widget_price.product_id, quantity="2")
    entry = ChangeLogEntry.objects.filter(object_id=deal.pk, changes__has_key="line_items").get()
    assert entry.changes["line_items"] == [None, "Added 2 x Widget Pro"]


# --- access ------------------------------------------------------------------------------------


def test_only_users_who_may_edit_the_opportunity_change_its_lines(
    rep, other_rep, manager, deal, widget_price
):
    with pytest.raises(PermissionDenied):
        line_item_add(user=other_rep, opportunity=deal, product=widget_price.product_id)
    line = line_item_add(user=manager, opportunity=deal, product=widget_price.product_id)
    with pytest.raises(PermissionDenied):
        line_item_remove(user=other_rep, line=line)
    assert OpportunityLineItem.objects.count() == 1


def test_visibility_matrix_for_line_items_and_purchase_history(
    rep, other_rep, deal, widget_price, stages
):
    line_item_add(
        user=rep, opportunity=deal, product=widget_price.product_id, description="Vortigo seats"
    )
    opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Won"])
    endpoints = [
        Endpoint("API line items", _lines(deal), "detail"),
        Endpoint(
            "API account purchase history",
            f"/api/v1/accounts/{deal.account_id}/purchase-history",
            "detail",
        ),
    ]
    check_visibility_matrix(endpoints, marker="Vortigo", allowed=rep, denied=other_rep)
    assert api_client(other_rep).get(_lines(deal)).status_code == 404


# --- the Products card and its forms ----------------------------------------------------------


def _card_html(user, deal) -> str:
    request = RequestFactory().get("/")
    request.user = user
    context = _card(request, deal)
    assert context is not None
    return render_to_string(
        "orders/partials/opportunity_line_items.html",
        {"panel": context, "record": deal},
        request=request,
    )


def test_the_card_lists_lines_and_offers_forms_only_to_editors(rep, other_rep, deal, widget_price):
    line_item_add(user=rep, opportunity=deal, product=widget_price.product_id, quantity="2")
    html = _card_html(rep, deal)
    assert "Widget Pro" in html
    assert "240.00" in html
    assert f"/opportunities/{deal.pk}/line-items/add/" in html
    assert "Use line items for the amount" in html
    set_org_default("pipeline.opportunity", OrgWideAccess.PUBLIC_READ)
    viewer_html = _card_html(other_rep, deal)
    assert "Widget Pro" in viewer_html
    assert "/line-items/" not in viewer_html


def test_the_add_form_keeps_input_on_bad_values_and_adds_on_good_ones(rep, deal, widget_price):
    client = login(rep)
    url = f"/opportunities/{deal.pk}/line-items/add/"
    response = client.post(
        url, {"product": widget_price.product_id, "quantity": "-3", "discount_percent": "150"}
    )
    assert response.status_code == 422
    assert set(response.context["form"].errors) == {"quantity", "discount_percent"}
    assert 'value="-3"' in response.content.decode()
    response = client.post(
        url, {"product": widget_price.product_id, "quantity": "2", "discount_percent": "150"}
    )
    assert response.status_code == 422
    assert "between 0 and 100" in response.content.decode()
    assert 'value="150"' in response.content.decode()
    assert not OpportunityLineItem.objects.exists()
    response = client.post(
        url,
        {"product": widget_price.product_id, "quantity": "2", "use_for_amount": "on"},
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.amount == Decimal("240.00")
    line = OpportunityLineItem.objects.get()
    response = client.post(
        f"/opportunities/{deal.pk}/line-items/{line.pk}/edit/",
        {"product": widget_price.product_id, "quantity": "1", "unit_price": "100"},
    )
    assert response.status_code == 302
    line.refresh_from_db()
    assert line.line_total == Decimal("100.00")
    client.post(f"/opportunities/{deal.pk}/line-items/sync-amount/")
    deal.refresh_from_db()
    assert deal.amount == Decimal("100.00")
    client.post(f"/opportunities/{deal.pk}/line-items/{line.pk}/remove/")
    assert not OpportunityLineItem.objects.exists()


def test_a_user_who_may_not_edit_cannot_post_to_the_card(other_rep, deal, widget_price):
    response = login(other_rep).post(
        f"/opportunities/{deal.pk}/line-items/add/",
        {"product": widget_price.product_id, "quantity": "1"},
    )
    assert response.status_code in (403, 404)
    assert not OpportunityLineItem.objects.exists()


# --- API ---------------------------------------------------------------------------------------


def test_api_adds_changes_and_removes_lines_with_field_errors(rep, deal, widget_price):
    api = api_client(rep)
    product = widget_price.product_id
    assert_problem(
        api.post(_lines(deal), json.dumps({"product": product, "quantity": -1}), content_type=JSON),
        422,
        "quantity",
    )
    assert_problem(
        api.post(
            _lines(deal),
            json.dumps({"product": product, "discount_percent": 101}),
            content_type=JSON,
        ),
        422,
        "discount_percent",
    )
    response = api.post(
        _lines(deal),
        json.dumps({"product": product, "quantity": "2", "use_for_amount": True}),
        content_type=JSON,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["unit_price"], body["line_total"]) == ("120.00", "240.00")
    line_url = f"{_lines(deal)}/{body['id']}"
    response = api.patch(line_url, json.dumps({"discount_percent": "50"}), content_type=JSON)
    assert response.json()["line_total"] == "120.00"
    assert [row["id"] for row in api.get(_lines(deal)).json()] == [body["id"]]
    assert api.delete(f"{line_url}?use_for_amount=true").status_code == 204
    deal.refresh_from_db()
    assert deal.amount == Decimal("0.00")


def test_line_item_list_queries_do_not_grow_with_lines(rep, deal, widget_price):
    api = api_client(rep)
    line_item_add(user=rep, opportunity=deal, product=widget_price.product_id)
    with CaptureQueriesContext(connection) as few:
        api.get(_lines(deal))
    for i in range(10):
        other = product_create(user=rep, sku=f"P-{i}", name=f"Part {i}")
        line_item_add(user=rep, opportunity=deal, product=other.pk, unit_price="5")
    with assert_max_queries(len(few.captured_queries)):
        assert len(api.get(_lines(deal)).json()) == 11
    with assert_max_queries(1):
        assert len([str(line.product) for line in line_item_list(opportunity=deal)]) == 11


# --- purchase history ---------------------------------------------------------------------------


def test_won_deals_lines_are_the_accounts_purchases_open_and_hidden_ones_are_not(
    rep, other_rep, manager, deal, widget_price, stages
):
    line_item_add(user=rep, opportunity=deal, product=widget_price.product_id, quantity="3")
    open_deal = opportunity_create(
        user=rep,
        name="Acme renewal",
        account=deal.account,
        currency="USD",
        close_date=datetime.date(2027, 1, 31),
    )
    line_item_add(user=rep, opportunity=open_deal, product=widget_price.product_id)
    assert purchase_history(user=rep, account=deal.account) == []
    opportunity_move_stage(user=rep, opportunity=deal, stage=stages["Won"])
    deal.refresh_from_db()
    entries = purchase_history(user=rep, account=deal.account)
    assert [(e.row.date, e.row.description, e.row.quantity, e.row.amount) for e in entries] == [
        (deal.closed_on, "Widget Pro", Decimal("3.00"), Decimal("360.00"))
    ]
    assert entries[0].source_label == "Won deals"
    assert purchase_history(user=manager, account=deal.account) != []
    assert purchase_history(user=other_rep, account=deal.account) == []


def test_purchase_history_queries_do_not_grow_with_won_deals(rep, deal, widget_price, stages):
    account = account_create(user=rep, name="Globex")
    for i in range(6):
        won = opportunity_create(
            user=rep,
            name=f"Globex {i}",
            account=account,
            currency="USD",
            close_date=datetime.date(2026, 6, 1),
        )
        line_item_add(user=rep, opportunity=won, product=widget_price.product_id)
        opportunity_move_stage(user=rep, opportunity=won, stage=stages["Won"])
        if i == 0:
            with CaptureQueriesContext(connection) as few:
                purchase_history(user=rep, account=account)
    with assert_max_queries(len(few.captured_queries)):
        assert len(purchase_history(user=rep, account=account)) == 6
