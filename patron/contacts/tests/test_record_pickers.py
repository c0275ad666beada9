"""Account pickers on the account and contact forms: the first records by name are listed,
and any account the user can see (found with the picker's search) validates and saves."""

from __future__ import annotations

import pytest

from patron.contacts.forms import PICKER_LIMIT, AccountForm
from patron.contacts.models import Account, Contact
from patron.contacts.services import account_create, contact_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def far_account(rep):
    """An account the user can see that sorts after the first PICKER_LIMIT by name."""
    Account.objects.bulk_create(
        Account(name=f"Aardvark {n:04}", owner=rep) for n in range(PICKER_LIMIT + 1)
    )
    return account_create(user=rep, name="Zulu Holdings")


def test_far_account_is_not_listed_but_the_form_offers_its_search(rep, far_account):
    form = AccountForm(user=rep, definitions=[])
    html = str(form["parent"])
    assert f'value="{far_account.pk}"' not in html
    assert 'hx-get="/ui/pick/contacts.account/"' in html


def test_account_beyond_the_first_by_name_can_be_chosen_as_parent(client, rep, far_account):
    child = account_create(user=rep, name="Acme Child")
    client.force_login(rep)
    response = client.post(
        f"/accounts/{child.pk}/edit/",
        {"kind": "company", "name": "Acme Child", "parent": far_account.pk,
         "owner": rep.pk, "version": child.version},
    )
    assert response.status_code == 302
    child.refresh_from_db()
    assert child.parent_id == far_account.pk


def test_account_beyond_the_first_by_name_can_be_a_contacts_account(client, rep, far_account):
    client.force_login(rep)
    response = client.post("/contacts/new/", {"last_name": "Lee", "account": far_account.pk})
    assert response.status_code == 302
    assert Contact.objects.get(last_name="Lee").account_id == far_account.pk


def test_an_account_the_user_cannot_see_is_refused(client, rep, other_rep):
    hidden = account_create(user=other_rep, name="Their Holdings")
    client.force_login(rep)
    response = client.post("/contacts/new/", {"last_name": "Lee", "account": hidden.pk})
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    assert not Contact.objects.filter(last_name="Lee").exists()


def test_a_chosen_far_account_stays_chosen_when_the_form_has_errors(client, rep, far_account):
    client.force_login(rep)
    response = client.post(
        "/contacts/new/", {"last_name": "Lee", "email": "nope", "account": far_account.pk}
    )
    assert response.status_code == 422
    assert f'<option value="{far_account.pk}" selected>Zulu Holdings</option>' in (
        response.content.decode()
    )


def test_relation_form_accepts_a_contact_found_by_search(client, rep, far_account):
    contacts = Contact.objects.bulk_create(
        Contact(last_name=f"Aaron {n:04}", owner=rep) for n in range(PICKER_LIMIT + 1)
    )
    zed = contact_create(user=rep, first_name="Zed", last_name="Zulu")
    client.force_login(rep)
    form_html = client.get(f"/accounts/{far_account.pk}/relations/new/").content.decode()
    assert f'value="{zed.pk}"' not in form_html
    assert f'value="{contacts[0].pk}"' in form_html
    response = client.post(f"/accounts/{far_account.pk}/relations/new/", {"contact": zed.pk})
    assert response.status_code == 302
    assert far_account.contact_relations.filter(contact=zed).exists()
