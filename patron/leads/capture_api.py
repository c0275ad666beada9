"""The public capture endpoint, keyed by a capture form's key (no authentication).

Browsers on the form's allowed origins may post it (CORS, with the OPTIONS preflight);
requests without an Origin header (servers, scripts) are accepted from anywhere. Spam is
answered like success; too many submissions from one address in an hour get 429.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Body, Router, Schema
from pydantic import Field

from patron.core.api.problems import problem_response, problem_responses
from patron.core.choices import Via
from patron.core.exceptions import RecordNotFound
from patron.leads import selectors
from patron.leads.capture import capture_submit, origin_allowed
from patron.leads.capture_views import confirm_url_for
from patron.leads.choices import CaptureOutcome
from patron.leads.models import CaptureForm
from patron.users.throttle import client_ip

router = Router(tags=["Lead capture"])

PREFLIGHT_MAX_AGE = "86400"


class CaptureAccepted(Schema):
    status: str = Field(description="Always 'received' (spam is not told apart).")
    message: str = Field(description="The form's thank-you message.")
    redirect_url: str = Field(description="Where the form sends visitors, if anywhere.")


def _cors(response: HttpResponse, form: CaptureForm | None, origin: str) -> HttpResponse:
    if form is not None and origin and origin_allowed(form, origin):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type, Accept"
        response["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        response["Vary"] = "Origin"
    return response


def _form_or_problem(request: HttpRequest, key: str) -> CaptureForm | HttpResponse:
    try:
        return selectors.capture_form_by_key(key)
    except RecordNotFound as error:
        return problem_response(request, 404, error.detail, title="Unknown capture form")


@router.api_operation(
    ["OPTIONS"],
    "/capture/{key}",
    response={204: None, **problem_responses(403, 404)},
    summary="CORS preflight for the capture endpoint",
    operation_id="lead_capture_preflight",
)
def capture_preflight(request: HttpRequest, key: str) -> HttpResponse:
    found = _form_or_problem(request, key)
    if isinstance(found, HttpResponse):
        return found
    origin = request.headers.get("Origin", "")
    if not origin_allowed(found, origin):
        return problem_response(
            request,
            403,
            f"The origin {origin or '(none)'} may not post this form; an administrator adds "
            "it to the form's allowed origins.",
            title="Origin not allowed",
        )
    return _cors(HttpResponse(status=204), found, origin)


@router.post(
    "/capture/{key}",
    response={200: CaptureAccepted, **problem_responses(400, 403, 404, 422, 429)},
    summary="Submit a lead capture form (public, keyed by the form's key)",
    description=(
        'Send the form\'s fields as a JSON object (e.g. {"last_name": "Lee", "email": '
        '"ana@example.com"}). Missing required fields or a bad email answer 422 naming each '
        "field. Browsers may post only from the form's allowed origins."
    ),
    operation_id="lead_capture",
)
def capture(
    request: HttpRequest,
    key: str,
    payload: Body[dict[str, Any]],
) -> HttpResponse | dict[str, Any]:
    found = _form_or_problem(request, key)
    if isinstance(found, HttpResponse):
        return found
    form = found
    origin = request.headers.get("Origin", "")
    if origin and not origin_allowed(form, origin):
        return problem_response(
            request,
            403,
            f"The origin {origin} may not post this form; an administrator adds it to the "
            "form's allowed origins.",
            title="Origin not allowed",
        )
    result = capture_submit(
        form=form,
        data={str(k): v for k, v in payload.items() if not isinstance(v, dict | list)},
        sender_address=client_ip(request) or "unknown",
        confirm_url=confirm_url_for(request),
        require_fill_token=False,
        via=Via.API,
    )
    if result.outcome == CaptureOutcome.RATE_LIMITED:
        response = problem_response(
            request,
            429,
            "Too many submissions from your address in the last hour; try again later.",
            title="Too many submissions",
            headers={"Retry-After": "3600"},
        )
    elif result.outcome == CaptureOutcome.INVALID:
        fields = ", ".join(sorted(result.errors))
        response = problem_response(
            request, 422, f"Some fields are missing or not valid: {fields}.", errors=result.errors
        )
    else:
        response = HttpResponse(
            json.dumps(
                {
                    "status": "received",
                    "message": form.thank_you_message,
                    "redirect_url": form.redirect_url,
                }
            ),
            content_type="application/json",
        )
    return _cors(response, form, origin)
