"""The account-structure and vCard pages pass axe at desktop and phone width and never scroll
sideways: org chart, hierarchy and team cards, relation form, vCard import."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from patron.contacts.models import AccountContactRelation
from patron.contacts.services import (
    account_create,
    account_team_add,
    contact_create,
    relation_update,
)
from patron.users.tests.factories import UserFactory
from tests.e2e.conftest import check_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_structure_pages_are_accessible(logged_in_page: Page, e2e_user: Any) -> None:
    page = logged_in_page
    group = account_create(user=e2e_user, name="Acme Group")
    rockets = account_create(user=e2e_user, name="Acme Rockets", parent=group)
    boss = contact_create(user=e2e_user, first_name="Ada", last_name="Boss", account=rockets)
    report = contact_create(user=e2e_user, first_name="Ray", last_name="Report", account=rockets)
    relation = AccountContactRelation.objects.get(account=rockets, contact=report)
    relation_update(
        user=e2e_user, relation=relation, reports_to_id=boss.pk, roles=["decision_maker"]
    )
    colleague = UserFactory(full_name="Cora Colleague")
    account_team_add(
        user=e2e_user, account=rockets, member_user=colleague, team_role="sales_engineer"
    )

    page.goto(f"/accounts/{group.pk}/")
    expect(page.get_by_role("link", name="Acme Rockets").first).to_be_visible()
    check_page(page)

    page.goto(f"/accounts/{rockets.pk}/")
    expect(page.get_by_text("Cora Colleague").first).to_be_visible()
    check_page(page)

    page.goto(f"/accounts/{rockets.pk}/org-chart/")
    expect(page.get_by_text("Ray Report").first).to_be_visible()
    check_page(page)

    page.goto(f"/accounts/{rockets.pk}/relations/new/")
    check_page(page)

    page.goto("/contacts/vcard/import/")
    check_page(page)

    account_create(user=e2e_user, kind="person", first_name="Pat", last_name="Person")
    page.goto("/accounts/")
    expect(page.get_by_text("Person", exact=True).first).to_be_visible()
    check_page(page)
