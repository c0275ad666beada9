"""Leads at risk (page, CSV, API: reasons, filters, query counts, visibility) and the lead
settings (validation in the service, the page and the API)."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from patron.activities.models import Activity, ActivityLink
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix
from patron.leads.models import Lead
from patron.leads.policy_filters import AtRiskFilter
from patron.leads.policy_services import lead_settings, lead_settings_update
from patron.leads.policy_views import at_risk_filterset
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

AT_RISK_URL = "/leads/at-risk/"
AT_RISK_API = "/api/v1/leads-at-risk"


def ago(**delta):
    return timezone.now() - datetime.timedelta(**delta)


def soon(**delta):
    return timezone.now() + datetime.timedelta(**delta)


def make_lead(owner, name, **fields):
    # A lead last changed when it was created, unless the test says otherwise.
    fields.setdefault("updated_at", fields.get("created_at", timezone.now()))
    return Lead.objects.create(owner=owner, last_name=name, **fields)


@pytest.fixture
def risky(lead_roles, rep, other_rep):
    """One lead per reason for ``rep``, one fine lead, and one of ``other_rep``'s."""
    routed = {"routed_at": ago(hours=1), "created_at": ago(hours=1)}
    return {
        "unrouted": make_lead(rep, "Unrouted", created_at=ago(minutes=30)),
        "fresh": make_lead(rep, "Fresh", created_at=ago(minutes=1)),
        "overdue": make_lead(rep, "Overdue", first_response_due_at=ago(minutes=20), **routed),
        "due_soon": make_lead(rep, "Duesoon", first_response_due_at=soon(minutes=10), **routed),
        "later": make_lead(rep, "Later", first_response_due_at=soon(minutes=50), **routed),
        "answered": make_lead(
            rep,
            "Answered",
            first_response_due_at=ago(minutes=20),
            first_responded_at=ago(minutes=40),
            **routed,
        ),
        "untouched": make_lead(
            rep,
            "Untouched",
            first_responded_at=ago(days=20),
            routed_at=ago(days=20),
            created_at=ago(days=20),
            updated_at=ago(days=10),
        ),
        "closed": make_lead(
            rep,
            "Closed",
            status="disqualified",
            disqualification_reason="spam",
            created_at=ago(hours=2),
        ),
        "others": make_lead(
            other_rep, "Othersoverdue", first_response_due_at=ago(minutes=5), **routed
        ),
    }


def names(rows):
    return sorted(lead.last_name for lead in rows)


def test_at_risk_lists_each_reason_and_nothing_else(risky, rep):
    rows = at_risk_filterset(rep, {}).qs
    assert names(rows) == ["Duesoon", "Overdue", "Unrouted", "Untouched"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"reason": "overdue"}, ["Overdue"]),
        ({"reason": "unrouted"}, ["Unrouted"]),
        ({"reason": "due_soon", "due_within": "60"}, ["Duesoon", "Later"]),
        ({"reason": "untouched", "untouched_days": "30"}, []),
        ({"overdue_by": "15"}, ["Overdue"]),
        ({"overdue_by": "30"}, []),
    ],
)
def test_at_risk_filters(risky, rep, params, expected):
    assert names(at_risk_filterset(rep, params).qs) == expected


def test_an_activity_logged_recently_means_touched(risky, rep):
    from django.contrib.contenttypes.models import ContentType

    activity = Activity.objects.create(
        owner=rep, kind="note", subject="", occurred_at=timezone.now()
    )
    ActivityLink.objects.create(
        activity=activity,
        content_type=ContentType.objects.get_for_model(Lead),
        object_id=risky["untouched"].pk,
    )
    assert "Untouched" not in names(at_risk_filterset(rep, {"reason": "untouched"}).qs)


def test_mine_and_owner_filters(risky, rep, other_rep, admin_user):
    everything = at_risk_filterset(admin_user, {}).qs
    assert "Othersoverdue" in names(everything)
    assert names(at_risk_filterset(admin_user, {"owner": str(other_rep.pk)}).qs) == [
        "Othersoverdue"
    ]
    assert names(at_risk_filterset(admin_user, {"mine": "true"}).qs) == []


def test_bad_filters_are_named(risky, rep):
    filterset = at_risk_filterset(rep, {"reason": "bored", "overdue_by": "-3"})
    assert not filterset.is_valid()
    assert set(filterset.errors) == {"reason", "overdue_by"}


def test_at_risk_page_shows_reasons_and_deadlines(risky, rep, client):
    client.force_login(rep)
    response = client.get(AT_RISK_URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert "First response overdue" in html
    assert "Overdue by 20 min" in html
    assert "Not assigned in time" in html
    assert "Untouched" in html
    assert "Othersoverdue" not in html
    bad = client.get(AT_RISK_URL, {"overdue_by": "soon"})
    assert bad.status_code == 422


def test_at_risk_page_and_api_query_counts_do_not_grow_with_rows(lead_roles, rep, client):
    for i in range(30):
        make_lead(rep, f"Late{i}", first_response_due_at=ago(minutes=i + 1), routed_at=ago(hours=1))
    client.force_login(rep)
    client.get(AT_RISK_URL)  # warm the session and content-type caches
    with assert_max_queries(13):
        response = client.get(AT_RISK_URL)
    assert response.content.decode().count('<th scope="row">') == 25
    with assert_max_queries(10):
        body = client.get(AT_RISK_API, {"limit": 20}).json()
    assert len(body["items"]) == 20
    following = client.get(AT_RISK_API, {"limit": 20, "cursor": body["next_cursor"]}).json()
    assert len(following["items"]) == 10
    assert following["next_cursor"] is None
    seen = {item["id"] for item in body["items"]} | {item["id"] for item in following["items"]}
    assert len(seen) == 30


def test_at_risk_csv_has_the_filtered_rows(risky, rep, client):
    client.force_login(rep)
    response = client.get(reverse("lead_policy:at_risk_export"), {"reason": "overdue"})
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("lead_id,name,company")
    assert len(lines) == 2
    assert "Overdue" in lines[1]
    assert "overdue" in lines[1]


def test_at_risk_api_items_and_errors(risky, rep, client):
    client.force_login(rep)
    items = client.get(AT_RISK_API, {"sort": "-due"}).json()["items"]
    by_name = {item["name"]: item for item in items}
    assert by_name["Overdue"]["reasons"] == ["overdue"]
    assert by_name["Duesoon"]["reasons"] == ["due_soon"]
    assert client.get(AT_RISK_API, {"colour": "red"}).status_code == 422
    assert client.get(AT_RISK_API, {"sort": "shoe"}).status_code == 422


def test_at_risk_visibility_matrix(risky, rep, other_rep, sales_roles):
    stranger = UserFactory(role=sales_roles["rep"])
    check_visibility_matrix(
        [
            Endpoint("page", AT_RISK_URL, "list"),
            Endpoint("csv", "/leads/at-risk/export/", "list"),
            Endpoint("api", AT_RISK_API, "list"),
            Endpoint("score api", f"/api/v1/leads/{risky['others'].pk}/score", "detail"),
        ],
        marker="Othersoverdu",
        allowed=other_rep,
        denied=stranger,
    )


def test_a_role_without_lead_access_is_refused(risky, client):
    outsider = UserFactory()
    client.force_login(outsider)
    assert client.get(AT_RISK_URL).status_code == 403
    assert client.get(AT_RISK_API).status_code == 403


def test_saved_views_of_the_at_risk_list(risky, rep, client):
    client.force_login(rep)
    response = client.post(
        reverse("lead_policy:at_risk_save_view"), {"name": "Overdue", "query": "reason=overdue"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"], follow=True)
    assert "Saved view: <strong>Overdue</strong>" in page.content.decode()


# --- settings ---------------------------------------------------------------------------------


def test_settings_are_validated_and_named(admin_user):
    with pytest.raises(ValidationFailed) as caught:
        lead_settings_update(
            user=admin_user,
            assign_within_minutes=0,
            first_response_minutes="soon",
            extra_public_domains=["mail.example", "not a domain"],
            model_refit_days=400,
        )
    assert set(caught.value.errors) == {
        "assign_within_minutes",
        "first_response_minutes",
        "extra_public_domains",
        "model_refit_days",
    }
    assert lead_settings().assign_within_minutes == 5


def test_settings_update_cleans_domains(admin_user, rep):
    row = lead_settings_update(
        user=admin_user,
        extra_public_domains="Mail.Example\nhttps://www.post.example/x, mail.example",
    )
    assert row.extra_public_domains == ["mail.example", "post.example"]
    with pytest.raises(PermissionDenied):
        lead_settings_update(user=rep, hot_score=10)


def test_settings_page_and_api(admin_user, rep, client):
    client.force_login(admin_user)
    page = client.post(
        reverse("lead_policy:settings"),
        {
            "assign_within_minutes": "0",
            "first_response_minutes": "30",
            "hot_score": "40",
            "model_refit_days": "7",
            "extra_public_domains": "",
        },
    )
    assert page.status_code == 422
    assert "between 1 and 1440" in page.content.decode()
    api = client.patch(
        "/api/v1/lead-settings",
        {"first_response_minutes": 30, "hot_score": 40},
        content_type="application/json",
    )
    assert api.status_code == 200
    assert api.json()["first_response_minutes"] == 30
    bad = client.patch(
        "/api/v1/lead-settings", {"hot_score": None, "speed": 3}, content_type="application/json"
    )
    assert bad.status_code == 422
    client.force_login(rep)
    assert client.get("/api/v1/lead-settings").status_code == 403
    assert client.get(reverse("lead_policy:settings")).status_code == 403


def test_filterset_is_shared_by_page_and_api():
    assert set(AtRiskFilter.base_filters) == {
        "reason",
        "owner",
        "mine",
        "queue",
        "overdue_by",
        "due_within",
        "untouched_days",
    }
