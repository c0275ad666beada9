"""Patron settings, read from environment variables (see README "Configuration").

With no variables set Patron runs embedded: SQLite in WAL mode, a filesystem broker and a
file cache under the data directory. Setting DATABASE_URL switches to production mode, where
SECRET_KEY and ALLOWED_HOSTS become required.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab

from patron.core.env import Env, EnvError, cache_config, data_dir, email_config, secret_key

env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = data_dir(env)
# Checked first: a malformed DATABASE_URL is the root cause of any later production error.
_database_url = env.url("DATABASE_URL", None, schemes={"postgres", "postgresql", "sqlite"})
PRODUCTION = _database_url is not None

DEBUG = env.boolean("DEBUG", default=False)
SECRET_KEY = secret_key(env, DATA_DIR, required=PRODUCTION)
if PRODUCTION and not env.is_set("ALLOWED_HOSTS"):
    raise EnvError("ALLOWED_HOSTS", "is required in production (DATABASE_URL is set)")
ALLOWED_HOSTS = env.strings("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.strings("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_filters",
    "ninja",
    "patron.core",
    "patron.users",
    "patron.contacts",
    "patron.activities",
    "patron.routing",
    "patron.territories",
    "patron.leads",
    "patron.pipeline",
    "patron.orders",
    "patron.automation",
    "patron.data_exchange",
]

MIDDLEWARE = [
    "patron.core.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "patron.core.security_headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "patron.users.middleware.SessionTimeoutMiddleware",
    "patron.users.middleware.TwoFactorRequiredMiddleware",
    "patron.core.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "patron.core.context_processors.navigation",
            ],
        },
    }
]

if _database_url:
    _db: dict[str, Any] = dict(dj_database_url.parse(_database_url, conn_max_age=60))
    _db["CONN_HEALTH_CHECKS"] = True
    if _db["ENGINE"].endswith("postgresql"):
        # Under ASGI each request runs in its own thread with its own connection, so persistent
        # connections piled up to one per request in flight and ran PostgreSQL out of them
        # under load (issue 8). A pool per process bounds and reuses them instead.
        _db["CONN_MAX_AGE"] = 0
        _db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": env.integer("DATABASE_POOL_SIZE", 10, minimum=1),
            # How long a request waits for a connection: with the database down it then
            # answers 503 (patron.core.middleware) before the load balancer gives up on it;
            # under a burst, long enough that requests queue for the pool instead of failing.
            "timeout": env.integer("DATABASE_POOL_TIMEOUT", 10, minimum=1),
        }
        # Visibility predicates make plans with many subplans and high estimated costs, which
        # PostgreSQL's JIT compiled on every run: 53 s for one search that executes in 0.2 s
        # (issue 8, docs/performance.md "Global search").
        _db.setdefault("OPTIONS", {})["options"] = "-c jit=off"
else:
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "patron.sqlite3"),
        "OPTIONS": {
            # WAL lets the worker write while pages read; IMMEDIATE avoids lock-upgrade
            # deadlocks between the web process and the worker.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": cache_config(
        env.url("CACHE_URL", None, schemes={"redis", "rediss", "locmem", "dummy"}), DATA_DIR
    )
}

_email = email_config(
    env.url("EMAIL_URL", None, schemes={"smtp", "smtp+tls", "smtp+ssl", "console", "file"}),
    DATA_DIR,
)
globals().update(_email)

AUTH_USER_MODEL = "users.User"
AUTHENTICATION_BACKENDS = ["patron.users.backends.EmailBackend"]
LOGIN_URL = "users:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "users:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_AGE = env.integer("SESSION_TIMEOUT_MINUTES", 60 * 8, minimum=5) * 60
SESSION_IDLE_TIMEOUT = env.integer("SESSION_IDLE_MINUTES", 60, minimum=1) * 60
LOGIN_THROTTLE_ATTEMPTS = env.integer("LOGIN_THROTTLE_ATTEMPTS", 5, minimum=1)
LOGIN_THROTTLE_WINDOW = env.integer("LOGIN_THROTTLE_WINDOW_SECONDS", 900, minimum=1)
# Proxies in front of Patron whose X-Forwarded-For may be trusted for the client address.
PATRON_TRUSTED_PROXIES = env.integer("PATRON_TRUSTED_PROXIES", 0, minimum=0)

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
DATA_UPLOAD_MAX_MEMORY_SIZE = env.integer("MAX_REQUEST_BYTES", 5 * 1024 * 1024, minimum=1024)

# Celery: the embedded default uses kombu's filesystem transport under the data directory,
# which carries tasks durably between separate processes without a server.
_broker = env.url("CELERY_BROKER_URL", None, schemes={"redis", "rediss", "amqp", "amqps", "memory"})
BROKER_DIR = DATA_DIR / "broker"
if _broker is None:
    for _sub in ("queue", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Without it kombu writes its exchange table to ./control in the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_URL = _broker
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ACKS_LATE = True
# How long a running job stays leased to its worker without a progress report; a delivery of
# the same job meanwhile waits, so it resumes this long after its worker died.
PATRON_JOB_LEASE_SECONDS = env.integer("PATRON_JOB_LEASE_SECONDS", 120, minimum=5)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Periodic tasks run by the one `patron scheduler`; each app adds its own here.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "clear-expired-sessions": {"task": "core.clear_expired_sessions", "schedule": 6 * 3600},
    "deliver-reminders": {"task": "activities.deliver_reminders", "schedule": 60},
    # Invitations whose send the broker refused or a lost worker dropped.
    "activities-send-pending-invitations": {
        "task": "activities.send_pending_invitations",
        "schedule": 60,
    },
    # Monday 00:30: the forecast's week-over-week comparison starts from this snapshot.
    "snapshot-opportunities": {
        "task": "pipeline.snapshot_opportunities",
        "schedule": crontab(minute=30, hour=0, day_of_week=1),
    },
    "expire-quotes": {"task": "orders.expire_quotes", "schedule": crontab(minute=15, hour=0)},
    "routing-assign-waiting": {"task": "routing.assign_waiting", "schedule": 60},
    # Leads are never lost: route the unrouted, alert and reassign missed first responses.
    "leads-never-lost-sweep": {"task": "leads.never_lost_sweep", "schedule": 60},
    # Daily 02:40: learn the lead score model again once it is model_refit_days old.
    "leads-refit-score-model": {
        "task": "leads.refit_score_model",
        "schedule": crontab(minute=40, hour=2),
    },
    # Workflows: resume waits and step retries, fire schedules and date-relative triggers.
    "automation-tick": {"task": "automation.tick", "schedule": 60},
    "automation-approval-escalations": {
        "task": "automation.approval_escalate_due",
        "schedule": 300,
    },
    # Webhooks: send deliveries whose retry time has come (backoff 1 min, 5 min, 30 min, 2 h, 6 h).
    "automation-webhook-send-due": {"task": "automation.webhook_send_due", "schedule": 60},
    # Nightly 03:10: look for duplicates across every object with active rules (bounded memory).
    "data-duplicate-scan": {
        "task": "data_exchange.duplicate_scan_all",
        "schedule": crontab(minute=10, hour=3),
    },
}
CELERY_TASK_ALWAYS_EAGER = False

# First start of `patron run`: the administrator it creates and whether demo data is loaded.
FIRST_ADMIN_EMAIL = env.string("PATRON_ADMIN_EMAIL", "admin@example.com")
FIRST_ADMIN_PASSWORD = env.string("PATRON_ADMIN_PASSWORD", "")
DEMO_ON_FIRST_START = not env.boolean("PATRON_NO_DEMO", default=False)

# Data management: the largest file an import accepts, and the country phone numbers without
# a country code are read in (duplicate matching compares numbers in E.164).
PATRON_IMPORT_MAX_BYTES = env.integer("PATRON_IMPORT_MAX_MB", 100, minimum=1) * 1024 * 1024
PATRON_DEFAULT_PHONE_REGION = env.string("PATRON_DEFAULT_PHONE_REGION", "US").upper()

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION and not DEBUG:
    _https = env.boolean("HTTPS", default=True)
    SECURE_SSL_REDIRECT = _https
    SESSION_COOKIE_SECURE = _https
    CSRF_COOKIE_SECURE = _https
    SECURE_HSTS_SECONDS = env.integer("HSTS_SECONDS", 31536000) if _https else 0
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
    SECURE_HSTS_PRELOAD = _https
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

LOG_LEVEL = env.string("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise EnvError(
        "LOG_LEVEL", f"expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}"
    )
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

NINJA_PAGINATION_MAX_LIMIT = 200
