"""Database-specific search indexes over core_searchentry (see patron.core.search).

SQLite: an FTS5 table with the trigram tokenizer, external content over core_searchentry and
kept in step by triggers, plus a case-insensitive title index for 1-2 character queries.
Django remakes a SQLite table (dropping its triggers) when a migration alters it: a later
migration that alters SearchEntry must run this migration's SQLite part again.

PostgreSQL: pg_trgm, a GIN trigram index (substring ILIKE), a GIN full-text index on
to_tsvector('simple', text) (word prefixes) and a lower(title) prefix index.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE core_searchentry_fts USING fts5("
    "text, content='core_searchentry', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER core_searchentry_fts_insert AFTER INSERT ON core_searchentry BEGIN "
    "INSERT INTO core_searchentry_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER core_searchentry_fts_delete AFTER DELETE ON core_searchentry BEGIN "
    "INSERT INTO core_searchentry_fts(core_searchentry_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER core_searchentry_fts_update AFTER UPDATE ON core_searchentry BEGIN "
    "INSERT INTO core_searchentry_fts(core_searchentry_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO core_searchentry_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO core_searchentry_fts(core_searchentry_fts) VALUES ('rebuild')",
    "CREATE INDEX core_searchentry_title_nocase ON core_searchentry (title COLLATE NOCASE)",
]
SQLITE_BACKWARD = [
    "DROP INDEX IF EXISTS core_searchentry_title_nocase",
    "DROP TRIGGER IF EXISTS core_searchentry_fts_update",
    "DROP TRIGGER IF EXISTS core_searchentry_fts_delete",
    "DROP TRIGGER IF EXISTS core_searchentry_fts_insert",
    "DROP TABLE IF EXISTS core_searchentry_fts",
]
POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX core_searchentry_text_trgm ON core_searchentry "
    "USING gin (text gin_trgm_ops)",
    "CREATE INDEX core_searchentry_text_tsv ON core_searchentry "
    "USING gin (to_tsvector('simple', text))",
    "CREATE INDEX core_searchentry_title_lower ON core_searchentry "
    "(lower(title) text_pattern_ops)",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS core_searchentry_title_lower",
    "DROP INDEX IF EXISTS core_searchentry_text_tsv",
    "DROP INDEX IF EXISTS core_searchentry_text_trgm",
]


def _run(statements: dict[str, list[str]], schema_editor: Any) -> None:
    for sql in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


def forward(apps: Any, schema_editor: Any) -> None:
    _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}, schema_editor)


def backward(apps: Any, schema_editor: Any) -> None:
    _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_initial")]

    operations = [migrations.RunPython(forward, backward)]
