"""Quotes: totals, bad input, the approval threshold and who approves, sending, the
customer's link (accept, decline, expired, answered twice), the timeline, syncing the amount,
TCO items, the pages, the API, access and query counts."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from patron.core.choices import OrgWideAccess
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.models import Notification
from patron.core.testing import (
    grant,
    set_org_default,
)
from patron.core.timeline import timeline_page
from patron.orders import quote_services as qs
from patron.orders.choices import QuoteStatus
from patron.orders.models import OpportunityLineItem, Quote, QuoteLine, QuotePolicy
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
