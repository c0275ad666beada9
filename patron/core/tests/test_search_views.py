"""The /search/ page and its HTMX dropdown partial."""

from __future__ import annotations

import pytest
from django.urls import reverse

from patron.contacts.services import account_create, contact_create
from patron.core.testing import assert_max_queries

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
# Session, user, access profile, content types, the hit query and the layout's context.
PAGE_QUERY_BUDGET = 15


def page_text(response) -> str:
    """The response's HTML with runs of whitespace collapsed (templates wrap long lines)."""
    return " ".join(response.content.decode().split())


@pytest.fixture
def records(rep):
    acme = account_create(user=rep, name="Acme Corporation", website="https://acme.com")
    ana = contact_create(user=rep, first_name="Ana", last_name="Acme-Lee", email="ana@acme.com")
    return acme, ana


def test_page_needs_a_signed_in_user(client):
    response = client.get(reverse("core:search"), {"q": "acme"})
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_page_groups_hits_by_type_with_links(client, rep, records):
    acme, ana = records
    client.force_login(rep)
    response = client.get(reverse("core:search"), {"q": "acme"})
    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == ["core/search.html", "core/base.html"]
    groups = response.context["groups"]
    assert [(g.label, [h.pk for h in g.hits]) for g in groups] == [
        ("Accounts", [acme.pk]), ("Contacts", [ana.pk]),
    ]
    html = response.content.decode()
    assert f'href="/accounts/{acme.pk}/"' in html
    assert f'href="/contacts/{ana.pk}/"' in html


def test_page_query_count_does_not_grow_with_hits(client, rep, records):
    client.force_login(rep)
    client.get(reverse("core:search"), {"q": "acme"})  # first request of the session writes
    with assert_max_queries(PAGE_QUERY_BUDGET) as few:
        client.get(reverse("core:search"), {"q": "acme"})
    for n in range(20):
        account_create(user=rep, name=f"Acme Branch {n}")
    with assert_max_queries(PAGE_QUERY_BUDGET) as many:
        response = client.get(reverse("core:search"), {"q": "acme"})
    assert len(response.context["hits"]) == 22
    assert len(many.captured_queries) == len(few.captured_queries)


def test_empty_query_explains_what_to_type(client, rep):
    client.force_login(rep)
    response = client.get(reverse("core:search"))
    assert response.status_code == 200
    assert "phone number in any format" in page_text(response)


def test_no_results_says_so_and_suggests_what_to_try(client, rep, records):
    client.force_login(rep)
    html = page_text(client.get(reverse("core:search"), {"q": "zzzqqq"}))
    assert "Nothing found for “zzzqqq”" in html
    assert "last digits of the phone number" in html


def test_short_query_explains_the_three_character_rule(client, rep, records):
    client.force_login(rep)
    html = page_text(client.get(reverse("core:search"), {"q": "zq"}))
    assert "at least three characters" in html


def test_htmx_request_gets_the_listbox_partial(client, rep, records):
    acme, _ana = records
    client.force_login(rep)
    response = client.get(reverse("core:search"), {"q": "acme"}, headers=HTMX)
    html = response.content.decode()
    assert [t.name for t in response.templates] == ["core/search_results.html"]
    assert "<html" not in html
    assert 'role="listbox"' in html
    assert html.count('role="option"') == 2
    assert f'id="search-option-account-{acme.pk}" href="/accounts/{acme.pk}/"' in html
    assert 'href="/search/?q=acme"' in html


def test_htmx_partial_limits_hits_and_explains_empty_states(client, rep):
    for n in range(12):
        account_create(user=rep, name=f"Globex {n}")
    client.force_login(rep)
    html = client.get(reverse("core:search"), {"q": "globex"}, headers=HTMX).content.decode()
    assert html.count('role="option"') == 8
    empty = page_text(client.get(reverse("core:search"), {"q": ""}, headers=HTMX))
    assert "Type a name, email, phone number or domain." in empty
    none = client.get(reverse("core:search"), {"q": "nomatch"}, headers=HTMX).content.decode()
    assert "Nothing found" in none
    assert "listbox" not in none


def test_page_hides_records_the_user_may_not_see(client, other_rep, records):
    client.force_login(other_rep)
    response = client.get(reverse("core:search"), {"q": "acme"})
    assert response.context["hits"] == []
    assert "Nothing found" in page_text(response)
