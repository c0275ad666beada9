"""The leads list exported from its page: the file keeps the list's order."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.test import Client

from patron.core.exports import export_csv_run
from patron.core.models import Job
from patron.leads.services import lead_create


def exported_last_names(user: Any, query: str) -> list[str]:
    """Export the leads list in state ``query`` from its page, as ``user``, and read the file."""
    client = Client()
    client.force_login(user)
    client.post("/leads/export/", {"query": query})
    job = Job.objects.filter(created_by=user).latest("id")
    export_csv_run(job_id=job.pk)
    download = client.get(f"/ui/jobs/{job.pk}/download/")
    body = download.getvalue() if download.streaming else download.content
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    return [row["last_name"] for row in rows]


def test_export_without_a_sort_keeps_the_lists_newest_first_order(rep, lead_roles):
    # The export used the first sort it knew (by name) while the page lists newest first.
    for name in ("Alpha", "Mike", "Zulu"):
        lead_create(user=rep, data={"last_name": name})
    assert exported_last_names(rep, "") == ["Zulu", "Mike", "Alpha"]


def test_export_with_a_sort_the_list_does_not_know_keeps_the_lists_newest_first_order(
    rep, lead_roles
):
    # The page shows an unknown sort (an old link's) newest first; the file came out by name.
    for name in ("Alpha", "Mike", "Zulu"):
        lead_create(user=rep, data={"last_name": name})
    client = Client()
    client.force_login(rep)
    page = client.get("/leads/", {"sort": "revenue"})
    assert page.status_code == 200
    assert [lead.last_name for lead in page.context["page"].rows] == ["Zulu", "Mike", "Alpha"]
    assert exported_last_names(rep, "sort=revenue") == ["Zulu", "Mike", "Alpha"]
