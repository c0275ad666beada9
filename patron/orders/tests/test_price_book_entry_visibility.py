"""A price book is readable by everyone with sales access, but its entries name products:
the API lists only the entries of products the user may see (issue 8, permission matrix)."""

from __future__ import annotations

import pytest

from patron.orders.tests.conftest import login

pytestmark = pytest.mark.django_db


def test_price_book_entries_hide_products_the_user_may_not_see(
    widget_price, usd_book, rep, other_rep
):
    url = f"/api/v1/price-books/{usd_book.pk}/entries"
    owner_sees = login(rep).get(url)
    assert owner_sees.status_code == 200
    assert [entry["sku"] for entry in owner_sees.json()] == ["WID-1"]
    peer_sees = login(other_rep).get(url)
    assert peer_sees.status_code == 200
    assert peer_sees.json() == []
    assert b"Widget Pro" not in peer_sees.content
