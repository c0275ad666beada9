from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.test import Client

from conftest import ALL_ACTIONS
from patron.contacts.services import account_create
from patron.contacts.tests.test_api import bearer
from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default
from patron.orders.models import PriceBook, PriceBookEntry
from patron.orders.services import product_create
from patron.pipeline.services import opportunity_create
from patron.pipeline.tests.conftest import make_pipeline
from patron.users.tests.factories import UserFactory


@pytest.fixture
def order_roles(sales_roles):
    """Every sales role may do everything on products and opportunities; both private."""
    for role in sales_roles.values():
        grant(role, "orders.product", *ALL_ACTIONS)
        grant(role, "pipeline.opportunity", *ALL_ACTIONS)
    set_org_default("orders.product", OrgWideAccess.PRIVATE)
    set_org_default("pipeline.opportunity", OrgWideAccess.PRIVATE)
    return sales_roles


@pytest.fixture
def admin(db):
    return UserFactory(is_superuser=True, is_staff=True, email="admin@example.com")


@pytest.fixture
def stages(db):
    return {stage.name: stage for stage in make_pipeline().stages.all()}


@pytest.fixture
def widget(rep, order_roles):
    return product_create(user=rep, sku="WID-1", name="Widget Pro", family="Hardware", unit="each")


@pytest.fixture
def usd_book(db):
    return PriceBook.objects.create(name="Standard", currency="USD", is_standard=True)


@pytest.fixture
def widget_price(usd_book, widget):
    return PriceBookEntry.objects.create(
        price_book=usd_book, product=widget, list_price=Decimal("120.00")
    )


@pytest.fixture
def deal(rep, order_roles, stages):
    account = account_create(user=rep, name="Acme Corporation")
    return opportunity_create(
        user=rep,
        name="Acme expansion",
        account=account,
        amount=Decimal("1000"),
        currency="USD",
        close_date=datetime.date(2026, 12, 31),
    )


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_client(user, *scopes: str) -> Client:
    client = Client()
    header = bearer(user, *(scopes or ("sales:write",)))["Authorization"]
    client.defaults.update({"HTTP_AUTHORIZATION": header})
    return client
