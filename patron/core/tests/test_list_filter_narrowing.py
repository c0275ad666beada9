"""API lists build only the filters a request names, and still filter as before."""

from __future__ import annotations

import pytest
from django.test import Client

from patron.contacts.filters import ContactFilter
from patron.core.api.pagination import _with_filters
from patron.data_exchange.import_filters import ImportRunFilter
from patron.leads.models import Lead
from patron.users.tests.factories import UserFactory


def test_an_api_list_builds_only_the_filters_it_was_given():
    narrowed = _with_filters(ContactFilter, frozenset({"owner"}))
    assert set(narrowed.base_filters) == {"owner"}
    assert narrowed._meta.model is ContactFilter._meta.model
    assert _with_filters(ContactFilter, frozenset({"owner"})) is narrowed


def test_a_filterset_with_its_own_init_keeps_every_filter():
    # Its __init__ relabels the object_type filter, which must be there when not asked for.
    assert _with_filters(ImportRunFilter, frozenset()) is ImportRunFilter


@pytest.mark.django_db
def test_the_lead_list_still_hides_archived_leads_when_no_filter_names_them():
    admin = UserFactory(is_superuser=True)
    Lead.objects.create(owner=admin, last_name="Kept", company="A")
    archived = Lead.objects.create(owner=admin, last_name="Gone", company="B")
    Lead.objects.filter(pk=archived.pk).update(archived_at="2026-01-01T00:00:00Z")
    client = Client()
    client.force_login(admin)

    def names(query: str) -> list[str]:
        return [item["last_name"] for item in client.get(f"/api/v1/leads{query}").json()["items"]]

    assert names("") == ["Kept"]
    assert names("?owner=" + str(admin.pk)) == ["Kept"]
    assert names("?archived=true") == ["Gone"]
