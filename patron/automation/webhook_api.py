"""Outbound webhook subscriptions, deliveries and tests in /api/v1/webhooks/ (administrators).

Thin handlers over automation.webhook_services. The signing secret is returned only when a
subscription is created or its secret rotated.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.automation import registry, webhook_exports, webhook_services
from patron.automation.access import WEBHOOKS, request_admin
from patron.automation.models import WebhookAllowedHost, WebhookDelivery, WebhookSubscription
from patron.automation.webhook_filters import (
    DELIVERY_SORTS,
    SUBSCRIPTION_SORTS,
    DeliveryFilter,
    SubscriptionFilter,
)
from patron.core.api.openapi import filter_parameters
from patron.core.api.pagination import (
    ListParams,
    Page,
    filtered,
    keyset_page,
    page_body,
    sort_columns,
)
from patron.core.api.problems import problem_responses

router = Router(tags=["Webhooks"])

LIST_ERRORS = problem_responses(400, 401, 403, 422)
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 422)
ADMIN_ONLY = "Administrators only. "


def _list_description(what: str, sorts: dict[str, tuple[str, ...]], default: str) -> str:
    return (
        f"{ADMIN_ONLY}{what}, one page at a time (keyset pagination: pass next_cursor as "
        f"?cursor=). Sort keys: {', '.join(sorts)} (default {default}). An unknown filter is "
        "refused with 422."
    )


# --- schemas ---------------------------------------------------------------------------------


class EventOut(Schema):
    name: str
    label: str
    object_type: str


class SubscriptionOut(Schema):
    id: int
    name: str
    target_url: str
    event_types: list[str]
    is_active: bool
    consecutive_failures: int
    disabled_at: datetime.datetime | None
    disabled_reason: str
    created_at: datetime.datetime


class SubscriptionWithSecretOut(SubscriptionOut):
    secret: str = Field(description="The signing secret; shown only in this response.")


class SecretOut(Schema):
    secret: str = Field(description="The new signing secret; shown only in this response.")


class SubscriptionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str
    target_url: str = Field(description="http(s) URL; private and loopback hosts are refused.")
    event_types: list[str] = Field(description='Event names from /webhooks/events, or ["*"].')


class SubscriptionPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    target_url: str | None = None
    event_types: list[str] | None = None
    is_active: bool | None = None


class DeliveryOut(Schema):
    id: int
    subscription_id: int
    event_type: str
    event_id: str
    status: str
    attempts: int
    next_attempt_at: datetime.datetime | None
    response_code: int | None
    response_excerpt: str
    error: str
    duration_ms: int | None
    is_test: bool
    created_at: datetime.datetime
    delivered_at: datetime.datetime | None


class DeliveryDetailOut(DeliveryOut):
    payload: dict[str, Any]


class AllowedHostOut(Schema):
    id: int
    host: str
    note: str
    created_at: datetime.datetime


class AllowedHostIn(Schema):
    model_config = ConfigDict(extra="forbid")
    host: str = Field(description="A host name or IP address, without scheme, port or path.")
    note: str = ""


def _subscription(row: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": row.pk,
        "name": row.name,
        "target_url": row.target_url,
        "event_types": list(row.event_types),
        "is_active": row.is_active,
        "consecutive_failures": row.consecutive_failures,
        "disabled_at": row.disabled_at,
        "disabled_reason": row.disabled_reason,
        "created_at": row.created_at,
    }


def _delivery(row: WebhookDelivery, *, payload: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.pk,
        "subscription_id": row.subscription_id,
        "event_type": row.event_type,
        "event_id": str(row.event_id),
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "response_code": row.response_code,
        "response_excerpt": row.response_excerpt,
        "error": row.error,
        "duration_ms": row.duration_ms,
        "is_test": row.is_test,
        "created_at": row.created_at,
        "delivered_at": row.delivered_at,
    }
    if payload:
        out["payload"] = row.payload
    return out


def _allowed_host(row: WebhookAllowedHost) -> dict[str, Any]:
    return {"id": row.pk, "host": row.host, "note": row.note, "created_at": row.created_at}


# --- events ----------------------------------------------------------------------------------


@router.get(
    "/webhooks/events",
    response={200: list[EventOut], **LIST_ERRORS},
    summary="Events a subscription can choose",
    description=f"{ADMIN_ONLY}The event catalogue; a subscription may also use * for all.",
    operation_id="webhook_event_list",
)
def event_index(request: HttpRequest) -> list[dict[str, str]]:
    request_admin(request, WEBHOOKS)
    return [info.as_dict() for info in registry.events_catalogue()]


# --- subscriptions ---------------------------------------------------------------------------


@router.get(
    "/webhooks/subscriptions",
    response={200: Page[SubscriptionOut], **LIST_ERRORS},
    summary="List webhook subscriptions",
    description=_list_description("Webhook subscriptions", SUBSCRIPTION_SORTS, "name"),
    operation_id="webhook_subscription_list",
    openapi_extra={"parameters": filter_parameters(SubscriptionFilter)},
)
def subscription_index(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    request_admin(request, WEBHOOKS)
    sort, columns = sort_columns(params.sort, SUBSCRIPTION_SORTS, "name")
    rows, next_cursor = keyset_page(
        filtered(request, WebhookSubscription.objects.all(), SubscriptionFilter),
        sort=sort,
        columns=columns,
        limit=params.limit,
        cursor=params.cursor,
    )
    return page_body([_subscription(row) for row in rows], next_cursor)


@router.post(
    "/webhooks/subscriptions",
    response={201: SubscriptionWithSecretOut, **WRITE_ERRORS},
    summary="Create a webhook subscription",
    description=f"{ADMIN_ONLY}The target is checked (http(s), public address or allow-listed). "
    "The response carries the signing secret, shown this once.",
    operation_id="webhook_subscription_create",
)
def subscription_create(request: HttpRequest, payload: SubscriptionIn) -> Status[dict[str, Any]]:
    user = request_admin(request, WEBHOOKS)
    row, secret = webhook_services.webhook_subscription_create(user=user, data=payload.model_dump())
    return Status(201, {**_subscription(row), "secret": secret})


@router.get(
    "/webhooks/subscriptions/{int:subscription_id}",
    response={200: SubscriptionOut, **WRITE_ERRORS},
    summary="A webhook subscription",
    description=f"{ADMIN_ONLY}The secret is never returned here.",
    operation_id="webhook_subscription_get",
)
def subscription_get(request: HttpRequest, subscription_id: int) -> dict[str, Any]:
    user = request_admin(request, WEBHOOKS)
    return _subscription(webhook_services.webhook_subscription_get(user=user, pk=subscription_id))


@router.patch(
    "/webhooks/subscriptions/{int:subscription_id}",
    response={200: SubscriptionOut, **WRITE_ERRORS},
    summary="Change a webhook subscription",
    description=f"{ADMIN_ONLY}Send only the fields to change; is_active true re-enables a "
    "disabled subscription and clears its failure count.",
    operation_id="webhook_subscription_update",
)
def subscription_update(
    request: HttpRequest, subscription_id: int, payload: SubscriptionPatch
) -> dict[str, Any]:
    user = request_admin(request, WEBHOOKS)
    row = webhook_services.webhook_subscription_get(user=user, pk=subscription_id)
    data = payload.model_dump(include=payload.model_fields_set)
    return _subscription(
        webhook_services.webhook_subscription_update(user=user, subscription=row, data=data)
    )


@router.delete(
    "/webhooks/subscriptions/{int:subscription_id}",
    response={204: None, **WRITE_ERRORS},
    summary="Delete a webhook subscription",
    description=f"{ADMIN_ONLY}Its delivery log goes with it.",
    operation_id="webhook_subscription_delete",
)
def subscription_delete(request: HttpRequest, subscription_id: int) -> Status[None]:
    user = request_admin(request, WEBHOOKS)
    row = webhook_services.webhook_subscription_get(user=user, pk=subscription_id)
    webhook_services.webhook_subscription_delete(user=user, subscription=row)
    return Status(204, None)


@router.post(
    "/webhooks/subscriptions/{int:subscription_id}/rotate-secret",
    response={200: SecretOut, **WRITE_ERRORS},
    summary="Rotate a subscription's signing secret",
    description=f"{ADMIN_ONLY}The old secret stops working at once; the new one is shown once.",
    operation_id="webhook_subscription_rotate_secret",
)
def subscription_rotate_secret(request: HttpRequest, subscription_id: int) -> dict[str, str]:
    user = request_admin(request, WEBHOOKS)
    row = webhook_services.webhook_subscription_get(user=user, pk=subscription_id)
    secret = webhook_services.webhook_subscription_rotate_secret(user=user, subscription=row)
    return {"secret": secret}


@router.post(
    "/webhooks/subscriptions/{int:subscription_id}/enable",
    response={200: SubscriptionOut, **WRITE_ERRORS},
    summary="Re-enable a subscription",
    description=f"{ADMIN_ONLY}Turns a disabled subscription back on (the target is checked "
    "again) and clears its failure count.",
    operation_id="webhook_subscription_enable",
)
def subscription_enable(request: HttpRequest, subscription_id: int) -> dict[str, Any]:
    user = request_admin(request, WEBHOOKS)
    row = webhook_services.webhook_subscription_get(user=user, pk=subscription_id)
    return _subscription(webhook_services.webhook_subscription_enable(user=user, subscription=row))


@router.post(
    "/webhooks/subscriptions/{int:subscription_id}/test",
    response={200: DeliveryDetailOut, **WRITE_ERRORS},
    summary="Send a test event",
    description=f"{ADMIN_ONLY}Sends a signed webhook.test event now and returns the logged "
    "delivery with the target's response. A test never retries.",
    operation_id="webhook_subscription_send_test",
)
def subscription_send_test(request: HttpRequest, subscription_id: int) -> dict[str, Any]:
    user = request_admin(request, WEBHOOKS)
    row = webhook_services.webhook_subscription_get(user=user, pk=subscription_id)
    return _delivery(webhook_services.webhook_send_test(user=user, subscription=row), payload=True)


# --- deliveries ------------------------------------------------------------------------------


@router.get(
    "/webhooks/subscriptions/{int:subscription_id}/deliveries",
    response={200: Page[DeliveryOut], **LIST_ERRORS},
    summary="A subscription's delivery log",
    description=_list_description("Deliveries of one subscription", DELIVERY_SORTS, "-created"),
    operation_id="webhook_delivery_list",
    openapi_extra={"parameters": filter_parameters(DeliveryFilter)},
)
def delivery_index(
    request: HttpRequest, subscription_id: int, params: Query[ListParams]
) -> dict[str, Any]:
    user = request_admin(request, WEBHOOKS)
    row = webhook_services.webhook_subscription_get(user=user, pk=subscription_id)
    sort, columns = sort_columns(params.sort, DELIVERY_SORTS, "-created")
    rows, next_cursor = keyset_page(
        filtered(request, row.deliveries.all(), DeliveryFilter),
        sort=sort,
        columns=columns,
        limit=params.limit,
        cursor=params.cursor,
    )
    return page_body([_delivery(d) for d in rows], next_cursor)


@router.get(
    "/webhooks/subscriptions/{int:subscription_id}/deliveries.csv",
    response={200: str, **LIST_ERRORS},
    summary="A subscription's delivery log as CSV",
    description=f"{ADMIN_ONLY}The filtered log (same filters as the JSON list), newest first.",
    operation_id="webhook_delivery_export",
    openapi_extra={
        "parameters": filter_parameters(DeliveryFilter),
        "responses": {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    },
)
def delivery_export(request: HttpRequest, subscription_id: int) -> HttpResponse:
    user = request_admin(request, WEBHOOKS)
    row = webhook_services.webhook_subscription_get(user=user, pk=subscription_id)
    rows = filtered(request, row.deliveries.all(), DeliveryFilter)
    return webhook_exports.deliveries_csv(row, rows)


@router.get(
    "/webhooks/deliveries/{int:delivery_id}",
    response={200: DeliveryDetailOut, **WRITE_ERRORS},
    summary="One delivery with its payload",
    description=f"{ADMIN_ONLY}The exact JSON that is (or was) sent.",
    operation_id="webhook_delivery_get",
)
def delivery_get(request: HttpRequest, delivery_id: int) -> dict[str, Any]:
    user = request_admin(request, WEBHOOKS)
    return _delivery(webhook_services.webhook_delivery_get(user=user, pk=delivery_id), payload=True)


@router.post(
    "/webhooks/deliveries/{int:delivery_id}/resend",
    response={200: DeliveryOut, **WRITE_ERRORS},
    summary="Resend a failed delivery",
    description=f"{ADMIN_ONLY}Sends it again now with a fresh series of retries; a delivered "
    "one is refused with 422.",
    operation_id="webhook_delivery_resend",
)
def delivery_resend(request: HttpRequest, delivery_id: int) -> dict[str, Any]:
    user = request_admin(request, WEBHOOKS)
    row = webhook_services.webhook_delivery_get(user=user, pk=delivery_id)
    return _delivery(webhook_services.webhook_delivery_resend(user=user, delivery=row))


# --- allowed hosts ---------------------------------------------------------------------------


@router.get(
    "/webhooks/allowed-hosts",
    response={200: list[AllowedHostOut], **LIST_ERRORS},
    summary="Hosts allowed despite private addresses",
    description=f"{ADMIN_ONLY}Webhooks may reach these hosts even when they resolve to "
    "loopback, private or link-local addresses.",
    operation_id="webhook_allowed_host_list",
)
def allowed_host_index(request: HttpRequest) -> list[dict[str, Any]]:
    request_admin(request, WEBHOOKS)
    return [_allowed_host(row) for row in WebhookAllowedHost.objects.order_by("host")]


@router.post(
    "/webhooks/allowed-hosts",
    response={201: AllowedHostOut, **WRITE_ERRORS},
    summary="Allow a host",
    description=f"{ADMIN_ONLY}Give the bare host name or IP address.",
    operation_id="webhook_allowed_host_create",
)
def allowed_host_create(request: HttpRequest, payload: AllowedHostIn) -> Status[dict[str, Any]]:
    user = request_admin(request, WEBHOOKS)
    row = webhook_services.webhook_allowed_host_create(
        user=user, host=payload.host, note=payload.note
    )
    return Status(201, _allowed_host(row))


@router.delete(
    "/webhooks/allowed-hosts/{int:host_id}",
    response={204: None, **WRITE_ERRORS},
    summary="Remove an allowed host",
    description=f"{ADMIN_ONLY}Subscriptions to it are refused again at their next send.",
    operation_id="webhook_allowed_host_delete",
)
def allowed_host_delete(request: HttpRequest, host_id: int) -> Status[None]:
    user = request_admin(request, WEBHOOKS)
    row = webhook_services.webhook_allowed_host_get(user=user, pk=host_id)
    webhook_services.webhook_allowed_host_delete(user=user, host=row)
    return Status(204, None)
