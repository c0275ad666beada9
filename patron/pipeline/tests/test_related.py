"""Contacts with roles, competitors, the team and revenue splits of an opportunity: the
services' rules, the cards on the opportunity page and the API."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from conftest import ALL_ACTIONS
from patron.contacts.competitor_services import competitor_create
from patron.contacts.services import contact_create
from patron.core.choices import OrgWideAccess
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import ChangeLogEntry
from patron.core.testing import (
    Endpoint,
    assert_max_queries,
    check_visibility_matrix,
    grant,
    set_org_default,
)
from patron.pipeline.choices import SplitType, TeamAccess
from patron.pipeline.models import OpportunityContact, OpportunityTeamMember, RevenueSplit
from patron.pipeline.related_services import (
    opportunity_competitor_add,
    opportunity_contact_add,
    opportunity_contact_update,
    opportunity_splits_replace,
    opportunity_team_add,
    opportunity_team_remove,
)
from patron.pipeline.services import opportunity_create
from patron.users.services import token_create

pytestmark = pytest.mark.django_db
JSON = "application/json"
MARKER = "Quintessa"


@pytest.fixture(autouse=True)
def competitor_access(sales_roles):
    for role in sales_roles.values():
        grant(role, "contacts.competitor", *ALL_ACTIONS)
    set_org_default("contacts.competitor", OrgWideAccess.PRIVATE)


@pytest.fixture
def deal(rep, acme, stages):
    return opportunity_create(
        user=rep,
        name=f"{MARKER} renewal",
        account=acme,
        close_date=datetime.date(2027, 3, 31),
        amount="50000",
        currency="USD",
    )


@pytest.fixture
def buyer(rep, acme):
    return contact_create(user=rep, first_name="Bea", last_name=f"{MARKER} Buyer", account=acme)


@pytest.fixture
def engineer(other_rep, deal, rep):
    opportunity_team_add(
        user=rep, opportunity=deal, member_user=other_rep, role="sales_engineer", access="edit"
    )
    return other_rep


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _api(user, scope="sales:write"):
    _, secret = token_create(user=user, name="test", scopes=[scope])
    client = Client()
    client.defaults.update({"HTTP_AUTHORIZATION": f"Bearer {secret}"})
    return client


# --- revenue splits ---------------------------------------------------------------------------


@pytest.mark.parametrize("second", ["39.99", "40.01"])
def test_a_split_that_does_not_total_exactly_100_is_refused_naming_the_total(
    rep, deal, engineer, second
):
    with pytest.raises(ValidationFailed) as error:
        opportunity_splits_replace(
            user=rep,
            opportunity=deal,
            split_type=SplitType.REVENUE,
            shares=[(rep, "60"), (engineer, second)],
        )
    total = Decimal("60") + Decimal(second)
    assert f"total {total} %" in " ".join(error.value.errors["shares"])
    assert not RevenueSplit.objects.exists()


def test_splits_total_100_per_type_and_replacing_one_type_keeps_the_other(rep, deal, engineer):
    opportunity_splits_replace(
        user=rep, opportunity=deal, split_type="revenue", shares=[(rep, "70"), (engineer, "30")]
    )
    overlay = opportunity_splits_replace(
        user=rep, opportunity=deal, split_type="overlay", shares=[(engineer, "100")]
    )
    assert [(s.user_id, s.percent) for s in overlay] == [(engineer.pk, Decimal("100.00"))]
    opportunity_splits_replace(
        user=rep,
        opportunity=deal,
        split_type="revenue",
        shares=[(rep, "33.33"), (engineer, "66.67")],
    )
    assert sorted(
        RevenueSplit.objects.filter(opportunity=deal).values_list("split_type", "percent")
    ) == [
        ("overlay", Decimal("100.00")),
        ("revenue", Decimal("33.33")),
        ("revenue", Decimal("66.67")),
    ]
    # An overlay of 100.01 is refused on its own, whatever the revenue split holds.
    with pytest.raises(ValidationFailed):
        opportunity_splits_replace(
            user=rep, opportunity=deal, split_type="overlay", shares=[(engineer, "100.01")]
        )


def test_each_share_is_above_0_at_most_100_and_held_by_the_owner_or_a_team_member(
    rep, deal, engineer, manager
):
    with pytest.raises(ValidationFailed) as error:
        opportunity_splits_replace(
            user=rep,
            opportunity=deal,
            split_type="revenue",
            shares=[(rep, "0"), (engineer, "100.5"), (manager, "abc"), (rep, "10")],
        )
    problems = " ".join(error.value.errors["shares"])
    assert "more than 0 and at most 100" in problems
    assert "not a percentage" in problems
    assert f"{manager} is not on the opportunity team" in problems
    assert f"{rep} appears twice" in problems


def test_an_empty_set_clears_the_split_and_the_change_is_logged(rep, deal, engineer):
    opportunity_splits_replace(
        user=rep, opportunity=deal, split_type="revenue", shares=[(rep, 100)]
    )
    opportunity_splits_replace(user=rep, opportunity=deal, split_type="revenue", shares=[])
    assert not RevenueSplit.objects.exists()
    logged = ChangeLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(deal), object_id=deal.pk
    ).values_list("changes", flat=True)
    assert {"revenue split": [f"{rep} 100.00 %", "none"]} in list(logged)


def test_a_member_holding_a_split_cannot_leave_the_team_until_it_is_given_away(rep, deal, engineer):
    opportunity_splits_replace(
        user=rep, opportunity=deal, split_type="overlay", shares=[(engineer, "100")]
    )
    member = OpportunityTeamMember.objects.get(opportunity=deal, user=engineer)
    with pytest.raises(ValidationFailed) as error:
        opportunity_team_remove(user=rep, member=member)
    assert "overlay share to others first" in error.value.errors["user"][0]
    opportunity_splits_replace(user=rep, opportunity=deal, split_type="overlay", shares=[])
    opportunity_team_remove(user=rep, member=member)
    assert not OpportunityTeamMember.objects.exists()


# --- contacts and competitors -----------------------------------------------------------------


def test_a_contact_from_another_users_private_list_is_refused(rep, other_rep, deal):
    hidden = contact_create(user=other_rep, last_name="Private Person")
    with pytest.raises(ValidationFailed) as error:
        opportunity_contact_add(user=rep, opportunity=deal, contact_id=hidden.pk, role="champion")
    assert error.value.errors["contact"] == ["Choose a contact you can see."]
    assert not OpportunityContact.objects.exists()


def test_the_first_contact_is_primary_and_making_another_primary_moves_it(rep, deal, buyer, acme):
    first = opportunity_contact_add(
        user=rep, opportunity=deal, contact_id=buyer.pk, role="economic_buyer"
    )
    champion = contact_create(user=rep, last_name="Champ", account=acme)
    second = opportunity_contact_add(
        user=rep, opportunity=deal, contact_id=champion.pk, role="champion", is_primary=True
    )
    first.refresh_from_db()
    assert (first.is_primary, second.is_primary) == (False, True)
    opportunity_contact_update(user=rep, contact_role=first, is_primary=True)
    second.refresh_from_db()
    assert list(
        OpportunityContact.objects.filter(is_primary=True).values_list("pk", flat=True)
    ) == [first.pk]
    with pytest.raises(ValidationFailed) as error:
        opportunity_contact_add(user=rep, opportunity=deal, contact_id=champion.pk, role="user")
    assert "already on this opportunity" in error.value.errors["contact"][0]


def test_a_competitor_the_user_cannot_see_is_refused(rep, other_rep, deal):
    hidden = competitor_create(user=other_rep, name="Secret Rival")
    with pytest.raises(ValidationFailed) as error:
        opportunity_competitor_add(user=rep, opportunity=deal, competitor_id=hidden.pk)
    assert error.value.errors["competitor"] == ["Choose a competitor you can see."]


def test_changing_what_hangs_off_an_opportunity_needs_edit_access(
    rep, other_rep, manager, deal, buyer
):
    with pytest.raises(PermissionDenied):
        opportunity_contact_add(user=other_rep, opportunity=deal, contact_id=buyer.pk, role="user")
    opportunity_team_add(
        user=rep, opportunity=deal, member_user=other_rep, role="specialist", access="read"
    )
    with pytest.raises(PermissionDenied):
        opportunity_splits_replace(
            user=other_rep, opportunity=deal, split_type="revenue", shares=[(rep, 100)]
        )
    # The manager above the owner in the hierarchy may.
    opportunity_contact_add(user=manager, opportunity=deal, contact_id=buyer.pk, role="user")


def test_the_owner_is_not_put_on_the_team_and_nobody_twice(rep, deal, engineer):
    for member in (rep, engineer):
        with pytest.raises(ValidationFailed) as error:
            opportunity_team_add(user=rep, opportunity=deal, member_user=member, role="other")
        assert "user" in error.value.errors


# --- the cards on the opportunity page --------------------------------------------------------


def test_the_page_shows_the_three_cards_with_their_rows_in_a_fixed_number_of_queries(
    rep, deal, buyer, engineer
):
    opportunity_contact_add(user=rep, opportunity=deal, contact_id=buyer.pk, role="champion")
    rival = competitor_create(user=rep, name="Vortexa")
    opportunity_competitor_add(user=rep, opportunity=deal, competitor_id=rival.pk, notes="Cheap")
    opportunity_splits_replace(
        user=rep, opportunity=deal, split_type="revenue", shares=[(rep, 80), (engineer, 20)]
    )
    client = _client(rep)
    url = f"/opportunities/{deal.pk}/"
    client.get(url)
    with assert_max_queries(60) as few:
        response = client.get(url)
    body = response.content.decode()
    assert response.status_code == 200
    for text in ("Contacts and roles", "Bea", "Champion", "Vortexa", "Team and splits"):
        assert text in body
    assert "80.00 %" in body
    assert str(engineer) in body
    for index in range(5):
        other = contact_create(user=rep, last_name=f"Extra {index}", account=deal.account)
        opportunity_contact_add(user=rep, opportunity=deal, contact_id=other.pk, role="user")
        opportunity_team_add(
            user=rep,
            opportunity=deal,
            member_user=type(rep).objects.create(email=f"x{index}@example.com"),
            role="other",
        )
    with assert_max_queries(len(few.captured_queries)):
        client.get(url)


def test_adding_a_contact_on_the_card_redirects_back_to_the_card(rep, deal, buyer):
    response = _client(rep).post(
        f"/opportunities/{deal.pk}/contacts/add/",
        {"contact": buyer.pk, "role": "decision_maker"},
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"/opportunities/{deal.pk}/#opp-contacts-title")
    assert OpportunityContact.objects.get().role == "decision_maker"


def test_a_split_form_that_does_not_total_100_answers_422_keeping_what_was_typed(
    rep, deal, engineer
):
    response = _client(rep).post(
        f"/opportunities/{deal.pk}/splits/revenue/",
        {f"share_{rep.pk}": "60", f"share_{engineer.pk}": "39.99"},
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert "total 99.99 %" in body
    assert 'value="39.99"' in body
    assert not RevenueSplit.objects.exists()


def test_a_team_member_with_read_access_sees_the_cards_without_forms(rep, other_rep, deal):
    opportunity_team_add(
        user=rep, opportunity=deal, member_user=other_rep, role="specialist", access="read"
    )
    body = _client(other_rep).get(f"/opportunities/{deal.pk}/").content.decode()
    assert "Team and splits" in body
    assert "Add to team" not in body
    response = _client(other_rep).post(
        f"/opportunities/{deal.pk}/team/add/", {"user": rep.pk, "role": "other", "access": "read"}
    )
    assert response.status_code == 403


# --- the API ----------------------------------------------------------------------------------


def test_api_contacts_round_trip(rep, deal, buyer):
    api = _api(rep)
    base = f"/api/v1/opportunities/{deal.pk}/contacts"
    created = api.post(
        base, json.dumps({"contact": buyer.pk, "role": "champion"}), content_type=JSON
    )
    assert created.status_code == 201, created.content
    link = created.json()
    assert link["is_primary"] is True
    changed = api.patch(f"{base}/{link['id']}", json.dumps({"role": "user"}), content_type=JSON)
    assert changed.json()["role"] == "user"
    assert [row["contact"] for row in api.get(base).json()] == [buyer.pk]
    assert api.delete(f"{base}/{link['id']}").status_code == 204
    assert api.get(base).json() == []


def test_api_replaces_splits_as_a_set_and_refuses_a_wrong_total_with_422(rep, deal, engineer):
    api = _api(rep)
    url = f"/api/v1/opportunities/{deal.pk}/splits/revenue"
    bad = api.put(
        url,
        json.dumps(
            {
                "shares": [
                    {"user": rep.pk, "percent": "50"},
                    {"user": engineer.pk, "percent": "50.01"},
                ]
            }
        ),
        content_type=JSON,
    )
    assert bad.status_code == 422
    assert "total 100.01 %" in json.dumps(bad.json())
    good = api.put(
        url,
        json.dumps(
            {"shares": [{"user": rep.pk, "percent": 75}, {"user": engineer.pk, "percent": 25}]}
        ),
        content_type=JSON,
    )
    assert good.status_code == 200
    assert api.get(url).json()["shares"][0] == {
        "user": rep.pk,
        "user_name": str(rep),
        "percent": "75.00",
    }
    assert api.get(f"/api/v1/opportunities/{deal.pk}/splits/bonus").status_code == 422


def test_api_team_and_competitors_need_edit_access_and_a_sales_token(rep, other_rep, deal):
    rival = competitor_create(user=rep, name="Vortexa")
    url = f"/api/v1/opportunities/{deal.pk}/competitors"
    assert _api(rep, "contacts:write").get(url).status_code == 403
    created = _api(rep).post(url, json.dumps({"competitor": rival.pk}), content_type=JSON)
    assert created.status_code == 201
    team = _api(rep).post(
        f"/api/v1/opportunities/{deal.pk}/team",
        json.dumps({"user": other_rep.pk, "role": "sales_engineer", "access": TeamAccess.READ}),
        content_type=JSON,
    )
    assert team.status_code == 201
    refused = _api(other_rep).post(url, json.dumps({"competitor": rival.pk}), content_type=JSON)
    assert refused.status_code == 403


def test_visibility_matrix_of_the_related_lists(rep, other_rep, deal, buyer):
    opportunity_contact_add(user=rep, opportunity=deal, contact_id=buyer.pk, role="champion")
    base = f"/api/v1/opportunities/{deal.pk}"
    check_visibility_matrix(
        [
            Endpoint("opportunity page", f"/opportunities/{deal.pk}/", "detail"),
            Endpoint("contacts API", f"{base}/contacts", "detail"),
            Endpoint("competitors API", f"{base}/competitors", "detail"),
            Endpoint("team API", f"{base}/team", "detail"),
            Endpoint("splits API", f"{base}/splits/revenue", "detail"),
        ],
        marker=MARKER,
        allowed=rep,
        denied=other_rep,
    )


def test_a_team_member_sees_only_the_contacts_they_may_see(rep, other_rep, deal, buyer):
    opportunity_contact_add(user=rep, opportunity=deal, contact_id=buyer.pk, role="champion")
    opportunity_team_add(user=rep, opportunity=deal, member_user=other_rep, role="other")
    url = f"/api/v1/opportunities/{deal.pk}/contacts"
    assert [row["contact"] for row in _api(rep, "sales:read").get(url).json()] == [buyer.pk]
    assert _api(other_rep, "sales:read").get(url).json() == []
    page = _client(other_rep).get(f"/opportunities/{deal.pk}/").content.decode()
    card = page.split('id="opp-contacts-title"')[1].split("</section>")[0]
    assert "No contacts on this opportunity yet" in card


def test_an_add_contact_form_with_bad_input_answers_422_with_the_errors(rep, deal, buyer):
    response = _client(rep).post(
        f"/opportunities/{deal.pk}/contacts/add/", {"contact": buyer.pk, "role": "boss"}
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert "Select a valid choice" in body
    assert f'<option value="{buyer.pk}" selected>' in body
    assert not OpportunityContact.objects.exists()
