"""Data quality: per object, counts of records missing key fields or breaking validation
rules (one SQL aggregate per object), limited to what the user may see, drilling down to the
object's list (with bulk edit) and through the API."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db.models import Q
from django.test import Client
from django.utils import timezone

from conftest import ALL_ACTIONS
from patron.activities.choices import ActivityKind
from patron.activities.models import Activity
from patron.activities.services import activity_create
from patron.contacts.models import Account, Contact
from patron.contacts.services import account_create, contact_create
from patron.contacts.tests.test_api import bearer
from patron.core.models import FieldPermission
from patron.core.quality import (
    _CHECKS,
    MISSING,
    QualityCheck,
    quality_counts,
    register_quality_check,
)
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix, grant
from patron.leads.models import Lead
from patron.leads.services import lead_create
from patron.pipeline.models import Opportunity
from patron.pipeline.services import opportunity_create
from patron.pipeline.tests.conftest import make_pipeline
from patron.users.tests.factories import UserFactory, make_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def all_roles(sales_roles):
    for role in sales_roles.values():
        for object_type in ("pipeline.opportunity", "activities.activity", "leads.lead"):
            grant(role, object_type, *ALL_ACTIONS)
    return sales_roles


@pytest.fixture
def messy(rep, all_roles):
    """Records of ``rep`` with known problems (bad values written as an old import would)."""
    contact_create(user=rep, last_name="Nobody")  # no email, no phone
    bad_email = contact_create(user=rep, last_name="Typo", email="ok@example.com")
    Contact.objects.filter(pk=bad_email.pk).update(email="typo@example")
    bad_phone = contact_create(user=rep, last_name="Digits", email="d@example.com")
    Contact.objects.filter(pk=bad_phone.pk).update(phone="12 34")
    contact_create(user=rep, last_name="Fine", email="fine@example.com", phone="+442079460000")
    account_create(user=rep, name="No industry", billing_country="GB")
    complete = account_create(user=rep, name="Complete", industry="Retail", billing_country="GB")
    account_create(user=rep, name="Nothing")  # no industry, no country
    stages = {stage.name: stage for stage in make_pipeline().stages.all()}
    past = timezone.localdate() - datetime.timedelta(days=10)
    opportunity_create(
        user=rep, name="Stale", account=complete, close_date=past, amount=Decimal("10")
    )
    no_amount = opportunity_create(
        user=rep, name="No amount", account=complete, close_date=past + datetime.timedelta(40)
    )
    negative = opportunity_create(
        user=rep,
        name="Negative",
        account=complete,
        close_date=past + datetime.timedelta(days=40),
        amount=Decimal("5"),
    )
    Opportunity.objects.filter(pk=negative.pk).update(amount=Decimal("-5"))
    won = opportunity_create(
        user=rep, name="Won long ago", account=complete, close_date=past, amount=Decimal("9")
    )
    Opportunity.objects.filter(pk=won.pk).update(is_closed=True, stage=stages["Won"])
    lead_create(user=rep, data={"last_name": "Anon", "company": "Initech"})  # no email
    lead_create(user=rep, data={"last_name": "Solo", "email": "solo@example.com"})  # no company
    activity_create(user=rep, kind=ActivityKind.TASK, subject="Someday", status="open")
    activity_create(
        user=rep,
        kind=ActivityKind.TASK,
        subject="Late",
        status="open",
        due_at=timezone.now() - datetime.timedelta(days=3),
    )
    return {"no_amount": no_amount, "negative": negative}


def _counts(user) -> dict[str, int]:
    return {check.key: count for check, count in quality_counts(user)}


def test_counts_match_the_records_with_each_problem(rep, messy):
    counts = _counts(rep)
    assert counts["contact_no_reach"] == 1
    assert counts["contact_bad_email"] == 1
    assert counts["contact_bad_phone"] == 1
    assert counts["account_no_industry"] == 2
    assert counts["account_no_country"] == 1
    assert counts["opportunity_past_close_date"] == 1  # the won one is closed
    assert counts["opportunity_no_amount"] == 1
    assert counts["opportunity_negative_amount"] == 1
    assert counts["lead_no_email"] == 1
    assert counts["lead_no_company"] == 1
    assert counts["task_no_due_date"] == 1
    assert counts["task_overdue"] == 1
    assert counts["appointment_ends_before_start"] == 0


def test_each_count_agrees_with_its_checks_condition(rep, messy):
    """The aggregate counts what filtering by the check's condition lists."""
    for check, count in quality_counts(rep):
        rows = check.model.objects.visible_to(rep).filter(check.condition())
        assert rows.count() == count, check.key


def test_counts_take_one_query_per_object_type(rep, messy):
    quality_counts(rep)  # warm the user's permission caches
    # Per object type: its hidden fields and one aggregate.
    with assert_max_queries(12) as queries:
        counts = quality_counts(rep)
    aggregates = [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(aggregates) == len({check.object_type for check, _count in counts})


def test_counts_only_cover_records_the_user_may_see(rep, other_rep, messy):
    counts = _counts(other_rep)
    assert counts["contact_no_reach"] == 0
    assert counts["account_no_industry"] == 0


def test_objects_the_role_may_not_read_are_left_out(messy):
    role = make_role("Contacts only")
    grant(role, "contacts.contact", "read")
    keys = {check.key for check, _count in quality_counts(UserFactory(role=role))}
    assert "contact_no_reach" in keys
    assert not any(key.startswith(("account_", "opportunity_", "lead_")) for key in keys)


def test_a_check_over_a_hidden_field_is_left_out(rep, manager, sales_roles, messy):
    """Its records would tell what the hidden field holds (annual revenue is sensitive)."""
    check = QualityCheck(
        key="test_account_no_revenue",
        model=Account,
        label="Accounts without annual revenue",
        kind=MISSING,
        condition=lambda: Q(annual_revenue__isnull=True),
        fields=("annual_revenue",),
    )
    register_quality_check(check)
    try:
        FieldPermission.objects.create(
            role=sales_roles["rep"],
            object_type="contacts.account",
            field="annual_revenue",
            access="hidden",
        )
        assert "test_account_no_revenue" not in _counts(rep)
        client = Client(headers=bearer(rep, "data:read"))
        assert client.get("/api/v1/data/quality/test_account_no_revenue").status_code == 403
        FieldPermission.objects.create(
            role=sales_roles["manager"],
            object_type="contacts.account",
            field="annual_revenue",
            access="read_only",
        )
        # The manager may read the field and sees the rep's accounts.
        assert _counts(manager)["test_account_no_revenue"] == 3
    finally:
        del _CHECKS[check.key]


def test_quality_page_lists_counts_that_link_to_the_filtered_list(client, rep, messy):
    client.force_login(rep)
    with assert_max_queries(20):
        response = client.get("/data/quality/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Accounts without an industry" in html
    assert 'href="/accounts/?quality=account_no_industry"' in html
    listing = client.get("/accounts/?quality=account_no_industry")
    names = sorted(str(row) for row in listing.context["page"].rows)
    assert names == ["No industry", "Nothing"]
    page = listing.content.decode()
    assert 'id="quality-filter"' in page
    assert 'name="quality" value="account_no_industry"' in page
    # Another object's check does not narrow this list.
    other = client.get("/accounts/?quality=contact_no_reach")
    assert len(other.context["page"].rows) == 3


def test_bulk_edit_from_the_drill_down_fixes_the_records(client, rep, messy):
    client.force_login(rep)
    listing = client.get("/accounts/?quality=account_no_industry")
    ids = [row.pk for row in listing.context["page"].rows]
    back = "/accounts/?quality=account_no_industry"
    response = client.post(
        "/accounts/bulk/", {"ids": ids, "action": "edit", "industry": "Retail", "next": back}
    )
    assert response.status_code == 302
    assert response.url == back
    assert _counts(rep)["account_no_industry"] == 0
    assert set(Account.objects.filter(pk__in=ids).values_list("industry", flat=True)) == {"Retail"}
    assert client.get(back).context["page"].rows == []
    # Opportunities past their close date get a new one the same way.
    stale = Opportunity.objects.filter(name="Stale").values_list("pk", flat=True)
    new_date = (timezone.localdate() + datetime.timedelta(days=30)).isoformat()
    client.post(
        "/opportunities/bulk/",
        {"ids": list(stale), "action": "edit", "close_date": new_date},
    )
    assert _counts(rep)["opportunity_past_close_date"] == 0


def test_quality_list_query_count_does_not_grow_with_rows(client, rep, messy):
    client.force_login(rep)
    client.get("/contacts/?quality=contact_no_reach")
    with assert_max_queries(30) as few:
        client.get("/contacts/?quality=contact_no_reach")
    for index in range(10):
        contact_create(user=rep, last_name=f"Nobody {index}")
    with assert_max_queries(len(few.captured_queries)):
        response = client.get("/contacts/?quality=contact_no_reach")
    assert len(response.context["page"].rows) == 11


def test_api_counts_and_record_ids(rep, messy):
    client = Client(headers=bearer(rep, "data:read"))
    with assert_max_queries(20):
        response = client.get("/api/v1/data/quality")
    assert response.status_code == 200
    checks = {check["key"]: check for check in response.json()["checks"]}
    assert checks["opportunity_negative_amount"]["count"] == 1
    assert checks["opportunity_negative_amount"]["list_url"] == (
        "/opportunities/?quality=opportunity_negative_amount"
    )
    with assert_max_queries(20):
        detail = client.get("/api/v1/data/quality/opportunity_negative_amount")
    body = detail.json()
    assert detail.status_code == 200
    assert [item["id"] for item in body["items"]] == [messy["negative"].pk]
    assert body["check"]["fields"] == ["amount"]
    assert body["next_cursor"] is None


def test_api_pages_the_record_ids(rep, messy):
    for index in range(4):
        contact_create(user=rep, last_name=f"Blank {index}")
    client = Client(headers=bearer(rep, "data:read"))
    first = client.get("/api/v1/data/quality/contact_no_reach?limit=3").json()
    second = client.get(
        f"/api/v1/data/quality/contact_no_reach?limit=3&cursor={first['next_cursor']}"
    ).json()
    ids = [item["id"] for item in first["items"] + second["items"]]
    expected = (
        Contact.objects.filter(email="", phone="").order_by("pk").values_list("pk", flat=True)
    )
    assert ids == list(expected)
    assert second["next_cursor"] is None


def test_api_refuses_unknown_and_forbidden_checks(rep, messy):
    client = Client(headers=bearer(rep, "data:read"))
    missing = client.get("/api/v1/data/quality/no_such_check")
    assert missing.status_code == 404
    assert missing["Content-Type"].startswith("application/problem+json")
    role = make_role("Leads only")
    grant(role, "leads.lead", "read")
    outsider = Client(headers=bearer(UserFactory(role=role), "data:read"))
    assert outsider.get("/api/v1/data/quality/account_no_industry").status_code == 403
    assert outsider.get("/api/v1/data/quality/lead_no_email").status_code == 200
    bad = client.get("/api/v1/data/quality/lead_no_email?limit=0")
    assert bad.status_code == 422
    wrong_scope = Client(headers=bearer(rep, "contacts:read"))
    assert wrong_scope.get("/api/v1/data/quality").status_code == 403


def test_a_later_app_adds_its_own_check(rep, messy):
    check = QualityCheck(
        key="test_lead_no_phone",
        model=Lead,
        label="Leads without a phone",
        kind=MISSING,
        condition=lambda: Q(phone=""),
        fields=("phone",),
    )
    register_quality_check(check)
    try:
        assert _counts(rep)["test_lead_no_phone"] == 2
    finally:
        del _CHECKS[check.key]
    with pytest.raises(ValueError, match="kind must be one of"):
        register_quality_check(QualityCheck("x", Lead, "x", "odd", lambda: Q(), fields=("phone",)))


def test_visibility_matrix_of_the_quality_pages(rep, other_rep, all_roles):
    marked = account_create(user=rep, name="Marker-5521 Ltd")
    Account.objects.filter(pk=marked.pk).update(industry="")
    check_visibility_matrix(
        [
            Endpoint("quality drill-down", "/accounts/?quality=account_no_industry", "list"),
            Endpoint(
                "quality API records",
                "/api/v1/data/quality/account_no_industry",
                "list",
            ),
        ],
        marker="Marker-5521",
        allowed=rep,
        denied=other_rep,
    )


def test_quality_page_needs_sign_in(client):
    response = client.get("/data/quality/")
    assert response.status_code == 302
    assert "/login/" in response.url


def test_appointments_ending_before_they_start_are_found(rep, all_roles):
    start = timezone.now() + datetime.timedelta(days=1)
    appointment = activity_create(
        user=rep,
        kind=ActivityKind.APPOINTMENT,
        subject="Backwards",
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=1),
    )
    Activity.objects.filter(pk=appointment.pk).update(ends_at=start - datetime.timedelta(hours=1))
    assert _counts(rep)["appointment_ends_before_start"] == 1
