"""A scaled-out Patron on loopback, from real processes: its own PostgreSQL cluster and Redis
servers, `patron migrate`, two app servers (`patron run --no-migrate`), nginx balancing them
round-robin, two `patron worker` processes and one `patron scheduler`.

Every process runs in its own process group with its output in a log file under the
cluster's temporary directory; ``Cluster.stop`` ends them all (and removes the directory)
whatever state a test left them in. Tests stop and start single parts (the database, the
broker, a worker) to inject faults without touching the machine's shared servers.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PG_BIN = Path(os.environ.get("PATRON_PG_BIN", "/usr/lib/postgresql/15/bin"))
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "System-test-password-4821"
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception as exc:  # a server still starting refuses connections
            last_error = exc
        else:
            if result:
                return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} ({last_error!r})")


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc, no extra dependency)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            # The command name is in parentheses and may hold spaces; ppid follows it.
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.append(int(entry.name))
    return found


@dataclass
class Proc:
    name: str
    argv: list[str]
    log: Path
    env: dict[str, str]
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        handle = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.argv,
            cwd=REPO,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        handle.close()

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was never started"
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def children(self) -> list[int]:
        return _children(self.pid)

    def kill(self) -> None:
        """SIGKILL the whole process group: the process and every child, as a crash would."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            assert self.popen is not None
            self.popen.wait(timeout=10)

    def stop(self, grace: float = 10.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        # Children a SIGTERM left behind (or the group of a process that already exited).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Cluster:
    root: Path
    pg_dir: Path
    pg_port: int = field(default_factory=free_port)
    broker_port: int = field(default_factory=free_port)
    cache_port: int = field(default_factory=free_port)
    app_ports: list[int] = field(default_factory=lambda: [free_port(), free_port()])
    lb_port: int = field(default_factory=free_port)
    procs: dict[str, Proc] = field(default_factory=dict)
    pg_started: bool = False

    # --- environment ---------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        return f"postgres://patron@127.0.0.1:{self.pg_port}/patron"

    @property
    def lb_url(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    def app_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.app_ports[index]}"

    def env(self) -> dict[str, str]:
        """A production environment, as an installation's /etc/patron.env would hold."""
        keep = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR")
        env = {name: os.environ[name] for name in keep if name in os.environ}
        env.update(
            DJANGO_SETTINGS_MODULE="tests.system.settings",
            DATABASE_URL=self.database_url,
            CELERY_BROKER_URL=f"redis://127.0.0.1:{self.broker_port}/0",
            CACHE_URL=f"redis://127.0.0.1:{self.cache_port}/0",
            SECRET_KEY="system-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            HTTPS="false",
            PATRON_DATA_DIR=str(self.root / "data"),
            PATRON_ADMIN_EMAIL=ADMIN_EMAIL,
            PATRON_ADMIN_PASSWORD=ADMIN_PASSWORD,
            PATRON_NO_DEMO="1",
            PATRON_TRUSTED_PROXIES="1",
            # Login throttling counts per client address; every test request comes from
            # 127.0.0.1, so a failed-login test elsewhere must not lock the others out.
            LOGIN_THROTTLE_ATTEMPTS="1000",
            # Fail fast while the database is restarted, so the outage test sees its 503s soon.
            DATABASE_POOL_TIMEOUT="5",
            PYTHONUNBUFFERED="1",
        )
        return env

    def patron(self, *args: str) -> list[str]:
        return [str(VENV_BIN / "patron"), *args]

    def add(self, name: str, argv: list[str], *, env: dict[str, str] | None = None) -> Proc:
        proc = Proc(name, argv, self.root / "logs" / f"{name}.log", env or self.env())
        self.procs[name] = proc
        return proc

    # --- PostgreSQL ----------------------------------------------------------------------

    def _as_postgres(self, argv: list[str]) -> list[str]:
        # initdb and postgres refuse to run as root.
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def pg_init(self) -> None:
        data = self.pg_dir / "data"
        subprocess.run(
            self._as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale",
                    "C",
                ]
            ),
            check=True,
            capture_output=True,
        )
        self.pg_start()
        self.sql("postgres", "CREATE ROLE patron LOGIN CREATEDB")
        self.sql("postgres", "CREATE DATABASE patron OWNER patron")

    def pg_start(self) -> None:
        options = (
            f"-p {self.pg_port} -c listen_addresses=127.0.0.1 -k {self.pg_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        subprocess.run(
            self._as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.pg_dir / "data"),
                    "-o",
                    options,
                    "-l",
                    str(self.pg_dir / "postgres.log"),
                    "-w",
                    "-t",
                    "30",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        self.pg_started = True

    def pg_stop(self, mode: str = "fast") -> None:
        subprocess.run(
            self._as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.pg_dir / "data"),
                    "-m",
                    mode,
                    "-w",
                    "-t",
                    "30",
                    "stop",
                ]
            ),
            check=False,
            capture_output=True,
        )
        self.pg_started = False

    def connect(self, dbname: str = "patron") -> psycopg.Connection[Any]:
        user = "postgres" if dbname == "postgres" else "patron"
        return psycopg.connect(
            host="127.0.0.1", port=self.pg_port, user=user, dbname=dbname, autocommit=True
        )

    def sql(self, dbname: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.connect(dbname) as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def query(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self.sql("patron", query, params)

    def scalar(self, query: str, params: Any = None) -> Any:
        rows = self.query(query, params)
        return rows[0][0] if rows else None

    # --- Redis ---------------------------------------------------------------------------

    def redis_start(self, name: str) -> None:
        port = self.broker_port if name == "broker" else self.cache_port
        proc = self.procs.get(name) or self.add(
            name,
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
        )
        proc.start()
        wait_for(lambda: self._redis_ping(port), timeout=15, what=f"redis ({name})")

    @staticmethod
    def _redis_ping(port: int) -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    # --- Patron and nginx ----------------------------------------------------------------

    def app_start(self, index: int) -> None:
        name = f"app{index}"
        proc = self.procs.get(name) or self.add(
            name,
            self.patron(
                "run",
                "--no-migrate",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.app_ports[index]),
                "--workers",
                "2",
            ),
        )
        proc.start()
        url = self.app_url(index)
        wait_for(
            lambda: requests.get(f"{url}/healthz", timeout=2).ok and proc.running(),
            timeout=START_TIMEOUT,
            what=f"{name} at {url}\n{proc.output()[-2000:]}",
        )

    def worker_start(self, index: int) -> Proc:
        name = f"worker{index}"
        proc = self.procs.get(name) or self.add(
            name, self.patron("worker", "--concurrency", "1", "--loglevel", "INFO")
        )
        proc.start()
        wait_for(
            lambda: "ready." in proc.output() or not proc.running(),
            timeout=START_TIMEOUT,
            what=f"{name} to be ready",
        )
        assert proc.running(), proc.output()[-3000:]
        return proc

    def worker_restart(self, index: int) -> Proc:
        proc = self.procs[f"worker{index}"]
        # Only this start's lines count when the test waits for "ready.".
        proc.log.rename(proc.log.with_suffix(f".{int(time.time() * 1000)}.log"))
        return self.worker_start(index)

    def scheduler_start(self, name: str = "scheduler") -> Proc:
        proc = self.procs.get(name) or self.add(name, self.patron("scheduler"))
        proc.start()
        wait_for(
            lambda: "beat: Starting" in proc.output() or not proc.running(),
            timeout=START_TIMEOUT,
            what=f"{name} to start",
        )
        assert proc.running(), proc.output()[-3000:]
        return proc

    def nginx_config(self) -> str:
        temp = self.root / "nginx"
        servers = "\n".join(f"        server 127.0.0.1:{port};" for port in self.app_ports)
        user = "user root;" if os.geteuid() == 0 else ""
        return f"""
{user}
worker_processes 1;
pid {temp}/nginx.pid;
error_log {temp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    client_max_body_size 50m;
    upstream patron {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{self.lb_port};
        location / {{
            proxy_pass http://patron;
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 30s;
            # Which app server answered: the test asserts both of them served the session.
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""

    def nginx_start(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        assert Path(nginx).exists(), "nginx is not installed: apt-get install -y nginx"
        temp = self.root / "nginx"
        temp.mkdir()
        conf = temp / "nginx.conf"
        conf.write_text(self.nginx_config())
        proc = self.add("nginx", [nginx, "-p", str(temp), "-c", str(conf), "-g", "daemon off;"])
        proc.start()
        wait_for(
            lambda: requests.get(f"{self.lb_url}/healthz", timeout=2).ok,
            timeout=15,
            what=f"nginx\n{proc.output()}",
        )

    # --- the whole ---------------------------------------------------------------------------

    def start(self) -> None:
        (self.root / "logs").mkdir()
        (self.root / "data").mkdir()
        self.pg_init()
        self.redis_start("broker")
        self.redis_start("cache")
        migrate = subprocess.run(
            self.patron("migrate", "--verbosity", "0"),
            cwd=REPO,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        # One after the other: the first does the first start (administrator) and collects
        # the static files both serve from the shared data directory.
        self.app_start(0)
        self.app_start(1)
        self.nginx_start()
        self.worker_start(1)
        self.worker_start(2)
        self.scheduler_start()

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop(grace=5)
        if self.pg_started:
            self.pg_stop("immediate")

    def logs(self) -> str:
        parts = []
        for path in sorted((self.root / "logs").glob("*.log")):
            parts.append(f"===== {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def worker_log_lines(self, pattern: str) -> list[str]:
        """Matching lines from every worker log, including those of earlier starts."""
        regex = re.compile(pattern)
        lines = []
        for path in sorted((self.root / "logs").glob("worker*.log")):
            lines += [
                line for line in path.read_text(errors="replace").splitlines() if regex.search(line)
            ]
        return lines


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="patron-system-"))
    pg_dir = Path(tempfile.mkdtemp(prefix="patron-system-pg-"))
    if os.geteuid() == 0:
        shutil.chown(pg_dir, "postgres", "postgres")
    cluster = Cluster(root=root, pg_dir=pg_dir)
    try:
        cluster.start()
        yield cluster
    except BaseException:
        # What each process said is the first thing needed to understand a failure.
        sys.stderr.write(cluster.logs())
        raise
    finally:
        cluster.stop()
        if not os.environ.get("PATRON_SYSTEM_KEEP"):  # keep the logs to debug a failure
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(pg_dir, ignore_errors=True)
