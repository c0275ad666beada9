"""Playbooks in /api/v1/: playbooks and their versions, YAML export and import, an
opportunity's checklist and the adherence report (thin handlers over pipeline.playbooks)."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from patron.core.api.auth import request_user
from patron.core.api.problems import problem_response, problem_responses
from patron.core.choices import Action
from patron.core.exceptions import ValidationFailed
from patron.pipeline import playbooks
from patron.pipeline.models import Pipeline, Playbook, PlaybookVersion
from patron.pipeline.selectors import opportunity_get
from patron.users.api import api_auth

router = Router(tags=["playbooks"], auth=api_auth("sales"))

YAML_CONTENT_TYPE = "application/yaml"
YAML_BODY = {"schema": {"type": "string", "description": "A playbook as exported (YAML)."}}
MAX_IMPORT_BYTES = 512 * 1024
DEFINITION_DOC = (
    'The definition is {"stages": {<stage name>: {guidance, required_fields, '
    "required_checklist, checklist, call_script, email_templates: [{name, subject, body}], "
    "activity_plan: [{subject, day_offset, priority?, description?}]}}}. Problems are a 422 "
    "listing each under definition with its path, e.g. "
    "stages.Proposal.activity_plan[1].day_offset."
)


class VersionOut(Schema):
    id: int
    number: int
    note: str
    definition: dict[str, Any]
    created_by: int | None
    created_at: datetime.datetime


class PlaybookOut(Schema):
    id: int
    name: str
    pipeline: int
    pipeline_name: str
    active_version: int | None = Field(description="The number of the version in force.")
    created_at: datetime.datetime


class PlaybookInput(Schema):
    model_config = ConfigDict(extra="forbid")

    pipeline: int = Field(description="The id of a pipeline without a playbook.")
    name: str
    definition: dict[str, Any] | None = Field(None, description="Published as version 1.")
    note: str = ""


class PublishInput(Schema):
    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any] = Field(description=DEFINITION_DOC)
    note: str = ""


class ChecklistItemOut(Schema):
    item: str
    required: bool
    ticked: bool
    done_by: int | None
    done_at: datetime.datetime | None


class ChecklistOut(Schema):
    stage: int
    stage_name: str
    playbook_version: int | None = Field(description="The id of the version in force.")
    items: list[ChecklistItemOut]
    exit_missing: str = Field(description="What blocks moving forward, or empty when ready.")


class TickInput(Schema):
    model_config = ConfigDict(extra="forbid")

    item: str = Field(description="A checklist item of the opportunity's current stage.")


class AdherenceFigures(Schema):
    closed: int
    won: int
    win_rate: float | None = Field(description="Won / closed in %, null when none closed.")


class AdherenceOut(Schema):
    version: int
    followed: AdherenceFigures
    not_followed: AdherenceFigures


def _playbook(playbook: Playbook) -> dict[str, Any]:
    return {
        "id": playbook.pk,
        "name": playbook.name,
        "pipeline": playbook.pipeline_id,
        "pipeline_name": playbook.pipeline.name,
        "active_version": playbook.active_version.number if playbook.active_version else None,
        "created_at": playbook.created_at,
    }


def _version(version: PlaybookVersion) -> dict[str, Any]:
    return {
        "id": version.pk,
        "number": version.number,
        "note": version.note,
        "definition": version.definition,
        "created_by": version.created_by_id,
        "created_at": version.created_at,
    }


@router.get(
    "/playbooks",
    response={200: list[PlaybookOut], **problem_responses(401, 403)},
    summary="List playbooks",
    description="One playbook per pipeline, with the number of the version in force.",
    operation_id="playbook_list",
)
def playbook_index(request: HttpRequest) -> list[dict[str, Any]]:
    request_user(request)
    return [_playbook(playbook) for playbook in playbooks.playbook_list()]


@router.post(
    "/playbooks",
    response={201: PlaybookOut, **problem_responses(400, 401, 403, 422)},
    summary="Create a playbook for a pipeline",
    description="Administrators only. " + DEFINITION_DOC,
    operation_id="playbook_create",
)
def playbook_add(request: HttpRequest, payload: PlaybookInput) -> Status[Any]:
    user = request_user(request)
    pipeline = Pipeline.objects.filter(pk=payload.pipeline).first()
    if pipeline is None:
        raise ValidationFailed(
            "The playbook was not created.",
            errors={"pipeline": [f"There is no pipeline with id {payload.pipeline}."]},
        )
    playbook = playbooks.playbook_create(
        user=user,
        pipeline=pipeline,
        name=payload.name,
        definition=payload.definition,
        note=payload.note,
    )
    return Status(201, _playbook(playbooks.playbook_get(pk=playbook.pk)))


@router.get(
    "/playbooks/{int:playbook_id}/versions",
    response={200: list[VersionOut], **problem_responses(401, 403, 404)},
    summary="List a playbook's versions",
    description="Newest first; published versions never change.",
    operation_id="playbook_version_list",
)
def version_index(request: HttpRequest, playbook_id: int) -> list[dict[str, Any]]:
    request_user(request)
    playbook = playbooks.playbook_get(pk=playbook_id)
    return [_version(version) for version in playbooks.playbook_versions(playbook=playbook)]


@router.post(
    "/playbooks/{int:playbook_id}/versions",
    response={201: VersionOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Publish a new version of a playbook",
    description="Administrators only; the new version becomes the active one. " + DEFINITION_DOC,
    operation_id="playbook_version_publish",
)
def version_publish(request: HttpRequest, playbook_id: int, payload: PublishInput) -> Status[Any]:
    user = request_user(request)
    playbook = playbooks.playbook_get(pk=playbook_id)
    version = playbooks.playbook_publish_version(
        user=user, playbook=playbook, definition=payload.definition, note=payload.note
    )
    return Status(201, _version(version))


@router.get(
    "/playbooks/{int:playbook_id}/export",
    response=problem_responses(401, 403, 404),
    summary="Export a playbook as YAML",
    description="The active version, or ?version=<number>; import it back with "
    "POST /playbooks/import.",
    operation_id="playbook_export",
    openapi_extra={
        "responses": {
            200: {"description": "The playbook.", "content": {YAML_CONTENT_TYPE: YAML_BODY}}
        }
    },
)
def playbook_export(request: HttpRequest, playbook_id: int, version: int | None = None) -> Any:
    request_user(request)
    playbook = playbooks.playbook_get(pk=playbook_id)
    number = version or (playbook.active_version.number if playbook.active_version else None)
    if number is None:
        return problem_response(request, 404, f"“{playbook.name}” has no published version.")
    chosen = playbooks.playbook_version_get(playbook=playbook, number=number)
    response = HttpResponse(
        playbooks.playbook_export_yaml(version=chosen),
        content_type=f"{YAML_CONTENT_TYPE}; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="playbook-{playbook.pk}-v{chosen.number}.yaml"'
    )
    return response


@router.post(
    "/playbooks/import",
    response={201: VersionOut, **problem_responses(400, 401, 403, 413, 422)},
    summary="Import a playbook from YAML",
    description="Administrators only. Send the exported YAML as the body "
    f"(Content-Type {YAML_CONTENT_TYPE}, at most 512 KB). It is published as a new version "
    "of the pipeline's playbook (created if the pipeline has none). Malformed YAML is a 422 "
    "naming the line; nothing is saved.",
    operation_id="playbook_import",
    openapi_extra={"requestBody": {"required": True, "content": {YAML_CONTENT_TYPE: YAML_BODY}}},
)
def playbook_import(request: HttpRequest) -> HttpResponseBase | Status[Any]:
    user = request_user(request)
    body = request.body
    if len(body) > MAX_IMPORT_BYTES:
        return problem_response(request, 413, "The playbook is larger than 512 KB.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(
            "The body is not UTF-8 text.", errors={"file": ["Send the YAML as UTF-8."]}
        ) from None
    version = playbooks.playbook_import_yaml(user=user, text=text)
    return Status(201, _version(version))


@router.get(
    "/playbooks/{int:playbook_id}/adherence",
    response={200: list[AdherenceOut], **problem_responses(401, 403, 404)},
    summary="Playbook adherence: win rates with and without the checklist",
    description="Per version (newest first): closed opportunities you can see that worked "
    "under it, split by whether every checklist item of the stages they passed was ticked.",
    operation_id="playbook_adherence",
)
def adherence(request: HttpRequest, playbook_id: int) -> list[dict[str, Any]]:
    user = request_user(request)
    playbook = playbooks.playbook_get(pk=playbook_id)
    return [
        {
            "version": row.version.number,
            "followed": {
                "closed": row.followed.closed,
                "won": row.followed.won,
                "win_rate": row.followed.win_rate,
            },
            "not_followed": {
                "closed": row.not_followed.closed,
                "won": row.not_followed.won,
                "win_rate": row.not_followed.win_rate,
            },
        }
        for row in playbooks.playbook_adherence(user=user, playbook=playbook)
    ]


def _checklist(opportunity_id: int, request: HttpRequest) -> dict[str, Any]:
    user = request_user(request)
    opportunity = opportunity_get(user=user, pk=opportunity_id)
    state = playbooks.checklist_state(opportunity)
    return {
        "stage": opportunity.stage_id,
        "stage_name": opportunity.stage.name,
        "playbook_version": state.version.pk if state.version else None,
        "items": state.items,
        "exit_missing": state.exit_missing,
    }


_CHECKLIST = "/opportunities/{int:opportunity_id}/checklist"


@router.get(
    _CHECKLIST,
    response={200: ChecklistOut, **problem_responses(401, 403, 404)},
    summary="An opportunity's playbook checklist",
    description="The items of its current stage, which are ticked, and what still blocks "
    "moving forward (the stage's exit criteria).",
    operation_id="opportunity_checklist",
)
def checklist_get(request: HttpRequest, opportunity_id: int) -> dict[str, Any]:
    return _checklist(opportunity_id, request)


@router.post(
    _CHECKLIST,
    response={200: ChecklistOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Tick a checklist item",
    description="Needs edit access to the opportunity; ticking a ticked item changes nothing.",
    operation_id="opportunity_checklist_tick",
)
def checklist_tick(request: HttpRequest, opportunity_id: int, payload: TickInput) -> dict[str, Any]:
    user = request_user(request)
    opportunity = opportunity_get(user=user, pk=opportunity_id, action=Action.UPDATE)
    playbooks.checklist_tick(user=user, opportunity=opportunity, item=payload.item)
    return _checklist(opportunity_id, request)


@router.delete(
    _CHECKLIST,
    response={200: ChecklistOut, **problem_responses(400, 401, 403, 404, 422)},
    summary="Untick a checklist item",
    description="Needs edit access to the opportunity; ?item=<text>.",
    operation_id="opportunity_checklist_untick",
)
def checklist_untick(request: HttpRequest, opportunity_id: int, item: str) -> dict[str, Any]:
    user = request_user(request)
    opportunity = opportunity_get(user=user, pk=opportunity_id, action=Action.UPDATE)
    playbooks.checklist_untick(user=user, opportunity=opportunity, item=item)
    return _checklist(opportunity_id, request)
