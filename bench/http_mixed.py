"""Benchmark 7: HTTP throughput of a mixed read/write workload against ``patron run``.

Run: ``.venv/bin/python bench/http_mixed.py [--duration 60] [--connections 50]`` (needs
``wrk``: ``apt-get install -y wrk``, PostgreSQL and Redis). It builds Patron's production
configuration on this machine and drops it again on exit or Ctrl-C:

- a throwaway PostgreSQL database ``test_patron_bench_http`` (``_soak`` for the soak) beside
  DATABASE_URL (default ``postgres://postgres@127.0.0.1:5432/patron``; only the server part
  is used);
- Redis (``--redis``, default ``redis://127.0.0.1:6379``) as cache and Celery broker, in two
  database numbers that are empty when the run starts (flushed at the end);
- ``patron run --workers 2 --no-worker`` (uvicorn, ASGI) and one ``patron worker``.

Data: the demo sample (41 sales users in a role hierarchy and three teams, 85 accounts with
hierarchies, 8,800 opportunities), then 2,000 accounts and 4,000 contacts imported through
the import service (as a worker runs a CSV import), 6,000 activities written in bulk with a
skew (a tenth of the accounts carry half of them); ``--scale`` multiplies the added records.
16 sales users get an API token and a browser session.

Workload (``bench/http_mixed.lua``), every request as one of those users: the contact list
filtered by owner or by a name fragment and sorted by name (40 %), a contact (18 %), global
search (12 %), an account's timeline (10 %), creating a call (POST, 8 %), reading an
opportunity then updating it with If-Match (PATCH, 8 %), the sales analytics page (HTML,
4 %). Each user's opportunities are edited by that user only, one request at a time, so the
workload itself never causes a 412 or 409: any non-2xx answer is a finding.

Baseline in the same run: wrk against ``/healthz`` (answered before any other middleware,
no database): the server's floor. Printed: requests/s, p50/p95/p99, non-2xx answers and socket
errors, the peak number of database connections, and server log lines with tracebacks.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LUA_SCRIPT = Path(__file__).resolve().with_suffix(".lua")
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/patron"
TOKEN_SCOPES = [
    "contacts:read",
    "activities:read",
    "activities:write",
    "sales:read",
    "sales:write",
    "search:read",
]
BENCH_USERS = 16
STOP_GRACE_SECONDS = 20


@contextlib.contextmanager
def step(label: str) -> Iterator[None]:
    """Print how long a set-up step took (seeding takes minutes on a busy machine)."""
    started = time.monotonic()
    yield
    print(f"  {label}: {time.monotonic() - started:.0f} s", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In a child: SIGTERM when the benchmark dies, even by SIGKILL, so nothing is orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def raise_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so ``finally`` blocks stop the stack and drop the data."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def lua_value(value: Any) -> str:
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "{" + ", ".join(lua_value(item) for item in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {lua_value(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"no Lua form for {value!r}")


@dataclass
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def wrk_command(url: str, *, duration: int, connections: int, threads: int) -> list[str]:
    return [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]


def parse_wrk(output: str) -> WrkResult:
    line = next((row for row in output.splitlines() if row.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no RESULT line:\n{output}")
    fields = line.split()
    requests, micros, _status_errors, socket_errors, p50, p95, p99 = (float(x) for x in fields[1:8])
    statuses = dict(part.split(":") for part in fields[8].split(",")) if len(fields) > 8 else {}
    counts = {code: int(n) for code, n in statuses.items()}
    return WrkResult(
        requests=int(requests),
        seconds=micros / 1_000_000,
        # 3xx count too: every request of the workload expects a 2xx answer.
        non_2xx=sum(n for code, n in counts.items() if not code.startswith("2")),
        socket_errors=int(socket_errors),
        p50_ms=p50 / 1000,
        p95_ms=p95 / 1000,
        p99_ms=p99 / 1000,
        statuses=counts,
    )


class Stack:
    """Patron in production configuration on loopback: PostgreSQL, Redis, uvicorn, a worker."""

    def __init__(self, *, workers: int, redis: str, label: str) -> None:
        self.workers = workers
        self.redis = redis.rstrip("/")
        self.label = label
        self.tmp = Path(tempfile.mkdtemp(prefix=f"patron-bench-{label}-"))
        server = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
        parts = urllib.parse.urlsplit(server)
        self.admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
        # One database per script, so the soak and this benchmark may run side by side.
        self.database = f"test_patron_bench_{label}"
        self.database_url = urllib.parse.urlunsplit(parts._replace(path=f"/{self.database}"))
        self.redis_dbs: list[int] = []
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.created_database = False
        self.env: dict[str, str] = {}
        self.users: list[dict[str, Any]] = []

    # --- set up -------------------------------------------------------------------------

    def create(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.created_database = True
        self.redis_dbs = self._claim_redis_dbs(2)
        self.env = {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain http on loopback: production would redirect every request to https.
            "HTTPS": "false",
            "CACHE_URL": f"{self.redis}/{self.redis_dbs[0]}",
            "CELERY_BROKER_URL": f"{self.redis}/{self.redis_dbs[1]}",
            "PATRON_DATA_DIR": str(self.tmp / "data"),
            "PATRON_NO_DEMO": "1",
            "LOG_LEVEL": "WARNING",
        }
        os.environ.update(self.env)
        import django

        django.setup()

    def _claim_redis_dbs(self, count: int) -> list[int]:
        """Database numbers with no keys (other work on this Redis keeps its data)."""
        import redis

        free = []
        for number in range(14, 0, -1):
            client = redis.Redis.from_url(f"{self.redis}/{number}")
            if client.dbsize() == 0:
                free.append(number)
            client.close()
            if len(free) == count:
                return free
        raise SystemExit(f"{self.redis}: fewer than {count} empty databases between 1 and 14")

    def start(self) -> None:
        patron = str(Path(sys.executable).with_name("patron"))
        env = {**os.environ, **self.env}
        run_log = (self.tmp / "server.log").open("wb")
        worker_log = (self.tmp / "worker.log").open("wb")
        self.server = subprocess.Popen(
            [patron, "run", "--workers", str(self.workers), "--port", str(self.port),
             "--no-worker"],
            cwd=ROOT, env=env, stdout=run_log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip
        self.worker = subprocess.Popen(
            [patron, "worker", "--loglevel", "WARNING"],
            cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip
        self.wait_ready()

    def wait_ready(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in (self.server, self.worker):
                if proc is not None and proc.poll() is not None:
                    raise SystemExit(f"a Patron process exited; see {self.tmp}/*.log")
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"{self.base}/readyz did not answer 200 within {timeout:.0f} s")

    # --- seed ---------------------------------------------------------------------------

    def seed(self, *, scale: float) -> Path:
        """Migrate, load the data set, create the users' tokens and sessions; return the Lua
        data file the workload reads."""
        from django.core.management import call_command

        started = time.monotonic()
        print("Seeding:", flush=True)
        with step("migrate"):
            call_command("migrate", interactive=False, verbosity=0)
        users = self.users = seed_records(self.tmp, scale=scale)
        from django.db import connection

        with step("vacuum analyze"), connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        data = self.tmp / "data.lua"
        data.write_text("return " + lua_value({"users": users}) + "\n")
        print(f"Seeded in {time.monotonic() - started:.0f} s: {record_counts()}", flush=True)
        connection.close()
        return data

    # --- observe --------------------------------------------------------------------------

    def processes(self) -> dict[int, str]:
        """Every running Patron process: pid -> a label (server, uvicorn worker, worker...)."""
        roots = {
            proc.pid: name
            for proc, name in ((self.server, "patron run"), (self.worker, "patron worker"))
            if proc
        }
        children: dict[int, list[int]] = {}
        commands: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
            commands[int(entry.name)] = command
        found: dict[int, str] = {}
        for root, name in roots.items():
            stack = [(root, name)]
            while stack:
                pid, label = stack.pop()
                if pid not in commands:
                    continue
                found[pid] = label
                for child in children.get(pid, []):
                    command = commands.get(child, "")
                    if "uvicorn" in command and "multiprocessing" not in command:
                        child_label = "uvicorn"
                    elif "multiprocessing" in command or label.startswith("uvicorn"):
                        child_label = "uvicorn worker" if "uvicorn" in label else "pool"
                    else:
                        child_label = f"{name} child"
                    stack.append((child, child_label))
        return found

    def database_connections(self) -> int:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [self.database]
            ).fetchone()
        return int(row[0]) if row else 0

    def log_problems(self) -> list[str]:
        """Log lines of the server and worker that report errors (tracebacks, 500s, 503s)."""
        lines: list[str] = []
        for name in ("server.log", "worker.log"):
            path = self.tmp / name
            if not path.exists():
                continue
            for line in path.read_text(errors="replace").splitlines():
                if (
                    "Traceback" in line
                    or "ERROR" in line
                    or '" 500' in line
                    or ": 503, " in line
                    or "Internal Server Error" in line
                ):
                    lines.append(f"{name}: {line.strip()}")
        return lines

    # --- tear down ------------------------------------------------------------------------

    def close(self) -> None:
        for proc in (self.server, self.worker):
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in (self.server, self.worker):
            if proc is None:
                continue
            try:
                proc.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if self.created_database:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        if self.redis_dbs:
            import redis

            for number in self.redis_dbs:
                client = redis.Redis.from_url(f"{self.redis}/{number}")
                client.flushdb()
                client.close()
        if os.environ.get("BENCH_KEEP_LOGS"):
            print(f"Logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


@contextlib.contextmanager
def running_stack(
    *, workers: int, redis: str, label: str, scale: float
) -> Iterator[tuple[Stack, Path]]:
    """The seeded, started stack; stopped and dropped on exit, Ctrl-C or SIGTERM."""
    raise_on_sigterm()
    stack = Stack(workers=workers, redis=redis, label=label)
    try:
        stack.create()
        data = stack.seed(scale=scale)
        stack.start()
        yield stack, data
    finally:
        stack.close()


# --- data ------------------------------------------------------------------------------------

COMPANY_WORDS = (
    "Acme", "Blue", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper",
    "Kestrel", "Lumen", "Meridian", "Nimbus", "Orchid", "Pioneer", "Quarry", "Raven", "Summit",
    "Tundra", "Umbra", "Vertex", "Willow", "Xenon", "Yarrow", "Zephyr",
)  # fmt: skip
COMPANY_KINDS = ("Logistics", "Foods", "Systems", "Health", "Energy", "Retail", "Labs", "Works")
INDUSTRIES = ("retail", "technology", "medical", "finance", "telecommunications", "software")


def _import_csv(admin: Any, object_type: str, path: Path, columns: list[str]) -> None:
    from django.core.files import File

    from patron.data_exchange.import_services import (
        import_configure,
        import_execute,
        import_start,
        import_upload,
    )

    with path.open("rb") as handle:
        run = import_upload(
            user=admin, object_type=object_type, upload=File(handle, name=path.name),
            file_name=path.name,
        )  # fmt: skip
    import_configure(user=admin, run=run, columns={c: c for c in columns}, mode="create")
    import_start(user=admin, run=run, enqueue=False)
    run.refresh_from_db()
    assert run.job_id is not None
    import_execute(run.job_id)
    run.refresh_from_db()
    if run.status != "done":
        raise SystemExit(f"seeding {object_type}: the import ended {run.status}")


def seed_records(tmp: Path, *, scale: float) -> list[dict[str, Any]]:
    """The data set and, for each bench user, what the workload needs (see the Lua)."""
    from django.contrib.auth import get_user_model

    from patron.contacts.demo import FIRST_NAMES, LAST_NAMES, TITLES, demo_load
    from patron.orders.maven_import import maven_sales_load
    from patron.users.services import bootstrap_roles

    rng = random.Random(7)
    bootstrap_roles()
    user_model = get_user_model()
    admin = user_model.objects.create_superuser(
        email="bench.admin@example.com", password=secrets.token_urlsafe(16)
    )
    with step("demo sample (services)"):
        demo_load()
    with step("sales history (bulk)"):
        maven_sales_load()
    owners = list(
        user_model.objects.filter(is_superuser=False, is_active=True)
        .order_by("pk")
        .values_list("email", flat=True)
    )
    accounts, contacts = int(2000 * scale), int(4000 * scale)
    account_rows = []
    with (tmp / "accounts.csv").open("w") as handle:
        handle.write("name,domain,industry,phone,owner\n")
        for n in range(accounts):
            name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)} {n}"
            domain = f"{name.lower().replace(' ', '-')}.example"
            owner = rng.choice(owners)
            account_rows.append((domain, owner))
            phone = f"+1 415 {rng.randint(200, 999)} {rng.randint(1000, 9999)}"
            handle.write(f"{name},{domain},{rng.choice(INDUSTRIES)},{phone},{owner}\n")
    with step(f"{accounts:,} accounts (import)"):
        _import_csv(admin, "contacts.account", tmp / "accounts.csv",
                    ["name", "domain", "industry", "phone", "owner"])  # fmt: skip
    with (tmp / "contacts.csv").open("w") as handle:
        handle.write("first_name,last_name,email,phone,title,account,owner\n")
        for n in range(contacts):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            domain, owner = account_rows[rng.randrange(len(account_rows))]
            phone = f"+1 212 {rng.randint(200, 999)} {rng.randint(1000, 9999)}"
            email = f"{first.lower()}.{last.lower()}{n}@{domain}"
            title = rng.choice(TITLES)[0]
            handle.write(f"{first},{last},{email},{phone},{title},{domain},{owner}\n")
    columns = ["first_name", "last_name", "email", "phone", "title", "account", "owner"]
    with step(f"{contacts:,} contacts (import)"):
        _import_csv(admin, "contacts.contact", tmp / "contacts.csv", columns)
    with step("activities (bulk)"):
        seed_activities(rng, count=int(6000 * scale))
    with step("users' tokens, sessions and records"):
        return bench_users(rng)


def seed_activities(rng: random.Random, *, count: int) -> None:
    """Activities in bulk (what a years-old CRM holds), skewed: a tenth of the accounts carry
    half of them; each is linked to its account and indexed for search."""
    import datetime

    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    from patron.activities.models import Activity, ActivityLink
    from patron.contacts.models import Account
    from patron.core import search

    accounts = list(Account.objects.order_by("pk").values_list("pk", "owner_id", "team_id"))
    busy = accounts[: max(1, len(accounts) // 10)]
    now = timezone.now()
    kinds = ("call", "note", "email", "task")
    activities = []
    targets = []
    for n in range(count):
        account_id, owner_id, team_id = rng.choice(busy if n % 2 else accounts)
        kind = kinds[n % len(kinds)]
        moment = now - datetime.timedelta(minutes=rng.randint(60, 2 * 365 * 24 * 60))
        activities.append(
            Activity(
                kind=kind, subject=f"{kind.title()} {n}", occurred_at=moment, owner_id=owner_id,
                team_id=team_id, created_by_id=owner_id, created_at=moment, updated_at=moment,
                sent_at=moment if kind == "email" else None,
                due_at=moment if kind == "task" else None,
                status="done" if kind == "task" else "",
            )
        )  # fmt: skip
        targets.append(account_id)
    Activity.objects.bulk_create(activities, batch_size=1000)
    account_type = ContentType.objects.get_for_model(Account)
    ActivityLink.objects.bulk_create(
        (
            ActivityLink(activity=activity, content_type=account_type, object_id=target)
            for activity, target in zip(activities, targets, strict=True)
        ),
        batch_size=1000,
    )
    search.index_records(activities)


def bench_users(rng: random.Random) -> list[dict[str, Any]]:
    """Tokens, sessions and visible record ids of the sales users with the most open deals."""
    from django.conf import settings
    from django.db.models import Count
    from django.test import Client

    from patron.contacts.models import Account, Contact
    from patron.pipeline.models import Opportunity
    from patron.users.models import User
    from patron.users.services import token_create

    deal_counts = (
        Opportunity.objects.filter(is_closed=False, owner__is_superuser=False)
        .values("owner")
        .annotate(deals=Count("pk"))
        .order_by("-deals", "owner")
    )
    owner_ids = [row["owner"] for row in deal_counts[:BENCH_USERS]]
    by_id = User.objects.in_bulk(owner_ids)
    chosen = [by_id[pk] for pk in owner_ids]
    if len(chosen) < 2:
        raise SystemExit("seeding: fewer than two sales users own open opportunities")
    users = []
    for user in chosen:
        _token, secret = token_create(user=user, name="http bench", scopes=TOKEN_SCOPES)
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        cookie = f"{settings.SESSION_COOKIE_NAME}={session}"
        contacts = list(
            Contact.objects.visible_to(user).order_by("?")
            .values_list("pk", "last_name", "email", "owner_id")[:400]
        )  # fmt: skip
        accounts = list(
            Account.objects.visible_to(user).order_by("?").values_list("pk", "name")[:200]
        )
        deals = list(
            Opportunity.objects.filter(owner=user, is_closed=False)
            .order_by("pk")
            .values_list("pk", flat=True)[:60]
        )
        if not contacts or not accounts:
            raise SystemExit(f"seeding: {user.email} sees no contacts or no accounts")
        quote = urllib.parse.quote
        names = sorted({row[1] for row in contacts if row[1]})
        queries = [quote(row[1]) for row in contacts[:20] if row[1]]
        queries += [quote(row[2].split("@")[0]) for row in contacts[20:40] if row[2]]
        queries += [quote(name.split()[0]) for _pk, name in accounts[:20]]
        queries += [quote(f"415 {rng.randint(200, 999)}") for _ in range(5)]
        users.append(
            {
                "token": secret,
                "cookie": cookie,
                "owners": sorted({row[3] for row in contacts}),
                "names": [quote(name[:3]) for name in names],
                "queries": queries,
                "contacts": [row[0] for row in contacts],
                "accounts": [pk for pk, _name in accounts],
                "opportunities": deals,
            }
        )
    return users


def record_counts() -> str:
    from patron.activities.models import Activity
    from patron.contacts.models import Account, Contact
    from patron.pipeline.models import Opportunity
    from patron.users.models import User

    return ", ".join(
        f"{model.objects.count():,} {label}"
        for model, label in (
            (User, "users"),
            (Account, "accounts"),
            (Contact, "contacts"),
            (Opportunity, "opportunities"),
            (Activity, "activities"),
        )
    )


# --- the run ---------------------------------------------------------------------------------


class ConnectionWatch(threading.Thread):
    """Samples the number of PostgreSQL connections to the bench database every 2 s."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.peak = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            with contextlib.suppress(Exception):
                self.peak = max(self.peak, self.stack.database_connections())
            self.stopped.wait(2)


def wrk_env(data: Path, *, mode: str, threads: int) -> dict[str, str]:
    return {
        **os.environ,
        "BENCH_DATA": str(data),
        "BENCH_MODE": mode,
        "BENCH_THREADS": str(threads),
    }


def run_wrk(
    stack: Stack, data: Path, *, mode: str, duration: int, connections: int, threads: int
) -> WrkResult:
    command = wrk_command(stack.base, duration=duration, connections=connections, threads=threads)
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=wrk_env(data, mode=mode, threads=threads),
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return parse_wrk(done.stdout)


def start_wrk(
    stack: Stack, data: Path, *, duration: int, connections: int, threads: int
) -> subprocess.Popen[str]:
    """The mixed workload in the background (the soak samples memory meanwhile)."""
    command = wrk_command(stack.base, duration=duration, connections=connections, threads=threads)
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=wrk_env(data, mode="mixed", threads=threads),
        preexec_fn=_die_with_parent,
    )


def endpoint_latencies(stack: Stack, *, rounds: int) -> dict[str, list[float]]:
    """Each request kind of the mix alone, one at a time (server time plus loopback), as the
    first bench user: what the mix is made of."""
    import http.client
    import statistics

    user = stack.users[0]
    bearer = {"Authorization": f"Bearer {user['token']}"}
    json_body = {**bearer, "Content-Type": "application/json"}
    times: dict[str, list[float]] = {}

    def call(kind: str, method: str, path: str, body: str = "", **headers: str) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
        started = time.perf_counter()
        conn.request(method, path, body=body or None, headers=headers or bearer)
        answer = conn.getresponse()
        answer.read()
        times.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        conn.close()
        if answer.status >= 300:
            raise SystemExit(f"{method} {path}: {answer.status}")
        return answer

    def pick(items: list[Any], n: int) -> Any:
        return items[n % len(items)]

    for n in range(rounds):
        owner = pick(user["owners"], n)
        call("contacts by owner", "GET", f"/api/v1/contacts?owner={owner}&sort=name&limit=50")
        name = pick(user["names"], n)
        call("contacts by name", "GET", f"/api/v1/contacts?sort=-name&limit=50&q={name}")
        call("contact", "GET", f"/api/v1/contacts/{pick(user['contacts'], n)}")
        call("search", "GET", f"/api/v1/search/?q={pick(user['queries'], n)}")
        account = pick(user["accounts"], n)
        call("timeline", "GET", f"/api/v1/timeline/contacts.account/{account}")
        link = {"object_type": "contacts.account", "id": account}
        body = json.dumps({"kind": "call", "subject": "Timing", "links": [link]})
        call("create activity", "POST", "/api/v1/activities", body, **json_body)
        deal = pick(user["opportunities"], n)
        etag = call("opportunity", "GET", f"/api/v1/opportunities/{deal}").getheader("ETag")
        body = json.dumps({"next_step": f"Timing {n}"})
        call("update opportunity", "PATCH", f"/api/v1/opportunities/{deal}", body,
             **json_body, **{"If-Match": etag})  # fmt: skip
        call("sales analytics page", "GET", "/analytics/sales/", Cookie=user["cookie"])
    print(f"\nEach kind alone, one request at a time ({rounds} each):")
    print(f"{'request':<24}{'p50 ms':>9}{'max ms':>9}")
    for kind, values in times.items():
        print(f"{kind:<24}{statistics.median(values):>9.1f}{max(values):>9.1f}")
    return times


def machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs, load average {load}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def print_result(name: str, result: WrkResult) -> None:
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(result.statuses.items()))
    print(
        f"{name:<22}{result.requests:>9}{result.rps:>9.1f}{result.p50_ms:>9.1f}"
        f"{result.p95_ms:>9.1f}{result.p99_ms:>9.1f}{result.non_2xx:>9}"
        f"{result.socket_errors:>9}   {codes}"
    )


def print_header() -> None:
    print(
        f"{'workload':<22}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'non-2xx':>9}{'sock err':>9}   statuses"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds of mixed load (60)")
    parser.add_argument("--floor-duration", type=int, default=15, help="seconds of /healthz")
    parser.add_argument("--warmup", type=int, default=10, help="seconds of load not measured")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the added records")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--rounds", type=int, default=10, help="each kind alone, how often")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    with running_stack(workers=args.workers, redis=args.redis, label="http", scale=args.scale) as (
        stack,
        data,
    ):
        shape = {"connections": args.connections, "threads": args.threads}
        run_wrk(stack, data, mode="mixed", duration=args.warmup, **shape)
        watch = ConnectionWatch(stack)
        watch.start()
        floor = run_wrk(stack, data, mode="floor", duration=args.floor_duration, **shape)
        mixed = run_wrk(stack, data, mode="mixed", duration=args.duration, **shape)
        watch.stopped.set()
        endpoint_latencies(stack, rounds=args.rounds)
        problems = stack.log_problems()

        print(
            f"\nMixed HTTP workload: PostgreSQL + Redis, patron run --workers {args.workers}, "
            f"a worker; wrk {args.threads} threads x {args.connections} connections; "
            f"{machine()}"
        )
        print_header()
        print_result("floor: GET /healthz", floor)
        print_result("mixed workload", mixed)
        print(f"peak database connections: {watch.peak}")
        print(f"server/worker log lines reporting errors: {len(problems)}")
        for line in problems[:20]:
            print(f"  {line}")
        ratio = mixed.rps / floor.rps if floor.rps else 0.0
        met = mixed.errors == 0 and not problems
        print(
            f"RESULT benchmark=http_mixed name=http_mixed figure={mixed.rps:.1f}req/s "
            f"baseline={floor.rps:.1f}req/s "
            f"ratio={ratio:.3f} target=0_errors errors={mixed.errors} "
            f"p50_ms={mixed.p50_ms:.0f} p95_ms={mixed.p95_ms:.0f} p99_ms={mixed.p99_ms:.0f} "
            f"met={'yes' if met else 'no'}"
        )
        return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
