"""vCard in the API: GET a contact as text/vcard, POST a .vcf to import (thin handlers)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header
from ninja import Router, Schema
from ninja.decorators import decorate_view
from pydantic import Field

from patron.contacts.models import Contact
from patron.contacts.selectors import contact_get
from patron.contacts.vcard import VCardError
from patron.contacts.vcard_services import (
    MAX_UPLOAD_BYTES,
    contact_vcard,
    contacts_import_vcard,
)
from patron.contacts.vcard_views import VCARD_CONTENT_TYPE, vcard_filename
from patron.core.api import idempotency
from patron.core.api.auth import request_user
from patron.core.api.problems import problem_response, problem_responses
from patron.core.choices import Action, Via
from patron.core.exceptions import PermissionDenied, ValidationFailed

router = Router(tags=["contacts"])

VCARD_BODY = {"schema": {"type": "string", "description": "vCard 4.0 text (RFC 6350)."}}


class CreatedCard(Schema):
    id: int
    name: str
    notes: list[str] = Field(description="What was left out of the card, and why.")


class SkippedCard(Schema):
    card: int = Field(description="The card's position in the file, from 1.")
    name: str
    reason: str


class FailedCard(Schema):
    card: int = Field(description="The card's position in the file, from 1.")
    name: str
    errors: list[str] = Field(description="Each names the vCard property, e.g. TEL 'abc' ...")


class ImportReportOut(Schema):
    created: list[CreatedCard]
    skipped: list[SkippedCard] = Field(
        description="Cards whose email belongs to a contact you can see already."
    )
    failed: list[FailedCard]


@router.get(
    "/contacts/{int:record_id}/vcard",
    response=problem_responses(401, 403, 404),
    summary="Get a contact as a vCard",
    description="The contact as one vCard 4.0 (RFC 6350); needs the export permission.",
    operation_id="contact_vcard_get",
    openapi_extra={
        "responses": {200: {"description": "The vCard.", "content": {"text/vcard": VCARD_BODY}}}
    },
)
def contact_vcard_get(request: HttpRequest, record_id: int) -> HttpResponse:
    user = request_user(request)
    contact = contact_get(user=user, pk=record_id)
    if not user.access_profile().may(Contact.object_type(), Action.EXPORT):
        raise PermissionDenied("Your role may not export contacts.")
    response = HttpResponse(contact_vcard(contact, user=user), content_type=VCARD_CONTENT_TYPE)
    response["Content-Disposition"] = (
        content_disposition_header(True, vcard_filename(contact.full_name)) or ""
    )
    return response


def _upload(request: HttpRequest) -> bytes | None:
    """The .vcf sent as the body (text/vcard) or as the multipart field ``file``."""
    if (request.content_type or "").startswith("multipart/"):
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed(
                "Send the .vcf as the multipart field 'file'.",
                errors={"file": ["This field is required."]},
            )
        if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
            return None
        content: bytes = upload.read()
        return content
    body = request.body
    return None if len(body) > MAX_UPLOAD_BYTES else body


@router.post(
    "/contacts/import/vcard",
    response={200: ImportReportOut, **problem_responses(400, 401, 403, 413, 422)},
    summary="Import contacts from a vCard file",
    description=(
        "Send a .vcf (vCard 4.0, 3.0 or 2.1; one or many cards; at most 5 MB) as the body "
        "with Content-Type text/vcard, or as the multipart field 'file'. Each card is saved on "
        "its own: the report lists the contacts created, the cards skipped because their "
        "email belongs to a contact you can see, and the cards that failed with the reason "
        "naming the property. A body that is not vCards is refused with 422."
    ),
    operation_id="contact_import_vcard",
    openapi_extra={
        "parameters": [idempotency.PARAMETER],
        "requestBody": {
            "required": True,
            "content": {
                "text/vcard": VCARD_BODY,
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        },
    },
)
@decorate_view(idempotency.idempotent)
def contact_import_vcard(request: HttpRequest) -> HttpResponseBase | dict[str, Any]:
    user = request_user(request)
    data = _upload(request)
    if data is None:
        return problem_response(
            request,
            413,
            f"The file is larger than the limit of {MAX_UPLOAD_BYTES // 1_048_576} MB.",
            errors={"file": ["Split the file into smaller ones."]},
        )
    try:
        report = contacts_import_vcard(user=user, data=data, via=Via.API)
    except VCardError as exc:
        raise ValidationFailed(str(exc), errors={"file": [str(exc)]}) from None
    return report.as_dict()
