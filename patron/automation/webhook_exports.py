"""The delivery log as CSV (the page's and the API's export share it)."""

from __future__ import annotations

import csv
import io

from django.db.models import QuerySet
from django.http import HttpResponse

from patron.automation.models import WebhookDelivery, WebhookSubscription

CSV_COLUMNS = (
    "id",
    "created_at",
    "event_type",
    "event_id",
    "status",
    "attempts",
    "response_code",
    "duration_ms",
    "error",
    "response_excerpt",
    "is_test",
)


def deliveries_csv(
    subscription: WebhookSubscription, rows: QuerySet[WebhookDelivery]
) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows.order_by("-created_at", "-id").values_list(*CSV_COLUMNS).iterator():
        writer.writerow(row)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv")
    filename = f"webhook-{subscription.pk}-deliveries.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
