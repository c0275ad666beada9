"""Benchmark: throughput of the public lead capture endpoint, served as ``patron run`` serves it.

Run: ``.venv/bin/python bench/lead_capture.py [--duration 10] [--connections 16]
[--workers 1]`` (needs ``wrk``: ``apt-get install -y wrk``). With no DATABASE_URL it uses a
throwaway SQLite database in a temporary directory; with DATABASE_URL (PostgreSQL) it uses
that database, so point it at a scratch one.

It migrates the database, creates a capture form, starts uvicorn on ``config.asgi`` (as
``patron run`` does, with ``--workers``) and drives it with wrk and a Lua script:

- ``api create``: POST /api/v1/capture/<key> with JSON, each request from a different
  sender address (X-Forwarded-For behind one trusted proxy), so every one creates a lead;
- ``api spam``: the same with the honeypot filled in (recorded as spam, no lead);
- ``html create``: the form-encoded POST /capture/<key>/ of the hosted form and HTML snippet
  (with a fill token older than the minimum fill time), answered with the thank-you page;
- ``api one sender``: every request from one address to a form allowing 20 an hour, so
  the rate limit answers 429 (still recorded) after the first 20.

It prints requests/s, p50/p95 latency, non-2xx answers and socket errors per scenario, and
checks that every answered request left a CaptureSubmission row (nothing is lost).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LUA = r"""
local body_kind = os.getenv("BENCH_BODY") or "json"
local one_sender = os.getenv("BENCH_ONE_SENDER") == "1"
local token = os.getenv("BENCH_TOKEN") or ""
local counter = 0
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))

request = function()
  counter = counter + 1
  local tag = string.format("%d%d", counter, math.random(1, 1000000000))
  local headers = {}
  if one_sender then
    headers["X-Forwarded-For"] = "198.51.100.7"
  else
    headers["X-Forwarded-For"] = string.format(
      "10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254))
  end
  local body
  if body_kind == "form" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    body = "last_name=Bench&first_name=N" .. tag .. "&email=n" .. tag ..
      "%40bench.example&company=Bench+Co&form_token=" .. token
  else
    headers["Content-Type"] = "application/json"
    local trap = ""
    if body_kind == "spam" then trap = ',"fax_number":"http://spam.example"' end
    body = '{"last_name":"Bench","first_name":"N' .. tag .. '","email":"n' .. tag ..
      '@bench.example","company":"Bench Co"' .. trap .. '}'
  end
  return wrk.format("POST", nil, headers, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %.0f %.0f\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95)))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.3)
    raise SystemExit(f"the server did not answer {url} within {timeout:.0f} s")


def warm_up(url: str, *, workers: int) -> None:
    """Send real submissions until every worker has loaded the app (the first request of a
    process imports the URL configuration and the API, which takes seconds)."""
    quick = 0
    for number in range(200):
        request = urllib.request.Request(
            url,
            data=f'{{"last_name": "Warm", "email": "warm{number}@bench.example"}}'.encode(),
            headers={"Content-Type": "application/json", "X-Forwarded-For": f"10.9.9.{number}"},
        )
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=60):
            pass
        quick = quick + 1 if time.monotonic() - started < 0.5 else 0
        if quick >= 4 * workers:
            return


def run_wrk(
    url: str, script: Path, *, duration: int, connections: int, threads: int, env: dict[str, str]
) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    output = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **env}, check=True
    ).stdout
    line = next(row for row in output.splitlines() if row.startswith("RESULT "))
    requests, micros, non_2xx, socket_errors, p50, p95 = (float(x) for x in line.split()[1:])
    return {
        "requests": int(requests),
        "rps": requests / (micros / 1_000_000),
        "non_2xx": int(non_2xx),
        "socket_errors": int(socket_errors),
        "p50_ms": p50 / 1000,
        "p95_ms": p95 / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    data_dir = tempfile.mkdtemp(prefix="patron-bench-capture-")
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PATRON_DATA_DIR": os.environ.get("PATRON_DATA_DIR", data_dir),
        # The load generator plays many visitors by setting X-Forwarded-For.
        "PATRON_TRUSTED_PROXIES": "1",
        "LOG_LEVEL": "ERROR",
    }
    os.environ.update(env)

    import django

    django.setup()
    from django.core.management import call_command

    from patron.leads.capture import MIN_FILL_SECONDS, capture_form_create, fill_token
    from patron.leads.models import CaptureSubmission, Lead
    from patron.users.models import User

    call_command("migrate", interactive=False, verbosity=0)
    from django.conf import settings

    if settings.PRODUCTION:
        # As ``patron run`` does: production pages need the collected, hashed static files.
        call_command("collectstatic", interactive=False, verbosity=0)
    admin = User.objects.filter(email="bench.admin@example.com").first()
    if admin is None:
        admin = User.objects.create_superuser(email="bench.admin@example.com", password="x" * 16)
    form = capture_form_create(
        user=admin,
        data={
            "name": f"Bench {time.time():.0f}",
            "fields": [
                {"field": "first_name", "required": False},
                {"field": "last_name", "required": True},
                {"field": "email", "required": True},
                {"field": "company", "required": False},
            ],
            "default_owner": admin,
            "max_submissions_per_hour": 10_000,
        },
    )
    token = fill_token(form, issued_at=time.time() - MIN_FILL_SECONDS - 60)
    limited = capture_form_create(
        user=admin,
        data={
            "name": f"Bench limited {time.time():.0f}",
            "fields": [{"field": "last_name", "required": True}, {"field": "email"}],
            "default_owner": admin,
            "max_submissions_per_hour": 20,
        },
    )

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    scenarios = [
        ("api create", f"{base}/api/v1/capture/{form.key}", {"BENCH_BODY": "json"}),
        ("api spam", f"{base}/api/v1/capture/{form.key}", {"BENCH_BODY": "spam"}),
        (
            "html create",
            f"{base}/capture/{form.key}/",
            {"BENCH_BODY": "form", "BENCH_TOKEN": token},
        ),
        (
            "api one sender",
            f"{base}/api/v1/capture/{limited.key}",
            {"BENCH_BODY": "json", "BENCH_ONE_SENDER": "1"},
        ),
    ]
    results = []
    try:
        wait_until_up(f"{base}/healthz")
        warm_up(f"{base}/api/v1/capture/{form.key}", workers=args.workers)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA)
        for name, url, extra in scenarios:
            before = CaptureSubmission.objects.count()
            result = run_wrk(
                url,
                Path(script.name),
                duration=args.duration,
                connections=args.connections,
                threads=args.threads,
                env=extra,
            )
            result["recorded"] = CaptureSubmission.objects.count() - before
            results.append((name, result))
    finally:
        server.terminate()
        server.wait(timeout=30)

    from django.db import connection

    print(
        f"\nLead capture throughput: {connection.vendor}, uvicorn --workers {args.workers}, "
        f"wrk {args.threads} threads x {args.connections} connections, {args.duration} s each"
    )
    print(
        f"{'scenario':<16}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'non-2xx':>9}{'sock err':>9}{'recorded':>10}"
    )
    for name, r in results:
        print(
            f"{name:<16}{r['requests']:>10}{r['rps']:>10.1f}{r['p50_ms']:>9.1f}"
            f"{r['p95_ms']:>9.1f}{r['non_2xx']:>9}{r['socket_errors']:>9}{r['recorded']:>10}"
        )
    print(f"\nLeads created by this run: {Lead.objects.filter(capture_form=form).count()}")
    for name, r in results:
        print(
            f"RESULT benchmark=lead-capture-{name.replace(' ', '-')} figure={r['rps']:.0f}req/s "
            f"p95={r['p95_ms']:.1f}ms errors={r['non_2xx'] + r['socket_errors']}"
        )
    print(
        "recorded >= requests means every answered submission left a CaptureSubmission row "
        "(wrk stops counting requests still in flight at the end)."
    )


if __name__ == "__main__":
    main()
