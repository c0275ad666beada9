"""Probes for load balancers and orchestrators.

``/healthz`` says the process answers (no database, so a slow database does not get healthy
app servers killed); ``/readyz`` says this instance can serve: database and broker reachable.
``HealthCheckMiddleware`` answers both before any other middleware, because load balancers
probe by IP address, which ALLOWED_HOSTS (rightly) refuses for every other page.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from kombu import Connection

BROKER_TIMEOUT_SECONDS = 2


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> str | None:
    """None when a query on the default database works, else what went wrong."""
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def check_broker() -> str | None:
    """None when the Celery broker accepts a connection within a short timeout."""
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            transport_options=dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS),
            connect_timeout=BROKER_TIMEOUT_SECONDS,
        ) as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
            # Redis connects lazily: a PING proves the server answers.
            client = getattr(conn.default_channel, "client", None)
            if client is not None and hasattr(client, "ping"):
                client.ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in")
    if folder and not os.access(folder, os.W_OK):
        return f"the broker folder {folder} is missing or not writable"
    return None


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": check_database(), "broker": check_broker()}
    failed = {name: problem for name, problem in checks.items() if problem}
    body: dict[str, Any] = {
        "status": "unavailable" if failed else "ok",
        "checks": {name: (failed.get(name) or "ok") for name in checks},
    }
    if failed:
        body["failed"] = sorted(failed)
    return JsonResponse(body, status=503 if failed else 200)


PROBES: dict[str, Callable[[HttpRequest], JsonResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
}


class HealthCheckMiddleware:
    """Answer GET/HEAD probes directly, without the Host check, redirects or sessions."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
