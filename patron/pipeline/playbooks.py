"""Playbooks: per-stage best practice for a pipeline, in immutable published versions.

A version's ``definition`` is ``{"stages": {<stage name>: <stage content>}}`` where each
stage's content has these keys (all optional when written, all present once validated):

- ``guidance``: text shown on the opportunity while it is in the stage;
- ``required_fields``: names of opportunity fields that must be filled before moving on;
- ``required_checklist``: checklist items that must be ticked before moving on;
- ``checklist``: the stage's checklist items (the required ones are among them);
- ``call_script``: text;
- ``email_templates``: ``[{"name", "subject", "body"}]``;
- ``activity_plan``: ``[{"subject", "day_offset" (>= 0), "priority"?, "description"?}]``,
  tasks created for the owner when an opportunity enters the stage.

One playbook per pipeline; its active version is in force: the exit criteria of the stage an
opportunity leaves (moving forward, not to a lost stage) are checked against it, and entering
a stage creates its activity plan and records the version on the opportunity.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from patron.activities.choices import ActivityKind, TaskPriority, TaskStatus
from patron.activities.models import Activity, ActivityLink
from patron.activities.services import activity_create
from patron.core.choices import Action, Via
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.visibility import Principal, can_access, require_admin
from patron.pipeline.choices import ForecastCategory
from patron.pipeline.models import (
    ChecklistTick,
    Opportunity,
    Pipeline,
    Playbook,
    PlaybookVersion,
    Stage,
    StageHistory,
)

logger = logging.getLogger(__name__)

STAGE_KEYS = (
    "guidance",
    "required_fields",
    "required_checklist",
    "checklist",
    "call_script",
    "email_templates",
    "activity_plan",
)

PLAYBOOK_ADMIN_ONLY = "Only administrators change playbooks."
# Columns the services derive or that belong to the record's bookkeeping: a playbook cannot
# ask a rep to "fill them in".
_NOT_REQUIRABLE = frozenset(
    {
        "id",
        "version",
        "created_at",
        "updated_at",
        "created_by",
        "deleted_at",
        "deleted_by",
        "custom",
        "pipeline",
        "stage",
        "probability",
        "probability_is_manual",
        "forecast_category",
        "amount_org",
        "is_closed",
        "is_won",
        "closed_on",
        "stage_entered_at",
        "playbook_version",
        "external_id",
        "loss_reason",
        "loss_note",
    }
)
# Tasks of an activity plan fall due at this local hour of the owner's day.
PLAN_DUE_HOUR = 9


def requirable_fields() -> dict[str, str]:
    """Opportunity fields a playbook may require, name -> label."""
    return {
        field.name: str(field.verbose_name)[:1].upper() + str(field.verbose_name)[1:]
        for field in Opportunity._meta.concrete_fields
        if field.name not in _NOT_REQUIRABLE
    }


# --- the definition ---------------------------------------------------------------------------


def _text(value: Any, path: str, problems: list[str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(f"{path} must be text.")
        return ""
    return value.strip()


def _text_list(value: Any, path: str, problems: list[str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(f"{path} must be a list of texts.")
        return []
    items: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            problems.append(f"{path}[{index}] must be a non-empty text.")
        elif item.strip() in items:
            problems.append(f"{path}[{index}] “{item.strip()}” is listed twice.")
        elif len(item.strip()) > 255:
            problems.append(f"{path}[{index}] must be 255 characters or fewer.")
        else:
            items.append(item.strip())
    return items


def _records(value: Any, path: str, problems: list[str]) -> list[tuple[str, dict[str, Any]]]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(f"{path} must be a list.")
        return []
    rows: list[tuple[str, dict[str, Any]]] = []
    for index, row in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(row, dict):
            problems.append(f"{where} must be a mapping (name: value pairs).")
        else:
            rows.append((where, row))
    return rows


def _unknown_keys(row: dict[str, Any], allowed: tuple[str, ...], path: str) -> list[str]:
    return [
        f"{path}.{key} is not a known key; use {', '.join(allowed)}."
        for key in row
        if key not in allowed
    ]


def _email_templates(value: Any, path: str, problems: list[str]) -> list[dict[str, str]]:
    templates: list[dict[str, str]] = []
    keys = ("name", "subject", "body")
    for where, row in _records(value, path, problems):
        problems.extend(_unknown_keys(row, keys, where))
        template = {key: _text(row.get(key), f"{where}.{key}", problems) for key in keys}
        if not template["name"]:
            problems.append(f"{where}.name is required.")
        templates.append(template)
    return templates


def _activity_plan(value: Any, path: str, problems: list[str]) -> list[dict[str, Any]]:
    plan: list[dict[str, Any]] = []
    keys = ("subject", "day_offset", "priority", "description")
    for where, row in _records(value, path, problems):
        problems.extend(_unknown_keys(row, keys, where))
        subject = _text(row.get("subject"), f"{where}.subject", problems)
        if not subject:
            problems.append(f"{where}.subject is required.")
        elif len(subject) > 300:
            problems.append(f"{where}.subject must be 300 characters or fewer.")
        offset = row.get("day_offset")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            problems.append(f"{where}.day_offset must be a whole number of days, 0 or more.")
            offset = 0
        priority = _text(row.get("priority"), f"{where}.priority", problems) or (
            TaskPriority.NORMAL.value
        )
        if priority not in TaskPriority.values:
            problems.append(f"{where}.priority must be one of: {', '.join(TaskPriority.values)}.")
        task: dict[str, Any] = {"subject": subject, "day_offset": offset, "priority": priority}
        task["description"] = _text(row.get("description"), f"{where}.description", problems)
        plan.append(task)
    return plan


def validate_definition(definition: Any, *, pipeline: Pipeline) -> dict[str, Any]:
    """The normalised definition (every key present, stages in pipeline order).

    Raises ValidationFailed with one message per problem under ``definition``, each naming
    the path, e.g. "stages.Proposal.activity_plan[1].day_offset must be ...".
    """
    problems: list[str] = []
    if not isinstance(definition, dict):
        raise ValidationFailed(
            "The playbook definition is not valid.",
            errors={"definition": ['The definition must be a mapping with a "stages" key.']},
        )
    problems.extend(
        f"{key} is not a known key; the definition has only stages."
        for key in definition
        if key != "stages"
    )
    stages = definition.get("stages") or {}
    if not isinstance(stages, dict):
        problems.append("stages must map stage names to their content.")
        stages = {}
    known = list(pipeline.stages.order_by("position", "pk").values_list("name", flat=True))
    fields = requirable_fields()
    normalised: dict[str, dict[str, Any]] = {}
    for name, content in stages.items():
        path = f"stages.{name}"
        if name not in known:
            problems.append(
                f"{path}: “{name}” is not a stage of “{pipeline.name}”; "
                f"use one of: {', '.join(known)}."
            )
            continue
        if content is None:
            content = {}
        if not isinstance(content, dict):
            problems.append(f"{path} must be a mapping of {', '.join(STAGE_KEYS)}.")
            continue
        problems.extend(_unknown_keys(content, STAGE_KEYS, path))
        required_fields = _text_list(
            content.get("required_fields"), f"{path}.required_fields", problems
        )
        for index, field in enumerate(required_fields):
            if field not in fields:
                problems.append(
                    f"{path}.required_fields[{index}] “{field}” is not an opportunity field "
                    f"a rep fills in; use one of: {', '.join(sorted(fields))}."
                )
        checklist = _text_list(content.get("checklist"), f"{path}.checklist", problems)
        required = _text_list(
            content.get("required_checklist"), f"{path}.required_checklist", problems
        )
        for index, item in enumerate(required):
            if item not in checklist:
                problems.append(
                    f"{path}.required_checklist[{index}] “{item}” must also be in {path}.checklist."
                )
        normalised[name] = {
            "guidance": _text(content.get("guidance"), f"{path}.guidance", problems),
            "required_fields": required_fields,
            "required_checklist": required,
            "checklist": checklist,
            "call_script": _text(content.get("call_script"), f"{path}.call_script", problems),
            "email_templates": _email_templates(
                content.get("email_templates"), f"{path}.email_templates", problems
            ),
            "activity_plan": _activity_plan(
                content.get("activity_plan"), f"{path}.activity_plan", problems
            ),
        }
    if problems:
        raise ValidationFailed(
            "The playbook definition is not valid: "
            + problems[0]
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            errors={"definition": problems},
        )
    return {"stages": {name: normalised[name] for name in known if name in normalised}}


def stage_content(definition: dict[str, Any], stage_name: str) -> dict[str, Any] | None:
    content = (definition.get("stages") or {}).get(stage_name)
    return content if isinstance(content, dict) else None


# --- YAML -------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Multi-line texts (guidance, scripts, e-mail bodies) as readable literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def playbook_export_yaml(*, version: PlaybookVersion) -> str:
    playbook = version.playbook
    document = {
        "playbook": playbook.name,
        "pipeline": playbook.pipeline.name,
        "version": version.number,
        "note": version.note,
        **version.definition,
    }
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def parse_yaml(text: str) -> dict[str, Any]:
    """The YAML document as a mapping, or ValidationFailed naming the line."""
    try:
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        message = f"The YAML is not valid{where}: {exc.problem or exc.context}. Nothing was saved."
        raise ValidationFailed(message, errors={"file": [message]}) from exc
    except yaml.YAMLError as exc:
        message = f"The YAML is not valid: {exc}. Nothing was saved."
        raise ValidationFailed(message, errors={"file": [message]}) from exc
    if not isinstance(document, dict):
        message = (
            "The YAML must be a mapping with playbook, pipeline and stages keys "
            "(as exported). Nothing was saved."
        )
        raise ValidationFailed(message, errors={"file": [message]})
    return document


# --- services ---------------------------------------------------------------------------------


def playbook_create(
    *,
    user: Principal,
    pipeline: Pipeline,
    name: str,
    definition: dict[str, Any] | None = None,
    note: str = "",
) -> Playbook:
    """A playbook for ``pipeline`` (one per pipeline), with version 1 if ``definition``."""
    require_admin(user, PLAYBOOK_ADMIN_ONLY)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Name the playbook.", errors={"name": ["Name the playbook."]})
    if len(name) > 100:
        raise ValidationFailed(
            "The name is too long.", errors={"name": ["Use 100 characters or fewer."]}
        )
    existing = Playbook.objects.filter(pipeline=pipeline).first()
    if existing is not None:
        message = (
            f"“{pipeline.name}” already has the playbook “{existing.name}”; "
            "publish a new version of it instead."
        )
        raise ValidationFailed(message, errors={"pipeline": [message]})
    with transaction.atomic():
        playbook = Playbook.objects.create(pipeline=pipeline, name=name)
        if definition is not None:
            playbook_publish_version(user=user, playbook=playbook, definition=definition, note=note)
    return playbook


def playbook_publish_version(
    *, user: Principal, playbook: Playbook, definition: Any, note: str = ""
) -> PlaybookVersion:
    """A new immutable version from ``definition``; it becomes the active version."""
    require_admin(user, PLAYBOOK_ADMIN_ONLY)
    clean = validate_definition(definition, pipeline=playbook.pipeline)
    note = (note or "").strip()
    if len(note) > 255:
        raise ValidationFailed(
            "The note is too long.", errors={"note": ["Use 255 characters or fewer."]}
        )
    with transaction.atomic():
        locked = Playbook.objects.select_for_update().get(pk=playbook.pk)
        last = locked.versions.aggregate(last=Max("number"))["last"] or 0
        version = PlaybookVersion.objects.create(
            playbook=locked,
            number=last + 1,
            definition=clean,
            note=note,
            created_by_id=getattr(user, "pk", None),
        )
        locked.active_version = version
        locked.save(update_fields=["active_version"])
    playbook.active_version = version
    return version


def playbook_import_yaml(*, user: Principal, text: str) -> PlaybookVersion:
    """Publish the exported YAML ``text`` as a new version (creating the playbook if new)."""
    require_admin(user, PLAYBOOK_ADMIN_ONLY)
    document = parse_yaml(text)
    errors: dict[str, list[str]] = {}
    pipeline_name = document.get("pipeline")
    playbook_name = document.get("playbook")
    pipeline = None
    if not isinstance(pipeline_name, str) or not pipeline_name.strip():
        errors["pipeline"] = ["Say which pipeline the playbook is for (pipeline: <name>)."]
    else:
        pipeline = Pipeline.objects.filter(name=pipeline_name.strip()).first()
        if pipeline is None:
            errors["pipeline"] = [f"There is no pipeline named “{pipeline_name.strip()}”."]
    if not isinstance(playbook_name, str) or not playbook_name.strip():
        errors["playbook"] = ["Name the playbook (playbook: <name>)."]
    if errors or pipeline is None or not isinstance(playbook_name, str):
        raise ValidationFailed("The playbook was not imported.", errors=errors)
    note = document.get("note")
    definition = {key: value for key, value in document.items() if key not in _YAML_HEADER}
    with transaction.atomic():
        playbook = Playbook.objects.filter(pipeline=pipeline).first()
        if playbook is None:
            playbook = playbook_create(user=user, pipeline=pipeline, name=playbook_name)
        elif playbook.name != playbook_name.strip():
            message = (
                f"“{pipeline.name}” has the playbook “{playbook.name}”, not “{playbook_name}”; "
                "rename it in the file to publish a new version of it."
            )
            raise ValidationFailed(message, errors={"playbook": [message]})
        return playbook_publish_version(
            user=user,
            playbook=playbook,
            definition=definition,
            note=note if isinstance(note, str) else "Imported from YAML",
        )


_YAML_HEADER = frozenset({"playbook", "pipeline", "version", "note"})


def _checklist_target(
    user: Principal, opportunity: Opportunity, stage: Stage | None, item: str
) -> tuple[Stage, PlaybookVersion]:
    if not can_access(user, opportunity, Action.UPDATE):
        raise PermissionDenied("Only users who may edit the opportunity tick its checklist.")
    stage = stage or opportunity.stage
    version = active_version(opportunity.pipeline_id)
    content = stage_content(version.definition, stage.name) if version else None
    if version is None or content is None or item not in content["checklist"]:
        message = f"“{item}” is not on the playbook checklist of “{stage.name}”."
        raise ValidationFailed(message, errors={"item": [message]})
    return stage, version


def checklist_tick(
    *, user: Principal, opportunity: Opportunity, item: str, stage: Stage | None = None
) -> ChecklistTick:
    """Tick ``item`` of the stage's checklist (the current stage unless given); idempotent."""
    stage, version = _checklist_target(user, opportunity, stage, item)
    try:
        with transaction.atomic():
            tick, _ = ChecklistTick.objects.get_or_create(
                opportunity=opportunity,
                stage=stage,
                item=item,
                defaults={"playbook_version": version, "done_by_id": getattr(user, "pk", None)},
            )
    except IntegrityError:
        # A concurrent tick of the same item won the race; the item is ticked either way.
        tick = ChecklistTick.objects.get(opportunity=opportunity, stage=stage, item=item)
    return tick


def checklist_untick(
    *, user: Principal, opportunity: Opportunity, item: str, stage: Stage | None = None
) -> None:
    if not can_access(user, opportunity, Action.UPDATE):
        raise PermissionDenied("Only users who may edit the opportunity tick its checklist.")
    ChecklistTick.objects.filter(
        opportunity=opportunity, stage=stage or opportunity.stage, item=item
    ).delete()


# --- selectors --------------------------------------------------------------------------------


def playbook_list() -> QuerySet[Playbook]:
    return Playbook.objects.select_related("pipeline", "active_version").order_by(
        "pipeline__position", "pipeline__name"
    )


def playbook_get(*, pk: int) -> Playbook:
    playbook = playbook_list().filter(pk=pk).first()
    if playbook is None:
        raise RecordNotFound(f"There is no playbook with id {pk}.")
    return playbook


def playbook_versions(*, playbook: Playbook) -> QuerySet[PlaybookVersion]:
    return playbook.versions.select_related("created_by").order_by("-number")


def playbook_version_get(*, playbook: Playbook, number: int) -> PlaybookVersion:
    version = playbook.versions.filter(number=number).first()
    if version is None:
        raise RecordNotFound(f"“{playbook.name}” has no version {number}.")
    version.playbook = playbook
    return version


def active_version(pipeline_id: int) -> PlaybookVersion | None:
    """The version in force for a pipeline's opportunities (None without a playbook)."""
    playbook = (
        Playbook.objects.filter(pipeline_id=pipeline_id, active_version__isnull=False)
        .select_related("active_version")
        .first()
    )
    return playbook.active_version if playbook else None


def ticked_items(opportunity: Opportunity, stage: Stage) -> set[str]:
    return set(
        ChecklistTick.objects.filter(opportunity=opportunity, stage=stage).values_list(
            "item", flat=True
        )
    )


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def missing_for_exit(
    opportunity: Opportunity,
    stage: Stage,
    content: dict[str, Any],
    *,
    ticked: set[str] | None = None,
) -> tuple[list[str], list[str]]:
    """(labels of required fields left empty, required checklist items not ticked)."""
    labels = requirable_fields()
    attnames = {field.name: field.attname for field in Opportunity._meta.concrete_fields}
    empty = []
    for name in content["required_fields"]:
        value = getattr(opportunity, attnames[name], None)
        if value is None or (isinstance(value, str) and not value.strip()):
            empty.append(labels.get(name, name))
    required = content["required_checklist"]
    if ticked is None:
        ticked = ticked_items(opportunity, stage) if required and opportunity.pk else set()
    return empty, [item for item in required if item not in ticked]


def exit_message(empty: list[str], unticked: list[str]) -> str:
    """E.g. "Fill in Next step and Amount; tick “Budget confirmed”."."""
    parts = []
    if empty:
        parts.append("Fill in " + _join(empty))
    if unticked:
        parts.append("tick " + _join([f"“{item}”" for item in unticked]))
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


@dataclass(frozen=True)
class ChecklistState:
    """The playbook as it applies to an opportunity in its current stage."""

    version: PlaybookVersion | None
    content: dict[str, Any] | None
    items: list[dict[str, Any]]
    exit_missing: str


def checklist_state(opportunity: Opportunity) -> ChecklistState:
    version = active_version(opportunity.pipeline_id)
    stage = opportunity.stage
    content = stage_content(version.definition, stage.name) if version else None
    if content is None:
        return ChecklistState(version, None, [], "")
    ticks = {
        tick.item: tick
        for tick in ChecklistTick.objects.filter(opportunity=opportunity, stage=stage)
    }
    items = [
        {
            "item": item,
            "required": item in content["required_checklist"],
            "ticked": item in ticks,
            "done_by": ticks[item].done_by_id if item in ticks else None,
            "done_at": ticks[item].done_at if item in ticks else None,
        }
        for item in content["checklist"]
    ]
    empty, unticked = missing_for_exit(opportunity, stage, content, ticked=set(ticks))
    missing = exit_message(empty, unticked) if empty or unticked else ""
    return ChecklistState(version, content, items, missing)


# --- exit criteria and activity plan (registered in PipelineConfig.ready) ---------------------


def exit_criteria_guard(
    user: Principal, opportunity: Opportunity, from_stage: Stage | None, to_stage: Stage
) -> list[str]:
    """What the playbook still asks before ``opportunity`` may leave ``from_stage`` forward."""
    if (
        from_stage is None
        or from_stage.pipeline_id != to_stage.pipeline_id
        or to_stage.position <= from_stage.position
        or to_stage.forecast_category == ForecastCategory.CLOSED_LOST
    ):
        return []
    version = active_version(from_stage.pipeline_id)
    content = stage_content(version.definition, from_stage.name) if version else None
    if content is None:
        return []
    empty, unticked = missing_for_exit(opportunity, from_stage, content)
    if not empty and not unticked:
        return []
    return [exit_message(empty, unticked)]


def _owner_today(owner: Any) -> datetime.date:
    try:
        zone = ZoneInfo(getattr(owner, "time_zone", "") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return timezone.now().astimezone(zone).date()


def _due(owner: Any, day: datetime.date) -> datetime.datetime:
    try:
        zone = ZoneInfo(getattr(owner, "time_zone", "") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.datetime.combine(day, datetime.time(PLAN_DUE_HOUR), tzinfo=zone)


def create_activity_plan(event: str, payload: dict[str, Any]) -> None:
    """On ``opportunity.stage_changed``: the entered stage's tasks for the owner.

    Idempotent: a task whose subject is already an open task linked to the opportunity is not
    created again, so a redelivered event (or moving back and forth) adds no duplicates.
    """
    pk = payload.get("pk")
    if not isinstance(pk, int):
        return
    opportunity = Opportunity.objects.select_related("owner", "stage").filter(pk=pk).first()
    if opportunity is None or opportunity.stage_id != payload.get("to_stage_id"):
        return
    version = active_version(opportunity.pipeline_id)
    if version is None:
        return
    if opportunity.playbook_version_id != version.pk:
        # Bookkeeping only (which version the deal worked under, for the adherence report):
        # a queryset update so no change-log entry, version bump or new event is produced.
        Opportunity.all_objects.filter(pk=opportunity.pk).update(playbook_version=version)
    content = stage_content(version.definition, opportunity.stage.name)
    if not content or not content["activity_plan"]:
        return
    open_subjects = set(
        Activity.objects.filter(
            kind=ActivityKind.TASK,
            status=TaskStatus.OPEN,
            pk__in=ActivityLink.objects.filter(
                content_type=ContentType.objects.get_for_model(Opportunity),
                object_id=opportunity.pk,
            ).values("activity_id"),
        ).values_list("subject", flat=True)
    )
    owner = opportunity.owner
    today = _owner_today(owner)
    for task in content["activity_plan"]:
        if task["subject"] in open_subjects:
            continue
        activity_create(
            user=owner,
            kind=ActivityKind.TASK,
            links=[{"object_type": Opportunity.object_type(), "id": opportunity.pk}],
            via=Via.SYSTEM,
            subject=task["subject"],
            description=task["description"],
            priority=task["priority"],
            due_at=_due(owner, today + datetime.timedelta(days=task["day_offset"])),
            owner=owner,
            assignee=owner,
        )
        open_subjects.add(task["subject"])


# --- adherence --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdherenceRow:
    followed: bool
    closed: int
    won: int

    @property
    def win_rate(self) -> float | None:
        return round(100 * self.won / self.closed, 1) if self.closed else None


@dataclass(frozen=True)
class Adherence:
    version: PlaybookVersion
    followed: AdherenceRow
    not_followed: AdherenceRow


def playbook_adherence(*, user: Principal, playbook: Playbook) -> list[Adherence]:
    """Per version: closed deals that worked under it, split by whether they ticked every
    checklist item of the stages they passed, with counts won; one aggregate per version."""
    results = []
    stage_ids = dict(playbook.pipeline.stages.values_list("name", "pk"))
    for version in playbook_versions(playbook=playbook):
        closed = Opportunity.objects.visible_to(user).filter(
            playbook_version=version, is_closed=True
        )
        missed = Q(pk__in=[])
        for name, content in (version.definition.get("stages") or {}).items():
            items = content.get("checklist") or []
            if not items or name not in stage_ids:
                continue
            alias = f"ticked_{stage_ids[name]}"
            closed = closed.alias(
                **{
                    alias: Coalesce(
                        Subquery(
                            ChecklistTick.objects.filter(
                                opportunity=OuterRef("pk"),
                                stage_id=stage_ids[name],
                                item__in=items,
                            )
                            .order_by()
                            .values("opportunity")
                            .annotate(n=Count("pk"))
                            .values("n"),
                            output_field=IntegerField(),
                        ),
                        Value(0),
                    )
                }
            )
            left = Exists(
                StageHistory.objects.filter(
                    opportunity=OuterRef("pk"), from_stage_id=stage_ids[name]
                )
            )
            missed |= Q(left) & Q(**{f"{alias}__lt": len(items)})
        figures = closed.alias(
            followed=Case(
                When(missed, then=Value(False)), default=Value(True), output_field=BooleanField()
            )
        ).aggregate(
            followed_closed=Count("pk", filter=Q(followed=True)),
            followed_won=Count("pk", filter=Q(followed=True, is_won=True)),
            missed_closed=Count("pk", filter=Q(followed=False)),
            missed_won=Count("pk", filter=Q(followed=False, is_won=True)),
        )
        results.append(
            Adherence(
                version=version,
                followed=AdherenceRow(True, figures["followed_closed"], figures["followed_won"]),
                not_followed=AdherenceRow(False, figures["missed_closed"], figures["missed_won"]),
            )
        )
    return results
