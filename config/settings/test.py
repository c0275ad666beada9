"""Test settings: the production reader with fast hashing and eager-free Celery."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("PATRON_DATA_DIR", tempfile.mkdtemp(prefix="patron-test-"))

from config.settings import *  # noqa: F403
from config.settings import DATABASES, MEDIA_ROOT, STORAGES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SECURE_SSL_REDIRECT = False
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
ALLOWED_HOSTS = ["*"]
# pytest-xdist workers share the run's data directory; each gets its own uploaded files, so a
# test that lists or backs up the media folder never sees another worker's files appear.
MEDIA_ROOT = MEDIA_ROOT / os.environ.get("PYTEST_XDIST_WORKER", "main")
