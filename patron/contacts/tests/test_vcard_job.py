"""vCard import of large files as a background job: the page starts a Job, the task imports
card by card with progress (resuming, never importing a card twice), and the job page shows
the card-by-card report. Small files stay synchronous."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from patron.contacts import vcard_services
from patron.contacts.models import Contact
from patron.contacts.services import contact_channels_replace, contact_create
from patron.contacts.tasks import vcard_import
from patron.contacts.vcard_services import (
    BACKGROUND_MIN_BYTES,
    BACKGROUND_MIN_CARDS,
    VCARD_IMPORT_KIND,
    vcard_import_in_background,
)
from patron.core.choices import JobStatus
from patron.core.models import Job

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def card(number: int, *, name: bool = True, email: str = "") -> str:
    lines = ["BEGIN:VCARD", "VERSION:4.0"]
    if name:
        lines += [f"FN:Ann Person{number}", f"N:Person{number};Ann;;;"]
    lines.append(f"EMAIL;TYPE=work:{email or f'ann{number}@example.com'}")
    lines.append("END:VCARD")
    return "\r\n".join(lines) + "\r\n"


def vcf(count: int, *extra: str) -> bytes:
    return ("".join(card(n) for n in range(1, count + 1)) + "".join(extra)).encode()


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _upload(client: Client, data: bytes, name: str = "team.vcf"):
    return client.post(
        "/contacts/vcard/import/",
        {"file": SimpleUploadedFile(name, data, content_type="text/vcard")},
    )


@pytest.fixture
def small_threshold(monkeypatch):
    """Treat files above 5 cards as large, so the background path runs on small files."""
    monkeypatch.setattr(vcard_services, "BACKGROUND_MIN_CARDS", 5)
    monkeypatch.setattr(vcard_services, "JOB_CHUNK", 3)


@pytest.fixture
def existing(rep):
    contact = contact_create(user=rep, last_name="Known")
    return contact_channels_replace(
        user=rep,
        contact=contact,
        emails=[{"kind": "work", "email": "known@example.com", "is_primary": True}],
    )


def test_files_above_the_card_or_size_threshold_go_to_the_background():
    assert not vcard_import_in_background(vcf(BACKGROUND_MIN_CARDS))
    assert vcard_import_in_background(vcf(BACKGROUND_MIN_CARDS + 1))
    note = "NOTE:" + "x" * 70 + "\r\n"
    big = (card(1).replace("END:VCARD", note * (BACKGROUND_MIN_BYTES // 70) + "END:VCARD")).encode()
    assert vcard_import_in_background(big)


def test_a_small_file_is_still_imported_at_once(rep, small_threshold):
    response = _upload(_client(rep), vcf(5))
    assert response.status_code == 200
    assert Contact.objects.count() == 5
    assert not Job.objects.exists()
    assert "5 created" in response.content.decode()


def test_a_large_file_starts_a_job_and_the_task_imports_it_with_a_report(
    rep, existing, small_threshold
):
    data = vcf(7, card(8, name=False), card(9, email="known@example.com"))
    response = _upload(_client(rep), data)
    job = Job.objects.get(kind=VCARD_IMPORT_KIND)
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/vcard/import/{job.pk}/"
    assert job.params["cards"] == 9
    assert job.params["filename"] == "team.vcf"
    assert default_storage.exists(job.params["file"])
    assert Contact.objects.count() == 1, "nothing is imported before the task runs"

    vcard_import(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert (job.progress_done, job.progress_total) == (9, 9)
    assert len(job.result["created"]) == 7
    assert job.result["skipped"][0]["card"] == 9
    assert "known@example.com already exists" in job.result["skipped"][0]["reason"]
    assert job.result["failed"][0]["card"] == 8
    assert Contact.objects.count() == 8
    assert not default_storage.exists(job.params["file"]), "the upload is deleted after use"
    page = _client(rep).get(f"/contacts/vcard/import/{job.pk}/").content.decode()
    assert "7 created · 1 skipped as duplicates · 1 failed" in page
    assert "Card 8" in page
    assert "every 1s" not in page, "a finished job stops polling"


def test_running_the_task_again_imports_nothing_twice(rep, small_threshold):
    _upload(_client(rep), vcf(7))
    job = Job.objects.get(kind=VCARD_IMPORT_KIND)
    vcard_import(job.pk)
    vcard_import(job.pk)
    assert Contact.objects.count() == 7
    # A worker lost after the last chunk but before the job was marked done.
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    vcard_import(job.pk)
    assert Contact.objects.count() == 7
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert len(job.result["created"]) == 7


def test_a_redelivered_job_resumes_after_the_last_committed_chunk(rep, small_threshold):
    _upload(_client(rep), vcf(7))
    job = Job.objects.get(kind=VCARD_IMPORT_KIND)
    # As if a worker committed the first chunk (cards 1-3) and was lost.
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING,
        result={"created": [{"id": 0, "name": "x", "notes": []}] * 3, "skipped": [], "failed": []}
        | {"next": 3},
    )
    vcard_import(job.pk)
    assert sorted(Contact.objects.values_list("last_name", flat=True)) == [
        f"Person{n}" for n in range(4, 8)
    ]
    job.refresh_from_db()
    assert len(job.result["created"]) == 7


def test_a_large_file_that_is_not_vcards_starts_nothing(rep, small_threshold):
    response = _upload(_client(rep), b"BEGIN:VCARD\r\n" * 6 + b"garbage")
    assert response.status_code == 422
    assert "Nothing was imported" in response.content.decode()
    assert not Job.objects.exists()


def test_the_job_page_polls_while_running_and_is_only_for_who_started_it(
    rep, other_rep, small_threshold
):
    _upload(_client(rep), vcf(7))
    job = Job.objects.get(kind=VCARD_IMPORT_KIND)
    partial = _client(rep).get(f"/contacts/vcard/import/{job.pk}/", headers=HTMX)
    assert partial.status_code == 200
    assert 'hx-trigger="every 1s"' in partial.content.decode()
    assert "Waiting for a worker" in partial.content.decode()
    assert _client(other_rep).get(f"/contacts/vcard/import/{job.pk}/").status_code == 404
