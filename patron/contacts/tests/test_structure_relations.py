"""Contacts' relations to accounts: roles, dates, the main account kept in sync with the
contact, reports-to without loops, the account and contact cards, the org chart and the API."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from patron.contacts.models import AccountContactRelation, Contact
from patron.contacts.selectors import account_org_chart
from patron.contacts.services import (
    account_create,
    contact_create,
    contact_update,
    relation_add,
    relation_end,
    relation_remove,
    relation_update,
)
from patron.contacts.tests.test_api import JSON, bearer
from patron.core.api.testing import assert_problem
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 22)


@pytest.fixture
def acme(rep):
    return account_create(user=rep, name="Acme")


@pytest.fixture
def people(rep):
    return [
        contact_create(user=rep, first_name=name, last_name="Lee", title=f"{name} title")
        for name in ("Ana", "Ben", "Cai", "Dee")
    ]


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_a_contact_relates_to_several_accounts_with_roles(rep, acme, people):
    globex = account_create(user=rep, name="Globex")
    ana = people[0]
    relation_add(
        user=rep,
        account=acme,
        contact_id=ana.pk,
        roles=["decision_maker", "champion", "champion"],
        responsibilities="Signs contracts",
    )
    relation_add(user=rep, account=globex, contact_id=ana.pk, roles=["influencer"])
    relations = AccountContactRelation.objects.filter(contact=ana).order_by("account__name")
    assert [(r.account.name, r.roles) for r in relations] == [
        ("Acme", ["decision_maker", "champion"]),
        ("Globex", ["influencer"]),
    ]


def test_end_before_start_is_refused_naming_the_field(rep, acme, people):
    with pytest.raises(ValidationFailed) as error:
        relation_add(
            user=rep,
            account=acme,
            contact_id=people[0].pk,
            start_date=datetime.date(2026, 5, 1),
            end_date=datetime.date(2026, 4, 1),
        )
    assert "on or after the start date" in error.value.errors["end_date"][0]
    assert not AccountContactRelation.objects.exists()


def test_unknown_roles_and_a_contact_you_cannot_see_are_refused(rep, other_rep, acme):
    hidden = contact_create(user=other_rep, last_name="Hidden")
    with pytest.raises(ValidationFailed) as error:
        relation_add(user=rep, account=acme, contact_id=hidden.pk)
    assert error.value.errors == {"contact": [f"No contact with id {hidden.pk}."]}
    mine = contact_create(user=rep, last_name="Mine")
    with pytest.raises(ValidationFailed) as wrong_role:
        relation_add(user=rep, account=acme, contact_id=mine.pk, roles=["boss"])
    assert "roles" in wrong_role.value.errors


def test_only_editors_of_the_account_relate_contacts(rep, other_rep, acme):
    theirs = contact_create(user=other_rep, last_name="Theirs")
    with pytest.raises(PermissionDenied):
        relation_add(user=other_rep, account=acme, contact_id=theirs.pk)


def test_the_main_account_is_kept_in_sync_with_the_contact(rep, acme, people):
    globex = account_create(user=rep, name="Globex")
    ana = contact_create(user=rep, last_name="Ana", account=acme)
    primary = AccountContactRelation.objects.get(contact=ana)
    assert (primary.account, primary.is_primary) == (acme, True)
    relation = relation_add(user=rep, account=globex, contact_id=ana.pk, is_primary=True)
    ana.refresh_from_db()
    assert ana.account == globex
    assert relation.is_primary
    assert not AccountContactRelation.objects.get(pk=primary.pk).is_primary
    contact_update(user=rep, contact=ana, account=acme)
    assert AccountContactRelation.objects.get(pk=primary.pk).is_primary
    relation_remove(user=rep, relation=AccountContactRelation.objects.get(pk=primary.pk))
    ana.refresh_from_db()
    assert ana.account is None


def test_reports_to_must_be_at_the_same_account_and_never_loop(rep, acme, people):
    ana, ben, cai, dee = people
    relations = {c.pk: relation_add(user=rep, account=acme, contact_id=c.pk) for c in people[:3]}
    relation_update(user=rep, relation=relations[ben.pk], reports_to_id=ana.pk)
    relation_update(user=rep, relation=relations[cai.pk], reports_to_id=ben.pk)
    with pytest.raises(ValidationFailed) as loop:
        relation_update(user=rep, relation=relations[ana.pk], reports_to_id=cai.pk)
    assert "loop" in loop.value.errors["reports_to"][0]
    with pytest.raises(ValidationFailed) as self_report:
        relation_update(user=rep, relation=relations[ana.pk], reports_to_id=ana.pk)
    assert "themselves" in self_report.value.errors["reports_to"][0]
    with pytest.raises(ValidationFailed) as elsewhere:
        relation_update(user=rep, relation=relations[ana.pk], reports_to_id=dee.pk)
    assert "not related to this account" in elsewhere.value.errors["reports_to"][0]


def test_ending_keeps_history_and_the_org_chart_shows_current_people(rep, acme, people):
    ana, ben, cai, dee = people
    relations = {c.pk: relation_add(user=rep, account=acme, contact_id=c.pk) for c in people}
    relation_update(user=rep, relation=relations[ben.pk], reports_to_id=ana.pk)
    relation_update(user=rep, relation=relations[cai.pk], reports_to_id=ben.pk)
    relation_end(user=rep, relation=relations[dee.pk], end_date=TODAY - datetime.timedelta(1))
    assert AccountContactRelation.objects.get(pk=relations[dee.pk].pk).end_date is not None
    with assert_max_queries(2):
        roots, truncated = account_org_chart(user=rep, account=acme, today=TODAY)
    assert not truncated
    assert [n.relation.contact for n in roots] == [ana]
    assert [n.relation.contact for n in roots[0].reports] == [ben]
    assert [n.relation.contact for n in roots[0].reports[0].reports] == [cai]


def test_account_and_contact_cards_have_bounded_queries(rep, acme, people):
    client = _client(rep)
    relation_add(user=rep, account=acme, contact_id=people[0].pk, roles=["champion"])
    client.get(f"/accounts/{acme.pk}/")
    with assert_max_queries(35) as few:
        client.get(f"/accounts/{acme.pk}/")
    for contact in people[1:]:
        relation_add(user=rep, account=acme, contact_id=contact.pk, roles=["user"])
    with assert_max_queries(len(few.captured_queries)):
        html = client.get(f"/accounts/{acme.pk}/").content.decode()
    assert 'id="relations-title"' in html
    assert html.count("Active</span>") == 4
    assert "Champion" in html
    with assert_max_queries(31):
        contact_html = client.get(f"/contacts/{people[0].pk}/").content.decode()
    assert 'id="accounts-title"' in contact_html
    assert f'href="/accounts/{acme.pk}/"' in contact_html


def test_relation_form_pages_add_edit_and_show_errors(rep, acme, people):
    client = _client(rep)
    page = client.get(f"/accounts/{acme.pk}/relations/new/")
    assert page.status_code == 200
    assert 'name="roles"' in page.content.decode()
    created = client.post(
        f"/accounts/{acme.pk}/relations/new/",
        {"contact": people[0].pk, "roles": ["decision_maker", "economic_buyer"]},
    )
    assert created.status_code == 302
    relation = AccountContactRelation.objects.get(account=acme, contact=people[0])
    bad = client.post(
        f"/accounts/{acme.pk}/relations/{relation.pk}/edit/",
        {"start_date": "2026-05-01", "end_date": "2026-04-01"},
    )
    assert bad.status_code == 422
    assert "on or after the start date" in bad.content.decode()
    ended = client.post(f"/accounts/{acme.pk}/relations/{relation.pk}/end/")
    assert ended.status_code == 302
    relation.refresh_from_db()
    assert relation.end_date is not None
    assert relation.roles == ["decision_maker", "economic_buyer"]


def test_org_chart_page_draws_a_nested_list(rep, acme, people):
    ana, ben = people[:2]
    relation_add(user=rep, account=acme, contact_id=ana.pk)
    relation_add(user=rep, account=acme, contact_id=ben.pk, reports_to_id=ana.pk)
    client = _client(rep)
    client.get(f"/accounts/{acme.pk}/org-chart/")
    with assert_max_queries(12):
        response = client.get(f"/accounts/{acme.pk}/org-chart/")
    html = response.content.decode()
    assert '<ul class="org-chart">' in html
    ana_at = html.index(f'href="/contacts/{ana.pk}/"')
    assert html.index("<ul>", ana_at) < html.index(f'href="/contacts/{ben.pk}/"')


def test_relations_api(rep, acme, people):
    api = Client()
    api.defaults.update({"HTTP_AUTHORIZATION": bearer(rep)["Authorization"]})
    url = f"/api/v1/accounts/{acme.pk}/relations"
    ana, ben = people[:2]
    assert api.post(url, {"contact": ana.pk, "roles": ["champion"]}, JSON).status_code == 201
    created = api.post(
        url, {"contact": ben.pk, "reports_to": ana.pk, "start_date": "2026-01-01"}, JSON
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["reports_to"], body["contact_name"]) == (ana.pk, "Ben Lee")
    with assert_max_queries(12):
        listed = api.get(url).json()
    assert {r["contact"] for r in listed} == {ana.pk, ben.pk}
    bad = assert_problem(api.patch(f"{url}/{body['id']}", {"end_date": "2025-01-01"}, JSON), 422)
    assert "end_date" in bad["errors"]
    assert api.patch(f"{url}/{body['id']}", {"reports_to": None}, JSON).json()["reports_to"] is None
    by_contact = api.get(f"/api/v1/contacts/{ben.pk}/relations").json()
    assert [r["account"] for r in by_contact] == [acme.pk]
    assert api.delete(f"{url}/{body['id']}").status_code == 204
    assert_problem(api.delete(f"{url}/{body['id']}"), 404)


def test_relations_api_refuses_an_invisible_contact(rep, other_rep, acme):
    hidden = contact_create(user=other_rep, last_name="Hidden")
    api = Client()
    api.defaults.update({"HTTP_AUTHORIZATION": bearer(rep)["Authorization"]})
    problem = assert_problem(
        api.post(f"/api/v1/accounts/{acme.pk}/relations", {"contact": hidden.pk}, JSON), 422
    )
    assert problem["errors"]["contact"] == [f"No contact with id {hidden.pk}."]
    assert Contact.objects.filter(pk=hidden.pk).exists()


def test_visibility_matrix_of_the_structure_pages_and_endpoints(rep, other_rep, people):
    marker = "Vbnmqwe"
    account = account_create(user=rep, name=f"{marker} Group")
    relation_add(user=rep, account=account, contact_id=people[0].pk, responsibilities=marker)
    endpoints = [
        Endpoint("org chart page", f"/accounts/{account.pk}/org-chart/", "detail"),
        Endpoint("relation form", f"/accounts/{account.pk}/relations/new/", "detail"),
        Endpoint("API account relations", f"/api/v1/accounts/{account.pk}/relations", "detail"),
        Endpoint("API contact relations", f"/api/v1/contacts/{people[0].pk}/relations", "detail"),
        Endpoint("API account hierarchy", f"/api/v1/accounts/{account.pk}/hierarchy", "detail"),
    ]
    check_visibility_matrix(endpoints, marker=marker, allowed=rep, denied=other_rep)


def test_a_refusal_without_field_errors_still_says_why_on_the_form(rep, acme, people, monkeypatch):
    def refuse(**kwargs):
        raise ValidationFailed("Relations to this account are closed for the audit.")

    monkeypatch.setattr("patron.contacts.services.relation_add", refuse)
    response = _client(rep).post(
        f"/accounts/{acme.pk}/relations/new/", {"contact": people[0].pk, "roles": ["user"]}
    )
    assert response.status_code == 422
    assert "Relations to this account are closed for the audit." in response.content.decode()
