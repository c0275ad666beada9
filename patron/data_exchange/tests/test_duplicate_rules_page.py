"""The Duplicate rules page: administrators create, edit, deactivate and delete rules in the
UI; the service's validation comes back on the matching field; others are refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix
from patron.data_exchange.models import DuplicateRule

pytestmark = pytest.mark.django_db

LIST_URL = reverse("data_exchange:duplicate_rules")
NEW_URL = reverse("data_exchange:duplicate_rule_new")


@pytest.fixture
def admin(admin_user: Any) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def product_rule() -> DuplicateRule:
    return DuplicateRule.objects.create(
        object_type="orders.product",
        name="Zebra SKU rule",
        exact_keys=["sku"],
        threshold=90,
        action="block",
    )


def form(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "object_type": "contacts.contact",
        "name": "Same phone",
        "exact_keys": ["phone"],
        "threshold": "90",
        "action": "warn",
        "is_active": "on",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def test_admin_creates_a_rule_from_the_form(admin: Client) -> None:
    response = admin.post(
        NEW_URL,
        form(name="Similar names", exact_keys=["account"], fuzzy_fields=["last_name"]),
    )
    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    rule = DuplicateRule.objects.get(name="Similar names")
    assert rule.object_type == "contacts.contact"
    assert rule.exact_keys == ["account"]
    assert rule.fuzzy_fields == ["last_name"]
    assert (rule.threshold, rule.action, rule.is_active) == (90, "warn", True)
    page = admin.get(LIST_URL)
    assert "Similar names" in page.content.decode()


def test_form_offers_the_keys_of_the_chosen_object(admin: Client) -> None:
    contact = admin.get(NEW_URL, {"object_type": "contacts.contact"}).content.decode()
    assert 'name="exact_keys" value="email"' in contact
    assert 'name="exact_keys" value="phone"' in contact
    assert 'name="exact_keys" value="sku"' not in contact
    assert '<label for="id_threshold"' in contact
    product = admin.get(NEW_URL, {"object_type": "orders.product"}).content.decode()
    assert 'name="exact_keys" value="sku"' in product
    assert 'name="exact_keys" value="email"' not in product
    assert '<option value="name"' in product


def test_changing_the_object_redraws_the_fields_without_saving(admin: Client) -> None:
    response = admin.post(NEW_URL, form(object_type="orders.product", name="Kept name", reload="1"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="exact_keys" value="sku"' in body
    assert 'value="Kept name"' in body
    assert not DuplicateRule.objects.filter(name="Kept name").exists()


def test_admin_edits_and_deactivates_a_rule(admin: Client, product_rule: DuplicateRule) -> None:
    url = reverse("data_exchange:duplicate_rule_edit", args=[product_rule.pk])
    page = admin.get(url).content.decode()
    assert 'value="Zebra SKU rule"' in page
    response = admin.post(
        url,
        form(
            object_type="orders.product",
            name="Zebra names",
            exact_keys=[],
            fuzzy_fields=["name"],
            threshold="85",
            action="report",
            is_active=None,
        ),
    )
    assert response.status_code == 302
    product_rule.refresh_from_db()
    assert product_rule.name == "Zebra names"
    assert (product_rule.exact_keys, product_rule.fuzzy_fields) == ([], ["name"])
    assert (product_rule.threshold, product_rule.action) == (85, "report")
    assert product_rule.is_active is False


def test_toggle_deactivates_and_reactivates(admin: Client, product_rule: DuplicateRule) -> None:
    url = reverse("data_exchange:duplicate_rule_toggle", args=[product_rule.pk])
    admin.post(url)
    product_rule.refresh_from_db()
    assert product_rule.is_active is False
    admin.post(url)
    product_rule.refresh_from_db()
    assert product_rule.is_active is True


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"exact_keys": ["bogus"]}, "exact_keys", "bogus: not a field of contacts"),
        ({"threshold": "150"}, "threshold", "Give a whole number from 0 to 100."),
        ({"exact_keys": [], "fuzzy_fields": []}, "exact_keys", "at least one exact key"),
        ({"fuzzy_fields": ["birthdate"]}, "fuzzy_fields", "only text fields can be fuzzy"),
        ({"name": "  "}, "name", "Give the rule a name."),
        ({"name": "Same email"}, "name", "Choose another name."),
        ({"threshold": "abc"}, "threshold", "Enter a whole number."),
    ],
)
def test_bad_input_is_shown_on_the_field(
    admin: Client, changes: dict[str, Any], field: str, message: str
) -> None:
    before = DuplicateRule.objects.count()
    response = admin.post(NEW_URL, form(**changes))
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert any(message in text for text in errors[field]), errors
    assert message in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert DuplicateRule.objects.count() == before


def test_failed_edit_keeps_the_saved_rule(admin: Client, product_rule: DuplicateRule) -> None:
    url = reverse("data_exchange:duplicate_rule_edit", args=[product_rule.pk])
    response = admin.post(url, form(object_type="orders.product", threshold="150"))
    assert response.status_code == 422
    product_rule.refresh_from_db()
    assert (product_rule.name, product_rule.threshold) == ("Zebra SKU rule", 90)


def test_admin_deletes_a_rule(admin: Client, product_rule: DuplicateRule) -> None:
    response = admin.post(reverse("data_exchange:duplicate_rule_delete", args=[product_rule.pk]))
    assert response.status_code == 302
    assert not DuplicateRule.objects.filter(pk=product_rule.pk).exists()
    assert admin.get(reverse("data_exchange:duplicate_rule_delete", args=[1])).status_code == 405


def test_only_administrators_see_the_rules(
    admin_user: Any, rep: Any, product_rule: DuplicateRule
) -> None:
    edit = reverse("data_exchange:duplicate_rule_edit", args=[product_rule.pk])
    check_visibility_matrix(
        [
            Endpoint("rules list", LIST_URL, "detail"),
            Endpoint("rule edit", edit, "detail"),
            Endpoint("new rule", NEW_URL, "detail"),
        ],
        marker="Zebra SKU",
        allowed=admin_user,
        denied=rep,
    )
    client = Client()
    client.force_login(rep)
    assert client.get(LIST_URL).status_code == 403
    writes = [
        (NEW_URL, form(name="Sneaky")),
        (edit, form(object_type="orders.product", name="Renamed")),
        (reverse("data_exchange:duplicate_rule_toggle", args=[product_rule.pk]), {}),
        (reverse("data_exchange:duplicate_rule_delete", args=[product_rule.pk]), {}),
    ]
    for url, data in writes:
        assert client.post(url, data).status_code == 403, url
    product_rule.refresh_from_db()
    assert (product_rule.name, product_rule.is_active) == ("Zebra SKU rule", True)
    assert not DuplicateRule.objects.filter(name="Sneaky").exists()
    anonymous = Client().get(LIST_URL)
    assert anonymous.status_code == 302


def test_rules_list_query_count_does_not_grow_with_rules(admin: Client) -> None:
    admin.get(LIST_URL)
    DuplicateRule.objects.bulk_create(
        DuplicateRule(object_type="leads.lead", name=f"Rule {i}", exact_keys=["phone"])
        for i in range(30)
    )
    with assert_max_queries(6):
        response = admin.get(LIST_URL)
    assert response.status_code == 200
    assert response.content.decode().count('id="rule-') == DuplicateRule.objects.count()


def test_duplicates_page_links_to_the_rules_for_admins(admin: Client, rep: Any) -> None:
    assert LIST_URL in admin.get(reverse("data_exchange:duplicate_list")).content.decode()
    client = Client()
    client.force_login(rep)
    assert LIST_URL not in client.get(reverse("data_exchange:duplicate_list")).content.decode()
