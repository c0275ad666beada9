"""Duplicate matching: normalising, exact keys, fuzzy names with blocking, batches."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patron.contacts.models import Account, Contact
from patron.data_exchange.duplicate_matching import (
    find_duplicates,
    find_duplicates_batch,
    normalize_domain_key,
    normalize_email_key,
    normalize_phone_key,
    similarity,
)
from patron.data_exchange.models import DuplicateRule
from patron.orders.models import Product

pytestmark = pytest.mark.django_db


def test_email_is_normalised_lower_case_and_trimmed():
    assert normalize_email_key("  Ann@Example.COM ") == "ann@example.com"
    assert normalize_email_key("not an email") == ""


def test_phone_is_normalised_to_e164_in_the_default_region(settings):
    settings.PATRON_DEFAULT_PHONE_REGION = "GB"
    assert normalize_phone_key("020 7946 0958") == "+442079460958"
    assert normalize_phone_key("+1 (415) 555-0100") == "+14155550100"
    assert normalize_phone_key("call me") == ""


def test_domain_comes_from_website_or_company_email_without_scheme_and_www():
    assert normalize_domain_key({"website": "https://www.Acme.com/about"}) == "acme.com"
    assert normalize_domain_key({"email": "ann@acme.com"}) == "acme.com"
    assert normalize_domain_key({"email": "ann@gmail.com"}) == ""


def test_similarity_ignores_spacing_order_and_legal_suffixes():
    assert similarity("GTXPro", "GTX Pro") == 100
    assert similarity("Smith, John", "John Smith") == 100
    assert similarity("Acme Inc.", "ACME") == 100
    assert similarity("Jon Smith", "John Smith") >= 90
    assert similarity("GTX Pro", "GTX Plus Pro") < 90
    assert similarity("MG Special", "MG Advanced") < 60


def test_exact_email_rule_finds_existing_contact(rep):
    ann = Contact.objects.create(owner=rep, last_name="Lee", email="ann@example.com")
    hits = find_duplicates("contacts.contact", {"last_name": "X", "email": " ANN@example.com"})
    assert [(h.object_id, h.similarity, h.action) for h in hits] == [(ann.pk, 100, "warn")]
    assert hits[0].match_key == "email ann@example.com"
    assert hits[0].rule_name == "Same email"


def test_soft_deleted_and_excluded_records_are_not_duplicates(rep):
    ann = Contact.objects.create(owner=rep, last_name="Lee", email="ann@example.com")
    assert find_duplicates("contact", {"email": "ann@example.com"}, exclude_id=ann.pk) == []
    Contact.objects.filter(pk=ann.pk).update(deleted_at="2026-01-01T00:00:00Z")
    assert find_duplicates("contacts.contact", {"email": "ann@example.com"}) == []


def test_account_domain_rule_matches_website_spelling(rep):
    acme = Account.objects.create(owner=rep, name="Acme", domain="acme.com")
    hits = find_duplicates("contacts.account", {"name": "Zeta", "website": "http://www.acme.com"})
    assert [h.object_id for h in hits] == [acme.pk]
    assert hits[0].match_key == "domain acme.com"


def test_fuzzy_product_names_spelled_two_ways_match(rep):
    gtx = Product.objects.create(owner=rep, sku="G1", name="GTX Pro")
    Product.objects.create(owner=rep, sku="G2", name="GTX Plus Pro")
    Product.objects.create(owner=rep, sku="M1", name="MG Special")
    hits = find_duplicates("orders.product", {"name": "GTXPro"})
    assert [(h.object_id, h.similarity, h.action) for h in hits] == [(gtx.pk, 100, "report")]
    assert "GTX Pro" in hits[0].match_key


def test_fuzzy_contact_names_match_only_at_the_same_account(rep):
    acme = Account.objects.create(owner=rep, name="Acme")
    other = Account.objects.create(owner=rep, name="Other")
    john = Contact.objects.create(owner=rep, first_name="John", last_name="Smith", account=acme)
    Contact.objects.create(owner=rep, first_name="John", last_name="Smith", account=other)
    hits = find_duplicates(
        "contacts.contact", {"first_name": "Jon", "last_name": "Smith", "account": acme}
    )
    assert [h.object_id for h in hits] == [john.pk]
    assert hits[0].similarity >= 90


def test_threshold_and_inactive_rules_are_respected(rep):
    Product.objects.create(owner=rep, sku="G1", name="GTX Pro")
    DuplicateRule.objects.filter(object_type="orders.product").update(threshold=100)
    assert find_duplicates("orders.product", {"name": "GTX Pri"}) == []
    DuplicateRule.objects.filter(object_type="orders.product").update(is_active=False)
    assert find_duplicates("orders.product", {"name": "GTX Pro"}) == []


def test_unknown_object_type_has_no_duplicates():
    assert find_duplicates("activities.activity", {"subject": "Call"}) == []


def test_batch_matches_existing_and_earlier_rows_in_bounded_queries(rep):
    existing = [
        Contact.objects.create(owner=rep, last_name=f"N{i}", email=f"p{i}@example.com")
        for i in range(30)
    ]
    rows = [{"last_name": f"R{i}", "email": f"P{i}@example.com"} for i in range(60)]
    rows.append({"last_name": "Again", "email": "new@example.com"})
    rows.append({"last_name": "Again", "email": "new@example.com"})
    with CaptureQueriesContext(connection) as ctx:
        results = find_duplicates_batch("contacts.contact", rows)
    # Rules, one exact lookup, one fuzzy block read; never one query per row.
    assert len(ctx.captured_queries) <= 4
    assert [h.object_id for h in results[0]] == [existing[0].pk]
    assert results[45] == []
    assert results[60] == []
    within = results[61]
    assert [h.object_id for h in within] == [None]
    assert "row 61 of this batch" in within[0].match_key


def test_batch_fuzzy_within_rows_and_existing_products(rep):
    Product.objects.create(owner=rep, sku="G1", name="GTX Basic")
    rows = [{"name": "GTXBasic"}, {"name": "MG Special"}, {"name": "MG  special"}]
    results = find_duplicates_batch("products", rows)
    assert results[0][0].similarity == 100
    assert results[1] == []
    assert results[2][0].object_id is None
