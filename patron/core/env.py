"""One typed reader for configuration from environment variables.

Every setting Patron takes from the environment goes through here, so a wrong value
stops start-up with a message that names the variable and says what is expected.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


class EnvError(ImproperlyConfigured):
    """A configuration variable is missing or malformed."""

    def __init__(self, name: str, problem: str) -> None:
        self.variable = name
        super().__init__(f"{name}: {problem}")


class Env:
    """Reads typed values from a mapping (``os.environ`` by default)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def is_set(self, name: str) -> bool:
        return bool(self._environ.get(name, "").strip())

    def string(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        raw = self._environ.get(name, "").strip()
        if raw:
            return raw
        if required or default is None:
            raise EnvError(name, "is required but not set")
        return default

    def boolean(self, name: str, default: bool) -> bool:
        raw = self._environ.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in {"1", "true", "yes", "on"}:
            return True
        if raw in {"0", "false", "no", "off"}:
            return False
        raise EnvError(name, f"expected true or false, got {raw!r}")

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        raw = self._environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise EnvError(name, f"expected a whole number, got {raw!r}") from None
        if value < minimum:
            raise EnvError(name, f"must be at least {minimum}, got {value}")
        return value

    def strings(self, name: str, default: list[str]) -> list[str]:
        raw = self._environ.get(name, "").strip()
        if not raw:
            return default
        return [item.strip() for item in raw.split(",") if item.strip()]

    def url(self, name: str, default: str | None, *, schemes: set[str]) -> str | None:
        raw = self._environ.get(name, "").strip()
        if not raw:
            return default
        scheme = urlsplit(raw).scheme
        if scheme not in schemes:
            allowed = ", ".join(sorted(f"{s}://" for s in schemes))
            raise EnvError(name, f"unsupported scheme {scheme or '(none)'!r}; use one of {allowed}")
        if scheme not in {"sqlite", "file", "console", "locmem", "dummy", "memory"} and not (
            urlsplit(raw).hostname
        ):
            raise EnvError(name, f"{raw!r} has no host name")
        return raw


def data_dir(env: Env) -> Path:
    """Where the embedded database, broker folders, keys and uploads live."""
    path = Path(env.string("PATRON_DATA_DIR", "var")).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvError("PATRON_DATA_DIR", f"cannot create {path}: {exc.strerror}") from None
    return path


def secret_key(env: Env, directory: Path, *, required: bool) -> str:
    """The secret key: from SECRET_KEY, or generated once and kept in the data directory."""
    if env.is_set("SECRET_KEY"):
        key = env.string("SECRET_KEY")
        if len(key) < 50:
            raise EnvError("SECRET_KEY", "must be at least 50 characters long")
        return key
    if required:
        raise EnvError("SECRET_KEY", "is required in production (DATABASE_URL is set)")
    key_file = directory / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def cache_config(url: str | None, directory: Path) -> dict[str, Any]:
    """Translate CACHE_URL into Django's CACHES['default'].

    The embedded default is a file cache in the data directory so that the web process and
    the worker share it; an in-process cache would silently break throttling across processes.
    """
    if url is None:
        return {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(directory / "cache"),
        }
    parts = urlsplit(url)
    if parts.scheme in {"redis", "rediss"}:
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    if parts.scheme == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}


def email_config(url: str | None, directory: Path) -> dict[str, Any]:
    """Translate EMAIL_URL (smtp://, smtp+tls://, smtp+ssl://, console://, file://)."""
    if url is None:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(directory / "mail"),
        }
    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme == "file":
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": parts.path or str(directory / "mail"),
        }
    query = parse_qs(parts.query)
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "",
        "EMAIL_PORT": parts.port or (465 if parts.scheme == "smtp+ssl" else 587),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": parts.scheme == "smtp+tls",
        "EMAIL_USE_SSL": parts.scheme == "smtp+ssl",
        "DEFAULT_FROM_EMAIL": query.get("from", ["patron@localhost"])[0],
    }
