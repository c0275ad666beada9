"""Backup and restore: every table's rows and every uploaded file survive a round trip into a
fresh database (SQLite, PostgreSQL, and a SQLite backup restored into PostgreSQL), the version
stamp is checked, and a database that holds data is replaced only when confirmed."""

from __future__ import annotations

import datetime
import json
import uuid
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection, connections

from conftest import ALL_ACTIONS
from patron.activities.choices import ActivityKind
from patron.activities.services import activity_create
from patron.automation import services as automation_services
from patron.cli import main as patron_main
from patron.contacts.services import account_create, account_update, contact_create
from patron.core.choices import JobStatus
from patron.core.models import ChangeLogEntry, Job
from patron.core.testing import grant
from patron.data_exchange.backup import (
    BackupError,
    _encode,
    backup_models,
    backup_write,
    restore_read,
)
from patron.leads.services import lead_create
from patron.orders import quote_services
from patron.orders.models import QuotePolicy
from patron.pipeline.services import opportunity_create
from patron.pipeline.tests.conftest import make_pipeline
from patron.users.services import custom_field_define

# "__all__": the fresh databases below are attached before each test starts, so the test
# may use them (in a transaction rolled back at its end, like the test database's).
pytestmark = pytest.mark.django_db(databases="__all__")


# ---------- data across the apps ----------


@pytest.fixture
def crm_data(rep, admin_user, sales_roles):
    for role in sales_roles.values():
        for object_type in (
            "pipeline.opportunity",
            "activities.activity",
            "leads.lead",
            "orders.quote",
            "orders.product",
        ):
            grant(role, object_type, *ALL_ACTIONS)
    custom_field_define(
        object_type="contacts.account", key="region", label="Region", field_type="text"
    )
    account = account_create(
        user=rep, name="Acme Ltd", industry="Retail", custom={"region": "EMEA"}
    )
    account_update(user=rep, account=account, industry="Mining")  # a change-log entry
    contact = contact_create(
        user=rep,
        first_name="Zoë",
        last_name="O'Brien",
        email="zoe@example.com",
        account=account,
    )
    activity_create(
        user=rep,
        kind=ActivityKind.TASK,
        subject="Call Zoë ☎",
        due_at=datetime.datetime(2026, 5, 1, 9, 30, 15, 123456, tzinfo=datetime.UTC),
        status="open",
        links=[{"object_type": "contacts.contact", "id": contact.pk}],
    )
    lead_create(user=rep, data={"last_name": "Lead", "company": "Initech", "email": "l@i.com"})
    stages = {stage.name: stage for stage in make_pipeline().stages.all()}
    deal = opportunity_create(
        user=rep,
        name="Expansion",
        account=account,
        amount=Decimal("12345.67"),
        currency="USD",
        close_date=datetime.date(2026, 12, 31),
        stage=stages["Proposal"],
    )
    QuotePolicy.objects.update_or_create(pk=1, defaults={"default_validity_days": 30})
    quote = quote_services.quote_create_from_opportunity(
        user=rep, opportunity=deal, copy_lines=False
    )
    quote_services.quote_line_add(
        user=rep, quote=quote, description="Consulting", quantity="2", unit_price="99.50"
    )
    automation_services.workflow_create(
        user=admin_user,
        data={
            "name": "Big deals",
            "object_type": "pipeline.opportunity",
            "trigger": {"type": "record_created"},
            "conditions": {},
            "steps": [
                {"id": "n", "type": "notify", "config": {"recipient": "owner", "title": "x"}}
            ],
        },
    )
    # Uploaded files: a quote's exported file on a job, and a file in a nested folder.
    job = Job.objects.create(kind="core.export_csv", created_by=rep, status=JobStatus.DONE)
    job.result_file.save("quotes-export.csv", ContentFile(b"id,name\n1,Quote\n"), save=True)
    default_storage.save("organisation/logo.png", ContentFile(bytes(range(256)) * 4))
    assert ChangeLogEntry.objects.exists()
    return {"account": account, "deal": deal, "quote": quote}


# ---------- comparing databases ----------


def snapshot(using: str) -> dict[str, list[str]]:
    """Every table's rows as sorted JSON lines (vendor-neutral)."""
    tables: dict[str, list[str]] = {}
    for model in backup_models(using):
        names = [f.attname for f in model._meta.concrete_fields]
        rows = model._base_manager.using(using).values_list(*names)
        tables[model._meta.label_lower] = sorted(
            json.dumps(_normal(list(row)), default=_encode, sort_keys=True) for row in rows
        )
    return tables


def _normal(row: list[Any]) -> list[Any]:
    # SQLite keeps a float's digits, PostgreSQL a decimal's scale: compare as numbers.
    return [float(v) if isinstance(v, Decimal | float) else v for v in row]


def media_files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()
    }


def _postgres_admin_dsn() -> dict[str, Any]:
    conf = connection.settings_dict
    return {
        "host": conf["HOST"] or None,
        "port": conf["PORT"] or None,
        "user": conf["USER"] or None,
        "password": conf["PASSWORD"] or None,
        "dbname": "postgres",
    }


class FreshDatabase:
    """A second, migrated, empty database (SQLite file or PostgreSQL) under its own alias."""

    def __init__(self, vendor: str, folder: Path) -> None:
        self.alias = f"fresh_{vendor}_{uuid.uuid4().hex[:8]}"
        self.vendor = vendor
        conf = dict(connection.settings_dict) if connection.vendor == vendor else {}
        if vendor == "sqlite":
            conf = {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(folder / f"{self.alias}.sqlite3"),
                "OPTIONS": {"transaction_mode": "IMMEDIATE"},
            }
        else:
            import psycopg

            conf["NAME"] = self.alias
            with psycopg.connect(**_postgres_admin_dsn(), autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{self.alias}"')
        conf["TEST"] = {}
        both = {"default": dict(connection.settings_dict), self.alias: conf}
        self.settings = connections.configure_settings(both)[self.alias]
        self.attach()
        call_command("migrate", database=self.alias, interactive=False, verbosity=0)

    def attach(self) -> None:
        connections.settings[self.alias] = self.settings

    def detach(self) -> None:
        if self.alias in connections.settings:
            connections[self.alias].close()
            del connections[self.alias]
            del connections.settings[self.alias]

    def drop(self) -> None:
        self.detach()
        if self.vendor == "postgresql":
            import psycopg

            with psycopg.connect(**_postgres_admin_dsn(), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.alias}" WITH (FORCE)')


@pytest.fixture(scope="module")
def fresh_databases(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any
) -> Iterator[dict[str, FreshDatabase]]:
    """A fresh SQLite database, and on a PostgreSQL run a fresh PostgreSQL one too (migrated
    once for the module; every restore replaces their content)."""
    folder = tmp_path_factory.mktemp("fresh-databases")
    made: dict[str, FreshDatabase] = {}
    with django_db_blocker.unblock():
        made["sqlite"] = FreshDatabase("sqlite", folder)
        if connection.vendor == "postgresql":
            made["postgresql"] = FreshDatabase("postgresql", folder)
        yield made
        for database in made.values():
            database.drop()


@pytest.fixture
def fresh(fresh_databases: dict[str, FreshDatabase]) -> dict[str, FreshDatabase]:
    """The fresh databases; the test runs in a transaction on each (``databases="__all__"``),
    rolled back at its end like the test database's."""
    return fresh_databases


def _round_trip(
    source: str, target: FreshDatabase, archive: Path, settings: Any, tmp_path: Path
) -> dict[str, bytes]:
    """Back up ``source``, restore into ``target`` with an empty MEDIA_ROOT; the files."""
    backup_write(archive, using=source)
    settings.MEDIA_ROOT = str(tmp_path / f"media-{target.alias}")
    restore_read(archive, using=target.alias, force=True)
    return media_files(Path(settings.MEDIA_ROOT))


# ---------- round trips ----------


def test_round_trip_into_a_fresh_database_loses_nothing(crm_data, fresh, settings, tmp_path):
    """On SQLite: SQLite to SQLite; on PostgreSQL: PostgreSQL to PostgreSQL."""
    target = fresh[connection.vendor]
    before = snapshot("default")
    files = media_files(Path(settings.MEDIA_ROOT))
    assert "organisation/logo.png" in files
    restored_files = _round_trip("default", target, tmp_path / "a.zip", settings, tmp_path)
    after = snapshot(target.alias)
    assert set(after) == set(before)
    differing = {
        label: (before[label][:2], after[label][:2])
        for label in before
        if before[label] != after[label]
    }
    assert differing == {}
    assert sum(len(rows) for rows in before.values()) > 100
    for label in (
        "contacts.account",
        "contacts.contact",
        "activities.activity",
        "leads.lead",
        "pipeline.opportunity",
        "orders.quote",
        "orders.quoteline",
        "users.user",
        "core.customfielddefinition",
        "core.changelogentry",
        "automation.workflow",
        "automation.workflowversion",
    ):
        assert after[label], f"{label} has no rows to compare"
    assert restored_files == files


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL as the target; runs under `make test-postgres`",
)
def test_sqlite_backup_restores_into_postgresql_and_back(crm_data, fresh, settings, tmp_path):
    before = snapshot("default")
    files = media_files(Path(settings.MEDIA_ROOT))
    # PostgreSQL (the test database) -> SQLite.
    _round_trip("default", fresh["sqlite"], tmp_path / "pg.zip", settings, tmp_path)
    assert snapshot(fresh["sqlite"].alias) == before
    # That SQLite database's backup -> a fresh PostgreSQL database.
    sqlite_archive = tmp_path / "sqlite.zip"
    backup_write(sqlite_archive, using=fresh["sqlite"].alias)
    with zipfile.ZipFile(sqlite_archive) as archive:
        assert json.loads(archive.read("manifest.json"))["vendor"] == "sqlite"
    target = fresh["postgresql"]
    settings.MEDIA_ROOT = str(tmp_path / "media-pg")
    restore_read(sqlite_archive, using=target.alias, force=True)
    assert snapshot(target.alias) == before
    assert media_files(Path(settings.MEDIA_ROOT)) == files
    # Sequences moved past the restored ids: a new row gets a new id.
    from patron.contacts.models import Account

    biggest = max(Account._base_manager.using(target.alias).values_list("pk", flat=True))
    new = Account._base_manager.using(target.alias).create(
        name="After restore", owner_id=crm_data["account"].owner_id
    )
    assert new.pk > biggest


def test_restore_replaces_an_existing_database_when_forced(crm_data, settings, tmp_path, rep):
    archive = tmp_path / "backup.zip"
    summary = backup_write(archive)
    assert summary.rows > 100
    before = snapshot("default")
    contact_create(user=rep, last_name="Added after the backup")
    account_update(user=rep, account=crm_data["account"], industry="Changed")
    with pytest.raises(BackupError, match=r"already holds data.*--force"):
        restore_read(archive)
    restore_read(archive, force=True)
    assert snapshot("default") == before


def test_backup_streams_each_table_as_json_lines_with_a_version_stamp(crm_data, tmp_path):
    archive_path = tmp_path / "backup.zip"
    backup_write(archive_path)
    with zipfile.ZipFile(archive_path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = set(archive.namelist())
        header, first = archive.read("data/contacts.account.jsonl").decode().splitlines()[:2]
    assert manifest["format"] == "patron-backup"
    assert manifest["vendor"] == connection.vendor
    assert manifest["patron_version"]
    assert manifest["latest_migrations"]["contacts"] in manifest["migrations"]["contacts"]
    labels = [table["model"] for table in manifest["tables"]]
    # Parents before children: users before accounts before opportunities.
    assert labels.index("users.user") < labels.index("contacts.account")
    assert labels.index("contacts.account") < labels.index("pipeline.opportunity")
    assert "users.user_groups" in labels or "users.team_members" in labels  # link tables
    assert {f"data/{label}.jsonl" for label in labels} <= names
    assert "media/organisation/logo.png" in names
    assert "name" in json.loads(header)
    assert "Acme Ltd" in json.loads(first)


# ---------- refusals ----------


def _with_manifest(source: Path, target: Path, change: Any) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "manifest.json":
                manifest = json.loads(data)
                change(manifest)
                data = json.dumps(manifest).encode()
            new.writestr(item, data)


def test_restore_refuses_a_backup_from_newer_migrations(crm_data, tmp_path):
    archive = tmp_path / "backup.zip"
    backup_write(archive)
    newer = tmp_path / "newer.zip"
    _with_manifest(
        archive, newer, lambda m: m["migrations"]["contacts"].append("9999_from_the_future")
    )
    before = snapshot("default")
    with pytest.raises(BackupError, match=r"newer migrations.*contacts\.9999_from_the_future"):
        restore_read(newer, force=True)
    assert snapshot("default") == before


def test_restore_refuses_a_backup_from_older_migrations(crm_data, tmp_path):
    archive = tmp_path / "backup.zip"
    backup_write(archive)
    older = tmp_path / "older.zip"
    _with_manifest(archive, older, lambda m: m["migrations"]["contacts"].pop())
    with pytest.raises(BackupError, match=r"older migrations.*same migration state"):
        restore_read(older, force=True)


def test_restore_refuses_files_that_are_not_backups(db, tmp_path):
    text = tmp_path / "notes.zip"
    text.write_text("not a zip")
    with pytest.raises(BackupError, match="not a ZIP archive"):
        restore_read(text)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(BackupError, match=r"no manifest\.json"):
        restore_read(empty)


def test_restore_refuses_unsafe_file_paths(crm_data, tmp_path):
    archive = tmp_path / "backup.zip"
    backup_write(archive)
    with zipfile.ZipFile(archive, "a") as handle:
        handle.writestr("media/../../escaped.txt", "x")
    with pytest.raises(BackupError, match="unsafe file path"):
        restore_read(archive, force=True)
    assert not (tmp_path / "escaped.txt").exists()


def test_a_failed_restore_leaves_the_database_as_it_was(crm_data, tmp_path):
    archive = tmp_path / "backup.zip"
    backup_write(archive)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive) as old, zipfile.ZipFile(broken, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "data/contacts.contact.jsonl":
                data += b"[1, 2]\n"  # a row with the wrong number of columns
            new.writestr(item, data)
    before = snapshot("default")
    with pytest.raises(BackupError, match=r"contacts\.contact.*line 3.*damaged"):
        restore_read(broken, force=True)
    assert snapshot("default") == before


# ---------- the command line ----------


def test_patron_backup_and_restore_commands(crm_data, tmp_path, capsys):
    archive = tmp_path / "cli.zip"
    assert patron_main(["backup", str(archive), "--quiet"]) == 0
    assert "Backed up" in capsys.readouterr().out
    assert patron_main(["backup", str(archive)]) == 1
    assert "exists already" in capsys.readouterr().err
    assert patron_main(["restore", str(archive), "--quiet"]) == 1
    assert "--force" in capsys.readouterr().err
    assert patron_main(["restore", str(archive), "--quiet", "--force"]) == 0
    out = capsys.readouterr().out
    assert f"from a {connection.vendor} backup" in out
    assert patron_main(["restore", str(tmp_path / "missing.zip")]) == 1
    assert "no such file" in capsys.readouterr().err
