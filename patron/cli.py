"""The ``patron`` command: run the server and workers, manage users, tokens and demo data.

Every subcommand loads Django with DJANGO_SETTINGS_MODULE=config.settings (unless it is set
already). A configuration error prints one line naming the variable and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

EXIT_USAGE = 2
EXIT_FAILED = 1
FIRST_START_JOB_KIND = "core.first_start"
STOP_GRACE_SECONDS = 10.0
T = TypeVar("T")


class CommandError(Exception):
    """A problem the user can fix; printed as one line, exit status 1."""


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


# --- run ---------------------------------------------------------------------------------


def _embedded_broker() -> bool:
    from django.conf import settings

    return bool(settings.CELERY_BROKER_URL == "filesystem://")


def _die_with_parent() -> None:
    """In a child: ask Linux to send SIGTERM when the parent dies, so no child is orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _spawn(name: str, argv: list[str]) -> tuple[str, subprocess.Popen[bytes]]:
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    return name, subprocess.Popen(argv, preexec_fn=preexec)  # noqa: S603 (our own argv)


def _stop_children(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    for _name, proc in children:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for _name, proc in children:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _supervise(children: list[tuple[str, subprocess.Popen[bytes]]]) -> int:
    """Wait until a signal arrives or a child exits; then stop all children."""
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    try:
        while not stopping:
            exited = [(name, proc) for name, proc in children if proc.poll() is not None]
            if exited:
                name, proc = exited[0]
                print(f"patron: {name} exited with status {proc.returncode}; stopping", flush=True)
                status = EXIT_FAILED
                break
            time.sleep(0.2)
    finally:
        print("patron: stopping server, worker and scheduler...", flush=True)
        _stop_children(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _celery_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "config", *args]


def _with_database_lock(work: Callable[[], T]) -> T:
    """Run ``work()`` in a transaction that only one process at a time may hold."""
    from django.db import connection, transaction

    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('patron.first_start'))")
        # SQLite: transactions begin IMMEDIATE (settings), which already serialises writers.
        return work()


def first_start(*, login_url: str) -> list[str]:
    """Create the administrator, default roles and demo data once; return what to tell."""
    from django.conf import settings

    from patron.core.choices import JobStatus
    from patron.core.models import Job

    def work() -> list[str]:
        if Job.objects.filter(kind=FIRST_START_JOB_KIND, status=JobStatus.DONE).exists():
            return []
        from django.utils import timezone

        from patron.users.models import User
        from patron.users.services import bootstrap_roles

        lines: list[str] = []
        bootstrap_roles()
        if not User.objects.exists():
            lines += _create_first_admin(login_url=login_url)
        if settings.DEMO_ON_FIRST_START:
            from patron.contacts.demo import demo_load
            from patron.orders.maven_import import maven_sales_load

            lines.append(f"Demo data loaded: {demo_load()}.")
            # The sample's 8,800 deals give the board, forecasts and analytics something to show.
            lines.append(f"Sales history loaded: {maven_sales_load()}.")
        now = timezone.now()
        Job.objects.create(
            kind=FIRST_START_JOB_KIND,
            status=JobStatus.DONE,
            message="First start done",
            started_at=now,
            finished_at=now,
        )
        return lines

    return _with_database_lock(work)


def _create_first_admin(*, login_url: str) -> list[str]:
    from django.conf import settings

    from patron.core.exceptions import ValidationFailed
    from patron.users.services import user_create

    email = settings.FIRST_ADMIN_EMAIL
    password = settings.FIRST_ADMIN_PASSWORD
    generated = not password
    if generated:
        password = secrets.token_urlsafe(12)
    try:
        user_create(
            email=email,
            password=password,
            full_name="Administrator",
            is_superuser=True,
            check_password_strength=not generated,
        )
    except ValidationFailed as exc:
        raise CommandError(
            "PATRON_ADMIN_EMAIL / PATRON_ADMIN_PASSWORD: " + _field_errors(exc.errors)
        ) from None
    shown = password if generated else "(the value of PATRON_ADMIN_PASSWORD)"
    return [
        "Created the administrator. Log in at:",
        f"  {login_url}",
        f"  email:    {email}",
        f"  password: {shown}",
        "The password is shown only now; change it after logging in.",
    ]


def cmd_run(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.core.management import call_command

    if not args.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
        print("patron: database is up to date", flush=True)
    # WhiteNoise warns at every start when the folder it serves from does not exist.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    if settings.PRODUCTION:
        call_command("collectstatic", interactive=False, verbosity=0)
    with_worker = _embedded_broker() if args.with_worker is None else args.with_worker
    # A wildcard address is where the server listens, not one a browser can open.
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    url = f"http://{shown_host}:{args.port}/"
    for line in first_start(login_url=f"{url}login/"):
        print(line, flush=True)

    children = [
        _spawn(
            "web server",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                args.host,
                "--port",
                str(args.port),
                "--workers",
                str(args.workers),
                "--lifespan",
                "off",
            ],
        )
    ]
    if with_worker:
        children.append(
            _spawn("worker", _celery_argv("worker", "--loglevel", "INFO", "--concurrency", "1"))
        )
        children.append(_spawn("scheduler", _celery_argv("beat", "--loglevel", "INFO")))
    extra = " with a worker and the scheduler" if with_worker else ""
    print(f"patron: serving {url}{extra}; press Ctrl-C to stop", flush=True)
    return _supervise(children)


# --- users and tokens --------------------------------------------------------------------


def _field_errors(errors: dict[str, list[str]]) -> str:
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())


def cmd_createuser(args: argparse.Namespace) -> int:
    from patron.core.exceptions import ValidationFailed
    from patron.users.models import Role
    from patron.users.services import user_create

    role = None
    if args.role:
        role = Role.objects.filter(name__iexact=args.role.strip()).first()
        if role is None:
            names = ", ".join(Role.objects.values_list("name", flat=True)) or "(none yet)"
            raise CommandError(f"--role: no role named {args.role!r}; roles: {names}")
    try:
        user = user_create(
            email=args.email,
            password=args.password,
            full_name=args.name or "",
            role=role,
            is_superuser=args.superuser,
        )
    except ValidationFailed as exc:
        raise CommandError(_field_errors(exc.errors) or exc.detail) from None
    kind = "administrator" if user.is_superuser else "user"
    print(f"Created {kind} {user.email}" + (f" with role {role.name}" if role else ""))
    return 0


EXPIRES_HELP = "lifetime such as 30d, 12h or 2w, or an ISO date/time (e.g. 2027-01-31)"


def parse_expires(text: str, *, now: datetime.datetime) -> datetime.datetime:
    """``30d`` / ``12h`` / ``2w`` from now, or an ISO date (end of that day, UTC) or datetime."""
    value = text.strip()
    match = re.fullmatch(r"(\d+)\s*([hdw])", value.lower())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        hours = {"h": 1, "d": 24, "w": 24 * 7}[unit] * amount
        return now + datetime.timedelta(hours=hours)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = datetime.date.fromisoformat(value)
            return datetime.datetime.combine(day, datetime.time.max, tzinfo=datetime.UTC)
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--expires: {text!r} is not {EXPIRES_HELP}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def cmd_token_create(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from patron.core.exceptions import ValidationFailed
    from patron.users.models import User
    from patron.users.services import token_create

    user = User.objects.filter(email__iexact=args.email.strip()).first()
    if user is None:
        raise CommandError(f"--email: no user with the email address {args.email!r}")
    scopes = [scope.strip() for scope in args.scopes.split(",") if scope.strip()]
    expires_at = parse_expires(args.expires, now=timezone.now()) if args.expires else None
    try:
        token, secret = token_create(
            user=user, name=args.name, scopes=scopes, expires_at=expires_at
        )
    except ValidationFailed as exc:
        raise CommandError(_field_errors(exc.errors) or exc.detail) from None
    expiry = token.expires_at.isoformat() if token.expires_at else "never"
    print(f"Created token {token.name!r} for {user.email}")
    print(f"Scopes: {', '.join(token.scopes)}; expires: {expiry}")
    print("Keep it secret; it is shown only now. Send it as 'Authorization: Bearer <token>'.")
    print(secret)
    return 0


# --- workers, demo, checks ---------------------------------------------------------------


def _celery_main(argv: list[str]) -> int:
    from config.celery import app

    app.start(argv)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    argv = ["worker", "--loglevel", args.loglevel]
    if args.concurrency:
        argv += ["--concurrency", str(args.concurrency)]
    if args.queues:
        argv += ["--queues", args.queues]
    return _celery_main(argv)


def cmd_scheduler(args: argparse.Namespace) -> int:
    return _celery_main(["beat", "--loglevel", args.loglevel])


def cmd_demo(args: argparse.Namespace) -> int:
    from patron.contacts.demo import demo_load

    started = time.monotonic()
    summary = demo_load()
    print(f"Demo data ready ({time.monotonic() - started:.1f} s): {summary}.")
    if args.sales:
        from patron.orders.maven_import import maven_sales_load

        sales = maven_sales_load()
        print(f"Sales history ready ({time.monotonic() - started:.1f} s): {sales}.")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=args.verbosity)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from django.core.management import call_command
    from django.core.management.base import CommandError as DjangoCommandError

    options: dict[str, Any] = {"deploy": args.deploy, "fail_level": args.fail_level}
    if args.fail_level is None:
        # Deployment findings are warnings; a deployment check that only warns has not passed.
        options["fail_level"] = "WARNING" if args.deploy else "ERROR"
    if args.database:
        options["databases"] = [args.database]
    try:
        call_command("check", **options)
    except DjangoCommandError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED
    return 0


# --- backup and restore (patron.data_exchange.backup) -------------------------------------


def cmd_backup(args: argparse.Namespace) -> int:
    from patron.data_exchange.backup import backup_write

    target = Path(args.file)
    if target.exists() and not args.overwrite:
        raise CommandError(f"{target} exists already; choose another name or pass --overwrite")
    started = time.monotonic()
    partial = target.with_name(target.name + ".partial")
    try:
        summary = backup_write(partial, progress=(None if args.quiet else _print_step))
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    print(
        f"Backed up {summary.rows} rows in {summary.tables} tables and {summary.files} "
        f"uploaded files to {target} ({time.monotonic() - started:.1f} s)."
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from patron.data_exchange.backup import BackupError, restore_read

    source = Path(args.file)
    if not source.is_file():
        raise CommandError(f"{source}: no such file")
    started = time.monotonic()
    try:
        summary = restore_read(
            source, force=args.force, progress=(None if args.quiet else _print_step)
        )
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    print(
        f"Restored {summary.rows} rows in {summary.tables} tables and {summary.files} uploaded "
        f"files from a {summary.vendor} backup of Patron {summary.patron_version} "
        f"({time.monotonic() - started:.1f} s)."
    )
    return 0


def _print_step(line: str) -> None:
    print(f"  {line}", flush=True)


# --- import (patron.data_exchange.import_services) ----------------------------------------


def _progress_bar(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    percent = int(100 * done / total) if total else 100
    print(
        f"\r  [{'#' * filled}{'.' * (width - filled)}] {percent:3d}% {done:,}/{total:,} rows",
        end="",
        flush=True,
    )


def cmd_import(args: argparse.Namespace) -> int:
    from django.core.files import File

    from patron.core.exceptions import PatronError
    from patron.core.importing import import_spec, import_specs
    from patron.data_exchange.import_services import (
        import_configure,
        import_execute,
        import_start,
        import_upload,
        mapping_columns_for,
    )
    from patron.data_exchange.models import ImportMapping
    from patron.users.models import User

    object_type = args.object
    if "." not in object_type:
        by_name = {s.label_plural: s.object_type for s in import_specs()}
        by_name.update({s.label: s.object_type for s in import_specs()})
        object_type = by_name.get(object_type.lower(), object_type)
    if import_spec(object_type) is None:
        known = ", ".join(s.label_plural for s in import_specs())
        raise CommandError(f"{args.object!r} cannot be imported; choose one of: {known}")
    source = Path(args.file)
    if not source.is_file():
        raise CommandError(f"{source}: no such file")
    user = (
        User.objects.filter(email__iexact=args.user).first()
        if args.user
        else User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    )
    if user is None:
        raise CommandError("--user: no such user (or no administrator exists yet)")
    try:
        with source.open("rb") as handle:
            run = import_upload(
                user=user,
                object_type=object_type,
                upload=File(handle, name=source.name),
                file_name=source.name,
            )
        mapping = None
        columns = run.columns
        defaults: dict[str, Any] = {}
        mode, match_key = args.mode or "create", args.match_key or ""
        if args.mapping:
            mapping = ImportMapping.objects.filter(
                object_type=object_type, name__iexact=args.mapping
            ).first()
            if mapping is None:
                raise CommandError(
                    f"--mapping: no saved mapping {args.mapping!r} for {object_type}"
                )
            columns = mapping_columns_for(mapping, run.headers)
            defaults = dict(mapping.defaults)
            mode = args.mode or mapping.mode
            match_key = args.match_key or mapping.match_key
        print(
            f"Importing {source.name} into {object_type} ({mode}"
            + (f", match by {match_key}" if match_key else "")
            + ")"
        )
        for header in run.headers:
            print(f"  {header} -> {columns.get(header) or '(not imported)'}")
        import_configure(
            user=user,
            run=run,
            columns=columns,
            defaults=defaults,
            mode=mode,
            match_key=match_key,
            mapping=mapping,
        )
        import_start(user=user, run=run, enqueue=False, allow_duplicates=args.allow_duplicates)
        run.refresh_from_db()
        assert run.job_id is not None
        import_execute(run.job_id, on_progress=None if args.quiet else _progress_bar)
    except PatronError as exc:
        raise CommandError(_field_errors(exc.errors) or exc.detail) from None
    run.refresh_from_db()
    if not args.quiet:
        print()
    print(
        f"Import {run.pk}: {run.created_count} created, {run.updated_count} updated, "
        f"{run.skipped_count} skipped, {run.failed_count} failed."
    )
    if run.failed_count:
        print(f"The failed rows with their reasons: /data/imports/{run.pk}/errors.csv")
    return 0 if not run.failed_count else EXIT_FAILED


# --- parser ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patron",
        description="Patron CRM: serve it, run background workers, manage users and tokens.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser(
        "run",
        help="migrate, set up on first start, and serve (with a worker when embedded)",
        description=(
            "Apply migrations, create the administrator and demo data on first start, then "
            "serve Patron with uvicorn. With no CELERY_BROKER_URL a Celery worker and the "
            "scheduler start too. Ctrl-C or SIGTERM stops them all."
        ),
    )
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    run.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    run.add_argument("--workers", type=int, default=1, help="web server processes (1)")
    worker_choice = run.add_mutually_exclusive_group()
    worker_choice.add_argument(
        "--with-worker",
        dest="with_worker",
        action="store_true",
        default=None,
        help="also start a worker and the scheduler (default only with the embedded broker)",
    )
    worker_choice.add_argument(
        "--no-worker",
        dest="with_worker",
        action="store_false",
        help="serve pages only; run `patron worker` and `patron scheduler` elsewhere",
    )
    run.add_argument(
        "--no-migrate",
        action="store_true",
        help="skip migrations (when `patron migrate` runs once per deployment)",
    )
    run.set_defaults(handler=cmd_run)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--verbosity", type=int, default=1, choices=[0, 1, 2, 3])
    migrate.set_defaults(handler=cmd_migrate)

    createuser = sub.add_parser("createuser", help="create a user who logs in by email")
    createuser.add_argument("--email", required=True, help="login email address")
    createuser.add_argument("--password", required=True, help="password (checked for strength)")
    createuser.add_argument("--role", help="name of an existing role, e.g. 'Sales Rep'")
    createuser.add_argument("--superuser", action="store_true", help="make an administrator")
    createuser.add_argument("--name", help="full name")
    createuser.set_defaults(handler=cmd_createuser)

    token = sub.add_parser("token", help="personal API tokens")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    token_create = token_sub.add_parser(
        "create",
        help="create a token for a user; the token is the last line printed",
        description="Create an API token. The secret is printed once, as the last line.",
    )
    token_create.add_argument("--email", required=True, help="the token owner's email")
    token_create.add_argument("--name", default="Command line", help="a label for the token")
    token_create.add_argument(
        "--scopes",
        default="contacts:read",
        help="comma-separated scopes such as contacts:read,contacts:write (contacts:read)",
    )
    token_create.add_argument("--expires", help=EXPIRES_HELP + "; default: never")
    token_create.set_defaults(handler=cmd_token_create)

    worker = sub.add_parser("worker", help="run a Celery worker (any number, on any machine)")
    worker.add_argument("--concurrency", type=int, help="worker processes (default: CPU count)")
    worker.add_argument("--queues", help="comma-separated queues to consume (default: all)")
    worker.add_argument("--loglevel", default="INFO", help="log level (INFO)")
    worker.set_defaults(handler=cmd_worker)

    scheduler = sub.add_parser("scheduler", help="run the periodic-task scheduler (run one)")
    scheduler.add_argument("--loglevel", default="INFO", help="log level (INFO)")
    scheduler.set_defaults(handler=cmd_scheduler)

    demo = sub.add_parser("demo", help="load the demo companies, people, users and teams")
    demo.add_argument(
        "--sales",
        action="store_true",
        help="also load the sample's products and 8,800 opportunities (sales analytics)",
    )
    demo.set_defaults(handler=cmd_demo)

    check = sub.add_parser("check", help="check the configuration (Django system checks)")
    check.add_argument("--deploy", action="store_true", help="include production checks")
    check.add_argument(
        "--fail-level",
        choices=["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"],
        help="lowest level that fails (WARNING with --deploy, else ERROR)",
    )
    check.add_argument("--database", help="also run checks against this database alias")
    check.set_defaults(handler=cmd_check)

    backup = sub.add_parser(
        "backup",
        help="write the whole database and uploaded files to one archive",
        description=(
            "Write every table and every file under MEDIA_ROOT into a ZIP archive with a "
            "version stamp (Patron version, migrations, database vendor)."
        ),
    )
    backup.add_argument("file", help="the archive to write, e.g. patron-2026-11-22.zip")
    backup.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    backup.add_argument("--quiet", action="store_true", help="print only the summary")
    backup.set_defaults(handler=cmd_backup)

    restore = sub.add_parser(
        "restore",
        help="replace the database and uploaded files by a backup",
        description=(
            "Restore a `patron backup` archive (SQLite or PostgreSQL, either way) into a "
            "database migrated to the same state: run `patron migrate` with the Patron version "
            "that made the backup first. Everything in the database is replaced."
        ),
    )
    restore.add_argument("file", help="an archive written by `patron backup`")
    restore.add_argument(
        "--force", action="store_true", help="confirm replacing a database that holds data"
    )
    restore.add_argument("--quiet", action="store_true", help="print only the summary")
    restore.set_defaults(handler=cmd_restore)

    importer = sub.add_parser(
        "import", help="import a CSV or XLSX file (contacts, accounts, leads, ...)"
    )
    importer.add_argument("object", help="what to import: contacts, accounts, leads, ...")
    importer.add_argument("file", help="the CSV or .xlsx file")
    importer.add_argument("--mapping", help="a saved mapping's name (else columns by header)")
    importer.add_argument("--mode", choices=["create", "update", "upsert"])
    importer.add_argument("--match-key", dest="match_key", help="e.g. email, domain, sku")
    importer.add_argument("--user", help="import as this user (default: first administrator)")
    importer.add_argument(
        "--allow-duplicates", action="store_true", help="import rows a warn rule flags"
    )
    importer.add_argument("--quiet", action="store_true", help="no progress bar")
    importer.set_defaults(handler=cmd_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # EnvError is an ImproperlyConfigured whose message starts with the variable's name.
    from django.core.exceptions import ImproperlyConfigured

    try:
        _setup_django()
        status: int = args.handler(args)
    except ImproperlyConfigured as exc:
        print(f"patron: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"patron: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return status


if __name__ == "__main__":
    sys.exit(main())
