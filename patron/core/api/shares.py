"""``/<records>/{id}/shares``: explicit shares as a sub-resource of any business record.

Each app adds the routes to its router with ``add_share_routes`` so the token scope of the
record's area applies.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, Literal

from django.apps import apps
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.core.api.auth import request_user
from patron.core.api.problems import problem_responses
from patron.core.choices import ShareAccess
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.models import BusinessRecord, RecordShare
from patron.core.sharing import share_grant, share_list, share_revoke

RecordGetter = Callable[..., BusinessRecord]


class ShareOut(Schema):
    id: int
    grantee_type: Literal["user", "team", "role"]
    grantee_id: int
    grantee_name: str
    access: ShareAccess
    created_at: datetime.datetime


class ShareInput(Schema):
    model_config = ConfigDict(extra="forbid")

    grantee_type: Literal["user", "team", "role"]
    grantee_id: int
    access: ShareAccess = Field(ShareAccess.READ, description="read, or edit (read and edit).")


def share_data(share: RecordShare) -> dict[str, Any]:
    for kind in ("user", "team", "role"):
        grantee = getattr(share, kind)
        if grantee is not None:
            return {
                "id": share.pk,
                "grantee_type": kind,
                "grantee_id": grantee.pk,
                "grantee_name": str(grantee),
                "access": share.access,
                "created_at": share.created_at,
            }
    raise ValueError("A share without a grantee")  # the check constraint forbids it


def _grantee(payload: ShareInput) -> dict[str, Any]:
    model = (
        get_user_model()
        if payload.grantee_type == "user"
        else apps.get_model("users", payload.grantee_type.capitalize())
    )
    grantee = model._default_manager.filter(pk=payload.grantee_id).first()
    if grantee is None:
        raise ValidationFailed(
            "The grantee does not exist.",
            errors={"grantee_id": [f"No {payload.grantee_type} with id {payload.grantee_id}."]},
        )
    return {f"grantee_{payload.grantee_type}": grantee}


def add_share_routes(router: Router, *, prefix: str, noun: str, get_record: RecordGetter) -> None:
    """Add GET/POST ``{prefix}/{id}/shares`` and DELETE ``.../shares/{share_id}``."""
    base = f"{prefix}/{{int:record_id}}/shares"
    tag = f"{noun}_shares"

    @router.get(
        base,
        response={200: list[ShareOut], **problem_responses(401, 403, 404)},
        summary=f"List who a {noun} is shared with",
        operation_id=f"{tag}_list",
    )
    def shares_index(request: HttpRequest, record_id: int) -> list[dict[str, Any]]:
        record = get_record(user=request_user(request), pk=record_id)
        return [share_data(share) for share in share_list(record=record)]

    @router.post(
        base,
        response={201: ShareOut, **problem_responses(400, 401, 403, 404, 422)},
        summary=f"Share a {noun} with a user, team or role",
        description=(
            "Only the owner, managers above the owner and administrators may share. Sharing "
            "again with the same grantee changes the access."
        ),
        operation_id=f"{tag}_create",
    )
    def shares_add(
        request: HttpRequest, record_id: int, payload: ShareInput
    ) -> Status[dict[str, Any]]:
        user = request_user(request)
        record = get_record(user=user, pk=record_id)
        share = share_grant(user=user, record=record, access=payload.access, **_grantee(payload))
        return Status(201, share_data(share))

    @router.delete(
        f"{base}/{{int:share_id}}",
        response={204: None, **problem_responses(401, 403, 404)},
        summary=f"Stop sharing a {noun}",
        operation_id=f"{tag}_delete",
    )
    def shares_remove(request: HttpRequest, record_id: int, share_id: int) -> HttpResponse:
        user = request_user(request)
        record = get_record(user=user, pk=record_id)
        share = next((s for s in share_list(record=record) if s.pk == share_id), None)
        if share is None:
            raise RecordNotFound(f"This {noun} has no share with id {share_id}.")
        share_revoke(user=user, share=share)
        return HttpResponse(status=204)
