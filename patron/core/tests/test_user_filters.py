"""UserRefFilter: owner, assignee and member filters take any user id, departed users too,
and check it without a query (issue 8, benchmark 1)."""

from __future__ import annotations

import re

import django_filters
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver

from patron.activities.filters import ActivityFilter
from patron.activities.models import Activity
from patron.activities.services import activity_create
from patron.contacts.competitor_filters import CompetitorFilter
from patron.contacts.filters import AccountFilter, ContactFilter
from patron.contacts.models import Account, Competitor, Contact
from patron.contacts.services import contact_create
from patron.core.api.testing import assert_problem
from patron.core.filters import LARGEST_INTEGER, FilterContext, UserRefFilter
from patron.leads.filters import LeadFilter
from patron.leads.models import Lead
from patron.orders.filters import ProductFilter
from patron.orders.models import Product, Quote
from patron.orders.quote_filters import QuoteFilter
from patron.pipeline.filters import OpportunityFilter
from patron.pipeline.models import Opportunity
from patron.routing.filters import DecisionFilter, QueueFilter
from patron.routing.models import AssignmentDecision, RoutingQueue
from patron.users.models import User
from patron.users.services import token_create
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

USER_FILTERS = [
    (AccountFilter, Account, "owner"),
    (ContactFilter, Contact, "owner"),
    (ActivityFilter, Activity, "owner"),
    (ActivityFilter, Activity, "assignee"),
    (ActivityFilter, Activity, "involves"),
    (LeadFilter, Lead, "owner"),
    (ProductFilter, Product, "owner"),
    (OpportunityFilter, Opportunity, "owner"),
    (QueueFilter, RoutingQueue, "member"),
    (DecisionFilter, AssignmentDecision, "assigned_user"),
    (DecisionFilter, AssignmentDecision, "actor"),
    (CompetitorFilter, Competitor, "owner"),
    (QuoteFilter, Quote, "owner"),
]


MODEL_CHOICE_FILTERS = (django_filters.ModelChoiceFilter, django_filters.ModelMultipleChoiceFilter)


def _filtersets(base: type[django_filters.FilterSet]) -> list[type[django_filters.FilterSet]]:
    found = []
    for subclass in base.__subclasses__():
        found += [subclass, *_filtersets(subclass)]
    return found


def test_no_filterset_limits_a_user_filter_to_active_users():
    # A ModelChoiceFilter over active users refuses a departed rep's id and loads the row.
    get_resolver().url_patterns  # noqa: B018 - loading the URLconf imports every FilterSet
    over_users = sorted(
        f"{filterset.__module__}.{filterset.__name__}.{name}"
        for filterset in _filtersets(django_filters.FilterSet)
        for name, item in filterset.base_filters.items()
        if isinstance(item, MODEL_CHOICE_FILTERS)
        and getattr(item.queryset, "model", None) is User
    )
    assert over_users == []


def _departed(user: User) -> User:
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.refresh_from_db()
    return user


@pytest.fixture
def departed_contacts(rep, other_rep):
    """Two contacts of a rep who has since left, and one of a colleague who stays."""
    for name in ("Adams", "Baker"):
        contact_create(user=other_rep, last_name=name)
    contact_create(user=rep, last_name="Stays")
    return _departed(other_rep)


def _bearer_client(user: User) -> Client:
    _, secret = token_create(user=user, name="test", scopes=["contacts:read"])
    return Client(headers={"Authorization": f"Bearer {secret}"})


@pytest.mark.parametrize(("filterset_class", "model", "name"), USER_FILTERS)
def test_every_user_filter_takes_a_departed_users_id_without_a_query(
    filterset_class, model, name, rep
):
    assert isinstance(filterset_class.base_filters[name], UserRefFilter)
    departed = _departed(UserFactory())
    for value in (departed.pk, departed.pk + 1000):
        with CaptureQueriesContext(connection) as queries:
            filterset = filterset_class(
                {name: str(value)}, queryset=model.objects.all(), request=FilterContext(rep)
            )
            assert filterset.is_valid(), filterset.errors
            str(filterset.qs.query)
        assert queries.captured_queries == []


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5", str(LARGEST_INTEGER + 1), "1 OR 1=1"])
def test_a_user_filter_refuses_anything_but_a_positive_whole_number(value, rep):
    filterset = ContactFilter(
        {"owner": value}, queryset=Contact.objects.all(), request=FilterContext(rep)
    )
    assert not filterset.is_valid()
    assert list(filterset.errors) == ["owner"]


def test_api_lists_a_departed_owners_contacts(manager, departed_contacts):
    body = _bearer_client(manager).get(f"/api/v1/contacts?owner={departed_contacts.pk}").json()
    assert sorted(item["last_name"] for item in body["items"]) == ["Adams", "Baker"]


def test_api_owner_id_naming_nobody_lists_nothing(manager, departed_contacts):
    body = _bearer_client(manager).get("/api/v1/contacts?owner=987654321").json()
    assert body["items"] == []


def test_api_non_integer_owner_is_a_422_naming_it(manager):
    response = _bearer_client(manager).get("/api/v1/contacts?owner=abc")
    body = assert_problem(response, 422, "owner")
    assert body["errors"]["owner"] == ["Enter a user id (a whole number)."]


def test_api_owner_filter_costs_no_query(manager, departed_contacts, django_assert_num_queries):
    client = _bearer_client(manager)
    client.get("/api/v1/contacts")  # the token's first use records last_used_at
    # The token with its user and role, the access profile, the page: the same with or
    # without the filter (it used to load the owner's row).
    with django_assert_num_queries(3):
        client.get("/api/v1/contacts")
    with django_assert_num_queries(3):
        response = client.get(f"/api/v1/contacts?owner={departed_contacts.pk}")
    assert [item["last_name"] for item in response.json()["items"]] == ["Adams", "Baker"]


def test_activities_involving_a_departed_user_are_listed(admin_user, rep, other_rep):
    activity_create(user=admin_user, kind="task", subject="Left behind", assignee=other_rep)
    activity_create(user=admin_user, kind="task", subject="Someone else's", assignee=rep)
    departed = _departed(other_rep)
    filterset = ActivityFilter(
        {"involves": str(departed.pk)},
        queryset=Activity.objects.all(),
        request=FilterContext(rep),
    )
    assert [activity.subject for activity in filterset.qs] == ["Left behind"]


def test_list_page_filters_by_a_departed_owner(client, manager, departed_contacts):
    client.force_login(manager)
    response = client.get(f"/contacts/?owner={departed_contacts.pk}")
    assert response.status_code == 200
    assert sorted(str(row) for row in response.context["page"].rows) == [
        str(contact) for contact in Contact.objects.filter(owner=departed_contacts)
    ]


def test_list_page_shows_a_form_error_for_a_non_integer_owner(client, manager):
    client.force_login(manager)
    response = client.get("/contacts/?owner=abc")
    assert response.status_code == 200
    assert response.context["filterset"].form.errors["owner"] == [
        "Enter a user id (a whole number)."
    ]


def _owner_options(html: str) -> list[str]:
    select = re.search(r'<select name="owner".*?</select>', html, re.DOTALL)
    assert select is not None
    return [label.strip() for label in re.findall(r"<option[^>]*>([^<]*)</option>", select[0])]


def test_owner_dropdown_lists_active_users_then_departed_ones_in_constant_queries(
    client, manager, rep, departed_contacts
):
    client.force_login(manager)
    client.get("/contacts/")
    with CaptureQueriesContext(connection) as few:
        response = client.get("/contacts/")
    options = _owner_options(response.content.decode())
    assert options[0] == "Any"
    assert options.index("Otto Other (inactive)") == len(options) - 1
    assert {"Rita Rep", "Mia Manager"} <= set(options[1:-1])
    for number in range(5):
        UserFactory(full_name=f"Newcomer {number}")
        _departed(UserFactory(full_name=f"Leaver {number}"))
    with CaptureQueriesContext(connection) as many:
        response = client.get("/contacts/")
    assert len(many.captured_queries) == len(few.captured_queries)
    options = _owner_options(response.content.decode())
    assert options.index("Leaver 0 (inactive)") > options.index("Newcomer 4")
