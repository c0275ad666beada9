"""The Celery application; tasks are discovered in each app's tasks.py."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("patron")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Each periodic task is claimed in the database before it is sent, so a second scheduler
# started by mistake does not send everything twice.
app.conf.beat_scheduler = "patron.core.scheduling:OncePerPeriodScheduler"
