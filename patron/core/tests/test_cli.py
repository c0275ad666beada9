"""The `patron` command: help for every subcommand, users, tokens, first start, and `run`."""

from __future__ import annotations

import datetime
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from patron import cli
from patron.core.choices import JobStatus
from patron.core.models import Job
from patron.users.models import User
from patron.users.services import token_authenticate
from patron.users.tests.factories import make_role

SUBCOMMANDS = [
    ["run"],
    ["migrate"],
    ["createuser"],
    ["token"],
    ["token", "create"],
    ["worker"],
    ["scheduler"],
    ["demo"],
    ["check"],
]
STRONG_PASSWORD = "violet-harbour-tractor-91"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("argv", SUBCOMMANDS, ids=lambda argv: " ".join(argv))
def test_every_subcommand_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: patron {' '.join(argv)}")


def test_top_level_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for name in ("run", "migrate", "createuser", "token", "worker", "scheduler", "demo", "check"):
        assert f"    {name}" in out


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "patron"
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert "usage: patron" in result.stdout


@pytest.mark.django_db
def test_createuser_creates_a_user_with_role(capsys):
    make_role("Sales Rep")
    status, out, _ = run_cli(
        capsys,
        "createuser",
        "--email",
        "Nadia@Example.com",
        "--password",
        STRONG_PASSWORD,
        "--role",
        "sales rep",
        "--name",
        "Nadia Novak",
    )
    assert status == 0
    assert out.strip() == "Created user nadia@example.com with role Sales Rep"
    user = User.objects.get(email="nadia@example.com")
    assert user.check_password(STRONG_PASSWORD)
    assert user.full_name == "Nadia Novak"
    assert user.role is not None
    assert user.role.name == "Sales Rep"


@pytest.mark.django_db
def test_createuser_superuser(capsys):
    status, out, _ = run_cli(
        capsys, "createuser", "--email", "boss@example.com", "--password", STRONG_PASSWORD,
        "--superuser",
    )  # fmt: skip
    assert status == 0
    assert out.strip() == "Created administrator boss@example.com"
    assert User.objects.get(email="boss@example.com").is_superuser


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        ("not-an-email", STRONG_PASSWORD, "email:"),
        ("weak@example.com", "12345678", "password:"),
    ],
)
def test_createuser_bad_input_names_the_field(capsys, email, password, field):
    status, _, err = run_cli(capsys, "createuser", "--email", email, "--password", password)
    assert status == 1
    assert err.startswith("patron: ")
    assert field in err
    assert "Traceback" not in err
    assert not User.objects.filter(email=email).exists()


@pytest.mark.django_db
def test_createuser_duplicate_email_is_refused(capsys, admin_user):
    status, _, err = run_cli(
        capsys, "createuser", "--email", "ADMIN@example.com", "--password", STRONG_PASSWORD
    )
    assert status == 1
    assert "email: A user with this email address exists." in err


@pytest.mark.django_db
def test_createuser_unknown_role_lists_the_roles(capsys):
    make_role("Sales Manager")
    status, _, err = run_cli(
        capsys, "createuser", "--email", "x@example.com", "--password", STRONG_PASSWORD,
        "--role", "Astronaut",
    )  # fmt: skip
    assert status == 1
    assert "--role: no role named 'Astronaut'; roles: Sales Manager" in err


@pytest.mark.django_db
def test_token_create_prints_the_token_as_last_line(capsys, admin_user):
    status, out, _ = run_cli(
        capsys, "token", "create", "--email", "admin@example.com", "--name", "CI",
        "--scopes", "contacts:read,contacts:write", "--expires", "30d",
    )  # fmt: skip
    assert status == 0
    secret = out.strip().splitlines()[-1]
    token = token_authenticate(secret)
    assert token is not None
    assert token.user == admin_user
    assert token.name == "CI"
    assert token.scopes == ["contacts:read", "contacts:write"]
    assert token.expires_at is not None
    remaining = token.expires_at - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(days=29) < remaining <= datetime.timedelta(days=30)
    assert secret not in out.strip().splitlines()[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--email", "nobody@example.com"], "--email: no user with the email address"),
        (["--email", "admin@example.com", "--scopes", "everything"], "scopes: Unknown scope"),
        (["--email", "admin@example.com", "--expires", "soon"], "--expires: 'soon' is not"),
        (["--email", "admin@example.com", "--expires", "2001-01-01"], "expires_at: The expiry"),
    ],
)
def test_token_create_bad_input_names_the_option(capsys, admin_user, argv, message):
    status, out, err = run_cli(capsys, "token", "create", *argv)
    assert status == 1
    assert message in err
    assert out == ""


def test_parse_expires_accepts_durations_and_dates():
    now = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)
    assert cli.parse_expires("12h", now=now) == now + datetime.timedelta(hours=12)
    assert cli.parse_expires("2w", now=now) == now + datetime.timedelta(days=14)
    assert cli.parse_expires("2026-03-01", now=now).date() == datetime.date(2026, 3, 1)
    assert cli.parse_expires("2026-03-01T08:00:00+02:00", now=now).hour == 8
    with pytest.raises(cli.CommandError, match="--expires"):
        cli.parse_expires("30 days", now=now)


@pytest.mark.django_db
def test_first_start_creates_admin_once(settings):
    settings.DEMO_ON_FIRST_START = False
    settings.FIRST_ADMIN_EMAIL = "owner@example.com"
    lines = cli.first_start(login_url="http://127.0.0.1:8000/login/")
    assert "http://127.0.0.1:8000/login/" in "\n".join(lines)
    assert any(line.strip() == "email:    owner@example.com" for line in lines)
    password = next(line for line in lines if "password:" in line).split()[-1]
    admin = User.objects.get(email="owner@example.com")
    assert admin.is_superuser
    assert admin.check_password(password)
    assert Job.objects.filter(kind=cli.FIRST_START_JOB_KIND, status=JobStatus.DONE).count() == 1

    assert cli.first_start(login_url="http://127.0.0.1:8000/login/") == []
    assert User.objects.count() == 1
    assert Job.objects.filter(kind=cli.FIRST_START_JOB_KIND).count() == 1


@pytest.mark.django_db
def test_first_start_uses_the_configured_password_and_keeps_it_off_screen(settings):
    settings.DEMO_ON_FIRST_START = False
    settings.FIRST_ADMIN_PASSWORD = STRONG_PASSWORD
    lines = cli.first_start(login_url="http://localhost/login/")
    assert STRONG_PASSWORD not in "\n".join(lines)
    assert User.objects.get(email="admin@example.com").check_password(STRONG_PASSWORD)


@pytest.mark.django_db
def test_first_start_with_weak_configured_password_names_the_variable(settings):
    settings.DEMO_ON_FIRST_START = False
    settings.FIRST_ADMIN_PASSWORD = "abc"
    with pytest.raises(cli.CommandError, match="PATRON_ADMIN_PASSWORD"):
        cli.first_start(login_url="http://localhost/login/")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_first_start_keeps_existing_users_and_skips_admin(settings, admin_user):
    settings.DEMO_ON_FIRST_START = False
    lines = cli.first_start(login_url="http://localhost/login/")
    assert not any("password" in line for line in lines)
    assert list(User.objects.values_list("email", flat=True)) == ["admin@example.com"]


def test_run_stops_every_child_when_one_exits(capsys):
    sleeper = subprocess.Popen(["sleep", "60"])
    failing = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    status = cli._supervise([("worker", sleeper), ("web server", failing)])
    assert status == 1
    assert sleeper.poll() is not None
    assert "patron: web server exited with status 3; stopping" in capsys.readouterr().out


# --- `patron run` as a real process ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str, str]:
    """Status, body and Location of a GET that does not follow redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        # Generous: the first requests wait for the server's imports on a loaded machine.
        with opener.open(url, timeout=30) as response:
            return response.status, response.read().decode(), ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers.get("Location", "")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if not path.exists():
        return []
    direct = [int(p) for p in path.read_text().split()]
    return direct + [grandchild for child in direct for grandchild in _children(child)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split()[2] != "Z"


@pytest.mark.broker
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_run_serves_pages_with_worker_and_stops_all_children(tmp_path):
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "SECRET_KEY"}
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        PATRON_DATA_DIR=str(tmp_path / "data"),
        PATRON_NO_DEMO="1",
        PATRON_ADMIN_EMAIL="first@example.com",
    )
    log = tmp_path / "run.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "patron.cli", "run", "--port", str(port)],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("patron run did not answer /healthz:\n" + log.read_text())
        status, body, _ = _get(f"{base}/readyz")
        assert (status, '"database": "ok"' in body, '"broker": "ok"' in body) == (200, True, True)
        status, _, location = _get(f"{base}/")
        assert status == 302
        assert location.startswith("/login/")
        children = _children(proc.pid)
        assert len(children) >= 3, "expected the web server, a worker and the scheduler"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=40)
    output = log.read_text()
    assert "email:    first@example.com" in output
    assert f"{base}/login/" in output
    assert proc.returncode == 0
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in children if _alive(pid)] == []
