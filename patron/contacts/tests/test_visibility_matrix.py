"""Every page and endpoint that shows an account or a contact, checked for a user who may
see the record and one who may not (lists and search omit it, details answer 404)."""

from __future__ import annotations

import pytest
from django.test import Client

from patron.contacts.services import account_create, contact_create
from patron.core.exports import export_csv_run
from patron.core.models import Job
from patron.core.testing import Endpoint, check_visibility_matrix

pytestmark = pytest.mark.django_db

MARKER = "Zyxwvut"
# Pages echo the query back (search box, filters), so queries use a prefix of the marker.
QUERY = MARKER[:5]


@pytest.fixture
def records(rep):
    account = account_create(user=rep, name=f"{MARKER} Holdings", website="https://zyx.example")
    contact = contact_create(
        user=rep, first_name=MARKER, last_name="Quill", email="quill@zyx.example", account=account
    )
    return account, contact


def _endpoints(account, contact) -> list[Endpoint]:
    return [
        Endpoint("account list page", "/accounts/", "list"),
        Endpoint("account list page, filtered", f"/accounts/?q={QUERY}", "list"),
        Endpoint("account detail page", f"/accounts/{account.pk}/", "detail"),
        Endpoint("account edit page", f"/accounts/{account.pk}/edit/", "detail"),
        Endpoint("contact list page", "/contacts/", "list"),
        Endpoint("contact detail page", f"/contacts/{contact.pk}/", "detail"),
        Endpoint("contact edit page", f"/contacts/{contact.pk}/edit/", "detail"),
        Endpoint("contact channels page", f"/contacts/{contact.pk}/channels/", "detail"),
        Endpoint("search page", f"/search/?q={QUERY}", "search"),
        Endpoint("search dropdown", f"/search/?q={QUERY}", "search", {"HX-Request": "true"}),
        Endpoint("API account list", "/api/v1/accounts", "list"),
        Endpoint("API account", f"/api/v1/accounts/{account.pk}", "detail"),
        Endpoint("API account shares", f"/api/v1/accounts/{account.pk}/shares", "detail"),
        Endpoint("API contact list", "/api/v1/contacts", "list"),
        Endpoint("API contact", f"/api/v1/contacts/{contact.pk}", "detail"),
        Endpoint("API contact channels", f"/api/v1/contacts/{contact.pk}/channels", "detail"),
        Endpoint("API contact shares", f"/api/v1/contacts/{contact.pk}/shares", "detail"),
        Endpoint("API search", f"/api/v1/search/?q={QUERY}", "search"),
    ]


def test_owner_sees_everywhere_and_a_peer_nowhere(records, rep, other_rep):
    check_visibility_matrix(_endpoints(*records), marker=MARKER, allowed=rep, denied=other_rep)


def test_manager_above_the_owner_sees_everywhere(records, manager, other_rep):
    check_visibility_matrix(_endpoints(*records), marker=MARKER, allowed=manager, denied=other_rep)


@pytest.mark.parametrize("object_type", ["account", "contact"])
def test_export_contains_the_record_only_for_who_may_see_it(records, rep, other_rep, object_type):
    for user, may_see in ((rep, True), (other_rep, False)):
        client = Client()
        client.force_login(user)
        client.post(f"/{object_type}s/export/")
        job = Job.objects.filter(created_by=user).latest("id")
        export_csv_run(job_id=job.pk)
        download = client.get(f"/ui/jobs/{job.pk}/download/")
        assert download.status_code == 200
        body = download.getvalue() if download.streaming else download.content
        assert (MARKER.encode() in body) is may_see, (user, object_type)
