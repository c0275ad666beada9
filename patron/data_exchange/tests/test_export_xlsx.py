"""XLSX export of any list (typed cells, formula injection neutralised), the export
permission, the security log, field security and the list's filters; the vCard and iCalendar
list exports offered on the contacts and activities lists."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import icalendar
import pytest
from django.utils import timezone
from openpyxl import load_workbook

from patron.activities.choices import ActivityKind
from patron.activities.services import activity_create
from patron.contacts.models import Account
from patron.contacts.services import account_create, contact_create
from patron.core.choices import JobStatus, SecurityEventKind
from patron.core.exports import export_csv_run, xlsx_value
from patron.core.models import FieldPermission, Job, SecurityEvent
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix, grant
from patron.users.tests.factories import UserFactory, make_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep_client(client, rep):
    client.force_login(rep)
    return client


def _export(client, url: str, query: str = "", file_format: str = "xlsx") -> Job:
    response = client.post(url, {"query": query, "format": file_format})
    assert response.status_code == 302, response.content
    job = Job.objects.latest("pk")
    assert response.url == f"/ui/jobs/{job.pk}/"
    export_csv_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def _sheet(job: Job) -> list[list[object]]:
    with job.result_file.open("rb") as handle:
        workbook = load_workbook(io.BytesIO(handle.read()))
    sheet = workbook.active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_xlsx_export_keeps_numbers_and_dates_typed_and_neutralises_formulas(
    rep_client, rep, sales_roles
):
    FieldPermission.objects.create(
        role=sales_roles["rep"],
        object_type="contacts.account",
        field="annual_revenue",
        access="read_only",
    )
    created = account_create(
        user=rep,
        name='=HYPERLINK("http://evil.example","x")',
        industry="+Retail",
        tier="key",
        employee_count=250,
        description="@SUM(A1:A2)",
    )
    # Annual revenue is a sensitive field a rep may read but not set.
    Account.objects.filter(pk=created.pk).update(annual_revenue=Decimal("1234567.89"))
    account_create(user=rep, name="Plain Ltd", industry="-Mining", tier="key")
    job = _export(rep_client, "/accounts/export/", "sort=name")
    assert job.status == JobStatus.DONE, job.error
    assert job.params["format"] == "xlsx"
    assert job.result["filename"].endswith(".xlsx")
    assert job.result["rows"] == 2
    header, *rows = _sheet(job)
    by_name = {row[header.index("name")]: dict(zip(header, row, strict=True)) for row in rows}
    evil = by_name['\'=HYPERLINK("http://evil.example","x")']
    assert evil["industry"] == "'+Retail"
    assert evil["description"] == "'@SUM(A1:A2)"
    assert evil["employee_count"] == 250
    assert evil["annual_revenue"] == pytest.approx(1234567.89)
    assert isinstance(evil["id"], int)
    assert isinstance(evil["created_at"], datetime.datetime)
    stored = Account.objects.get(pk=evil["id"]).created_at
    assert abs(evil["created_at"] - stored.astimezone(datetime.UTC).replace(tzinfo=None)) < (
        datetime.timedelta(seconds=1)
    )
    assert by_name["Plain Ltd"]["industry"] == "'-Mining"
    # No cell of the file is a formula.
    with job.result_file.open("rb") as handle:
        workbook = load_workbook(io.BytesIO(handle.read()))
    sheet = workbook.active
    assert sheet is not None
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_xlsx_values_are_typed_or_safe_text():
    moment = datetime.datetime(
        2026, 3, 1, 12, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    assert xlsx_value(moment) == datetime.datetime(2026, 3, 1, 10, 30)
    assert xlsx_value(datetime.date(2026, 3, 1)) == datetime.date(2026, 3, 1)
    assert xlsx_value(Decimal("2.50")) == Decimal("2.50")
    assert xlsx_value(True) is True
    assert xlsx_value({"amount": "12.00", "currency": "EUR"}) == Decimal("12.00")
    assert xlsx_value("=1+1") == "'=1+1"
    assert xlsx_value("bell\x07") == "bell"
    assert xlsx_value(["a", "b"]) == "a; b"
    assert xlsx_value(None) is None


def test_xlsx_export_applies_filters_visibility_and_logs_the_export(rep_client, rep, other_rep):
    account_create(user=rep, name="Key one", tier="key")
    account_create(user=rep, name="Small one", tier="small")
    account_create(user=other_rep, name="Not mine", tier="key")
    job = _export(rep_client, "/accounts/export/", "tier=key")
    names = [row[1] for row in _sheet(job)[1:]]
    assert names == ["Key one"]
    event = SecurityEvent.objects.get(kind=SecurityEventKind.EXPORT, detail__job_id=job.pk)
    assert event.user == rep
    assert event.detail["format"] == "xlsx"
    assert event.detail["rows"] == 1
    # The sort is recorded too: the list's own when the page had none.
    assert event.detail["query"] == "tier=key&sort=name"
    page = rep_client.get(f"/ui/jobs/{job.pk}/").content.decode()
    assert f"/ui/jobs/{job.pk}/download/" in page
    download = rep_client.get(f"/ui/jobs/{job.pk}/download/")
    assert download["Content-Disposition"].endswith('.xlsx"')
    # A redelivered job neither rewrites the log nor runs again.
    export_csv_run(job_id=job.pk)
    assert SecurityEvent.objects.filter(detail__job_id=job.pk).count() == 1


def test_xlsx_export_leaves_out_hidden_fields(client, rep, sales_roles):
    FieldPermission.objects.create(
        role=sales_roles["rep"],
        object_type="contacts.account",
        field="annual_revenue",
        access="hidden",
    )
    acme = account_create(user=rep, name="Acme")
    Account.objects.filter(pk=acme.pk).update(annual_revenue=Decimal("10"))
    client.force_login(rep)
    header = _sheet(_export(client, "/accounts/export/"))[0]
    assert "annual_revenue" not in header
    assert "name" in header


def test_export_without_export_permission_is_refused_and_not_logged(client):
    role = make_role("Reader")
    grant(role, "contacts.account", "read")
    client.force_login(UserFactory(role=role))
    assert client.post("/accounts/export/", {"format": "xlsx"}).status_code == 403
    assert not Job.objects.exists()
    assert not SecurityEvent.objects.filter(kind=SecurityEventKind.EXPORT).exists()


def test_unknown_export_format_is_refused_with_a_message(rep_client):
    response = rep_client.post("/accounts/export/", {"format": "pdf"}, follow=True)
    assert "choose CSV or XLSX" in response.content.decode()
    assert not Job.objects.exists()


def test_export_of_a_data_quality_list_has_only_its_records(rep_client, rep):
    account_create(user=rep, name="No industry")
    account_create(user=rep, name="Has industry", industry="Retail")
    job = _export(rep_client, "/accounts/export/", "quality=account_no_industry", "csv")
    text = job.result_file.open().read().decode()
    assert "No industry" in text
    assert "Has industry" not in text


def test_every_list_offers_csv_and_xlsx_and_contacts_offer_vcard(rep_client, rep):
    html = rep_client.get("/accounts/").content.decode()
    assert 'name="format" value="csv"' in html
    assert 'name="format" value="xlsx"' in html
    contacts = rep_client.get("/contacts/").content.decode()
    assert 'name="format" value="xlsx"' in contacts
    assert 'id="vcard-export"' in contacts


def test_xlsx_export_reads_rows_in_a_fixed_number_of_queries(rep_client, rep):
    for index in range(3):
        contact_create(user=rep, last_name=f"Lee {index}", email=f"lee{index}@example.com")
    rep_client.post("/contacts/export/", {"format": "xlsx"})
    job = Job.objects.get()
    # The same queries for 3 rows and for 30: rows are read in chunks with their relations.
    with assert_max_queries(20):
        export_csv_run(job_id=job.pk)
    for index in range(3, 30):
        contact_create(user=rep, last_name=f"Lee {index}", email=f"lee{index}@example.com")
    rep_client.post("/contacts/export/", {"format": "xlsx"})
    job = Job.objects.latest("pk")
    with assert_max_queries(20):
        export_csv_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.result["rows"] == 30


# ---------- iCalendar export of the activities list ----------


@pytest.fixture
def activity_roles(sales_roles):
    for role in sales_roles.values():
        grant(role, "activities.activity", "create", "read", "update", "delete", "export")
    return sales_roles


def test_activities_list_exports_ics_with_its_filters(client, rep, activity_roles):
    start = timezone.now().replace(microsecond=0) + datetime.timedelta(days=2)
    activity_create(
        user=rep,
        kind=ActivityKind.APPOINTMENT,
        subject="Quarterly review",
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=1),
    )
    activity_create(
        user=rep, kind=ActivityKind.TASK, subject="Send proposal", due_at=start, status="open"
    )
    activity_create(user=rep, kind=ActivityKind.NOTE, subject="Just a note")
    client.force_login(rep)
    html = client.get("/activities/").content.decode()
    assert 'id="ics-export"' in html
    with assert_max_queries(14):
        response = client.get("/activities/ics/")
        body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(body)
    summaries = {str(c["summary"]) for c in calendar.walk() if c.name in ("VEVENT", "VTODO")}
    assert summaries == {"Quarterly review", "Send proposal"}
    only_tasks = client.get("/activities/ics/?kind=task")
    calendar = icalendar.Calendar.from_ical(only_tasks.content)
    assert [str(c["summary"]) for c in calendar.walk("VTODO")] == ["Send proposal"]
    assert not calendar.walk("VEVENT")
    event = SecurityEvent.objects.filter(kind=SecurityEventKind.EXPORT).latest("pk")
    assert event.detail["format"] == "ics"
    assert event.detail["object_type"] == "activities.activity"


def test_activities_ics_export_needs_the_export_permission(client, sales_roles):
    role = make_role("Activity reader")
    grant(role, "activities.activity", "read")
    client.force_login(UserFactory(role=role))
    assert client.get("/activities/ics/").status_code == 403
    assert 'id="ics-export"' not in client.get("/activities/").content.decode()


def test_ics_export_shows_only_visible_activities(rep, other_rep, activity_roles):
    from patron.core.choices import OrgWideAccess
    from patron.core.testing import set_org_default

    set_org_default("activities.activity", OrgWideAccess.PRIVATE)
    start = timezone.now() + datetime.timedelta(days=1)
    activity_create(
        user=rep,
        kind=ActivityKind.APPOINTMENT,
        subject="Visible marker-7731",
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=1),
    )
    check_visibility_matrix(
        [Endpoint("activities ics", "/activities/ics/", "export")],
        marker="marker-7731",
        allowed=rep,
        denied=other_rep,
    )
