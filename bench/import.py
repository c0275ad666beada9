"""Benchmark: import a large contact CSV with email dedupe (upsert by email).

Run: ``.venv/bin/python bench/import.py [--rows N] [--batch N]``. It builds a throwaway
database (SQLite in a temporary directory, or a test database beside the configured
DATABASE_URL, dropped afterwards), writes a contact CSV of N rows (2 % of the emails repeat an
earlier row, in another case, so the upsert merges them), then measures:

- on PostgreSQL, ``COPY`` of the same file into a bare table with the same columns (the
  baseline: the fastest way PostgreSQL takes the file);
- on PostgreSQL, the set-based floor: the rows an import must write for each new contact
  (the contact, its primary email row, its search entry, its change log entry, its import
  row) written from that bare table by SQL alone, then rolled back. No import that stores
  contacts in Patron's tables can beat it, so it says how much of the gap to COPY is the
  tables' indexes and constraints rather than the import's own work;
- the import exactly as a worker runs it (``import_execute``: streamed reading, conversion,
  match by email, bulk writes, change log, search entries, ImportRow per row, progress), as
  an administrator, mode upsert, match key email;

reporting rows per second, the ratio to COPY, the worker's CPU time (its Python per row, apart
from time waiting on the database, which other load on the machine moves), the peak resident
memory of this process (the worker; VmHWM) and how it grew during the import.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("PATRON_DATA_DIR", tempfile.mkdtemp(prefix="patron-bench-"))

import django

warnings.filterwarnings("ignore", message="No directory at")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

COLUMNS = ("email", "first_name", "last_name", "title", "department", "description")
SYLLABLES = (
    "an",
    "bo",
    "chen",
    "da",
    "el",
    "fe",
    "gu",
    "ha",
    "iv",
    "jo",
    "ka",
    "lu",
    "mi",
    "no",
    "or",
    "pa",
    "qu",
    "ri",
    "sa",
    "to",
    "ul",
    "ve",
    "wi",
    "xa",
    "yo",
    "zu",
)


def name(rng: random.Random, parts: int) -> str:
    """A made-up name; varied like real ones, so fuzzy duplicate blocks stay small."""
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


TITLES = ("CEO", "CTO", "Buyer", "Engineer", "Head of Sales", "Analyst", "")


def memory_kb(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process in kB, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def write_csv(path: Path, rows: int) -> int:
    """Stream ``rows`` contacts to ``path``; returns the number of distinct emails."""
    rng = random.Random(7)
    distinct = 0
    # Which row numbers introduced a new email (a repeat may copy a row that was a repeat).
    original = bytearray(rows)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(COLUMNS) + "\n")
        for n in range(rows):
            if n > 100 and rng.random() < 0.02:
                pick = rng.randrange(n - 100)
                email = f"Person{pick}@Example.com"
                if not original[pick]:
                    original[pick] = 1
                    distinct += 1
            else:
                email = f"person{n}@example.com"
                if not original[n]:
                    original[n] = 1
                    distinct += 1
            title = rng.choice(TITLES)
            note = (
                '"Met at the fair, said: ""call me""' + "\n" + 'next spring"' if n % 50 == 0 else ""
            )
            handle.write(f"{email},{name(rng, 2)},{name(rng, 3)},{title},Sales,{note}\n")
    return distinct


def copy_baseline(path: Path) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_bare (email text, first_name text, last_name text, title text,"
            " department text, description text)"
        )
    started = time.perf_counter()
    raw = connection.connection
    assert raw is not None
    sql = "COPY bench_bare FROM STDIN WITH (FORMAT csv, HEADER true)"
    with raw.cursor() as cursor, path.open("rb") as handle, cursor.copy(sql) as copy:
        while chunk := handle.read(1 << 20):
            copy.write(chunk)
    raw.commit()
    return time.perf_counter() - started


SET_BASED_FLOOR = (
    # The rows the import must write for each new contact, written by SQL from the bare table
    # with no Python per row: the floor of any import into Patron's real tables (their
    # indexes, the search index's trigram and text GIN indexes, deferred foreign keys).
    """CREATE TEMP TABLE bench_ids AS
       SELECT row_number() OVER () AS n, nextval(pg_get_serial_sequence('contacts_contact', 'id'))
       AS id, b.* FROM bench_bare b""",
    """INSERT INTO contacts_contact (id, created_at, updated_at, version, custom, first_name,
       last_name, salutation, title, department, email, phone, language, time_zone, social,
       do_not_call, email_opt_out, description, owner_id, created_by_id, external_id)
       SELECT id, now(), now(), 1, '{{}}', coalesce(first_name, ''), coalesce(last_name, ''), '',
       coalesce(title, ''), coalesce(department, ''), lower(email), '', '', '', '{{}}', false,
       false, coalesce(description, ''), {user}, {user}, '' FROM bench_ids""",
    """INSERT INTO contacts_contactemail (kind, email, is_primary, contact_id)
       SELECT 'work', lower(email), true, id FROM bench_ids""",
    """INSERT INTO core_searchentry (content_type_id, object_id, title, subtitle, text)
       SELECT {content_type}, id, concat_ws(' ', first_name, last_name), lower(email),
       concat_ws(' ', first_name, last_name, lower(email), title) FROM bench_ids""",
    """INSERT INTO core_changelogentry (content_type_id, object_id, actor_id, via, action,
       changes, at) SELECT {content_type}, id, {user}, 'import', 'create', jsonb_build_object(
       'email', jsonb_build_array(null, lower(email)), 'first_name',
       jsonb_build_array(null, first_name), 'last_name', jsonb_build_array(null, last_name),
       'title', jsonb_build_array(null, title)), now() FROM bench_ids""",
    """INSERT INTO data_exchange_importrow (run_id, row_number, outcome, error)
       SELECT {run}, n + 1, 'created', '' FROM bench_ids""",
    "SET CONSTRAINTS ALL IMMEDIATE",
)


def set_based_floor(*, user: int, content_type: int, run: int) -> float:
    """Seconds to write every row of the bare table into the real tables by SQL alone, in a
    transaction rolled back afterwards (so the import then starts from the same state)."""
    from django.db import transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in SET_BASED_FLOOR:
            cursor.execute(statement.format(user=user, content_type=content_type, run=run))
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    settings.DEBUG = False
    database = connection.settings_dict
    tmp = Path(tempfile.mkdtemp(prefix="patron-bench-import-"))
    if database["ENGINE"].endswith("sqlite3"):
        database.setdefault("TEST", {})["NAME"] = str(tmp / "bench.sqlite3")
    else:
        database.setdefault("TEST", {})["NAME"] = "test_patron_bench_import"
    settings.MEDIA_ROOT = str(tmp / "media")
    settings.PATRON_IMPORT_MAX_BYTES = 10 * 1024**3
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        run(args.rows, args.batch, tmp)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(rows: int, batch: int, tmp: Path) -> None:
    from django.core.files import File

    from patron.contacts.models import Contact, ContactEmail
    from patron.core.models import ChangeLogEntry, SearchEntry
    from patron.data_exchange.import_services import (
        import_configure,
        import_execute,
        import_start,
        import_upload,
    )
    from patron.data_exchange.models import ImportRow, ImportRun
    from patron.users.models import User

    path = tmp / "contacts.csv"
    began = time.perf_counter()
    distinct = write_csv(path, rows)
    size_mb = path.stat().st_size / 1_048_576
    print(
        f"Import benchmark on {connection.vendor}: {rows:,} rows ({size_mb:.0f} MB), "
        f"{distinct:,} distinct emails, batches of {batch} (file written in "
        f"{time.perf_counter() - began:.1f} s)"
    )
    copy_seconds = copy_baseline(path) if connection.vendor == "postgresql" else None
    admin = User.objects.create_user("bench@example.com", "bench-password", is_superuser=True)
    with path.open("rb") as handle:
        upload = import_upload(
            user=admin,
            object_type="contacts.contact",
            upload=File(handle, name=path.name),
            file_name=path.name,
        )
    import_configure(
        user=admin, run=upload, columns={c: c for c in COLUMNS}, mode="upsert", match_key="email"
    )
    import_start(user=admin, run=upload, enqueue=False)
    floor_seconds = None
    if copy_seconds is not None:
        from django.contrib.contenttypes.models import ContentType

        floor_seconds = set_based_floor(
            user=admin.pk, content_type=ContentType.objects.get_for_model(Contact).pk, run=upload.pk
        )
    upload.refresh_from_db()
    assert upload.job_id is not None
    rss_before = memory_kb("VmRSS")
    peak_rss = [rss_before]
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        peak_rss.append(memory_kb("VmRSS"))
        if done % (batch * 100) == 0 or done == total:
            elapsed = time.perf_counter() - started
            print(
                f"  {done:,}/{total:,} rows in {elapsed:.0f} s ({done / elapsed:,.0f} rows/s), "
                f"RSS {peak_rss[-1] / 1024:.0f} MB",
                flush=True,
            )

    started = time.perf_counter()
    cpu_started = time.process_time()
    import_execute(upload.job_id, batch_size=batch, on_progress=progress)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    result = ImportRun.objects.get(pk=upload.pk)
    contacts = Contact.objects.count()
    print()
    print("| measurement | value |")
    print("|---|---|")
    if copy_seconds is not None:
        print(
            f"| PostgreSQL COPY into a bare table | {copy_seconds:.1f} s, "
            f"{rows / copy_seconds:,.0f} rows/s |"
        )
    if floor_seconds is not None and copy_seconds is not None:
        print(
            f"| set-based SQL into the real tables (contacts, emails, search entries, change log,"
            f" import rows; no dedupe), rolled back | {floor_seconds:.1f} s, "
            f"{rows / floor_seconds:,.0f} rows/s, {copy_seconds / floor_seconds:.3f}x of COPY |"
        )
    print(f"| import (upsert by email) | {seconds:.1f} s, {rows / seconds:,.0f} rows/s |")
    # The worker's own CPU time: the Python per row, apart from waiting on a shared database.
    print(
        f"| worker CPU during the import | {cpu_seconds:.1f} s ({cpu_seconds / seconds:.0%} of "
        f"the time), {rows / cpu_seconds:,.0f} rows per CPU second |"
    )
    if floor_seconds is not None:
        print(f"| import / set-based floor | {floor_seconds / seconds:.3f}x |")
    if copy_seconds is not None:
        print(f"| import / COPY throughput | {copy_seconds / seconds:.3f}x (target >= 0.1x) |")
        print(
            f"RESULT benchmark=contact-import figure={rows / seconds:.0f}rows/s "
            f"baseline={rows / copy_seconds:.0f}rows/s ratio={copy_seconds / seconds:.4f} "
            "target=>=0.1"
        )
    print(
        f"| created / updated / failed | {result.created_count:,} / "
        f"{result.updated_count:,} / {result.failed_count:,} |"
    )
    print(f"| contacts in the table | {contacts:,} (distinct emails {distinct:,}) |")
    print(
        f"| change log / search entries / import rows / primary emails | "
        f"{ChangeLogEntry.objects.count():,} / {SearchEntry.objects.count():,} / "
        f"{ImportRow.objects.count():,} / {ContactEmail.objects.count():,} |"
    )
    print(
        f"| worker RSS before / max seen during import | {rss_before / 1024:.0f} MB / "
        f"{max(peak_rss) / 1024:.0f} MB |"
    )
    print(
        f"| worker peak RSS (VmHWM, whole process) | {memory_kb('VmHWM') / 1024:.0f} MB "
        "(target < 500 MB) |"
    )


if __name__ == "__main__":
    main()
