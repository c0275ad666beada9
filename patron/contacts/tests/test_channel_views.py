from __future__ import annotations

import pytest

from patron.contacts.models import Contact
from patron.contacts.services import contact_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana(rep):
    return contact_create(user=rep, last_name="Lee", email="ana@example.com")


def _form(version, **fields):
    data = {
        "version": str(version),
        "emails-total": "3",
        "phones-total": "2",
        "addresses-total": "2",
    }
    data.update(fields)
    return data


def test_page_shows_existing_rows_plus_blank_ones(client, rep, ana):
    client.force_login(rep)
    page = client.get(f"/contacts/{ana.pk}/channels/").content.decode()
    assert 'value="ana@example.com"' in page
    assert 'name="emails-2-email"' in page
    assert 'for="addresses-1-postal_code">Postal code' in page


def test_saving_rows_replaces_channels_and_moves_the_primary(client, rep, ana):
    client.force_login(rep)
    response = client.post(
        f"/contacts/{ana.pk}/channels/",
        _form(
            1,
            **{
                "emails-0-kind": "work",
                "emails-0-email": "ana@example.com",
                "emails-1-kind": "personal",
                "emails-1-email": "ana@home.example",
                "emails-primary": "1",
                "phones-0-kind": "mobile",
                "phones-0-number": "+44 7700 900123",
                "addresses-0-kind": "home",
                "addresses-0-city": "Leeds",
                "addresses-0-country": "gb",
            },
        ),
    )
    assert response.status_code == 302
    contact = Contact.objects.get(pk=ana.pk)
    assert contact.email == "ana@home.example"
    assert contact.phone == "+447700900123"
    assert contact.addresses.get().country == "GB"


def test_a_bad_row_is_marked_and_nothing_is_saved(client, rep, ana):
    client.force_login(rep)
    response = client.post(
        f"/contacts/{ana.pk}/channels/",
        _form(
            1,
            **{
                "emails-0-email": "ana@example.com",
                "emails-2-email": "broken@",
                "phones-1-number": "12",
            },
        ),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="emails-2-error"' in page
    assert 'id="phones-1-error"' in page
    assert 'value="broken@"' in page
    assert list(Contact.objects.get(pk=ana.pk).emails.values_list("email", flat=True)) == [
        "ana@example.com"
    ]


def test_a_stale_version_is_a_conflict_that_keeps_the_input(client, rep, ana):
    client.force_login(rep)
    response = client.post(
        f"/contacts/{ana.pk}/channels/",
        _form(0, **{"emails-0-email": "new@example.com"}),
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "changed by someone else" in page
    assert 'value="new@example.com"' in page
    assert Contact.objects.get(pk=ana.pk).email == "ana@example.com"


def test_someone_who_may_not_edit_gets_404(client, other_rep, ana):
    client.force_login(other_rep)
    assert client.get(f"/contacts/{ana.pk}/channels/").status_code == 404
