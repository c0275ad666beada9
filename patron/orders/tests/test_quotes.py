"""Quotes: totals, bad input, the approval threshold and who approves, sending, the
customer's link (accept, decline, expired, answered twice), the timeline, syncing the amount,
TCO items, the pages, the API, access and query counts."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patron.core.choices import OrgWideAccess
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.exports import export_csv_run
from patron.core.models import Job, Notification
from patron.core.search import search
from patron.core.testing import (
    Endpoint,
    assert_max_queries,
    check_visibility_matrix,
    grant,
    set_org_default,
)
from patron.core.timeline import timeline_page
from patron.orders import quote_services as qs
from patron.orders.choices import QuoteStatus
from patron.orders.models import OpportunityLineItem, Quote, QuoteLine, QuotePolicy
from patron.orders.tasks import expire_quotes
from patron.orders.tests.conftest import api_client, login
from patron.pipeline.models import Opportunity
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
JSON = "application/json"


@pytest.fixture(autouse=True)
def quote_roles(order_roles):
    for role in order_roles.values():
        grant(role, "orders.quote", "create", "read", "update", "delete", "export")
    set_org_default("orders.quote", OrgWideAccess.PRIVATE)
    QuotePolicy.objects.update_or_create(
        pk=1,
        defaults={
            "approval_discount_percent": D("20"),
            "default_validity_days": 30,
            "default_terms": "Payment within 30 days.",
        },
    )
    return order_roles


@pytest.fixture
def quote(rep, deal, quote_roles):
    return qs.quote_create_from_opportunity(user=rep, opportunity=deal, copy_lines=False)


def _line(rep, quote, **fields):
    values = {"description": "Consulting day", "quantity": "1", "unit_price": "100"}
    values.update(fields)
    return qs.quote_line_add(user=rep, quote=Quote.objects.get(pk=quote.pk), **values)


def _fresh(quote: Quote) -> Quote:
    return Quote.objects.get(pk=quote.pk)


# --- creating ---------------------------------------------------------------------------------


def test_a_quote_from_an_opportunity_copies_its_lines_and_takes_number_currency_validity_terms(
    rep, deal, widget_price, quote_roles
):
    OpportunityLineItem.objects.create(
        opportunity=deal,
        product=widget_price.product,
        description="Widget Pro",
        quantity=D("3"),
        unit_price=D("120.00"),
        discount_percent=D("10"),
        line_total=D("324.00"),
    )
    QuotePolicy.objects.filter(pk=1).update(next_number=42)

    quote = qs.quote_create_from_opportunity(user=rep, opportunity=deal)

    assert quote.number == "Q-00042"
    assert quote.currency == "USD"
    assert quote.valid_until == timezone.localdate() + datetime.timedelta(days=30)
    assert quote.terms == "Payment within 30 days."
    assert quote.status == QuoteStatus.DRAFT
    assert [(line.description, line.quantity) for line in quote.lines.all()] == [
        ("Widget Pro", D("3.00"))
    ]
    assert (quote.subtotal, quote.discount_total, quote.total) == (
        D("360.00"),
        D("36.00"),
        D("324.00"),
    )
    assert QuotePolicy.objects.get(pk=1).next_number == 43


def test_a_quote_can_start_empty_and_numbers_never_repeat(rep, deal, quote_roles):
    first = qs.quote_create_from_opportunity(user=rep, opportunity=deal, copy_lines=False)
    second = qs.quote_create_from_opportunity(user=rep, opportunity=deal, copy_lines=False)

    assert first.number != second.number
    assert not first.lines.exists()


def test_only_users_who_see_the_opportunity_may_quote_it(deal, other_rep, quote_roles):
    with pytest.raises(ValidationFailed) as error:
        qs.quote_create_from_opportunity(user=other_rep, opportunity=deal)
    assert list(error.value.errors) == ["opportunity"]


# --- lines and totals -------------------------------------------------------------------------


def test_totals_are_recomputed_from_the_lines_in_decimal_rounded_to_cents(rep, quote):
    _line(rep, quote, quantity="3", unit_price="19.99", discount_percent="12.5", tax_percent="20")
    _line(rep, quote, quantity="2", unit_price="50", tax_percent="0")

    quote = _fresh(quote)
    # 3 x 19.99 = 59.97, less 12.5 % = 52.47 (52.47375); tax 20 % of 52.47 = 10.49 (10.494)
    assert quote.subtotal == D("159.97")
    assert quote.discount_total == D("7.50")
    assert quote.tax_total == D("10.49")
    assert quote.total == D("162.96")
    assert quote.max_discount_percent == D("12.50")


def test_changing_and_removing_lines_recomputes_the_totals(rep, quote):
    line = _line(rep, quote, quantity="2", unit_price="10")
    qs.quote_line_update(user=rep, line=line, quantity="5")
    assert _fresh(quote).total == D("50.00")

    qs.quote_line_remove(user=rep, line=QuoteLine.objects.select_related("quote").get(pk=line.pk))
    assert _fresh(quote).total == D("0.00")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", "-2"),
        ("quantity", "0"),
        ("quantity", "lots"),
        ("unit_price", "-1"),
        ("discount_percent", "101"),
        ("discount_percent", "-1"),
        ("tax_percent", "100.5"),
    ],
)
def test_bad_quantities_prices_discounts_and_taxes_are_field_errors_and_save_nothing(
    rep, quote, field, value
):
    with pytest.raises(ValidationFailed) as error:
        _line(rep, quote, **{field: value})

    assert list(error.value.errors) == [field]
    assert not QuoteLine.objects.exists()
    assert _fresh(quote).total == D("0.00")


def test_a_sent_quote_cannot_be_changed(rep, quote):
    _line(rep, quote)
    qs.quote_send(user=rep, quote=_fresh(quote))

    with pytest.raises(ValidationFailed) as error:
        _line(rep, quote)
    assert "status" in error.value.errors
    with pytest.raises(ValidationFailed):
        qs.quote_update(user=rep, quote=_fresh(quote), name="Changed")


def test_a_user_without_edit_access_cannot_add_lines(quote, other_rep):
    with pytest.raises(PermissionDenied):
        qs.quote_line_add(
            user=other_rep, quote=quote, description="x", quantity="1", unit_price="1"
        )


# --- approval ---------------------------------------------------------------------------------


def test_a_discount_at_the_threshold_needs_no_approval_and_can_be_sent(rep, quote):
    _line(rep, quote, discount_percent="20")

    assert not qs.approval_required(_fresh(quote))
    sent, token = qs.quote_send(user=rep, quote=_fresh(quote))
    assert sent.status == QuoteStatus.SENT
    assert token
    with pytest.raises(ValidationFailed):
        qs.quote_submit_for_approval(user=rep, quote=_fresh(quote))


def test_a_discount_above_the_threshold_must_be_approved_before_sending(rep, quote, manager):
    _line(rep, quote, discount_percent="20.01")

    assert qs.approval_required(_fresh(quote))
    with pytest.raises(ValidationFailed) as error:
        qs.quote_send(user=rep, quote=_fresh(quote))
    assert "status" in error.value.errors

    pending = qs.quote_submit_for_approval(user=rep, quote=_fresh(quote))
    assert pending.status == QuoteStatus.PENDING_APPROVAL
    assert Notification.objects.filter(user=manager, url__contains=f"/quotes/{quote.pk}/").exists()

    approved = qs.quote_approve(user=manager, quote=_fresh(quote), note="Fine this once")
    assert approved.status == QuoteStatus.APPROVED
    assert approved.approver == manager
    assert qs.quote_send(user=rep, quote=_fresh(quote))[0].status == QuoteStatus.SENT


def test_only_the_owners_manager_may_approve(rep, other_rep, quote, manager, sales_roles):
    vp = UserFactory(role=sales_roles["vp"], email="vp@example.com")
    _line(rep, quote, discount_percent="50")
    qs.quote_submit_for_approval(user=rep, quote=_fresh(quote))

    for outsider in (rep, other_rep, vp):
        with pytest.raises(PermissionDenied):
            qs.quote_approve(user=outsider, quote=_fresh(quote))
    assert _fresh(quote).status == QuoteStatus.PENDING_APPROVAL


def test_a_rejected_quote_goes_back_to_draft_when_changed(rep, quote, manager):
    line = _line(rep, quote, discount_percent="50")
    qs.quote_submit_for_approval(user=rep, quote=_fresh(quote))
    rejected = qs.quote_reject(user=manager, quote=_fresh(quote), note="Too generous")
    assert rejected.status == QuoteStatus.REJECTED
    assert Notification.objects.filter(user=rep, title__contains="rejected").exists()

    line = QuoteLine.objects.select_related("quote").get(pk=line.pk)
    qs.quote_line_update(user=rep, line=line, discount_percent="10")
    assert _fresh(quote).status == QuoteStatus.DRAFT


def test_without_a_manager_submitting_says_who_must_fix_the_hierarchy(sales_roles, stages):
    vp = UserFactory(role=sales_roles["vp"], email="vp@example.com")
    quote = qs.quote_create_from_opportunity(user=vp, opportunity=deal_for(vp))
    _line(vp, quote, discount_percent="90")

    with pytest.raises(ValidationFailed) as error:
        qs.quote_submit_for_approval(user=vp, quote=_fresh(quote))
    assert "role hierarchy" in error.value.detail


def deal_for(user) -> Opportunity:
    from patron.contacts.services import account_create
    from patron.pipeline.services import opportunity_create

    account = account_create(user=user, name="Globex")
    return opportunity_create(
        user=user,
        name="Globex deal",
        account=account,
        currency="USD",
        amount=D("1"),
        close_date=datetime.date(2026, 12, 31),
    )


# --- the customer's link ----------------------------------------------------------------------


@pytest.fixture
def sent(rep, quote):
    _line(rep, quote, quantity="2", unit_price="500")
    return qs.quote_send(user=rep, quote=_fresh(quote))


def test_only_the_digest_of_the_link_is_stored(sent):
    quote, token = sent

    assert token not in quote.acceptance_token_digest
    assert quote.acceptance_token_digest == qs.token_digest(token)


def test_the_customer_accepts_once_and_the_owner_hears_of_it(sent, rep):
    quote, token = sent

    accepted = qs.quote_customer_respond(token=token, accept=True, name="Carla Customer")
    assert accepted.status == QuoteStatus.ACCEPTED
    assert accepted.customer_name == "Carla Customer"
    assert Notification.objects.filter(user=rep, title__contains="accepted").exists()

    with pytest.raises(ValidationFailed) as error:
        qs.quote_customer_respond(token=token, accept=False, name="Carla Customer")
    assert "already been answered" in error.value.detail
    assert _fresh(quote).status == QuoteStatus.ACCEPTED


def test_the_customer_may_decline_with_a_comment(sent):
    token = sent[1]

    declined = qs.quote_customer_respond(
        token=token, accept=False, name="Carla", comment="Too expensive"
    )
    assert (declined.status, declined.customer_comment) == (QuoteStatus.DECLINED, "Too expensive")


def test_a_wrong_link_is_not_found_and_an_expired_quote_is_refused(sent):
    quote, token = sent
    with pytest.raises(RecordNotFound):
        qs.quote_customer_respond(token=token + "x", accept=True, name="Carla")

    Quote.objects.filter(pk=quote.pk).update(
        valid_until=timezone.localdate() - datetime.timedelta(days=1)
    )
    with pytest.raises(ValidationFailed) as error:
        qs.quote_customer_respond(token=token, accept=True, name="Carla")
    assert "expired" in error.value.detail
    assert _fresh(quote).status == QuoteStatus.SENT


def test_the_daily_task_marks_sent_quotes_past_their_date_expired_once(sent):
    quote, _token = sent
    Quote.objects.filter(pk=quote.pk).update(
        valid_until=timezone.localdate() - datetime.timedelta(days=1)
    )
    assert expire_quotes.run() == 1
    assert _fresh(quote).status == QuoteStatus.EXPIRED
    assert expire_quotes.run() == 0


def test_a_sent_quote_still_valid_is_not_expired(sent):
    assert qs.quotes_expire() == 0
    assert _fresh(sent[0]).status == QuoteStatus.SENT


def test_quotes_are_found_by_global_search_by_number(rep, quote):
    hits = search(rep, quote.number, object_types=["orders.quote"])
    assert [hit.url for hit in hits] == [f"/quotes/{quote.pk}/"]


def test_the_customer_must_give_a_name(sent):
    with pytest.raises(ValidationFailed) as error:
        qs.quote_customer_respond(token=sent[1], accept=True, name="  ")
    assert list(error.value.errors) == ["name"]


def test_created_sent_and_accepted_show_on_the_opportunity_and_account_timelines(sent, rep, deal):
    token = sent[1]
    qs.quote_customer_respond(token=token, accept=True, name="Carla")

    for record in (deal, deal.account):
        kinds = [entry.kind for entry in timeline_page(user=rep, record=record).entries]
        assert {"quote_created", "quote_sent", "quote_accepted"} <= set(kinds)


# --- syncing and TCO --------------------------------------------------------------------------


def test_syncing_sets_the_opportunity_amount_to_the_quote_total(rep, quote, deal):
    _line(rep, quote, quantity="4", unit_price="250", tax_percent="10")

    synced = qs.quote_sync_to_opportunity(user=rep, quote=_fresh(quote))

    assert Opportunity.objects.get(pk=deal.pk).amount == D("1100.00")
    assert synced.synced_to_opportunity_at is not None


def test_tco_items_are_validated_and_set_a_default_span(rep, quote):
    item = qs.tco_item_add(
        user=rep, quote=quote, category="licence", amount="10000", recurrence="one_time"
    )
    assert item.pk
    assert _fresh(quote).tco_years == 3

    with pytest.raises(ValidationFailed) as error:
        qs.tco_item_add(
            user=rep,
            quote=_fresh(quote),
            category="maintenance",
            amount="-5",
            recurrence="yearly",
            start_year="3",
            end_year="2",
        )
    assert set(error.value.errors) == {"amount", "end_year"}


# --- pages ------------------------------------------------------------------------------------


def test_new_quote_from_the_opportunity_card_and_its_page_with_lines_and_tco(rep, deal):
    client = login(rep)
    opportunity_page = client.get(f"/opportunities/{deal.pk}/")
    assert f"/quotes/new/?opportunity={deal.pk}" in opportunity_page.content.decode()

    form = client.get(f"/quotes/new/?opportunity={deal.pk}")
    assert form.status_code == 200
    response = client.post("/quotes/new/", {"opportunity": deal.pk, "name": "", "terms": ""})
    quote = Quote.objects.get()
    assert response.status_code == 302
    assert quote.name == "Quote for Acme expansion"
    assert quote.terms == "Payment within 30 days."

    added = client.post(
        f"/quotes/{quote.pk}/lines/",
        {"description": "Setup", "quantity": "2", "unit_price": "150", "tax_percent": "10"},
    )
    assert added.status_code == 302
    client.post(
        f"/quotes/{quote.pk}/tco/",
        {"category": "support", "amount": "100", "recurrence": "monthly", "start_year": "1"},
    )
    page = client.get(f"/quotes/{quote.pk}/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "330.00 USD" in body
    assert '<title id="tco-chart-title">' in body
    assert "Send to the customer" in body
    assert quote.number in client.get(f"/opportunities/{deal.pk}/").content.decode()


def test_a_bad_line_on_the_page_is_a_422_naming_the_field_and_saves_nothing(rep, quote):
    response = login(rep).post(
        f"/quotes/{quote.pk}/lines/",
        {"description": "Setup", "quantity": "-1", "unit_price": "10", "discount_percent": "101"},
    )

    assert response.status_code == 422
    assert set(response.context["form"].errors) == {"quantity", "discount_percent"}
    assert not QuoteLine.objects.exists()


def test_sending_from_the_page_shows_the_customer_link_once(rep, quote):
    _line(rep, quote)
    client = login(rep)

    response = client.post(f"/quotes/{quote.pk}/send/")

    assert response.status_code == 200
    url = response.context["customer_url"]
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert _fresh(quote).acceptance_token_digest == qs.token_digest(token)
    assert token not in client.get(f"/quotes/{quote.pk}/").content.decode()


def test_the_manager_approves_from_the_quote_page(rep, quote, manager):
    _line(rep, quote, discount_percent="40")
    login(rep).post(f"/quotes/{quote.pk}/submit/")
    grant(manager.role, "orders.quote", "read")

    page = login(manager).get(f"/quotes/{quote.pk}/")
    assert "Approve" in page.content.decode()
    login(manager).post(f"/quotes/{quote.pk}/approve/", {"note": "OK"})

    assert _fresh(quote).status == QuoteStatus.APPROVED


def test_the_public_page_accepts_once_and_needs_no_sign_in(sent, client):
    quote, token = sent
    url = f"/q/{token}/"

    page = client.get(url)
    assert page.status_code == 200
    assert quote.number in page.content.decode()
    assert page["Referrer-Policy"] == "same-origin"

    missing_name = client.post(url, {"answer": "accept", "name": ""})
    assert missing_name.status_code == 422
    assert _fresh(quote).status == QuoteStatus.SENT

    client.post(url, {"answer": "accept", "name": "Carla", "comment": "Go"})
    assert _fresh(quote).status == QuoteStatus.ACCEPTED
    again = client.post(url, {"answer": "decline", "name": "Carla"})
    assert again.status_code == 422
    assert "This quote was accepted by Carla" in again.content.decode()
    assert _fresh(quote).status == QuoteStatus.ACCEPTED


def test_a_wrong_link_is_a_404_and_an_expired_quote_says_so(sent, client):
    quote, token = sent
    assert client.get(f"/q/{token[:-2]}xx/").status_code == 404

    Quote.objects.filter(pk=quote.pk).update(
        valid_until=timezone.localdate() - datetime.timedelta(days=1)
    )
    page = client.get(f"/q/{token}/")
    assert "expired" in page.content.decode()
    assert "Accept the quote" not in page.content.decode()


def test_the_list_filters_by_status_and_its_queries_do_not_grow_with_rows(rep, deal):
    client = login(rep)
    qs.quote_create_from_opportunity(user=rep, opportunity=deal, copy_lines=False)
    with CaptureQueriesContext(connection) as few:
        client.get("/quotes/")
    for _ in range(10):
        qs.quote_create_from_opportunity(user=rep, opportunity=deal, copy_lines=False)
    with assert_max_queries(len(few.captured_queries)):
        response = client.get("/quotes/")
    assert len(response.context["page"].rows) == 11
    assert not client.get("/quotes/?status=sent").context["page"].rows


def test_only_administrators_set_the_quote_rules(rep, admin):
    assert login(rep).get("/admin-area/quote-rules/").status_code == 403

    bad = login(admin).post(
        "/admin-area/quote-rules/",
        {"approval_discount_percent": "120", "default_validity_days": "14", "default_terms": ""},
    )
    assert bad.status_code == 422
    assert "approval_discount_percent" in bad.context["form"].errors

    login(admin).post(
        "/admin-area/quote-rules/",
        {
            "approval_discount_percent": "15",
            "default_validity_days": "14",
            "default_terms": "Net 14",
        },
    )
    policy = QuotePolicy.objects.get(pk=1)
    assert (policy.approval_discount_percent, policy.default_validity_days) == (D("15"), 14)


def test_quote_pages_and_endpoints_show_a_quote_only_to_who_may_see_it(rep, other_rep, quote):
    qs.quote_update(user=rep, quote=quote, name="Zanzibar quote")
    endpoints = [
        Endpoint("quote list page", "/quotes/", "list"),
        Endpoint("quote list page, filtered", "/quotes/?q=Zanzi", "list"),
        Endpoint("quote detail page", f"/quotes/{quote.pk}/", "detail"),
        Endpoint("quote edit page", f"/quotes/{quote.pk}/edit/", "detail"),
        Endpoint("API quote list", "/api/v1/quotes", "list"),
        Endpoint("API quote", f"/api/v1/quotes/{quote.pk}", "detail"),
        Endpoint("API quote lines", f"/api/v1/quotes/{quote.pk}/lines", "detail"),
        Endpoint("API quote TCO", f"/api/v1/quotes/{quote.pk}/tco", "detail"),
    ]
    check_visibility_matrix(endpoints, marker="Zanzibar quote", allowed=rep, denied=other_rep)


# --- API --------------------------------------------------------------------------------------


def test_the_api_creates_quotes_adds_lines_sends_and_reports_tco(rep, deal):
    client = api_client(rep)
    created = client.post("/api/v1/quotes", {"opportunity": deal.pk}, content_type=JSON)
    assert created.status_code == 201
    quote_id = created.json()["id"]
    assert created.json()["number"].startswith("Q-")

    line = client.post(
        f"/api/v1/quotes/{quote_id}/lines",
        {"description": "Licence", "quantity": "10", "unit_price": "99.5"},
        content_type=JSON,
    )
    assert line.status_code == 201
    assert line.json()["line_total"] == "995.00"

    client.post(
        f"/api/v1/quotes/{quote_id}/tco/items",
        {"category": "licence", "amount": "10000", "recurrence": "one_time"},
        content_type=JSON,
    )
    tco = client.get(f"/api/v1/quotes/{quote_id}/tco").json()
    assert tco["years"] == [1, 2, 3]
    assert tco["cumulative"] == ["10000.00", "10000.00", "10000.00"]

    sent = client.post(f"/api/v1/quotes/{quote_id}/send")
    assert sent.status_code == 200
    assert sent.json()["quote"]["status"] == "sent"
    assert "/q/" in sent.json()["customer_url"]
    assert "acceptance_token_digest" not in sent.json()["quote"]

    synced = client.post(f"/api/v1/quotes/{quote_id}/sync")
    assert synced.status_code == 200
    assert Opportunity.objects.get(pk=deal.pk).amount == D("995.00")


@pytest.mark.parametrize(
    ("field", "value"), [("quantity", "-1"), ("discount_percent", "101"), ("unit_price", "-3")]
)
def test_bad_api_lines_are_422_problems_naming_the_field(rep, quote, field, value):
    body = {"description": "x", "quantity": "1", "unit_price": "1", field: value}

    response = api_client(rep).post(
        f"/api/v1/quotes/{quote.pk}/lines", json.dumps(body), content_type=JSON
    )

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]
    assert not QuoteLine.objects.exists()


def test_approval_through_the_api_is_for_the_manager_only(rep, quote, manager):
    _line(rep, quote, discount_percent="30")
    grant(manager.role, "orders.quote", "read")
    rep_client = api_client(rep)

    refused = rep_client.post(f"/api/v1/quotes/{quote.pk}/send")
    assert refused.status_code == 422
    assert rep_client.post(f"/api/v1/quotes/{quote.pk}/submit").status_code == 200
    assert (
        rep_client.post(f"/api/v1/quotes/{quote.pk}/approve", {}, content_type=JSON).status_code
        == 403
    )

    approved = api_client(manager).post(
        f"/api/v1/quotes/{quote.pk}/approve", {"note": "ok"}, content_type=JSON
    )
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["approver"] == manager.pk


def test_the_list_exports_the_filtered_quotes_as_csv(rep, quote, deal):
    other = qs.quote_create_from_opportunity(user=rep, opportunity=deal, copy_lines=False)
    _line(rep, other)
    qs.quote_send(user=rep, quote=_fresh(other))
    client = login(rep)

    client.post("/quotes/export/", {"query": "status=sent"})
    job = Job.objects.get()
    export_csv_run(job_id=job.pk)
    body = client.get(f"/ui/jobs/{job.pk}/download/").getvalue().decode()

    assert other.number in body
    assert quote.number not in body


def test_the_tco_editor_sets_the_span_refuses_bad_costs_and_removes_items(rep, quote):
    client = login(rep)
    bad = client.post(
        f"/quotes/{quote.pk}/tco/",
        {"category": "licence", "amount": "-10", "recurrence": "one_time", "start_year": "1"},
    )
    assert bad.status_code == 422
    assert "amount" in bad.context["form"].errors

    client.post(
        f"/quotes/{quote.pk}/tco/",
        {"category": "maintenance", "amount": "2000", "recurrence": "yearly", "start_year": "1"},
    )
    client.post(f"/quotes/{quote.pk}/tco/settings/", {"tco_years": "5", "tco_in_pdf": "on"})
    assert (_fresh(quote).tco_years, _fresh(quote).tco_in_pdf) == (5, True)
    page = client.get(f"/quotes/{quote.pk}/")
    assert page.context["tco"].total == D("10000.00")

    item = _fresh(quote).tco_items.get()
    client.post(f"/quotes/{quote.pk}/tco/{item.pk}/remove/")
    assert not _fresh(quote).tco_items.exists()
