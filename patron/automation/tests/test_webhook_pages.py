"""The webhook pages and API: administrators only, clear errors for refused targets, the
delivery log's filters, paging, CSV and query count."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client

from patron.automation import webhook_services
from patron.automation.choices import DeliveryStatus
from patron.automation.models import WebhookAllowedHost, WebhookDelivery, WebhookSubscription
from patron.automation.tests.webhook_support import local_receiver, verify_signature
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
JSON = "application/json"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(client: Client, method: str, url: str, body: Any = None) -> Any:
    return getattr(client, method)(url, data=json.dumps(body or {}), content_type=JSON)


@pytest.fixture
def marker_subscription(admin_user: Any) -> WebhookSubscription:
    WebhookAllowedHost.objects.create(host="127.0.0.1", note="Marker host")
    subscription, _secret = webhook_services.webhook_subscription_create(
        user=admin_user,
        data={"name": "Marker hook", "target_url": "http://127.0.0.1:9/x", "event_types": ["*"]},
    )
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                subscription=subscription,
                event_type="lead.converted" if n % 2 else "account.created",
                event_id=uuid.uuid4(),
                payload={"n": n},
                status=DeliveryStatus.FAILED if n % 3 == 0 else DeliveryStatus.SUCCEEDED,
                attempts=1,
                response_code=500 if n % 3 == 0 else 200,
                response_excerpt=f"Marker answer {n}",
                duration_ms=n,
            )
            for n in range(60)
        ]
    )
    return subscription


def test_webhook_pages_and_endpoints_are_for_administrators_only(marker_subscription, admin_user):
    other = UserFactory(email="rep@example.com")
    pk = marker_subscription.pk
    delivery = marker_subscription.deliveries.first()
    assert delivery is not None
    endpoints = [
        Endpoint("list", "/automation/webhooks/", "detail"),
        Endpoint("new", "/automation/webhooks/new/", "detail"),
        Endpoint("detail", f"/automation/webhooks/{pk}/", "detail"),
        Endpoint("edit", f"/automation/webhooks/{pk}/edit/", "detail"),
        Endpoint("csv", f"/automation/webhooks/{pk}/?format=csv", "detail"),
        Endpoint("hosts", "/automation/webhooks/allowed-hosts/", "detail"),
        Endpoint("api events", "/api/v1/webhooks/events", "detail"),
        Endpoint("api list", "/api/v1/webhooks/subscriptions", "detail"),
        Endpoint("api detail", f"/api/v1/webhooks/subscriptions/{pk}", "detail"),
        Endpoint("api log", f"/api/v1/webhooks/subscriptions/{pk}/deliveries", "detail"),
        Endpoint("api csv", f"/api/v1/webhooks/subscriptions/{pk}/deliveries.csv", "detail"),
        Endpoint("api delivery", f"/api/v1/webhooks/deliveries/{delivery.pk}", "detail"),
        Endpoint("api hosts", "/api/v1/webhooks/allowed-hosts", "detail"),
    ]
    check_visibility_matrix(endpoints, marker="Marker", allowed=admin_user, denied=other)
    rep = client_for(other)
    for url in (
        f"/automation/webhooks/{pk}/test/",
        f"/automation/webhooks/{pk}/delete/",
        f"/automation/webhooks/deliveries/{delivery.pk}/resend/",
    ):
        assert rep.post(url).status_code == 403
    assert send(rep, "post", f"/api/v1/webhooks/subscriptions/{pk}/test").status_code == 403
    assert WebhookSubscription.objects.filter(pk=pk).exists()


def test_list_and_delivery_log_pages_answer_in_few_queries(marker_subscription, admin_user):
    admin = client_for(admin_user)
    admin.get("/automation/webhooks/")  # warm the session and content types
    with assert_max_queries(10):
        listing = admin.get("/automation/webhooks/")
    assert b"Marker hook" in listing.content
    with assert_max_queries(10):
        detail = admin.get(f"/automation/webhooks/{marker_subscription.pk}/")
    body = detail.content.decode()
    assert "Delivery log" in body
    assert 'rel="next"' in body  # 60 deliveries, 50 a page
    with assert_max_queries(10):
        api = admin.get(f"/api/v1/webhooks/subscriptions/{marker_subscription.pk}/deliveries")
    assert api.status_code == 200
    assert api.json()["items"][0]["response_excerpt"].startswith("Marker answer")


def test_delivery_log_filters_sorts_pages_and_exports(marker_subscription, admin_user):
    admin = client_for(admin_user)
    url = f"/api/v1/webhooks/subscriptions/{marker_subscription.pk}/deliveries"
    failed = admin.get(url, {"status": "failed", "limit": "100"}).json()["items"]
    assert len(failed) == 20
    assert {row["response_code"] for row in failed} == {500}
    first = admin.get(url, {"sort": "-duration", "limit": "30"}).json()
    second = admin.get(
        url, {"sort": "-duration", "limit": "30", "cursor": str(first["next_cursor"])}
    )
    durations = [r["duration_ms"] for r in first["items"] + second.json()["items"]]
    assert durations == list(range(59, -1, -1))
    bad = admin.get(url, {"status": "exploded"})
    assert bad.status_code == 422
    unknown = admin.get(url, {"colour": "red"})
    assert unknown.status_code == 422
    page_csv = admin.get(
        f"/automation/webhooks/{marker_subscription.pk}/", {"status": "failed", "format": "csv"}
    )
    lines = page_csv.content.decode().strip().splitlines()
    assert lines[0].startswith("id,created_at,event_type")
    assert len(lines) == 21
    api_csv = admin.get(f"{url}.csv", {"event_type": "lead.converted"})
    assert api_csv["Content-Type"] == "text/csv"
    assert len(api_csv.content.decode().strip().splitlines()) == 31
    page = admin.get(f"/automation/webhooks/{marker_subscription.pk}/", {"status": "exploded"})
    assert page.status_code == 422


def test_creating_in_the_ui_shows_the_secret_once_and_refuses_internal_targets(admin_user):
    admin = client_for(admin_user)
    refused = admin.post(
        "/automation/webhooks/new/",
        {"name": "Metadata", "target_url": "http://169.254.169.254/", "event_types": ["*"]},
    )
    assert refused.status_code == 422
    assert "link-local address (169.254.169.254)" in refused.content.decode()
    assert not WebhookSubscription.objects.exists()
    WebhookAllowedHost.objects.create(host="127.0.0.1")
    created = admin.post(
        "/automation/webhooks/new/",
        {"name": "ERP", "target_url": "http://127.0.0.1:9/x", "event_types": ["lead.converted"]},
    )
    subscription = WebhookSubscription.objects.get()
    assert created.status_code == 200
    assert subscription.secret in created.content.decode()
    assert subscription.event_types == ["lead.converted"]
    detail = admin.get(f"/automation/webhooks/{subscription.pk}/")
    assert subscription.secret not in detail.content.decode()


def test_send_test_from_the_page_shows_the_response(admin_user):
    admin = client_for(admin_user)
    WebhookAllowedHost.objects.create(host="127.0.0.1")
    with local_receiver([202]) as receiver:
        subscription, secret = webhook_services.webhook_subscription_create(
            user=admin_user, data={"name": "T", "target_url": receiver.url, "event_types": ["*"]}
        )
        response = admin.post(f"/automation/webhooks/{subscription.pk}/test/", follow=True)
    assert "Test event sent: HTTP 202" in response.content.decode()
    request = receiver.requests[0]
    assert verify_signature(
        header=request.headers["Patron-Signature"], body=request.body, secret=secret
    )


def test_api_manages_subscriptions_hosts_tests_and_resends(admin_user):
    admin = client_for(admin_user)
    refused = send(
        admin,
        "post",
        "/api/v1/webhooks/subscriptions",
        {"name": "Loop", "target_url": "http://127.0.0.1:9/", "event_types": ["*"]},
    )
    assert refused.status_code == 422
    assert "loopback address (127.0.0.1)" in refused.json()["errors"]["target_url"][0]
    host = send(admin, "post", "/api/v1/webhooks/allowed-hosts", {"host": "127.0.0.1"})
    assert host.status_code == 201
    with local_receiver([500, 200]) as receiver:
        created = send(
            admin,
            "post",
            "/api/v1/webhooks/subscriptions",
            {"name": "ERP", "target_url": receiver.url, "event_types": ["lead.converted"]},
        )
        assert created.status_code == 201
        body = created.json()
        assert body["secret"].startswith("whsec_")
        pk = body["id"]
        assert "secret" not in admin.get(f"/api/v1/webhooks/subscriptions/{pk}").json()
        tested = send(admin, "post", f"/api/v1/webhooks/subscriptions/{pk}/test").json()
        assert tested["status"] == "failed"
        assert tested["response_code"] == 500
        resent = send(admin, "post", f"/api/v1/webhooks/deliveries/{tested['id']}/resend")
        assert resent.status_code == 422  # a test is not resent; send another test instead
        tested = send(admin, "post", f"/api/v1/webhooks/subscriptions/{pk}/test").json()
        assert tested["status"] == "succeeded"
    unknown_event = send(
        admin, "patch", f"/api/v1/webhooks/subscriptions/{pk}", {"event_types": ["nope"]}
    )
    assert unknown_event.status_code == 422
    patched = send(admin, "patch", f"/api/v1/webhooks/subscriptions/{pk}", {"is_active": False})
    assert patched.json()["is_active"] is False
    enabled = send(admin, "post", f"/api/v1/webhooks/subscriptions/{pk}/enable")
    assert enabled.json()["is_active"] is True
    rotated = send(admin, "post", f"/api/v1/webhooks/subscriptions/{pk}/rotate-secret").json()
    assert WebhookSubscription.objects.get(pk=pk).secret == rotated["secret"]
    events = admin.get("/api/v1/webhooks/events").json()
    assert "lead.converted" in {e["name"] for e in events}
    assert send(admin, "delete", f"/api/v1/webhooks/subscriptions/{pk}").status_code == 204
    assert admin.get("/api/v1/webhooks/subscriptions/999999").status_code == 404
    host_id = host.json()["id"]
    assert send(admin, "delete", f"/api/v1/webhooks/allowed-hosts/{host_id}").status_code == 204
