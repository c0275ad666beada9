"""Configuration from the environment: a wrong value stops start-up naming the variable,
and the documented production setup passes `patron check --deploy`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from patron.core.env import Env, EnvError, cache_config, email_config

CONFIG_VARIABLES = (
    "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG",
    "EMAIL_URL", "PATRON_DATA_DIR", "HTTPS", "CSRF_TRUSTED_ORIGINS", "LOG_LEVEL",
    "SESSION_IDLE_MINUTES",
)  # fmt: skip
PRODUCTION_SECRET = "k3y-" + "x7Q9v2LmZ8pW4rT6nB1cY5dF0gH3jK7sA9eU2iO4" + "mN8bV6cX1zQ"
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def _env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["PATRON_DATA_DIR"] = str(tmp_path / "data")
    env.update(overrides)
    return env


def _patron(tmp_path: Path, *argv: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patron.cli", *argv],
        env=_env(tmp_path, **overrides),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _production(**overrides: str) -> dict[str, str]:
    values = {
        "DATABASE_URL": POSTGRES_URL,
        "SECRET_KEY": PRODUCTION_SECRET,
        "ALLOWED_HOSTS": "crm.example.com",
    }
    values.update(overrides)
    return values


BAD_SETTINGS = [
    ("DATABASE_URL", _production(DATABASE_URL="mysql://db.example.com/x"), "unsupported scheme"),
    ("DATABASE_URL", _production(DATABASE_URL="postgres:///patron"), "has no host name"),
    # A malformed DATABASE_URL is reported even though it also leaves SECRET_KEY missing.
    ("DATABASE_URL", {"DATABASE_URL": "mysql://db.example.com/x"}, "unsupported scheme"),
    ("CELERY_BROKER_URL", {"CELERY_BROKER_URL": "kafka://mq:9092"}, "unsupported scheme"),
    ("CACHE_URL", {"CACHE_URL": "memcached://cache:11211"}, "unsupported scheme"),
    ("SECRET_KEY", {"SECRET_KEY": "too-short"}, "at least 50 characters"),
    ("SECRET_KEY", _production(SECRET_KEY=""), "is required in production"),
    ("ALLOWED_HOSTS", _production(ALLOWED_HOSTS=""), "is required in production"),
    ("DEBUG", {"DEBUG": "maybe"}, "expected true or false"),
    ("EMAIL_URL", {"EMAIL_URL": "pop3://mail.example.com"}, "unsupported scheme"),
    ("PATRON_DATA_DIR", {}, "cannot create"),
    ("LOG_LEVEL", {"LOG_LEVEL": "loud"}, "expected DEBUG, INFO"),
    ("SESSION_IDLE_MINUTES", {"SESSION_IDLE_MINUTES": "ten"}, "expected a whole number"),
]


@pytest.mark.parametrize(
    ("variable", "values", "problem"),
    BAD_SETTINGS,
    ids=[f"{variable}-{index}" for index, (variable, _, _) in enumerate(BAD_SETTINGS)],
)
def test_bad_setting_stops_the_command_with_one_line_naming_it(tmp_path, variable, values, problem):
    if variable == "PATRON_DATA_DIR":
        blocker = tmp_path / "a-file"
        blocker.write_text("not a directory")
        values = {"PATRON_DATA_DIR": str(blocker / "data")}
    result = _patron(tmp_path, "check", **values)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"patron: configuration error: {variable}: ")
    assert problem in lines[0]


def test_bad_setting_stops_plain_django_start_up(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=_env(tmp_path, CELERY_BROKER_URL="ftp://queue.example.com"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "EnvError: CELERY_BROKER_URL: unsupported scheme 'ftp'" in result.stderr


def test_embedded_default_needs_no_variables_and_keeps_its_secret_key(tmp_path):
    assert _patron(tmp_path, "check").returncode == 0
    key_file = tmp_path / "data" / "secret_key"
    first_key = key_file.read_text()
    assert len(first_key) >= 50
    assert _patron(tmp_path, "check").returncode == 0
    assert key_file.read_text() == first_key


def test_embedded_default_is_not_a_deployment(tmp_path):
    result = _patron(tmp_path, "check", "--deploy")
    assert result.returncode == 1
    assert "security.W" in result.stderr + result.stdout


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def test_documented_production_setup_passes_check_deploy(tmp_path):
    if not _postgres_reachable():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (CI provides it)")
    result = _patron(
        tmp_path,
        "check",
        "--deploy",
        "--database",
        "default",
        **_production(
            CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
            CACHE_URL="redis://127.0.0.1:6379/1",
            EMAIL_URL="smtp+tls://patron:secret@smtp.example.com:587?from=crm@example.com",
            CSRF_TRUSTED_ORIGINS="https://crm.example.com",
        ),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_env_reader_parses_typed_values():
    env = Env({"N": "12", "FLAG": "yes", "HOSTS": "a.example.com, b.example.com,"})
    assert env.integer("N", 1) == 12
    assert env.boolean("FLAG", default=False) is True
    assert env.strings("HOSTS", []) == ["a.example.com", "b.example.com"]
    with pytest.raises(EnvError, match=r"^N: must be at least 20, got 12$"):
        env.integer("N", 1, minimum=20)


def test_cache_and_email_urls_translate_to_django_settings(tmp_path):
    assert cache_config("redis://cache:6379/1", tmp_path)["BACKEND"].endswith("RedisCache")
    assert cache_config(None, tmp_path)["BACKEND"].endswith("FileBasedCache")
    smtp = email_config("smtp+tls://user:p%40ss@mail.example.com:2525?from=crm@x.org", tmp_path)
    assert (smtp["EMAIL_HOST"], smtp["EMAIL_PORT"], smtp["EMAIL_HOST_PASSWORD"]) == (
        "mail.example.com",
        2525,
        "p@ss",
    )
    assert smtp["EMAIL_USE_TLS"] is True
    assert smtp["DEFAULT_FROM_EMAIL"] == "crm@x.org"
