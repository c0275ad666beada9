"""Imports whose rows name a record further down the same file (an account's parent): the
row waits, is imported after the rest of the file, and fails only if the record never came."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patron.contacts.models import Account
from patron.core.models import Job
from patron.data_exchange.choices import ImportStatus, RowOutcome
from patron.data_exchange.import_services import (
    import_configure,
    import_error_rows,
    import_execute,
    import_preview,
    import_start,
)
from patron.data_exchange.models import ImportRow, ImportRun
from patron.data_exchange.tests.test_imports import (
    ImportTestCase,
    WorkerKilled,
    killed_at_write,
    revert_import,
    run_import,
    upload,
)


def accounts_csv(*rows: tuple[str, str]) -> bytes:
    return ("name,parent\n" + "".join(f"{name},{parent}\n" for name, parent in rows)).encode()


def parent_name(name: str) -> str | None:
    parent = Account.objects.select_related("parent").get(name=name).parent
    return parent.name if parent else None


class DeferredRowTests(ImportTestCase):
    def start(self, data: bytes) -> ImportRun:
        run = upload(self.user, "contacts.account", data, name="accounts.csv")
        import_configure(user=self.user, run=run, columns=run.columns)
        import_start(user=self.user, run=run)
        run.refresh_from_db()
        return run

    def test_parent_further_down_the_file_is_found(self) -> None:
        fillers = [(f"Filler {i}", "") for i in range(6)]
        data = accounts_csv(("Initech", "Globex"), *fillers, ("Globex", ""))
        run = upload(self.user, "contacts.account", data, name="accounts.csv")
        run = run_import(self.user, run, batch_size=3, columns=run.columns)
        assert run.status == ImportStatus.DONE
        assert (run.created_count, run.failed_count) == (8, 0)
        assert parent_name("Initech") == "Globex"
        row = ImportRow.objects.get(run=run, row_number=2)
        assert row.outcome == RowOutcome.CREATED
        assert row.object_id == Account.objects.get(name="Initech").pk
        assert row.raw is None
        assert not ImportRow.objects.filter(run=run, outcome=RowOutcome.DEFERRED).exists()

    def test_parent_later_in_the_same_batch_is_found(self) -> None:
        data = accounts_csv(("Initech", "Globex"), ("Globex", ""))
        run = upload(self.user, "contacts.account", data)
        run = run_import(self.user, run, columns=run.columns)
        assert (run.created_count, run.failed_count) == (2, 0)
        assert parent_name("Initech") == "Globex"

    def test_parent_missing_everywhere_fails_with_the_reason_in_the_error_file(self) -> None:
        data = accounts_csv(("Initech", "Nowhere Ltd"), ("Globex", ""), ("Hooli", "globex"))
        run = upload(self.user, "contacts.account", data, name="accounts.csv")
        run = run_import(self.user, run, batch_size=2, columns=run.columns)
        assert (run.created_count, run.failed_count) == (2, 1)
        assert parent_name("Hooli") == "Globex"
        assert not Account.objects.filter(name="Initech").exists()
        rows = list(import_error_rows(run))
        assert rows[0] == ["name", "parent", "Import error"]
        assert rows[1][:2] == ["Initech", "Nowhere Ltd"]
        assert rows[1][2] == (
            "Row 2: Parent account: No account matches “Nowhere Ltd” (or you may not see it). "
            "It is not further down the file either."
        )

    def test_chain_of_parents_further_down(self) -> None:
        data = accounts_csv(("Alpha", "Bravo"), ("Bravo", "Charlie"), ("Charlie", ""))
        run = upload(self.user, "contacts.account", data)
        run = run_import(self.user, run, columns=run.columns)
        assert (run.created_count, run.failed_count) == (3, 0)
        assert (parent_name("Alpha"), parent_name("Bravo"), parent_name("Charlie")) == (
            "Bravo",
            "Charlie",
            None,
        )
        assert ImportRow.objects.filter(run=run, outcome=RowOutcome.CREATED).count() == 3

    def test_parents_naming_each_other_fail_once_nothing_more_is_found(self) -> None:
        data = accounts_csv(("Alpha", "Bravo"), ("Bravo", "Alpha"), ("Charlie", ""))
        run = upload(self.user, "contacts.account", data)
        run = run_import(self.user, run, columns=run.columns)
        assert (run.created_count, run.failed_count) == (1, 2)
        failed = ImportRow.objects.filter(run=run, outcome=RowOutcome.FAILED)
        assert [r.row_number for r in failed.order_by("row_number")] == [2, 3]

    def test_row_with_another_error_fails_at_once(self) -> None:
        data = b"name,parent,employee_count\nInitech,Globex,many\nGlobex,,5\n"
        run = upload(self.user, "contacts.account", data)
        run = run_import(self.user, run, columns=run.columns)
        assert (run.created_count, run.failed_count) == (1, 1)
        error = ImportRow.objects.get(run=run, row_number=2).error
        assert "Employees:" in error
        assert "Parent account: No account matches “Globex”" in error

    def test_a_missing_account_of_a_contact_is_not_waited_for(self) -> None:
        # A contacts file cannot bring accounts, so its misses fail in the first pass.
        run = upload(self.user, "contacts.contact", b"last_name,account\nLee,Nowhere Ltd\n")
        run = run_import(self.user, run, columns=run.columns)
        row = ImportRow.objects.get(run=run)
        assert row.outcome == RowOutcome.FAILED
        assert row.error == "Account: No account matches “Nowhere Ltd” (or you may not see it)."

    def test_preview_says_the_row_waits_for_a_later_row(self) -> None:
        run = upload(self.user, "contacts.account", accounts_csv(("Initech", "Globex")))
        import_configure(user=self.user, run=run, columns=run.columns)
        (row,) = import_preview(user=self.user, run=run)
        assert row.action == "error"
        assert row.error.endswith("If it is further down the file, this row is imported after it.")

    def test_resumes_a_worker_killed_during_the_retry(self) -> None:
        data = accounts_csv(("Initech", "Globex"), ("Filler", ""), ("Hooli", ""), ("Globex", ""))
        run = self.start(data)

        assert run.job_id is not None
        # The retry of row 2 is the third write, after two batches of two rows.
        with killed_at_write(3), pytest.raises(WorkerKilled):
            import_execute(run.job_id, batch_size=2)
        run.refresh_from_db()
        assert (run.rows_done, run.created_count) == (4, 3)
        assert ImportRow.objects.get(run=run, row_number=2).outcome == RowOutcome.DEFERRED
        assert Job.objects.get(pk=run.job_id).status == "running"
        import_execute(run.job_id, batch_size=2)  # the redelivered message
        run.refresh_from_db()
        assert run.status == ImportStatus.DONE
        assert (run.created_count, run.failed_count) == (4, 0)
        assert Account.objects.filter(name="Initech").count() == 1
        assert parent_name("Initech") == "Globex"
        outcomes = ImportRow.objects.filter(run=run).values_list("outcome", flat=True)
        assert list(outcomes) == [RowOutcome.CREATED] * 4

    def test_revert_removes_rows_imported_in_the_retry(self) -> None:
        data = accounts_csv(("Initech", "Globex"), ("Globex", ""))
        run = upload(self.user, "contacts.account", data)
        run = run_import(self.user, run, batch_size=1, columns=run.columns)
        assert revert_import(self.user, run)["removed"] == 2
        assert not Account.objects.filter(name__in=["Initech", "Globex"]).exists()

    def test_retry_queries_do_not_grow_with_waiting_rows(self) -> None:
        def queries(n: int) -> int:
            rows = [(f"Child {n}-{i}", f"Parent {n}") for i in range(n)]
            run = self.start(accounts_csv(*rows, (f"Parent {n}", "")))
            assert run.job_id is not None
            with CaptureQueriesContext(connection) as ctx:
                import_execute(run.job_id)
            run.refresh_from_db()
            assert run.created_count == n + 1
            return len(ctx.captured_queries)

        few, many = queries(3), queries(30)
        assert many - few < 10, (few, many)

    def test_cli_imports_a_parent_further_down(self) -> None:
        from patron.cli import main

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "accounts.csv"
            path.write_bytes(accounts_csv(("Initech", "Globex"), ("Globex", "")))
            out = io.StringIO()
            with mock.patch("sys.stdout", out):
                status = main(["import", "accounts", str(path), "--user", self.user.email])
        assert status == 0, out.getvalue()
        assert "2 created, 0 updated, 0 skipped, 0 failed" in out.getvalue()
        assert parent_name("Initech") == "Globex"
