"""Imports: reading files, mapping, modes, related records, preview, partial failure and the
error file, revert, resumption after a killed worker, bad input, API and visibility."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings

from patron.contacts.models import Account, Contact, ContactEmail
from patron.core.choices import Via
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.importing import BatchWriter
from patron.core.models import ChangeLogEntry, Job
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix, grant
from patron.data_exchange import import_reading
from patron.data_exchange.choices import ImportStatus, RowOutcome
from patron.data_exchange.import_services import (
    import_configure,
    import_error_rows,
    import_execute,
    import_preview,
    import_revert_execute,
    import_revert_start,
    import_start,
    import_upload,
)
from patron.data_exchange.models import ImportMapping, ImportRow, ImportRun
from patron.users.models import User
from patron.users.services import role_create

MAVEN = Path("/work/shared/datasets/maven-crm-sales")


def upload(user: Any, object_type: str, data: bytes, name: str = "people.csv") -> ImportRun:
    return import_upload(
        user=user, object_type=object_type, upload=SimpleUploadedFile(name, data), file_name=name
    )


def run_import(user: Any, run: ImportRun, *, batch_size: int = 1000, **config: Any) -> ImportRun:
    if config:
        import_configure(user=user, run=run, **config)
    import_start(user=user, run=run)
    run.refresh_from_db()
    assert run.job_id is not None
    import_execute(run.job_id, batch_size=batch_size)
    run.refresh_from_db()
    return run


def revert_import(user: Any, run: ImportRun) -> dict[str, Any]:
    """Revert ``run`` as its worker would (``run`` refreshed); the revert job's result."""
    import_revert_start(user=user, run=run)
    run.refresh_from_db()
    assert run.job_id is not None
    job = import_revert_execute(run.job_id)
    run.refresh_from_db()
    assert job is not None
    assert job.result is not None
    return dict(job.result)



class WorkerKilled(BaseException):
    """Stands in for SIGKILL: no ``except Exception`` catches it, so nothing after it runs."""


@contextmanager
def killed_at_write(call: int) -> Iterator[None]:
    """The worker dies as it is about to write its ``call``-th batch."""
    real = BatchWriter.write
    calls = 0

    def dying(writer: BatchWriter, creates: Any, updates: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == call:
            raise WorkerKilled
        return real(writer, creates, updates)

    with mock.patch.object(BatchWriter, "write", dying):
        yield


class ImportTestCase(TestCase):
    role: Any
    user: Any
    admin: Any
    viewer_role: Any
    viewer: Any

    @classmethod
    def setUpTestData(cls) -> None:
        cls.role = role_create(name="Importer")
        for object_type in ("contacts.contact", "contacts.account"):
            grant(cls.role, object_type, "create", "read", "update", "delete", "import")
        cls.user = User.objects.create_user(
            "ann@example.com", "pw", role=cls.role, full_name="Ann Lee"
        )
        cls.admin = User.objects.create_user("root@example.com", "pw", is_superuser=True)
        cls.viewer_role = role_create(name="Viewer")
        grant(cls.viewer_role, "contacts.contact", "create", "read", "update")
        cls.viewer = User.objects.create_user("vic@example.com", "pw", role=cls.viewer_role)


class ReadingTests(ImportTestCase):
    def test_semicolon_utf8_bom_and_quoted_newlines(self) -> None:
        data = '\ufefflast_name;first_name;description\n"Müller";Jörg;"line one\nline two"\n'
        run = upload(self.user, "contacts.contact", data.encode("utf-8"))
        assert run.encoding == "utf-8-sig"
        assert run.delimiter == ";"
        assert run.headers == ["last_name", "first_name", "description"]
        run = run_import(self.user, run, columns=run.columns)
        contact = Contact.objects.get(last_name="Müller")
        assert contact.description == "line one\nline two"
        assert contact.first_name == "Jörg"

    def test_windows_1252_and_latin1_are_detected(self) -> None:
        cp = "Last name,Notes\nDupré,“quoted” 5€\n".encode("cp1252")
        run = upload(self.user, "contacts.contact", cp)
        assert run.encoding == "windows-1252"
        latin = "Last name\tFirst name\nGarçon\tJosé\n".encode("latin-1")
        run2 = upload(self.user, "contacts.contact", latin)
        assert (run2.encoding, run2.delimiter) == ("latin-1", "\t")
        run2 = run_import(self.user, run2, columns=run2.columns)
        assert Contact.objects.filter(last_name="Garçon", first_name="José").exists()

    def test_xlsx_dates_are_read_as_dates(self) -> None:
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["Last Name", "Birthdate", "Email"])
        sheet.append(["Lovelace", datetime.datetime(1985, 12, 10), "ada@example.com"])
        buffer = io.BytesIO()
        book.save(buffer)
        run = upload(self.admin, "contacts.contact", buffer.getvalue(), name="people.xlsx")
        assert run.columns == {"Last Name": "last_name", "Birthdate": "birthdate", "Email": "email"}
        run = run_import(self.admin, run, columns=run.columns)
        assert list(ImportRow.objects.filter(run=run).values_list("error", flat=True)) == [""]
        contact = Contact.objects.get(email="ada@example.com")
        assert contact.birthdate == datetime.date(1985, 12, 10)

    def test_large_workbooks_are_streamed_and_import_the_same(self) -> None:
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["Last Name", "Birthdate", "Email"])
        sheet.append(["Lovelace", datetime.datetime(1985, 12, 10), "ada@example.com"])
        sheet.append([None, None, None])
        sheet.append(["Hopper", datetime.date(1906, 12, 9), "grace@example.com"])
        buffer = io.BytesIO()
        book.save(buffer)
        # Every workbook counts as large, so openpyxl streams it.
        with (
            mock.patch.object(import_reading, "XLSX_IN_MEMORY_MAX_BYTES", 0),
            mock.patch("openpyxl.load_workbook", wraps=openpyxl.load_workbook) as streamed,
        ):
            run = upload(self.admin, "contacts.contact", buffer.getvalue(), name="people.xlsx")
            assert run.columns == {
                "Last Name": "last_name", "Birthdate": "birthdate", "Email": "email"
            }
            run = run_import(self.admin, run, columns=run.columns)
        assert all(call.kwargs["read_only"] for call in streamed.call_args_list)
        assert streamed.call_count >= 3  # inspection, counting, importing
        assert list(ImportRow.objects.filter(run=run).values_list("row_number", "error")) == [
            (2, ""), (3, ""),
        ]
        born = dict(Contact.objects.values_list("last_name", "birthdate"))
        assert born == {
            "Lovelace": datetime.date(1985, 12, 10), "Hopper": datetime.date(1906, 12, 9)
        }


class BadInputTests(ImportTestCase):
    def assert_refused(self, data: bytes, fragment: str, name: str = "x.csv") -> None:
        with pytest.raises(ValidationFailed) as ctx:
            upload(self.user, "contacts.contact", data, name=name)
        assert fragment in ctx.value.errors["file"][0]
        assert ImportRun.objects.count() == 0

    def test_empty_file(self) -> None:
        self.assert_refused(b"", "empty")

    def test_binary_file_renamed_csv(self) -> None:
        self.assert_refused(b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR" * 20, "PNG")
        self.assert_refused(bytes(range(256)) * 10, "not a text file")

    def test_undecodable_encoding(self) -> None:
        self.assert_refused(b"last_name\n\x81\x8d\x90 bad \xe9\x9d\n", "encoding")

    def test_header_without_rows(self) -> None:
        self.assert_refused(b"last_name,email\n", "no data rows")

    @override_settings(PATRON_IMPORT_MAX_BYTES=100)
    def test_file_over_the_limit(self) -> None:
        self.assert_refused(b"last_name\n" + b"x\n" * 200, "the limit is")

    def test_columns_mapped_twice_and_unknown_match_key(self) -> None:
        run = upload(self.user, "contacts.contact", b"a,b\nx,y\n")
        with pytest.raises(ValidationFailed) as ctx:
            import_configure(user=self.user, run=run, columns={"a": "last_name", "b": "last_name"})
        assert "mapped twice" in " ".join(ctx.value.errors["columns"])
        with pytest.raises(ValidationFailed) as ctx:
            import_configure(
                user=self.user, run=run, columns={"a": "last_name"}, mode="upsert", match_key="shoe"
            )
        assert "not a match key" in ctx.value.errors["match_key"][0]
        assert Contact.objects.count() == 0

    def test_ragged_row_fails_alone(self) -> None:
        run = upload(
            self.user,
            "contacts.contact",
            b"last_name,email\nA,a@example.com\nB,b@example.com,extra\n",
        )
        run = run_import(self.user, run, columns=run.columns)
        assert (run.created_count, run.failed_count) == (1, 1)
        assert "2 columns" in ImportRow.objects.get(run=run, outcome="failed").error

    def test_no_import_permission(self) -> None:
        with pytest.raises(PermissionDenied):
            upload(self.viewer, "contacts.contact", b"last_name\nX\n")


class ModeTests(ImportTestCase):
    def test_create_update_upsert_by_email(self) -> None:
        existing = Contact.objects.create(owner=self.user, last_name="Old", email="bo@example.com")
        data = b"Email,Last Name,Title\nbo@example.com,Bo,CTO\nnew@example.com,New,CEO\n"
        run = upload(self.user, "contacts.contact", data)
        run = run_import(self.user, run, columns=run.columns, mode="update", match_key="email")
        assert (run.updated_count, run.failed_count) == (1, 1)
        existing.refresh_from_db()
        assert (existing.last_name, existing.title, existing.version) == ("Bo", "CTO", 2)
        assert "No contact with Email" in ImportRow.objects.get(run=run, outcome="failed").error

        run = upload(self.user, "contacts.contact", data)
        run = run_import(self.user, run, columns=run.columns, mode="create", match_key="email")
        assert (run.created_count, run.skipped_count) == (1, 1)

        run = upload(self.user, "contacts.contact", data.replace(b"CEO", b"COO"))
        run = run_import(self.user, run, columns=run.columns, mode="upsert", match_key="email")
        assert (run.updated_count, run.skipped_count) == (1, 1)
        assert Contact.objects.get(email="new@example.com").title == "COO"
        assert Contact.objects.filter(email="new@example.com").count() == 1
        log = ChangeLogEntry.objects.filter(via=Via.IMPORT, object_id=existing.pk, action="update")
        assert log.exists()

    def test_upsert_merges_repeated_keys_within_the_file(self) -> None:
        data = b"email,last_name,title\nx@example.com,X,One\nX@Example.com,X,Two\n"
        run = upload(self.user, "contacts.contact", data)
        run = run_import(self.user, run, columns=run.columns, mode="upsert", match_key="email")
        assert Contact.objects.filter(email="x@example.com").count() == 1
        assert Contact.objects.get(email="x@example.com").title == "Two"
        assert ContactEmail.objects.filter(email="x@example.com", is_primary=True).count() == 1

    def test_related_account_by_name_domain_and_owner_by_email(self) -> None:
        acme = Account.objects.create(owner=self.user, name="Acme Corp", domain="acme.com")
        Account.objects.create(owner=self.user, name="Beta")
        other = User.objects.create_user(
            "bob@example.com", "pw", role=self.role, full_name="Bob Ray"
        )
        data = (
            b"last_name,account,owner\n"
            b"A,acme corp,bob@example.com\nB,https://www.acme.com,Bob Ray\nC,Nowhere Ltd,\n"
        )
        run = upload(self.user, "contacts.contact", data)
        run = run_import(self.user, run, columns=run.columns)
        assert run.created_count == 2
        a, b = Contact.objects.get(last_name="A"), Contact.objects.get(last_name="B")
        assert (a.account_id, b.account_id) == (acme.pk, acme.pk)
        assert (a.owner_id, b.owner_id) == (other.pk, other.pk)
        failed = ImportRow.objects.get(run=run, outcome="failed")
        assert "No account matches “Nowhere Ltd”" in failed.error

    def test_defaults_fill_unmapped_fields(self) -> None:
        run = upload(self.user, "contacts.contact", b"last_name\nZed\n")
        run_import(self.user, run, columns=run.columns, defaults={"department": "Sales"})
        assert Contact.objects.get(last_name="Zed").department == "Sales"


class PreviewTests(ImportTestCase):
    def test_preview_shows_values_and_errors_and_writes_nothing(self) -> None:
        data = b"Last Name,Email,Birthdate\nLee,LEE@Example.com,2001-02-03\n,bad,someday\n"
        run = upload(self.admin, "contacts.contact", data)
        import_configure(user=self.admin, run=run, columns=run.columns)
        changes = ChangeLogEntry.objects.count()
        with assert_max_queries(8):
            rows = import_preview(user=self.admin, run=run)
        assert rows[0].action == "create"
        assert rows[0].values["Email"] == "lee@example.com"
        assert rows[0].values["Birthdate"] == "2001-02-03"
        assert rows[1].action == "error"
        assert "Last name is required" in rows[1].error
        assert "not a date" in rows[1].error
        assert Contact.objects.count() == 0
        assert ChangeLogEntry.objects.count() == changes
        assert ImportRow.objects.count() == 0


class FailureRevertResumeTests(ImportTestCase):
    def test_partial_failure_error_file_and_revert(self) -> None:
        keep = Contact.objects.create(
            owner=self.user, last_name="Keep", email="keep@example.com", title="Old"
        )
        data = (
            b"email,last_name,title\n"
            b"keep@example.com,Keep,New\n"
            b"one@example.com,One,\n"
            b"not-an-email,Two,\n"
            b"three@example.com,,\n"
        )
        run = upload(self.user, "contacts.contact", data)
        run = run_import(self.user, run, columns=run.columns, mode="upsert", match_key="email")
        assert (run.created_count, run.updated_count, run.failed_count) == (1, 1, 2)
        rows = list(import_error_rows(run))
        assert rows[0] == ["email", "last_name", "title", "Import error"]
        assert [r[0] for r in rows[1:]] == ["not-an-email", "three@example.com"]
        assert "Row 4: Email" in rows[1][3]
        # The error file imports again once fixed.
        fixed = io.StringIO()
        writer = csv.writer(fixed)
        writer.writerow(rows[0][:3])
        writer.writerow(["two@example.com", "Two", ""])
        writer.writerow([rows[2][0], "Three", ""])
        again = upload(self.user, "contacts.contact", fixed.getvalue().encode())
        again = run_import(self.user, again, columns=again.columns)
        assert again.created_count == 2

        revert_import(self.user, run)
        assert run.status == ImportStatus.REVERTED
        keep.refresh_from_db()
        assert keep.title == "Old"
        assert not Contact.objects.filter(email="one@example.com").exists()
        removed = Contact.all_objects.filter(email="one@example.com", deleted_at__isnull=False)
        assert removed.exists()

    def test_revert_keeps_records_changed_since_the_import(self) -> None:
        from patron.contacts.services import contact_update

        edited = Contact.objects.create(
            owner=self.user, last_name="Edited", email="edited@example.com", title="Old"
        )
        untouched = Contact.objects.create(
            owner=self.user, last_name="Untouched", email="untouched@example.com", title="Old"
        )
        data = (
            b"email,last_name,title\n"
            b"edited@example.com,Edited,Imported\n"
            b"untouched@example.com,Untouched,Imported\n"
            b"new@example.com,New,Imported\n"
            b"worked@example.com,Worked,Imported\n"
        )
        run = upload(self.user, "contacts.contact", data)
        run = run_import(self.user, run, columns=run.columns, mode="upsert", match_key="email")
        assert (run.created_count, run.updated_count) == (2, 2)
        edited.refresh_from_db()
        contact_update(user=self.user, contact=edited, title="Set by hand")
        worked = Contact.objects.get(email="worked@example.com")
        contact_update(user=self.user, contact=worked, description="Called, wants a demo")

        result = revert_import(self.user, run)
        assert (result["removed"], result["restored"], result["kept"]) == (1, 1, 2)
        edited.refresh_from_db()
        untouched.refresh_from_db()
        assert (edited.title, untouched.title) == ("Set by hand", "Old")
        assert not Contact.objects.filter(email="new@example.com").exists()
        assert Contact.objects.get(email="worked@example.com").description == (
            "Called, wants a demo"
        )
        self.client.force_login(self.user)
        page = self.client.get(f"/data/imports/{run.pk}/")
        assert "2 records changed since the import were kept" in page.content.decode()
        assert self.client.get(f"/api/v1/data/imports/{run.pk}").json()["reverted_kept"] == 2

    def test_resumes_after_a_killed_worker_without_duplicates_or_losses(self) -> None:
        lines = ["email,last_name"] + [f"p{i}@example.com,P{i}" for i in range(35)]
        run = upload(self.user, "contacts.contact", "\n".join(lines).encode())
        import_configure(
            user=self.user, run=run, columns=run.columns, mode="upsert", match_key="email"
        )
        import_start(user=self.user, run=run)
        run.refresh_from_db()

        assert run.job_id is not None
        with killed_at_write(3), pytest.raises(WorkerKilled):
            import_execute(run.job_id, batch_size=10)
        run.refresh_from_db()
        assert run.rows_done == 20
        assert Contact.objects.count() == 20
        assert Job.objects.get(pk=run.job_id).status == "running"
        import_execute(run.job_id, batch_size=10)  # the redelivered message
        run.refresh_from_db()
        assert run.status == ImportStatus.DONE
        assert Contact.objects.count() == 35
        assert ImportRow.objects.filter(run=run, outcome=RowOutcome.CREATED).count() == 35
        assert len(set(Contact.objects.values_list("email", flat=True))) == 35
        assert import_execute(run.job_id, batch_size=10) is None  # finished: a no-op

    def test_batch_queries_do_not_grow_with_rows(self) -> None:
        Account.objects.create(owner=self.user, name="Acme")

        def queries(n: int) -> int:
            lines = ["email,last_name,account"] + [
                f"q{n}-{i}@example.com,Q{i},Acme" for i in range(n)
            ]
            run = upload(self.user, "contacts.contact", "\n".join(lines).encode())
            import_configure(
                user=self.user, run=run, columns=run.columns, mode="upsert", match_key="email"
            )
            import_start(user=self.user, run=run)
            run.refresh_from_db()
            from django.db import connection
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as ctx:
                assert run.job_id is not None
                import_execute(run.job_id)
            return len(ctx.captured_queries)

        # Ten times the rows: at most a few more statements (bulk inserts split by the
        # database's parameter limit), never one per row.
        few, many = queries(5), queries(50)
        assert many - few < 10, (few, many)


class MavenTests(ImportTestCase):
    def test_maven_accounts_and_opportunities_import_with_a_saved_mapping(self) -> None:
        from patron.core.testing import grant as give
        from patron.pipeline.models import Opportunity, Pipeline, Stage

        give(self.role, "pipeline.opportunity", "create", "read", "update", "import")
        pipeline = Pipeline.objects.create(name="Maven", is_default=True)
        for position, (name, probability, category, _closed, _won) in enumerate(
            [
                ("Prospecting", 10, "pipeline", False, False),
                ("Engaging", 50, "best_case", False, False),
                ("Won", 100, "closed_won", True, True),
                ("Lost", 0, "closed_lost", True, False),
            ]
        ):
            Stage.objects.create(
                pipeline=pipeline,
                name=name,
                position=position,
                probability=probability,
                forecast_category=category,
            )
        agents = {row["sales_agent"] for row in csv.DictReader((MAVEN / "sales_teams.csv").open())}
        for n, agent in enumerate(sorted(agents)):
            User.objects.create_user(
                f"agent{n}@maven.example", "pw", full_name=agent, role=self.role
            )

        run = upload(
            self.user, "contacts.account", (MAVEN / "accounts.csv").read_bytes(), "accounts.csv"
        )
        assert run.columns["account"] == "name"
        assert run.columns["sector"] == "industry"
        # Revenue is a sensitive field the importer's role may not write.
        columns = {k: v for k, v in run.columns.items() if v not in ("parent", "annual_revenue")}
        run = run_import(
            self.user,
            run,
            columns=columns,
            save_as="Maven accounts",
            mode="upsert",
            match_key="name",
        )
        assert run.created_count + run.failed_count == 85
        assert run.created_count >= 80
        # The data spells some countries its own way; those rows say so in the error file.
        for error in ImportRow.objects.filter(run=run, outcome="failed").values_list(
            "error", flat=True
        ):
            assert "is not a country" in error
        assert ImportMapping.objects.filter(name="Maven accounts").exists()
        assert Account.objects.get(name="Acme Corporation").employee_count == 2822

        data = b"".join((MAVEN / "sales_pipeline.csv").open("rb").readlines()[:201])
        run = upload(self.user, "pipeline.opportunity", data, "sales_pipeline.csv")
        run = run_import(
            self.user,
            run,
            columns={**run.columns, "opportunity_id": "name"},
            defaults={"close_date": "2017-12-31"},
            save_as="Maven deals",
        )
        assert run.created_count + run.failed_count == 200
        assert run.created_count > 150
        won = Opportunity.objects.filter(stage__name="Won").first()
        assert won is not None
        assert won.is_won
        assert won.account_id is not None
        assert won.owner_id != self.user.pk


class ApiAndVisibilityTests(ImportTestCase):
    def test_api_flow_and_list_query_count(self) -> None:
        self.client.force_login(self.user)
        response = self.client.post(
            "/api/v1/data/imports",
            {
                "object_type": "contacts.contact",
                "file": SimpleUploadedFile("a.csv", b"Last Name,Email\nLee,lee@example.com\n"),
            },
        )
        assert response.status_code == 201, response.content
        run_id = response.json()["id"]
        response = self.client.put(
            f"/api/v1/data/imports/{run_id}/mapping",
            {"columns": {"Last Name": "last_name", "Email": "last_name"}},
            content_type="application/json",
        )
        assert response.status_code == 422
        response = self.client.put(
            f"/api/v1/data/imports/{run_id}/mapping",
            {"columns": {"Last Name": "last_name", "Email": "email"}},
            content_type="application/json",
        )
        assert response.status_code == 200
        preview = self.client.get(f"/api/v1/data/imports/{run_id}/preview").json()
        assert preview[0]["values"]["Email"] == "lee@example.com"
        assert (
            self.client.post(
                f"/api/v1/data/imports/{run_id}/start", {}, content_type="application/json"
            ).status_code
            == 202
        )
        bad = self.client.post(
            "/api/v1/data/imports",
            {"object_type": "contacts.contact", "file": SimpleUploadedFile("b.csv", b"")},
        )
        assert bad.status_code == 422
        for n in range(3):
            upload(self.user, "contacts.contact", f"last_name\nX{n}\n".encode())
        with assert_max_queries(6):
            assert self.client.get("/api/v1/data/imports?limit=2").status_code == 200
        with assert_max_queries(12):
            assert self.client.get("/data/imports/").status_code == 200

    def test_visibility_matrix(self) -> None:
        run = upload(
            self.user, "contacts.contact", b"last_name\nMarkerPerson\n", name="marker-file-7.csv"
        )
        stranger = User.objects.create_user("sam@example.com", "pw", role=self.role)
        check_visibility_matrix(
            [
                Endpoint("history", "/data/imports/", "list"),
                Endpoint("api list", "/api/v1/data/imports", "list"),
                Endpoint("detail", f"/data/imports/{run.pk}/", "detail"),
                Endpoint("api detail", f"/api/v1/data/imports/{run.pk}", "detail"),
            ],
            marker="marker-file-7",
            allowed=self.user,
            denied=stranger,
        )


class CommandLineAndPageTests(ImportTestCase):
    def test_cli_imports_with_a_saved_mapping_and_progress(self) -> None:
        from patron.cli import main

        ImportMapping.objects.create(
            name="People",
            object_type="contacts.contact",
            columns={"Surname": "last_name", "Mail": "email"},
            mode="upsert",
            match_key="email",
        )
        path = Path(self.enterContext(self._tmpdir())) / "people.csv"
        path.write_text("Surname,Mail\nCli,cli@example.com\nCli2,bad-email\n", encoding="utf-8")
        out = io.StringIO()
        with mock.patch("sys.stdout", out):
            status = main(
                ["import", "contacts", str(path), "--mapping", "people", "--user", self.user.email]
            )
        assert status == 1  # one row failed
        assert "1 created, 0 updated, 0 skipped, 1 failed" in out.getvalue()
        assert "100%" in out.getvalue()
        assert Contact.objects.get(email="cli@example.com").last_name == "Cli"

    def _tmpdir(self) -> Any:
        import tempfile

        return tempfile.TemporaryDirectory()

    def test_pages_upload_map_preview_start_and_results(self) -> None:
        self.client.force_login(self.user)
        assert self.client.get("/data/imports/new/").status_code == 200
        response = self.client.post(
            "/data/imports/new/",
            {
                "object_type": "contacts.contact",
                "file": SimpleUploadedFile("page.csv", b"Last Name,Email\nPage,page@example.com\n"),
            },
        )
        assert response.status_code == 302
        url = response["Location"]
        page = self.client.get(url)
        assert b"Map columns" in page.content
        preview = self.client.post(
            url, {"action": "preview", "col-0": "last_name", "col-1": "email", "mode": "create"}
        )
        assert b"page@example.com" in preview.content
        assert not Contact.objects.filter(email="page@example.com").exists()
        twice = self.client.post(
            url, {"action": "preview", "col-0": "last_name", "col-1": "last_name", "mode": "create"}
        )
        assert twice.status_code == 422
        assert b"mapped twice" in twice.content
        started = self.client.post(
            url, {"action": "start", "col-0": "last_name", "col-1": "email", "mode": "create"}
        )
        assert started.status_code == 302
        run = ImportRun.objects.get(file_name="page.csv")
        assert run.job_id is not None
        import_execute(run.job_id)
        done = self.client.get(url)
        assert b"Revert this import" in done.content
        assert b"import-counts" in done.content
        bad = self.client.post(
            "/data/imports/new/",
            {"object_type": "contacts.contact", "file": SimpleUploadedFile("x.csv", b"")},
        )
        assert bad.status_code == 422
        assert "empty" in bad.content.decode()
