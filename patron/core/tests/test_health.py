"""/healthz says the process answers; /readyz checks the database and the broker."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connections


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: any query would raise, so a 200 proves the database is not used.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_ok_when_database_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_readyz_names_an_unreachable_broker(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["broker"]
    assert body["checks"]["database"] == "ok"
    assert "127.0.0.1:1" in body["checks"]["broker"]


@pytest.mark.django_db
def test_readyz_names_a_missing_broker_folder(client, settings, tmp_path):
    options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    options["data_folder_in"] = str(tmp_path / "gone")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert "gone" in response.json()["checks"]["broker"]


@pytest.mark.django_db
def test_readyz_names_a_failing_database(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(connections["default"], "cursor", broken_cursor)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["checks"]["database"] == "OperationalError: could not connect to server"
    assert body["checks"]["broker"] == "ok"


@pytest.mark.django_db
def test_probes_by_ip_address_pass_the_host_check_that_pages_get(client, settings):
    settings.ALLOWED_HOSTS = ["crm.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz", HTTP_HOST="10.0.0.7").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.0.0.7").status_code == 200
    assert client.get("/", HTTP_HOST="10.0.0.7").status_code == 400
    assert client.post("/healthz", HTTP_HOST="10.0.0.7").status_code == 400
