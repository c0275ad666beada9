"""What the person who started a duplicate scan sees when it ends."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from patron.contacts.models import Contact
from patron.core.models import Job
from patron.data_exchange.duplicate_scan import duplicate_scan

pytestmark = pytest.mark.django_db


def test_finished_scan_page_says_how_many_groups_were_found(admin_user, rep):
    for name in ("Lee", "Leigh"):
        Contact.objects.create(owner=rep, last_name=name, email="same@x.com")
    client = Client()
    client.force_login(admin_user)
    client.post("/data/duplicates/scan/", {"object": "contacts.contact"})
    job = Job.objects.get(kind="duplicate_scan")
    duplicate_scan(job.pk)

    job.refresh_from_db()
    assert job.status == "done"
    assert job.message == "1 new candidate groups"
    page = client.get(reverse("ui:job_detail", args=[job.pk]))
    assert "1 new candidate groups" in page.content.decode()
