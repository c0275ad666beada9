"""Outbound webhooks: subscriptions, the allow-list, and signed deliveries with retries.

Every event (``core.events``) is matched against the active subscriptions; each match gets one
WebhookDelivery (the event id in its payload lets receivers drop a repeated delivery) that a thin
task sends. Failures retry with exponential backoff; after FAILURES_BEFORE_DISABLE failures
in a row the subscription is disabled and the admins are told once.
"""

from __future__ import annotations

import datetime
import json
import secrets
import uuid
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from patron.automation import outbound_http, registry
from patron.automation.access import WEBHOOKS, require_admin
from patron.automation.choices import DeliveryStatus
from patron.automation.conditions import model_for
from patron.automation.models import WebhookAllowedHost, WebhookDelivery, WebhookSubscription
from patron.core import jobs
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.notifications import notification_send
from patron.core.records import snapshot

ALL_EVENTS = "*"
# Waits after the 1st, 2nd, ... failed attempt; after the last one the delivery gives up.
RETRY_DELAYS = (
    datetime.timedelta(minutes=1),
    datetime.timedelta(minutes=5),
    datetime.timedelta(minutes=30),
    datetime.timedelta(hours=2),
    datetime.timedelta(hours=6),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
FAILURES_BEFORE_DISABLE = 10
# A claimed delivery is not claimed again for this long (a crashed worker's send is retried).
CLAIM_LEASE = datetime.timedelta(minutes=2)
SEND_TIMEOUT = 10.0
DUE_BATCH = 200
TEST_EVENT = "webhook.test"
INDEX_STAMP_KEY = "automation:webhook-index-stamp"

Errors = dict[str, list[str]]


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# ---------------------------------------------------------------- subscriptions


def _clean_event_types(raw: Any, errors: Errors) -> list[str]:
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
        errors["event_types"] = ["Give a list of event names (or * for every event)."]
        return []
    names = list(dict.fromkeys(name.strip() for name in raw if name.strip()))
    if not names:
        errors["event_types"] = ["Choose at least one event (or * for every event)."]
        return []
    unknown = [name for name in names if name != ALL_EVENTS and registry.event_info(name) is None]
    if unknown:
        errors["event_types"] = [f"Unknown event: {', '.join(unknown)}."]
    return [ALL_EVENTS] if ALL_EVENTS in names else names


def _clean(data: dict[str, Any], current: WebhookSubscription | None) -> dict[str, Any]:
    errors: Errors = {}
    cleaned: dict[str, Any] = {}
    if current is None or "name" in data:
        name = str(data.get("name") or "").strip()
        if not name:
            errors["name"] = ["Give the subscription a name."]
        elif len(name) > 150:
            errors["name"] = ["Use at most 150 characters."]
        cleaned["name"] = name
    if current is None or "target_url" in data:
        url = str(data.get("target_url") or "").strip()
        if not url:
            errors["target_url"] = ["Give the URL to send events to."]
        elif len(url) > 500:
            errors["target_url"] = ["Use at most 500 characters."]
        else:
            message = outbound_http.validate_target_url(url)
            if message:
                errors["target_url"] = [message]
        cleaned["target_url"] = url
    if current is None or "event_types" in data:
        cleaned["event_types"] = _clean_event_types(data.get("event_types"), errors)
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            errors["is_active"] = ["Use true or false."]
        cleaned["is_active"] = data["is_active"]
    if errors:
        raise ValidationFailed("The webhook subscription is not valid.", errors=errors)
    return cleaned


def webhook_subscription_create(
    *, user: Any, data: dict[str, Any]
) -> tuple[WebhookSubscription, str]:
    """The new subscription and its signing secret (shown to the admin this once)."""
    require_admin(user, WEBHOOKS)
    cleaned = _clean(data, None)
    secret = new_secret()
    subscription = WebhookSubscription.objects.create(
        **cleaned, secret=secret, created_by=user if getattr(user, "pk", None) else None
    )
    invalidate_index()
    return subscription, secret


def webhook_subscription_update(
    *, user: Any, subscription: WebhookSubscription, data: dict[str, Any]
) -> WebhookSubscription:
    require_admin(user, WEBHOOKS)
    cleaned = _clean(data, subscription)
    if cleaned.get("is_active") and not subscription.is_active:
        _reset_failures(subscription)
    for name, value in cleaned.items():
        setattr(subscription, name, value)
    subscription.save()
    invalidate_index()
    return subscription


def _reset_failures(subscription: WebhookSubscription) -> None:
    subscription.consecutive_failures = 0
    subscription.disabled_at = None
    subscription.disabled_reason = ""


def webhook_subscription_enable(
    *, user: Any, subscription: WebhookSubscription
) -> WebhookSubscription:
    """Turn a (disabled) subscription back on, with its failure count cleared."""
    require_admin(user, WEBHOOKS)
    message = outbound_http.validate_target_url(subscription.target_url)
    if message:
        raise ValidationFailed(
            "The subscription's target is refused.", errors={"target_url": [message]}
        )
    _reset_failures(subscription)
    subscription.is_active = True
    subscription.save()
    invalidate_index()
    return subscription


def webhook_subscription_rotate_secret(*, user: Any, subscription: WebhookSubscription) -> str:
    """A new signing secret (the old one stops working at once); shown to the admin this once."""
    require_admin(user, WEBHOOKS)
    subscription.secret = new_secret()
    subscription.save(update_fields=["secret"])
    return subscription.secret


def webhook_subscription_delete(*, user: Any, subscription: WebhookSubscription) -> None:
    require_admin(user, WEBHOOKS)
    subscription.delete()
    invalidate_index()


def webhook_subscription_get(*, user: Any, pk: Any) -> WebhookSubscription:
    require_admin(user, WEBHOOKS)
    row = WebhookSubscription.objects.filter(pk=pk).first() if str(pk).isdigit() else None
    if row is None:
        raise RecordNotFound(f"No webhook subscription with id {pk}.")
    return row


def webhook_delivery_get(*, user: Any, pk: Any) -> WebhookDelivery:
    require_admin(user, WEBHOOKS)
    row = (
        WebhookDelivery.objects.select_related("subscription").filter(pk=pk).first()
        if str(pk).isdigit()
        else None
    )
    if row is None:
        raise RecordNotFound(f"No webhook delivery with id {pk}.")
    return row


# ---------------------------------------------------------------- allowed hosts


def webhook_allowed_host_create(*, user: Any, host: str, note: str = "") -> WebhookAllowedHost:
    """Allow webhooks to reach ``host`` even when it resolves to a private or loopback address."""
    require_admin(user, WEBHOOKS)
    cleaned = host.strip().lower().strip("[]")
    errors: Errors = {}
    if not cleaned:
        errors["host"] = ["Give a host name or IP address."]
    elif "/" in cleaned or (":" in cleaned and not _is_ipv6(cleaned)) or " " in cleaned:
        errors["host"] = ["Give the bare host name or IP address, without scheme, port or path."]
    elif len(cleaned) > 255:
        errors["host"] = ["Use at most 255 characters."]
    elif WebhookAllowedHost.objects.filter(host__iexact=cleaned).exists():
        errors["host"] = [f"{cleaned} is already allowed."]
    if len(note) > 300:
        errors["note"] = ["Use at most 300 characters."]
    if errors:
        raise ValidationFailed("The allowed host is not valid.", errors=errors)
    return WebhookAllowedHost.objects.create(
        host=cleaned, note=note.strip(), created_by=user if getattr(user, "pk", None) else None
    )


def _is_ipv6(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def webhook_allowed_host_delete(*, user: Any, host: WebhookAllowedHost) -> None:
    require_admin(user, WEBHOOKS)
    host.delete()


def webhook_allowed_host_get(*, user: Any, pk: Any) -> WebhookAllowedHost:
    require_admin(user, WEBHOOKS)
    row = WebhookAllowedHost.objects.filter(pk=pk).first() if str(pk).isdigit() else None
    if row is None:
        raise RecordNotFound(f"No allowed host with id {pk}.")
    return row


# ---------------------------------------------------------------- creating deliveries


def _public_record(object_type: str, pk: Any) -> dict[str, Any] | None:
    """The record's field values without the fields field security governs."""
    from patron.users.selectors import sensitive_fields

    model = model_for(object_type)
    if model is None or pk is None:
        return None
    record = model._base_manager.filter(pk=pk).first()
    if record is None:
        return None
    hidden = {name for name, _label in sensitive_fields(object_type)}
    values = snapshot(record)
    custom = values.get("custom")
    if isinstance(custom, dict):
        values["custom"] = {k: v for k, v in custom.items() if f"custom.{k}" not in hidden}
    return {name: value for name, value in values.items() if name not in hidden}


def _public_changes(object_type: str, changes: Any) -> Any:
    from patron.users.selectors import sensitive_fields

    if not isinstance(changes, dict) or not object_type:
        return changes
    hidden = {name for name, _label in sensitive_fields(object_type)}
    return {name: value for name, value in changes.items() if name not in hidden}


def build_payload(event: str, payload: dict[str, Any], event_id: uuid.UUID) -> dict[str, Any]:
    info = registry.event_info(event)
    object_type = info.object_type if info is not None else ""
    data: dict[str, Any] = {
        key: value for key, value in payload.items() if key not in ("pk", "changes")
    }
    data["object_type"] = object_type
    data["id"] = payload.get("pk")
    if "changes" in payload:
        data["changes"] = _public_changes(object_type, payload["changes"])
    if object_type and payload.get("pk") is not None:
        data["record"] = _public_record(object_type, payload["pk"])
    body = {
        "id": str(event_id),
        "type": event,
        "created_at": timezone.now().isoformat(),
        "data": data,
    }
    # Round-trip so the stored payload is exactly what is sent (dates, decimals as strings).
    loaded: dict[str, Any] = json.loads(json.dumps(body, default=str))
    return loaded


class _Index:
    """Active subscriptions' event types by id, as of ``stamp`` (see ``active_subscriptions``)."""

    stamp: str | None = None
    rows: tuple[tuple[int, frozenset[str]], ...] = ()


_index = _Index()


def _stamp() -> str:
    """The shared version of the subscriptions (one cache read, no query)."""
    stamp = cache.get(INDEX_STAMP_KEY)
    if stamp is None:
        cache.add(INDEX_STAMP_KEY, uuid.uuid4().hex, timeout=None)
        stamp = cache.get(INDEX_STAMP_KEY) or ""
    return str(stamp)


def invalidate_index() -> None:
    """Rebuild the subscription index here at once and, after commit, in every process."""
    _index.stamp = None
    transaction.on_commit(lambda: cache.set(INDEX_STAMP_KEY, uuid.uuid4().hex, timeout=None))


def active_subscriptions() -> tuple[tuple[int, frozenset[str]], ...]:
    """(id, event types) of the active subscriptions, read from the database only when the
    shared stamp changed since the last read (as the workflow engine's index), so an event
    costs one cache read when nothing changed and no query at all when none exists."""
    stamp = _stamp()
    if stamp != _index.stamp:
        rows = WebhookSubscription.objects.filter(is_active=True).values_list("pk", "event_types")
        _index.rows = tuple((pk, frozenset(names or ())) for pk, names in rows)
        _index.stamp = stamp
    return _index.rows


def matching_subscriptions(event: str) -> list[int]:
    """Ids of the active subscriptions to ``event`` (from the cached index)."""
    return [pk for pk, names in active_subscriptions() if ALL_EVENTS in names or event in names]


def on_event(event: str, payload: dict[str, Any]) -> None:
    """core.events subscriber: one delivery per matching active subscription, then send."""
    subscription_ids = matching_subscriptions(event)
    if not subscription_ids:
        return
    event_id = uuid.uuid4()
    body = build_payload(event, payload, event_id)
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                subscription_id=subscription_id,
                event_type=event,
                event_id=event_id,
                payload=body,
                next_attempt_at=now,
                created_at=now,
            )
            for subscription_id in subscription_ids
        ]
    )
    enqueue(list(WebhookDelivery.objects.filter(event_id=event_id).values_list("pk", flat=True)))


def enqueue(delivery_ids: list[int]) -> None:
    """Send ``delivery_ids`` in a worker after the surrounding transaction commits."""
    if not delivery_ids:
        return

    # With the broker down the deliveries stay due and the every-minute send_due sends them.
    for delivery_id in delivery_ids:
        jobs.enqueue("automation.webhook_deliver", delivery_id)


# ---------------------------------------------------------------- sending


def _body(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()


def _send(delivery: WebhookDelivery) -> outbound_http.HttpResult:
    subscription = delivery.subscription
    return outbound_http.signed_request(
        url=subscription.target_url,
        body=_body(delivery),
        secret=subscription.secret,
        timeout=SEND_TIMEOUT,
        extra_headers={
            "Patron-Event": delivery.event_type,
            "Patron-Delivery": str(delivery.event_id),
        },
    )


def _claim(delivery_id: int, *, force: bool) -> bool:
    """Take the delivery for one send; False when it is done or another worker holds it."""
    now = timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    rows = WebhookDelivery.objects.filter(
        Q(pk=delivery_id),
        Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]),
        Q() if force else due,
    ).update(next_attempt_at=now + CLAIM_LEASE)
    return rows == 1


def deliver(delivery_id: int) -> WebhookDelivery | None:
    """Send one due delivery and record the outcome; a delivered one is never sent again."""
    if not _claim(delivery_id, force=False):
        return None
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    subscription = delivery.subscription
    if not subscription.is_active:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
        delivery.error = "Not sent: the subscription is disabled."
        delivery.save(update_fields=["status", "next_attempt_at", "error"])
        return delivery
    result = _send(delivery)
    _record(delivery, result)
    return delivery


def _record(delivery: WebhookDelivery, result: outbound_http.HttpResult) -> None:
    now = timezone.now()
    delivery.attempts += 1
    delivery.response_code = result.status_code
    delivery.response_excerpt = result.body_excerpt[:500]
    delivery.duration_ms = result.duration_ms
    if result.ok:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        delivery.error = ""
    else:
        delivery.error = (result.error or f"The target answered HTTP {result.status_code}.")[:500]
        # A test is one attempt: it never retries (nor counts towards disabling, below).
        if delivery.is_test or delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.status = DeliveryStatus.RETRYING
            delivery.next_attempt_at = now + RETRY_DELAYS[delivery.attempts - 1]
    delivery.save()
    if delivery.is_test:
        return
    subscription = delivery.subscription
    if result.ok:
        if subscription.consecutive_failures:
            WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=0)
        return
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    subscription.refresh_from_db(fields=["consecutive_failures", "is_active"])
    if subscription.is_active and subscription.consecutive_failures >= FAILURES_BEFORE_DISABLE:
        _disable(subscription, delivery.error)


def _disable(subscription: WebhookSubscription, last_error: str) -> None:
    now = timezone.now()
    reason = (
        f"Disabled after {subscription.consecutive_failures} failed deliveries in a row "
        f"(last: {last_error})"
    )[:300]
    # Only the worker whose update turns it off notifies, so admins hear once.
    turned_off = WebhookSubscription.objects.filter(pk=subscription.pk, is_active=True).update(
        is_active=False, disabled_at=now, disabled_reason=reason
    )
    if not turned_off:
        return
    invalidate_index()
    from patron.users.models import User

    admins = User.objects.filter(Q(is_superuser=True) | Q(role__is_admin=True), is_active=True)
    for admin in admins:
        notification_send(
            user=admin,
            kind="webhook_disabled",
            title=f"Webhook “{subscription.name}” was disabled",
            body=reason,
            url=f"/automation/webhooks/{subscription.pk}/",
            dedupe_key=f"webhook-disabled:{subscription.pk}:{now.isoformat()}",
        )


def send_due() -> int:
    """Send the deliveries whose (retry) time has come; the number attempted."""
    ids = list(
        WebhookDelivery.objects.filter(
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
            next_attempt_at__lte=timezone.now(),
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:DUE_BATCH]
    )
    for delivery_id in ids:
        deliver(delivery_id)
    return len(ids)


def webhook_delivery_resend(*, user: Any, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a failed (or retrying) delivery again now, with a fresh series of retries."""
    require_admin(user, WEBHOOKS)
    if delivery.is_test:
        raise ValidationFailed(
            "A test delivery is not resent; send a new test.",
            errors={"is_test": ["Send a new test instead."]},
        )
    if delivery.status == DeliveryStatus.SUCCEEDED:
        raise ValidationFailed(
            "This delivery already succeeded.", errors={"status": ["Already delivered."]}
        )
    if not delivery.subscription.is_active:
        raise ValidationFailed(
            "Re-enable the subscription first.", errors={"subscription": ["It is disabled."]}
        )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    result = deliver(delivery.pk)
    return result or webhook_delivery_get(user=user, pk=delivery.pk)


def webhook_send_test(*, user: Any, subscription: WebhookSubscription) -> WebhookDelivery:
    """Send a signed test event now and return its logged delivery (response included)."""
    require_admin(user, WEBHOOKS)
    event_id = uuid.uuid4()
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        event_type=TEST_EVENT,
        event_id=event_id,
        payload={
            "id": str(event_id),
            "type": TEST_EVENT,
            "created_at": timezone.now().isoformat(),
            "data": {"subscription": subscription.name, "sent_by": getattr(user, "pk", None)},
        },
        is_test=True,
        next_attempt_at=None,
    )
    delivery.subscription = subscription
    _record(delivery, _send(delivery))
    return delivery
