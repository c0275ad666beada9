from __future__ import annotations

import pytest

from patron.contacts.models import Account
from patron.contacts.services import account_create
from patron.core.models import RecordShare

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(rep):
    return account_create(user=rep, name="Panel Co")


def test_owner_sees_the_share_form_and_can_share(client, rep, other_rep, account):
    client.force_login(rep)
    page = client.get(f"/accounts/{account.pk}/").content.decode()
    assert 'id="share-grantee"' in page
    assert f'value="user:{other_rep.pk}"' in page
    response = client.post(
        f"/ui/share/contacts.account/{account.pk}/",
        {"grantee": f"user:{other_rep.pk}", "access": "edit", "next": f"/accounts/{account.pk}/"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{account.pk}/"
    assert list(Account.objects.visible_to(other_rep, "update")) == [account]


def test_a_user_with_read_share_sees_the_list_but_cannot_share_or_unshare(
    client, rep, other_rep, account
):
    client.force_login(rep)
    client.post(f"/ui/share/contacts.account/{account.pk}/", {"grantee": f"user:{other_rep.pk}"})
    share = RecordShare.objects.get()
    client.force_login(other_rep)
    page = client.get(f"/accounts/{account.pk}/").content.decode()
    assert "Otto Other" in page
    assert 'id="share-grantee"' not in page
    assert client.post(f"/ui/share/{share.pk}/remove/").status_code == 403
    assert RecordShare.objects.exists()


def test_sharing_a_record_you_cannot_see_is_404_and_a_bad_grantee_is_explained(
    client, rep, other_rep, account
):
    client.force_login(other_rep)
    response = client.post(
        f"/ui/share/contacts.account/{account.pk}/", {"grantee": f"user:{other_rep.pk}"}
    )
    assert response.status_code == 404
    client.force_login(rep)
    response = client.post(
        f"/ui/share/contacts.account/{account.pk}/", {"grantee": "nobody:7"}, follow=True
    )
    assert "Choose exactly one user, team or role." in response.content.decode()
    assert client.post("/ui/share/no.such/1/", {"grantee": "user:1"}).status_code == 404


def test_owner_removes_a_share(client, rep, other_rep, account):
    client.force_login(rep)
    client.post(f"/ui/share/contacts.account/{account.pk}/", {"grantee": f"user:{other_rep.pk}"})
    share = RecordShare.objects.get()
    assert client.post(f"/ui/share/{share.pk}/remove/").status_code == 302
    assert not RecordShare.objects.exists()
