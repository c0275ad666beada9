"""A lead's external id (its id in the system it was imported from) through the API, the
edit form and the detail page."""

from __future__ import annotations

import pytest
from django.test import Client

from patron.leads.models import Lead
from patron.leads.services import lead_create

pytestmark = pytest.mark.django_db


def test_api_form_and_detail_page_carry_the_external_id(rep, lead_roles):
    client = Client()
    client.force_login(rep)
    created = client.post(
        "/api/v1/leads",
        {"last_name": "Api", "external_id": "00Q5g01"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["external_id"] == "00Q5g01"

    lead = lead_create(user=rep, data={"last_name": "Form"})
    assert 'name="external_id"' in client.get(f"/leads/{lead.pk}/edit/").content.decode()
    response = client.post(
        f"/leads/{lead.pk}/edit/",
        {
            "last_name": "Form",
            "status": "new",
            "source": "other",
            "owner": rep.pk,
            "external_id": "00Q5g02",
            "version": lead.version,
        },
    )
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).external_id == "00Q5g02"
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "External id" in page
    assert "00Q5g02" in page
