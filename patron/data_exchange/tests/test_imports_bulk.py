"""The batch write path: new records are written in bulk (COPY on PostgreSQL); when the
database refuses the bulk write, each row is written alone and only the bad one fails."""

from __future__ import annotations

from typing import Any
from unittest import mock

from patron.contacts.models import Account
from patron.core.importing import import_spec
from patron.core.models import ChangeLogEntry, SearchEntry
from patron.data_exchange.choices import RowOutcome
from patron.data_exchange.models import ImportRow
from patron.data_exchange.tests.test_imports import ImportTestCase, run_import, upload


class BulkWriteTests(ImportTestCase):
    def test_a_row_the_database_refuses_fails_alone(self) -> None:
        spec = import_spec("contacts.account")
        assert spec is not None
        real = spec.prepare

        def negative_for_bad(user: Any, values: dict[str, Any], existing: Any) -> Any:
            assert real is not None
            values = real(user, values, existing)
            if values["name"] == "Bad":
                # Past the import's own checks: only the database's constraint refuses it.
                values["employee_count"] = -1
            return values

        data = b"name\nGood One\nBad\nGood Two\n"
        run = upload(self.user, "contacts.account", data)
        with mock.patch.object(spec, "prepare", negative_for_bad):
            run = run_import(self.user, run, columns=run.columns)
        assert (run.created_count, run.failed_count) == (2, 1)
        assert set(Account.objects.values_list("name", flat=True)) == {"Good One", "Good Two"}
        assert ImportRow.objects.get(run=run, row_number=3).outcome == RowOutcome.FAILED
        created = ImportRow.objects.filter(run=run, outcome=RowOutcome.CREATED)
        ids = set(created.values_list("object_id", flat=True))
        assert ids == set(Account.objects.values_list("pk", flat=True))
        logged = ChangeLogEntry.objects.filter(action="create", object_id__in=ids)
        assert logged.count() == 2
        assert SearchEntry.objects.filter(object_id__in=ids).count() == 2
