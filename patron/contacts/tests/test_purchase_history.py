"""Purchase history: the registry later apps fill, the merged list, the account card and
/api/v1/accounts/{id}/purchase-history, with a fake source standing in for orders."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.test import Client

from patron.contacts import purchase_history as registry
from patron.contacts.purchase_history import (
    PurchaseRow,
    PurchaseSource,
    purchase_history,
    register_purchase_source,
)
from patron.contacts.services import account_create
from patron.contacts.tests.test_api import bearer
from patron.core.api.testing import assert_problem
from patron.core.testing import Endpoint, check_visibility_matrix

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_sources(monkeypatch):
    """Each test starts with only the sources it registers."""
    monkeypatch.setattr(registry, "_sources", {})


@pytest.fixture
def account(rep):
    return account_create(user=rep, name="Acme Corporation")


def _orders(user, account, limit):
    rows = [
        PurchaseRow(
            date=datetime.date(2026, 1, day),
            description=f"Order SO-{day:03d} for {account.name}",
            quantity=Decimal(day),
            amount=Decimal("100.00") * day,
            currency="EUR",
            url=f"/orders/{day}/",
        )
        for day in (3, 20, 9)
    ]
    return sorted(rows, key=lambda r: r.date, reverse=True)[:limit]


def _quotes(user, account, limit):
    # A source may give datetimes; the history compares them as days.
    return [
        PurchaseRow(
            date=datetime.datetime(2026, 1, 15, 9, 30, tzinfo=datetime.UTC),
            description=f"Quote Q-7 prepared for {user.full_name}",
        )
    ][:limit]


def _register_both():
    register_purchase_source(PurchaseSource(key="orders", label="Orders", rows=_orders))
    register_purchase_source(PurchaseSource(key="quotes", label="Quotes", rows=_quotes))


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_history_merges_every_source_newest_first_within_the_limit(rep, account):
    _register_both()
    entries = purchase_history(user=rep, account=account)
    assert [e.row.description[:8] for e in entries] == [
        "Order SO",
        "Quote Q-",
        "Order SO",
        "Order SO",
    ]
    assert [e.row.date for e in entries] == [
        datetime.date(2026, 1, 20),
        datetime.date(2026, 1, 15),
        datetime.date(2026, 1, 9),
        datetime.date(2026, 1, 3),
    ]
    assert entries[1].source_label == "Quotes"
    assert entries[1].row.description == "Quote Q-7 prepared for Rita Rep"
    assert len(purchase_history(user=rep, account=account, limit=2)) == 2


def test_without_sources_the_history_is_empty_and_the_card_explains_why(rep, account):
    assert purchase_history(user=rep, account=account) == []
    page = _client(rep).get(f"/accounts/{account.pk}/").content.decode()
    assert 'id="purchase-history-title"' in page
    assert "Orders and quotes appear here once they are recorded" in page


def test_the_account_card_shows_the_rows_with_links_and_amounts(rep, account):
    _register_both()
    page = _client(rep).get(f"/accounts/{account.pk}/").content.decode()
    assert '<a href="/orders/20/">Order SO-020 for Acme Corporation</a>' in page
    assert "2000.00 EUR" in page
    assert "Quote Q-7" in page
    assert "appear here once" not in page


def test_api_lists_the_history_and_refuses_a_bad_limit(rep, account):
    _register_both()
    client = Client()
    client.defaults.update({"HTTP_AUTHORIZATION": bearer(rep)["Authorization"]})
    url = f"/api/v1/accounts/{account.pk}/purchase-history"
    body = client.get(url).json()
    assert [row["source"] for row in body] == ["orders", "quotes", "orders", "orders"]
    assert body[0] == {
        "source": "orders",
        "source_label": "Orders",
        "date": "2026-01-20",
        "description": "Order SO-020 for Acme Corporation",
        "quantity": "20",
        "amount": "2000.00",
        "currency": "EUR",
        "url": "/orders/20/",
    }
    assert body[1]["date"] == "2026-01-15"
    assert len(client.get(f"{url}?limit=1").json()) == 1
    assert_problem(client.get(f"{url}?limit=0"), 422)


def test_only_who_may_see_the_account_sees_its_history(rep, other_rep, account):
    _register_both()
    endpoints = [
        Endpoint("account page card", f"/accounts/{account.pk}/", "detail"),
        Endpoint(
            "API purchase history", f"/api/v1/accounts/{account.pk}/purchase-history", "detail"
        ),
    ]
    check_visibility_matrix(endpoints, marker="SO-020", allowed=rep, denied=other_rep)
