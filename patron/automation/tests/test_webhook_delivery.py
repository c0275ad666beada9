"""Deliveries: one per matching subscription and event, signed, retried with backoff against a
local server that fails first, never sent twice, and a subscription disabled (admins told once)
after repeated failures."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
from celery import current_app
from django.utils import timezone

from patron.automation import webhook_services, webhook_tasks
from patron.automation.choices import DeliveryStatus
from patron.automation.models import WebhookAllowedHost, WebhookDelivery, WebhookSubscription
from patron.automation.tests.webhook_support import local_receiver, verify_signature
from patron.contacts.services import account_create
from patron.core import events
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import Notification
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def loopback_allowed(admin_user: Any) -> WebhookAllowedHost:
    return webhook_services.webhook_allowed_host_create(user=admin_user, host="127.0.0.1")


@pytest.fixture
def sent_inline(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Run the deliver task in-process (a worker would); returns the ids it was given."""
    given: list[int] = []

    def send_now(name: str, args: tuple[Any, ...] = (), kwargs: Any = None) -> None:
        assert name == webhook_tasks.deliver.name
        given.append(args[0])
        webhook_services.deliver(args[0])

    monkeypatch.setattr(current_app, "send_task", send_now)
    return given


@pytest.fixture
def fire(django_capture_on_commit_callbacks: Any) -> Any:
    """Deliver an event to the webhook subscriber and run what it queues after commit."""

    def fire_event(event: str, pk: int = 1) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            webhook_services.on_event(event, {"pk": pk, "actor_id": None})

    return fire_event


def subscribe(admin: Any, url: str, events_: list[str]) -> tuple[WebhookSubscription, str]:
    return webhook_services.webhook_subscription_create(
        user=admin, data={"name": "ERP sync", "target_url": url, "event_types": events_}
    )


def make_due(delivery: WebhookDelivery) -> None:
    """Time passes: the retry is due."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - datetime.timedelta(seconds=1)
    )


def test_a_record_event_is_delivered_signed_with_public_fields_only(
    admin_user, loopback_allowed, sent_inline, django_capture_on_commit_callbacks
):
    with local_receiver([200]) as receiver:
        subscription, secret = subscribe(admin_user, receiver.url, ["account.created"])
        with django_capture_on_commit_callbacks(execute=True):
            account = account_create(user=admin_user, name="Acme", annual_revenue=Decimal("9"))
        with django_capture_on_commit_callbacks(execute=True):
            # Another event type: not subscribed, nothing sent.
            events.emit("lead.converted", pk=1, actor_id=admin_user.pk)
    (request,) = receiver.requests
    assert verify_signature(
        header=request.headers["Patron-Signature"], body=request.body, secret=secret
    )
    body = json.loads(request.body)
    assert body["type"] == "account.created"
    assert request.headers["Patron-Event"] == "account.created"
    assert request.headers["Patron-Delivery"] == body["id"]
    assert body["data"]["object_type"] == "contacts.account"
    assert body["data"]["id"] == account.pk
    assert body["data"]["actor_id"] == admin_user.pk
    assert body["data"]["record"]["name"] == "Acme"
    assert "annual_revenue" not in body["data"]["record"]
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.response_code == 200
    assert delivery.attempts == 1


def test_sensitive_changes_are_left_out_of_the_payload(admin_user):
    account = account_create(user=admin_user, name="Acme", annual_revenue=Decimal("5"))
    payload = webhook_services.build_payload(
        "account.updated",
        {
            "pk": account.pk,
            "actor_id": None,
            "changes": {"annual_revenue": ["5", "7"], "name": ["A", "Acme"]},
        },
        __import__("uuid").uuid4(),
    )
    assert payload["data"]["changes"] == {"name": ["A", "Acme"]}


def test_every_event_subscription_gets_named_events(admin_user, loopback_allowed, monkeypatch):
    subscription, _secret = subscribe(admin_user, "http://127.0.0.1:9/x", ["*"])
    monkeypatch.setattr(webhook_services, "enqueue", lambda ids: None)
    webhook_services.on_event("lead.converted", {"pk": 5, "actor_id": None})
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.event_type == "lead.converted"
    assert delivery.payload["data"]["id"] == 5


def test_a_failing_target_is_retried_with_backoff_until_it_succeeds(
    fire, admin_user, loopback_allowed, sent_inline
):
    with local_receiver([500, 503, 200]) as receiver:
        subscription, secret = subscribe(admin_user, receiver.url, ["*"])
        fire("lead.converted")
        delivery = WebhookDelivery.objects.get(subscription=subscription)
        # Every attempt sends the same body (receivers deduplicate on the id).
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.RETRYING
        assert delivery.response_code == 500
        assert delivery.next_attempt_at is not None
        wait = delivery.next_attempt_at - timezone.now()
        assert datetime.timedelta(seconds=50) < wait <= datetime.timedelta(minutes=1)
        assert webhook_services.send_due() == 0  # not due yet
        make_due(delivery)
        assert webhook_services.send_due() == 1
        delivery.refresh_from_db()
        assert delivery.attempts == 2
        assert delivery.next_attempt_at is not None
        wait = delivery.next_attempt_at - timezone.now()
        assert datetime.timedelta(minutes=4) < wait <= datetime.timedelta(minutes=5)
        make_due(delivery)
        webhook_tasks.send_due()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 3
    assert [r.body for r in receiver.requests] == [receiver.requests[0].body] * 3
    for request in receiver.requests:
        assert verify_signature(
            header=request.headers["Patron-Signature"], body=request.body, secret=secret
        )
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0


def test_a_retried_task_does_not_send_twice_after_success(
    fire, admin_user, loopback_allowed, sent_inline
):
    with local_receiver([200]) as receiver:
        subscription, _secret = subscribe(admin_user, receiver.url, ["*"])
        fire("lead.converted")
        delivery = WebhookDelivery.objects.get(subscription=subscription)
        webhook_tasks.deliver(delivery.pk)  # the broker redelivers the task
        make_due(delivery)
        webhook_services.send_due()
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_a_timeout_counts_as_a_failed_attempt(fire, admin_user, loopback_allowed, monkeypatch):
    monkeypatch.setattr(webhook_services, "SEND_TIMEOUT", 0.3)
    monkeypatch.setattr(webhook_services, "enqueue", lambda ids: None)
    with local_receiver([200], delay=1.0) as receiver:
        subscription, _secret = subscribe(admin_user, receiver.url, ["*"])
        fire("lead.converted")
        delivery = WebhookDelivery.objects.get(subscription=subscription)
        webhook_services.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.response_code is None
    assert "Timed out" in delivery.error


def test_delivery_gives_up_after_the_last_retry(fire, admin_user, loopback_allowed, sent_inline):
    with local_receiver([500]) as receiver:
        subscription, _secret = subscribe(admin_user, receiver.url, ["*"])
        fire("lead.converted")
        delivery = WebhookDelivery.objects.get(subscription=subscription)
        for _ in range(webhook_services.MAX_ATTEMPTS - 1):
            make_due(delivery)
            webhook_services.send_due()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == webhook_services.MAX_ATTEMPTS
    assert delivery.next_attempt_at is None
    assert delivery.error == "The target answered HTTP 500."


def test_repeated_failures_disable_the_subscription_and_tell_admins_once(
    fire, admin_user, loopback_allowed, sent_inline
):
    rep = UserFactory(email="rep@example.com")
    with local_receiver([500]) as receiver:
        subscription, _secret = subscribe(admin_user, receiver.url, ["*"])
        for number in range(webhook_services.FAILURES_BEFORE_DISABLE + 2):
            fire("lead.converted", number)
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert subscription.consecutive_failures == webhook_services.FAILURES_BEFORE_DISABLE
    assert subscription.disabled_reason.startswith("Disabled after 10 failed deliveries in a row")
    # Events after disabling create nothing and send nothing.
    assert len(receiver.requests) == webhook_services.FAILURES_BEFORE_DISABLE
    notices = Notification.objects.filter(kind="webhook_disabled")
    assert [n.user for n in notices] == [admin_user]
    assert not Notification.objects.filter(user=rep).exists()
    # Re-enabling clears the count.
    webhook_services.webhook_subscription_enable(user=admin_user, subscription=subscription)
    subscription.refresh_from_db()
    assert subscription.is_active
    assert subscription.consecutive_failures == 0
    assert subscription.disabled_reason == ""


def test_a_disallowed_target_is_refused_at_send_time(
    fire, admin_user, loopback_allowed, sent_inline
):
    with local_receiver([200]) as receiver:
        subscription, _secret = subscribe(admin_user, receiver.url, ["*"])
        webhook_services.webhook_allowed_host_delete(user=admin_user, host=loopback_allowed)
        fire("lead.converted")
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.status == DeliveryStatus.RETRYING
    assert "loopback address (127.0.0.1)" in delivery.error


def test_saving_an_internal_target_is_refused_with_the_reason(admin_user):
    with pytest.raises(ValidationFailed) as refused:
        subscribe(admin_user, "http://169.254.169.254/latest/", ["*"])
    assert "link-local address (169.254.169.254)" in refused.value.errors["target_url"][0]
    with pytest.raises(ValidationFailed) as refused:
        subscribe(admin_user, "ftp://example.com/", ["*"])
    assert "Only http and https" in refused.value.errors["target_url"][0]
    assert not WebhookSubscription.objects.exists()


def test_unknown_events_and_missing_fields_are_named(admin_user, loopback_allowed):
    with pytest.raises(ValidationFailed) as refused:
        webhook_services.webhook_subscription_create(
            user=admin_user,
            data={"name": "", "target_url": "http://127.0.0.1/", "event_types": ["nope.event"]},
        )
    assert refused.value.errors == {
        "name": ["Give the subscription a name."],
        "event_types": ["Unknown event: nope.event."],
    }


def test_send_test_signs_a_test_event_and_never_retries(admin_user, loopback_allowed):
    with local_receiver([418]) as receiver:
        subscription, secret = subscribe(admin_user, receiver.url, ["lead.converted"])
        delivery = webhook_services.webhook_send_test(user=admin_user, subscription=subscription)
    assert delivery.is_test
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.response_code == 418
    assert delivery.response_excerpt == "answer 418"
    (request,) = receiver.requests
    assert json.loads(request.body)["type"] == "webhook.test"
    assert verify_signature(
        header=request.headers["Patron-Signature"], body=request.body, secret=secret
    )
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0


def test_resend_sends_a_failed_delivery_again(fire, admin_user, loopback_allowed, sent_inline):
    with local_receiver([500, 200]) as receiver:
        subscription, _secret = subscribe(admin_user, receiver.url, ["*"])
        fire("lead.converted")
        delivery = WebhookDelivery.objects.get(subscription=subscription)
        # It gave up (as after the last retry).
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED, next_attempt_at=None
        )
        resent = webhook_services.webhook_delivery_resend(user=admin_user, delivery=delivery)
    assert len(receiver.requests) == 2
    assert resent.attempts == 1
    assert resent.status == DeliveryStatus.SUCCEEDED
    with pytest.raises(ValidationFailed):
        webhook_services.webhook_delivery_resend(user=admin_user, delivery=resent)


def test_rotating_the_secret_signs_with_the_new_one(admin_user, loopback_allowed):
    with local_receiver([200]) as receiver:
        subscription, old = subscribe(admin_user, receiver.url, ["*"])
        new = webhook_services.webhook_subscription_rotate_secret(
            user=admin_user, subscription=subscription
        )
        webhook_services.webhook_send_test(user=admin_user, subscription=subscription)
    assert new != old
    assert new.startswith("whsec_")
    header = receiver.requests[0].headers["Patron-Signature"]
    assert verify_signature(header=header, body=receiver.requests[0].body, secret=new)
    assert not verify_signature(header=header, body=receiver.requests[0].body, secret=old)


def test_only_administrators_manage_webhooks(admin_user, loopback_allowed):
    rep = UserFactory(email="rep@example.com")
    with pytest.raises(PermissionDenied):
        subscribe(rep, "http://127.0.0.1/", ["*"])
    with pytest.raises(PermissionDenied):
        webhook_services.webhook_allowed_host_create(user=rep, host="10.0.0.1")


def test_allowed_host_input_is_checked(admin_user, loopback_allowed):
    for bad, words in (
        ("http://x.example/", "bare host name"),
        ("127.0.0.1", "already allowed"),
        ("", "Give a host"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            webhook_services.webhook_allowed_host_create(user=admin_user, host=bad)
        assert words in refused.value.errors["host"][0]
    assert webhook_services.webhook_allowed_host_create(user=admin_user, host="[FD00::1]").host == (
        "fd00::1"
    )


def test_events_cost_no_query_without_subscriptions_and_see_each_change_at_once(
    admin_user, loopback_allowed, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(webhook_services, "enqueue", lambda ids: None)
    webhook_services.active_subscriptions()  # the index is read once
    with django_assert_num_queries(0):
        for number in range(20):
            webhook_services.on_event("account.updated", {"pk": number, "actor_id": None})
    subscription, _secret = subscribe(admin_user, "http://127.0.0.1:9/x", ["*"])
    webhook_services.on_event("account.updated", {"pk": 1, "actor_id": None})
    assert WebhookDelivery.objects.filter(subscription=subscription).count() == 1
    webhook_services.webhook_subscription_update(
        user=admin_user, subscription=subscription, data={"is_active": False}
    )
    webhook_services.on_event("account.updated", {"pk": 2, "actor_id": None})
    assert WebhookDelivery.objects.filter(subscription=subscription).count() == 1
    webhook_services.webhook_subscription_enable(user=admin_user, subscription=subscription)
    webhook_services.on_event("account.updated", {"pk": 3, "actor_id": None})
    assert WebhookDelivery.objects.filter(subscription=subscription).count() == 2
    webhook_services.webhook_subscription_delete(user=admin_user, subscription=subscription)
    with django_assert_num_queries(1):  # the index is read again, then nothing matches
        webhook_services.on_event("account.updated", {"pk": 4, "actor_id": None})


def test_a_broker_that_refuses_the_send_leaves_the_delivery_due_for_the_sweep(
    admin_user, loopback_allowed, monkeypatch, django_capture_on_commit_callbacks
):
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(current_app, "send_task", refuse)
    with local_receiver([200]) as receiver:
        subscription, _secret = subscribe(admin_user, receiver.url, ["account.created"])
        # The save succeeds although the hand-over to a worker fails after commit.
        with django_capture_on_commit_callbacks(execute=True):
            account_create(user=admin_user, name="Acme")
        delivery = WebhookDelivery.objects.get(subscription=subscription)
        assert delivery.status == DeliveryStatus.PENDING
        make_due(delivery)
        assert webhook_services.send_due() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert len(receiver.requests) == 1
