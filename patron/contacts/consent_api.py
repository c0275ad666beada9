"""Consent history, recording and the consent check in /api/v1/ (the current answers are
``GET /contacts/{id}/consents`` in related_list_api).

- ``GET /contacts/{id}/consent-history``: every answer, newest first (keyset pages), optionally
  for one ``purpose``;
- ``POST /contacts/{id}/consent-history``: record an answer (purpose in the body); the
  current answer for that purpose becomes this one and the history gains a row (``PUT
  /contacts/{id}/consents/{purpose}`` does the same with the purpose in the path);
- ``GET /contacts/{id}/consent-check/{purpose}``: the ``has_consent`` check other systems ask.

(Paths sit beside ``/consents/{purpose}``, which would otherwise take "history" as a purpose.)

No ``from __future__ import annotations``: Ninja reads the handlers' annotations.
"""

import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.contacts.choices import ConsentSource, ConsentStatus
from patron.contacts.consent import consent_history, has_consent, purpose_label
from patron.contacts.models import ContactConsentChange
from patron.contacts.related_list_selectors import related_contact_get
from patron.contacts.related_list_services import consent_record
from patron.core.api.auth import request_user
from patron.core.api.pagination import ListParams, Page, keyset_page, page_body, sort_columns
from patron.core.api.problems import problem_responses
from patron.core.choices import Action, Via
from patron.core.exceptions import ValidationFailed

router = Router(tags=["contact related lists"])

READ_ERRORS = problem_responses(400, 401, 403, 404, 422)
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 422)
HISTORY_SORTS = {"-recorded": ("-recorded_at", "-id")}
_ACCESS = (
    "Reading needs read access to the contact, recording edit access (403 otherwise); a "
    "contact you cannot see is a 404."
)
_BASE = "/contacts/{int:contact_id}"


class ConsentChangeOut(Schema):
    id: int
    contact_id: int
    purpose: str
    purpose_label: str
    status: str
    source: str
    source_detail: str
    given_at: datetime.datetime
    recorded_at: datetime.datetime
    recorded_by_id: int | None
    via: str


class ConsentRecordIn(Schema):
    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(description="A consent purpose key, e.g. newsletter.")
    status: ConsentStatus
    source: ConsentSource
    source_detail: str = Field("", description="Form URL, email reference, call notes, ...")
    given_at: datetime.datetime | None = Field(
        None, description="When the person answered (default: now); not in the future."
    )


class ConsentCheckOut(Schema):
    contact_id: int
    purpose: str
    granted: bool


class HistoryParams(ListParams):
    purpose: str = Field("", description="Only answers for this purpose.")


def _change(row: ContactConsentChange) -> dict[str, Any]:
    return {
        "id": row.pk,
        "contact_id": row.contact_id,
        "purpose": row.purpose,
        "purpose_label": purpose_label(row.purpose),
        "status": row.status,
        "source": row.source,
        "source_detail": row.source_detail,
        "given_at": row.given_at,
        "recorded_at": row.recorded_at,
        "recorded_by_id": row.recorded_by_id,
        "via": row.via,
    }


@router.get(
    f"{_BASE}/consent-history",
    response={200: Page[ConsentChangeOut], **READ_ERRORS},
    summary="A contact's consent answers over time",
    description="Every answer ever recorded, newest first, one page at a time (pass "
    "next_cursor as ?cursor=). " + _ACCESS,
    operation_id="contact_consent_history",
)
def consent_history_index(
    request: HttpRequest, contact_id: int, params: Query[HistoryParams]
) -> dict[str, Any]:
    contact = related_contact_get(user=request_user(request), pk=contact_id)
    sort, columns = sort_columns(params.sort, HISTORY_SORTS, "-recorded")
    rows, next_cursor = keyset_page(
        consent_history(contact, params.purpose),
        sort=sort,
        columns=columns,
        limit=params.limit,
        cursor=params.cursor,
    )
    return page_body([_change(row) for row in rows], next_cursor)


@router.post(
    f"{_BASE}/consent-history",
    response={201: ConsentChangeOut, **WRITE_ERRORS},
    summary="Record a contact's consent answer",
    description="The answer becomes the current one for its purpose and is added to the "
    "history. A marketing_email answer also sets the contact's email_opt_out. " + _ACCESS,
    operation_id="contact_consent_record",
)
def consent_record_create(
    request: HttpRequest, contact_id: int, payload: ConsentRecordIn
) -> Status[dict[str, Any]]:
    user = request_user(request)
    contact = related_contact_get(user=user, pk=contact_id, action=Action.UPDATE)
    try:
        consent_record(
            user=user,
            contact=contact,
            purpose=payload.purpose,
            status=payload.status,
            source=payload.source,
            recorded_at=payload.given_at,
            evidence=payload.source_detail,
            via=Via.API,
        )
    except ValidationFailed as error:
        renames = {"evidence": "source_detail", "recorded_at": "given_at"}
        error.errors = {renames.get(k, k): v for k, v in error.errors.items()}
        raise
    latest = consent_history(contact, payload.purpose).first()
    assert latest is not None  # consent_record always leaves a history row
    return Status(201, _change(latest))


@router.get(
    f"{_BASE}/consent-check/{{purpose}}",
    response={200: ConsentCheckOut, **READ_ERRORS},
    summary="Whether a contact currently consents to a purpose",
    description="True only when the current answer is granted. " + _ACCESS,
    operation_id="contact_consent_check",
)
def consent_check(request: HttpRequest, contact_id: int, purpose: str) -> dict[str, Any]:
    contact = related_contact_get(user=request_user(request), pk=contact_id)
    return {"contact_id": contact.pk, "purpose": purpose, "granted": has_consent(contact, purpose)}
