"""External ids of accounts, contacts and leads: the match key re-imports use, the column
Salesforce and HubSpot presets map, and how a related account is found by its id there."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from patron.contacts.models import Account, Contact
from patron.core.importing import import_spec
from patron.core.testing import grant
from patron.data_exchange.import_services import (
    apply_preset,
    import_configure,
    import_execute,
    import_start,
    import_upload,
)
from patron.data_exchange.models import ImportRun
from patron.leads.models import Lead
from patron.users.models import User
from patron.users.services import role_create


def upload(user: Any, object_type: str, data: bytes) -> ImportRun:
    return import_upload(
        user=user,
        object_type=object_type,
        upload=SimpleUploadedFile("export.csv", data),
        file_name="export.csv",
    )


def run_import(user: Any, run: ImportRun, **config: Any) -> ImportRun:
    import_configure(user=user, run=run, **config)
    import_start(user=user, run=run)
    run.refresh_from_db()
    assert run.job_id is not None
    import_execute(run.job_id)
    run.refresh_from_db()
    return run


class ExternalIdImportTests(TestCase):
    user: Any

    @classmethod
    def setUpTestData(cls) -> None:
        role = role_create(name="Importer")
        for object_type in ("contacts.account", "contacts.contact", "leads.lead"):
            grant(role, object_type, "create", "read", "update", "delete", "import")
        cls.user = User.objects.create_user("ann@example.com", "pw", role=role)

    def upsert(self, object_type: str, data: bytes) -> ImportRun:
        run = upload(self.user, object_type, data)
        return run_import(
            self.user, run, columns=run.columns, mode="upsert", match_key="external_id"
        )

    def test_accounts_upsert_by_external_id(self) -> None:
        existing = Account.objects.create(owner=self.user, name="Acme", external_id="001A")
        run = self.upsert(
            "contacts.account", b"Account ID,Account Name\n001A,Acme Corp\n001B,Beta Ltd\n"
        )
        assert (run.created_count, run.updated_count, run.failed_count) == (1, 1, 0)
        existing.refresh_from_db()
        assert existing.name == "Acme Corp"
        assert Account.objects.get(external_id="001B").name == "Beta Ltd"

    def test_contacts_upsert_by_external_id_and_find_their_account_by_its_external_id(
        self,
    ) -> None:
        account = Account.objects.create(owner=self.user, name="Acme", external_id="0015g01")
        existing = Contact.objects.create(owner=self.user, last_name="Old", external_id="003X")
        run = self.upsert(
            "contacts.contact",
            b"Contact ID,Last Name,AccountId\n003X,New,0015g01\n003Y,Other,0015g01\n",
        )
        assert (run.created_count, run.updated_count, run.failed_count) == (1, 1, 0)
        existing.refresh_from_db()
        assert (existing.last_name, existing.account_id) == ("New", account.pk)
        assert Contact.objects.get(external_id="003Y").account_id == account.pk

    def test_leads_upsert_by_external_id(self) -> None:
        existing = Lead.objects.create(owner=self.user, last_name="Old", external_id="00Q1")
        run = self.upsert("leads.lead", b"Lead ID,Last Name,Company\n00Q1,New,Acme\n00Q2,Two,\n")
        assert (run.created_count, run.updated_count, run.failed_count) == (1, 1, 0)
        existing.refresh_from_db()
        assert (existing.last_name, existing.company) == ("New", "Acme")
        assert Lead.objects.get(external_id="00Q2").last_name == "Two"

    def test_salesforce_and_hubspot_presets_map_the_id_column(self) -> None:
        expected = {
            ("contacts.account", "salesforce"): ["Id", "Name"],
            ("contacts.account", "hubspot"): ["Record ID", "Company name"],
            ("contacts.contact", "salesforce"): ["Id", "LastName"],
            ("contacts.contact", "hubspot"): ["Contact ID", "Last Name"],
            ("leads.lead", "salesforce"): ["Id", "LastName"],
            ("leads.lead", "hubspot"): ["Record ID", "Last Name"],
        }
        for (object_type, preset), headers in expected.items():
            spec = import_spec(object_type)
            assert spec is not None
            columns = apply_preset(spec, headers, preset)
            assert columns[headers[0]] == "external_id", (object_type, preset, columns)

    def test_preset_upserts_a_salesforce_export_by_its_id(self) -> None:
        Account.objects.create(owner=self.user, name="Old name", external_id="0015g00001")
        run = upload(self.user, "contacts.account", b"Id,Name,Industry\n0015g00001,Acme,Retail\n")
        spec = import_spec("contacts.account")
        assert spec is not None
        columns = apply_preset(spec, run.headers, "salesforce")
        run = run_import(self.user, run, columns=columns, mode="upsert", match_key="external_id")
        assert (run.created_count, run.updated_count) == (0, 1)
        account = Account.objects.get(external_id="0015g00001")
        assert (account.name, account.industry) == ("Acme", "Retail")

    def test_id_headers_of_exports_are_suggested_as_the_external_id(self) -> None:
        for object_type, header in (
            ("contacts.account", "Company ID"),
            ("contacts.contact", "Record ID"),
            ("leads.lead", "Lead ID"),
        ):
            run = upload(self.user, object_type, f"{header},Name,Last Name\nx1,A,B\n".encode())
            assert run.columns[header] == "external_id", (object_type, run.columns)
