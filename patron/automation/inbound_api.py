"""Inbound webhook triggers: a POST to a workflow's secret URL starts it.

The token in the URL is the authentication (only its digest is stored). The JSON body is the
run's payload; an ``Idempotency-Key`` header makes a retried delivery start no second run.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from patron.automation.services import inbound_start
from patron.core.api.problems import problem_responses
from patron.core.exceptions import RecordNotFound, ValidationFailed

router = Router(tags=["Automation"])
MAX_BODY = 256 * 1024


class Accepted(Schema):
    run_id: int
    status: str


@router.post(
    "/automation/hooks/{token}",
    response={202: Accepted, **problem_responses(404, 413, 422)},
    summary="Start an inbound-webhook workflow",
    description="No other authentication: the token is the secret. Send a JSON object.",
    operation_id="automation_inbound_hook",
)
def inbound_hook(request: HttpRequest, token: str) -> Status[Any]:
    if len(request.body) > MAX_BODY:
        raise ValidationFailed(
            "The body is too large.", errors={"body": [f"Send at most {MAX_BODY} bytes."]}
        )
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "The body is not valid JSON.", errors={"body": [f"Not JSON: {exc}."]}
        ) from exc
    if not isinstance(payload, dict):
        raise ValidationFailed("Send a JSON object.", errors={"body": ["Send a JSON object."]})
    run = inbound_start(
        token=token, payload=payload, request_key=request.headers.get("Idempotency-Key", "")
    )
    if run is None:
        raise RecordNotFound("No active workflow has this URL.")
    return Status(202, {"run_id": run.pk, "status": run.status})
