"""Settings for the system tests' processes: production settings, read from the same
environment variables as any installation, with three knobs turned so faults heal in seconds.

- The Redis visibility timeout (how long an unacknowledged message of a worker that died
  waits before the broker hands it out again) is an hour in production; here a few seconds,
  so a test that SIGKILLs a whole worker sees the task delivered again; and the job lease
  (how long that delivery waits for the dead worker) is 10 seconds, not two minutes.
- ``automation.tick`` (resume waits, reclaim runs of dead workers) runs every 2 seconds, not
  every minute, so "runs once per period" and a resumed wait are seen within a test.
- Static files are collected without WhiteNoise's compression and manifest, which would
  spend most of a start compressing files no test looks at (``patron run`` collects them on
  every start in production).
"""

from __future__ import annotations

import os

from config.settings import *  # noqa: F403
from config.settings import CELERY_BEAT_SCHEDULE, STORAGES

CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("PATRON_SYSTEM_VISIBILITY_TIMEOUT", "15")),
}
PATRON_JOB_LEASE_SECONDS = 10
TICK_SECONDS = 2.0
CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,
    "automation-tick": {"task": "automation.tick", "schedule": TICK_SECONDS},
}

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
