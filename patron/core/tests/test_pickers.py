"""Record pickers: the registry's default search, the /ui/pick/ view and the widget."""

from __future__ import annotations

import pytest
from django import forms
from django.urls import reverse

from patron.contacts.models import Account
from patron.contacts.services import account_create, contact_create
from patron.core.pickers import PICKER_RESULTS, get_picker
from patron.core.testing import assert_max_queries
from patron.core.widgets import RecordSearchSelect

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
# Session, user, access profile, content types, the two hit queries and the current choice.
PICK_QUERY_BUDGET = 10


def pick_url(object_type: str = "contacts.account") -> str:
    return reverse("ui:pick", args=[object_type])


def option_ids(response) -> list[int]:
    html = response.content.decode()
    return [int(chunk.split('"', 1)[0]) for chunk in html.split('<option value="')[1:]]


@pytest.fixture
def accounts(rep, other_rep):
    mine = account_create(user=rep, name="Acme Corporation", industry="Rockets")
    other_mine = account_create(user=rep, name="Zeta Widgets")
    hidden = account_create(user=other_rep, name="Acme Hidden Holdings")
    return mine, other_mine, hidden


def test_picker_offers_only_records_the_user_can_see(client, rep, accounts):
    mine, _zeta, hidden = accounts
    client.force_login(rep)
    for term in ("acme", "ac", "holdings", ""):
        ids = option_ids(client.get(pick_url(), {"q": term, "name": "parent"}, headers=HTMX))
        assert hidden.pk not in ids, term
    assert option_ids(client.get(pick_url(), {"q": "acme", "name": "parent"})) == [mine.pk]


def test_substring_term_goes_through_search_and_short_term_matches_the_name_start(
    client, rep, accounts
):
    mine, zeta, _hidden = accounts
    client.force_login(rep)
    assert option_ids(client.get(pick_url(), {"q": "widgets"})) == [zeta.pk]
    assert option_ids(client.get(pick_url(), {"q": "ze"})) == [zeta.pk]
    assert option_ids(client.get(pick_url(), {"q": "et"})) == []
    assert option_ids(client.get(pick_url(), {"q": ""})) == [mine.pk, zeta.pk]


def test_options_carry_a_hint_and_the_status_counts_them(client, rep, accounts):
    client.force_login(rep)
    response = client.get(pick_url(), {"q": "acme", "name": "parent"})
    html = response.content.decode()
    assert "Acme Corporation — Rockets" in html
    assert 'id="picker-parent-status" hx-swap-oob="innerHTML"' in html
    assert "1 match for “acme”; choose one from the list." in html
    nothing = client.get(pick_url(), {"q": "zzzqqq", "name": "parent"}).content.decode()
    assert "No accounts match “zzzqqq”" in nothing


def test_contacts_picker_matches_names_the_user_can_see(client, rep, other_rep, accounts):
    mine, _zeta, _hidden = accounts
    ana = contact_create(user=rep, first_name="Ana", last_name="Lee", account=mine)
    contact_create(user=other_rep, first_name="Ana", last_name="Leeds")
    client.force_login(rep)
    response = client.get(pick_url("contacts.contact"), {"q": "le"})
    assert option_ids(response) == [ana.pk]
    assert option_ids(client.get(pick_url("contacts.contact"), {"q": "ana lee"})) == [ana.pk]


def test_current_choice_comes_first_and_stays_selected(client, rep, accounts):
    mine, zeta, _hidden = accounts
    client.force_login(rep)
    response = client.get(pick_url(), {"q": "acme", "name": "parent", "parent": zeta.pk})
    assert option_ids(response) == [zeta.pk, mine.pk]
    assert f'<option value="{zeta.pk}" selected>Zeta Widgets</option>' in response.content.decode()


def test_current_choice_the_user_cannot_see_is_kept_without_its_name(client, rep, accounts):
    _mine, _zeta, hidden = accounts
    client.force_login(rep)
    response = client.get(pick_url(), {"q": "acme", "name": "parent", "parent": hidden.pk})
    html = response.content.decode()
    assert f'<option value="{hidden.pk}" selected>Keep the current choice</option>' in html
    assert "Hidden" not in html


def test_results_are_capped(client, rep):
    Account.objects.bulk_create(
        Account(name=f"Bulk {n:03}", owner=rep) for n in range(PICKER_RESULTS + 5)
    )
    client.force_login(rep)
    response = client.get(pick_url(), {"q": "bu", "name": "parent"})
    assert len(option_ids(response)) == PICKER_RESULTS
    assert "type more to narrow them down" in response.content.decode()


def test_query_count_does_not_grow_with_matches(client, rep, accounts):
    mine, _zeta, _hidden = accounts
    client.force_login(rep)
    params = {"q": "acme", "name": "parent", "parent": mine.pk}
    client.get(pick_url(), params)  # the session's first request writes it
    with assert_max_queries(PICK_QUERY_BUDGET) as few:
        client.get(pick_url(), params)
    for n in range(15):
        account_create(user=rep, name=f"Acme Branch {n}")
    with assert_max_queries(PICK_QUERY_BUDGET) as many:
        response = client.get(pick_url(), params)
    assert len(option_ids(response)) == 16
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.parametrize("object_type", ["contacts.nothing", "contacts.competitor", "x"])
def test_unknown_object_type_is_404(client, rep, object_type):
    client.force_login(rep)
    assert client.get(pick_url(object_type), {"q": "acme"}).status_code == 404


def test_picker_needs_a_signed_in_user(client, accounts):
    response = client.get(pick_url(), {"q": "acme"})
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_registry_search_and_lookup_respect_visibility(rep, accounts):
    mine, _zeta, hidden = accounts
    picker = get_picker("contacts.account")
    assert picker is not None
    assert picker.search(rep, "acme", 5) == [(mine.pk, "Acme Corporation", "Rockets")]
    assert picker.lookup(rep, mine.pk) == (mine.pk, "Acme Corporation", "Rockets")
    assert picker.lookup(rep, hidden.pk) is None


def test_widget_renders_a_labelled_search_box_controlling_the_select(rep, accounts):
    mine, _zeta, _hidden = accounts
    field = forms.ModelChoiceField(
        queryset=Account.objects.order_by("name"),
        widget=RecordSearchSelect("contacts.account"),
        empty_label="No parent",
    )
    html = field.widget.render("parent", mine.pk, attrs={"id": "id_parent"})
    assert 'for="id_parent_search">Search accounts</label>' in html
    assert 'type="search" id="id_parent_search"' in html
    assert 'aria-controls="id_parent"' in html
    assert f'hx-get="{pick_url()}"' in html
    assert 'hx-trigger="input changed delay:300ms"' in html
    assert 'hx-target="#picker-parent-options"' in html
    assert '<option value="">No parent</option>' in html
    assert f'<option value="{mine.pk}" selected>Acme Corporation</option>' in html


def test_widget_without_a_registered_picker_is_a_plain_select(rep, accounts):
    field = forms.ModelChoiceField(
        queryset=Account.objects.all(), widget=RecordSearchSelect("contacts.competitor")
    )
    html = field.widget.render("rival", None, attrs={"id": "id_rival"})
    assert 'type="search"' not in html
    assert '<select name="rival" id="id_rival">' in html
