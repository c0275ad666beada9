"""The leads list exported from its page: the file keeps the list's order."""

from __future__ import annotations

import csv
import io

from django.test import Client

from patron.core.exports import export_csv_run
from patron.core.models import Job
from patron.leads.services import lead_create


def test_export_without_a_sort_keeps_the_lists_newest_first_order(rep, lead_roles):
    # The export used the first sort it knew (by name) while the page lists newest first.
    for name in ("Alpha", "Mike", "Zulu"):
        lead_create(user=rep, data={"last_name": name})
    client = Client()
    client.force_login(rep)
    client.post("/leads/export/", {"query": ""})
    job = Job.objects.filter(created_by=rep).latest("id")
    export_csv_run(job_id=job.pk)
    download = client.get(f"/ui/jobs/{job.pk}/download/")
    body = download.getvalue() if download.streaming else download.content
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [row["last_name"] for row in rows] == ["Zulu", "Mike", "Alpha"]
