"""Test databases cloned from one migrated template instead of migrated in every process.

Migrating the test database costs ~25 s of CPU (Django renders the model states of every
operation), and each pytest-xdist worker of each suite (SQLite, PostgreSQL, browser) did it.
Now the first process that needs a test database migrates a template, under a file lock, and
every process copies it: a file copy or SQLite backup, or CREATE DATABASE ... TEMPLATE on
PostgreSQL. The template is a run's own, never reused from an earlier run: its name carries a
digest of the run's data directory (PATRON_DATA_DIR, which .ci/run shares between its suites and
the test settings otherwise create per pytest run), of every migration file and of Django's
version. .ci/run builds the templates (`python -m tests.db_templates`) while mypy runs.

The SQLite template stays in the data directory (the browser suite clones it after `make test`);
the PostgreSQL one is dropped when the pytest run that used it ends.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path

import django
from django.apps import apps
from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper


def _digest() -> str:
    """What the template depends on: the run, every migration file and Django itself."""
    digest = hashlib.sha256(django.get_version().encode())
    digest.update(os.environ["PATRON_DATA_DIR"].encode())
    for config in sorted(apps.get_app_configs(), key=lambda config: config.label):
        try:
            package = import_module(f"{config.name}.migrations")
        except ModuleNotFoundError:
            continue
        for path in sorted(Path(next(iter(package.__path__))).glob("*.py")):
            digest.update(f"{config.label}/{path.name}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _data_dir() -> Path:
    return Path(os.environ["PATRON_DATA_DIR"])


def template_name(connection: BaseDatabaseWrapper) -> str:
    if connection.vendor == "sqlite":
        return str(_data_dir() / f"test-template-{_digest()}.sqlite3")
    return f"test_template_{_digest()}"


@contextmanager
def _lock() -> Iterator[None]:
    """One process at a time builds the template or clones it (PostgreSQL refuses to copy a
    template that another session is reading)."""
    with open(_data_dir() / "test-template.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _template_exists(connection: BaseDatabaseWrapper, name: str) -> bool:
    if connection.vendor == "sqlite":
        return Path(name).exists()
    with connection._nodb_cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def _close(connection: BaseDatabaseWrapper) -> None:
    connection.close()
    if connection.vendor == "postgresql":
        connection.close_pool()  # type: ignore[attr-defined]


def _build(connection: BaseDatabaseWrapper, name: str, verbosity: int) -> None:
    """Migrate a database under a scratch name, then rename it, so that a build that dies
    half-way never leaves a template behind."""
    settings_dict = connection.settings_dict
    original_name, original_test_name = settings_dict["NAME"], settings_dict["TEST"]["NAME"]
    scratch = f"{name}.building" if connection.vendor == "sqlite" else f"{name}_building"
    settings_dict["TEST"]["NAME"] = scratch
    try:
        connection.creation.create_test_db(
            verbosity=verbosity, autoclobber=True, serialize=False, keepdb=False
        )
    finally:
        _close(connection)
        settings_dict["TEST"]["NAME"] = original_test_name
        settings_dict["NAME"] = settings.DATABASES[connection.alias]["NAME"] = original_name
    if connection.vendor == "sqlite":
        os.replace(scratch, name)
        return
    quote = connection.ops.quote_name
    with connection._nodb_cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"ALTER DATABASE {quote(scratch)} RENAME TO {quote(name)}")


def build_template(connection: BaseDatabaseWrapper, verbosity: int = 0) -> str:
    """The run's migrated template, built unless another process already has."""
    name = template_name(connection)
    with _lock():
        if not _template_exists(connection, name):
            _build(connection, name, verbosity)
    return name


def _clone(connection: BaseDatabaseWrapper, template: str, test_name: str) -> None:
    if connection.vendor == "sqlite":
        if connection.creation.is_in_memory_db(test_name):  # type: ignore[attr-defined]
            # The shared in-memory database lives as long as Django's connection to it.
            connection.ensure_connection()
            source = sqlite3.connect(template)
            try:
                source.backup(connection.connection)
            finally:
                source.close()
            return
        for suffix in ("", "-wal", "-shm"):
            Path(test_name + suffix).unlink(missing_ok=True)
        shutil.copyfile(template, test_name)
        return
    quote = connection.ops.quote_name
    with connection._nodb_cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"DROP DATABASE IF EXISTS {quote(test_name)}")
        cursor.execute(f"CREATE DATABASE {quote(test_name)} TEMPLATE {quote(template)}")


def setup_cloned_databases(
    aliases: set[str], serialized_aliases: set[str], verbosity: int
) -> list[tuple[BaseDatabaseWrapper, str, bool]]:
    """What django.test.utils.setup_databases does, with clones instead of migrations; the
    answer is what its teardown_databases takes."""
    from django.db import connections

    created: list[tuple[BaseDatabaseWrapper, str, bool]] = []
    for alias in sorted(aliases):
        connection = connections[alias]
        template = build_template(connection, verbosity)
        test_name = connection.creation._get_test_db_name()  # type: ignore[attr-defined]
        old_name = connection.settings_dict["NAME"]
        _close(connection)
        settings.DATABASES[alias]["NAME"] = connection.settings_dict["NAME"] = test_name
        with _lock():
            _clone(connection, template, test_name)
        if alias in serialized_aliases:
            serialized = connection.creation.serialize_db_to_string()
            connection._test_serialized_contents = serialized  # type: ignore[attr-defined]
        connection.ensure_connection()
        created.append((connection, old_name, True))
    return created


def drop_template(connection: BaseDatabaseWrapper) -> None:
    """Drop the run's PostgreSQL template (the SQLite one goes with the data directory)."""
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    _close(connection)
    with _lock(), connection._nodb_cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"DROP DATABASE IF EXISTS {quote(template_name(connection))}")


def main() -> None:
    """Build the run's template for the configured database and print its name; with
    --drop, drop it (PostgreSQL)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    from django.db import connections

    if sys.argv[1:] == ["--drop"]:
        drop_template(connections["default"])
    else:
        print(build_template(connections["default"], verbosity=1))


if __name__ == "__main__":
    main()
